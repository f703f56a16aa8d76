"""/api/v1 限制兑换: setting, reading, appealing and lifting a bar, the Idempotency-Key on each write, who may do what,
and the redemption a barred household is refused with the reason and the end date."""
from datetime import datetime

import pytest
import time_machine
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth.models import Role
from points.extensions import db
from points.ledger.models import RedemptionBar
from points.ledger.queries import balance_of
from points.messages.models import Message
from points.people.services import add_resident
from points.timeutil import LOCAL

from .. import factories
from .conftest import error_of


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(datetime(2026, 12, 20, 10, 0, tzinfo=LOCAL)):
        yield


class World:
    def __init__(self, village):
        self.household = factories.gen_household(village.grids[0], head_name="张三明")
        factories.gen_points(self.household, 100)
        self.villager = factories.gen_villager(self.household)
        self.outsider = factories.gen_villager(factories.gen_household(village.grids[1], head_name="李四"))
        self.admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
        self.admin_at_home = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
        self.admin_at_home.resident = add_resident(self.household, "张小红", "配偶", "13900001111")
        self.worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
        self.clerk = factories.gen_user(Role.SHOP_CLERK, village.village)
        self.shop = factories.gen_shop(village.village)
        self.soap = factories.gen_product(self.shop, "肥皂", price=5, stock=20)
        db.session.commit()
        self.path = f"/api/v1/households/{self.household.id}/bars"


@pytest.fixture
def world(village):
    return World(village)


BODY = {"starts_on": "2026-12-20", "ends_on": "2027-01-31", "reason": "参与赌博"}


def counts() -> tuple[int, int, int]:
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count(m.id))) for m in (RedemptionBar, Message, AuditEvent))


def _set(api, world, body=None, key=None):
    headers = {"Idempotency-Key": key} if key else None
    return api.post(world.path, world.admin, json=body or BODY, headers=headers)


def test_an_admin_sets_a_bar_and_the_household_reads_it(api, world):
    response = _set(api, world)
    assert response.status_code == 201
    body = response.get_json()
    assert (body["household_id"], body["starts_on"], body["ends_on"], body["reason"], body["status"]) == (
        world.household.id, "2026-12-20", "2027-01-31", "参与赌博", "in_force")
    assert (body["appeal"], body["lifted_at"], body["lift_note"]) == (None, None, None)
    assert api.get(f"/api/v1/bars/{body['id']}", world.villager).get_json() == body
    listed = api.get(world.path, world.villager).get_json()
    assert listed == {"items": [body], "total": 1}
    assert api.get(world.path, world.worker).get_json()["total"] == 1


def test_starts_on_defaults_to_today(api, world):
    body = _set(api, world, {"ends_on": "2027-01-31", "reason": "违建"}).get_json()
    assert body["starts_on"] == "2026-12-20"


@pytest.mark.parametrize(("change", "code", "words"), [
    ({"starts_on": "2027-01-10", "ends_on": "2027-01-01"}, "bar_ends_before_start", "不能早于开始日期"),
    ({"starts_on": "2026-12-01", "ends_on": "2026-12-19"}, "bar_ends_in_past", "已经过去了"),
    ({"reason": " "}, "bar_reason_required", "请写明限制兑换的原因"),
])
def test_bad_bars_are_refused_in_chinese(api, world, change, code, words):
    error = error_of(_set(api, world, {**BODY, **change}), 400, code)
    assert words in error["message"]
    assert counts()[0] == 0


def test_own_household_and_staff_without_the_right_are_refused(api, world):
    error_of(api.post(world.path, world.admin_at_home, json=BODY), 403, "own_bar")
    error_of(api.post(world.path, world.worker, json=BODY), 403, "forbidden")
    error_of(api.post(world.path, world.villager, json=BODY), 403, "forbidden")
    assert counts()[0] == 0


def test_another_household_cannot_read_or_appeal(api, world):
    bar_id = _set(api, world).get_json()["id"]
    error_of(api.get(f"/api/v1/bars/{bar_id}", world.outsider), 403, "forbidden")
    error_of(api.get(world.path, world.outsider), 403, "forbidden")
    error_of(api.post(f"/api/v1/bars/{bar_id}/appeal", world.outsider, json={"text": "不对"}), 404, "not_found")


def test_a_set_sent_again_with_its_key_answers_the_same_and_changes_nothing(api, world):
    first = _set(api, world, key="bar-1")
    after = counts()
    again = _set(api, world, key="bar-1")
    assert (again.status_code, again.get_json()) == (first.status_code, first.get_json())
    assert counts() == after


def test_a_barred_household_is_refused_at_the_api_counter_with_the_reason_and_end_date(api, world):
    _set(api, world)
    body = {"shop_id": world.shop.id, "household_id": world.household.id,
            "lines": [{"product_id": world.soap.id, "quantity": 1}]}
    error = error_of(api.post("/api/v1/redemptions", world.clerk, json=body), 409, "redemption_barred")
    assert error["message"] == "这户被限制兑换到 2027年1月31日：参与赌博"
    assert balance_of(world.household.id) == 100


def test_the_household_appeals_once_with_a_key_safe_retry(api, world):
    bar_id = _set(api, world).get_json()["id"]
    path = f"/api/v1/bars/{bar_id}/appeal"
    error_of(api.post(path, world.villager, json={"text": " "}), 400, "appeal_reason_required")
    first = api.post(path, world.villager, json={"text": "那天我在外地"}, headers={"Idempotency-Key": "ap-1"})
    assert first.status_code == 200 and first.get_json()["appeal"] == "那天我在外地"
    after = counts()
    again = api.post(path, world.villager, json={"text": "那天我在外地"}, headers={"Idempotency-Key": "ap-1"})
    assert again.get_json() == first.get_json() and counts() == after
    error_of(api.post(path, world.villager, json={"text": "另一个理由"}), 409, "bar_already_appealed")
    assert db.session.scalars(select(Message.text).where(Message.user_id == world.admin.id)).all() == [
        "有一条限制兑换的申诉等您处理"]


def test_an_admin_lifts_a_bar_once_and_the_household_may_redeem(api, world):
    bar_id = _set(api, world).get_json()["id"]
    path = f"/api/v1/bars/{bar_id}/lift"
    error_of(api.post(path, world.worker, json={}), 403, "forbidden")
    first = api.post(path, world.admin, json={"note": "已改正"}, headers={"Idempotency-Key": "lift-1"})
    assert first.status_code == 200
    assert (first.get_json()["status"], first.get_json()["lift_note"]) == ("lifted", "已改正")
    after = counts()
    again = api.post(path, world.admin, json={"note": "已改正"}, headers={"Idempotency-Key": "lift-1"})
    assert again.get_json() == first.get_json() and counts() == after
    error_of(api.post(path, world.admin, json={"note": "已改正"}), 409, "bar_already_lifted")
    error_of(api.post(f"/api/v1/bars/{bar_id}/appeal", world.villager, json={"text": "晚了"}), 409,
             "bar_already_lifted")
    body = {"shop_id": world.shop.id, "household_id": world.household.id,
            "lines": [{"product_id": world.soap.id, "quantity": 1}]}
    assert api.post("/api/v1/redemptions", world.clerk, json=body).status_code == 201


def test_an_unknown_bar_is_not_found(api, world):
    error_of(api.get("/api/v1/bars/999", world.admin), 404, "not_found")
    error_of(api.post("/api/v1/bars/999/lift", world.admin, json={}), 404, "not_found")


def test_the_household_answers_with_its_bar_and_its_available_and_pending_points(api, world):
    shown = api.get(f"/api/v1/households/{world.household.id}", world.villager).get_json()
    assert (shown["balance"], shown["available"], shown["pending"], shown["bar"]) == (100, 100, 0, None)
    _set(api, world)
    shown = api.get(f"/api/v1/households/{world.household.id}", world.villager).get_json()
    assert shown["bar"]["ends_on"] == "2027-01-31" and shown["bar"]["reason"] == "参与赌博"
