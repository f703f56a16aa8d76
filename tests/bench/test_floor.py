"""bench/floor.py's routes write what the app's check-in and redemption write (less one audit event of the
ledger's), so that what they cost is a floor under what the app's cost."""
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth.models import Role
from points.auth.services import issue_token
from points.events.checkins import static_token
from points.events.models import Attendance, Event
from points.events.services import EventTerms, create_event
from points.extensions import db
from points.ledger.models import LedgerEntry
from points.ledger.queries import balance_mismatches
from points.rules.models import RuleCategory, RuleUnit
from points.rules.services import RuleTerms, create_rule
from points.shop.models import Product, Redemption, RedemptionLine, StockMovement
from points.shop.queries import stock_mismatches
from points.timeutil import local_now
from tests import factories

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import floor  # noqa: E402

TABLES = (Attendance, AuditEvent, Redemption, RedemptionLine, StockMovement, LedgerEntry)


@pytest.fixture(scope="module")
def floor_client(app):
    """A second app on the same database, with the floor's routes (the test app is made before any test)."""
    floored = floor.create_app({**{key: app.config[key] for key in ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI")},
                                "TESTING": True, "RATELIMIT_ENABLED": False})
    yield floored.test_client()
    with floored.app_context():
        db.engine.dispose()


@pytest.fixture
def scene(village):
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    rule = create_rule(village.village, "ZY", RuleTerms("志愿服务", RuleCategory.VOLUNTEERING, 5, unit=RuleUnit.HOUR),
                       date(2026, 1, 1))
    now = local_now()
    event = create_event(admin, village.village, EventTerms("环境整治", "村委会", now - timedelta(hours=1),
                                                            now + timedelta(hours=2), rule.id))
    shop = factories.gen_shop(village.village)
    product = factories.gen_product(shop, price=10, stock=50)
    clerk = factories.gen_user(Role.SHOP_CLERK, village.village)
    households = [factories.gen_household(village.grids[0]) for _ in range(2)]
    villagers = [factories.gen_villager(household) for household in households]
    for household in households:
        factories.gen_points(household, 100)
    tokens = {user.id: issue_token(user, days=1)[0] for user in [clerk, *villagers]}
    db.session.commit()
    return dict(event=event, code=static_token(event), shop=shop, product=product, clerk=clerk,
                households=households, villagers=villagers, tokens=tokens)


def counts() -> dict[str, int]:
    db.session.expire_all()
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model)) for model in TABLES}


def added(before: dict[str, int]) -> dict[str, int]:
    return {table: count - before[table] for table, count in counts().items() if count != before[table]}


def post(client, path: str, token: str, body: dict):
    return client.post(path, json=body, headers={"Authorization": f"Bearer {token}",
                                                 "Idempotency-Key": uuid.uuid4().hex})


def test_a_check_in_on_the_floor_writes_the_rows_the_app_s_does(client, floor_client, scene):
    body = {"event_id": scene["event"].id, "token": scene["code"]}
    app_villager, floor_villager = scene["villagers"]

    before = counts()
    assert post(client, "/api/v1/checkins", scene["tokens"][app_villager.id], body).status_code == 201
    by_the_app = added(before)
    before = counts()
    response = post(floor_client, "/bench/checkin", scene["tokens"][floor_villager.id], body)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert added(before) == by_the_app == {"attendances": 1, "audit_events": 1}

    attendance = db.session.get(Attendance, response.get_json()["attendance"]["id"])
    assert (attendance.resident_id, attendance.household_id, attendance.recorded_by_id) == (
        floor_villager.resident_id, scene["households"][1].id, floor_villager.id)
    assert attendance.client_key.startswith("api:") and len(attendance.request_digest) == 64
    audits = [a.after for a in db.session.scalars(select(AuditEvent).where(AuditEvent.action == "event.checked_in"))]
    assert [set(after) for after in audits] == [{"household", "method"}] * 2 and audits[1]["method"] == "self"
    assert db.session.get(Event, scene["event"].id).attendees == 2
    assert post(floor_client, "/bench/checkin", scene["tokens"][floor_villager.id], body).status_code == 200


@pytest.mark.parametrize("path", ["/bench/redemption", "/bench/redemption-in-one"])
def test_a_redemption_on_the_floor_writes_the_rows_the_app_s_does_but_the_ledger_s_audit(client, floor_client, scene,
                                                                                          path):
    if path.endswith("in-one") and db.engine.dialect.name != "postgresql":
        pytest.skip("one statement of data-modifying CTEs: PostgreSQL's")
    clerk_token = scene["tokens"][scene["clerk"].id]

    def basket(household):
        return {"shop_id": scene["shop"].id, "household_id": household.id,
                "lines": [{"product_id": scene["product"].id, "quantity": 1}]}

    before = counts()
    assert post(client, "/api/v1/redemptions", clerk_token, basket(scene["households"][0])).status_code == 201
    by_the_app = added(before)
    before = counts()
    response = post(floor_client, path, clerk_token, basket(scene["households"][1]))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert by_the_app == {**added(before), "audit_events": 2}
    assert added(before) == {"audit_events": 1, "redemptions": 1, "redemption_lines": 1, "stock_movements": 1,
                             "ledger_entries": 1}

    assert response.get_json()["balance_after"] == 90
    by_the_app, on_the_floor = db.session.scalars(select(Redemption).order_by(Redemption.id)).all()
    for redemption in (by_the_app, on_the_floor):
        assert (redemption.entry.amount, redemption.entry.idempotency_key, redemption.entry.note) == (
            -10, f"redemption:{redemption.id}", f"{scene['shop'].name} {redemption.number}")
        assert [(line.product_id, line.price, line.quantity) for line in redemption.lines] == [
            (scene["product"].id, 10, 1)]
    audits = [a.after for a in db.session.scalars(select(AuditEvent).where(AuditEvent.action == "redemption.made"))]
    assert audits[0] == {**audits[1], "household": audits[0]["household"]}
    assert db.session.get(Product, scene["product"].id).stock == 48
    assert list(balance_mismatches()) == [] and list(stock_mismatches()) == []
