"""Nobody decides anything about their own household: a village admin whose account is linked to a resident of
household H may appeal H's deduction as any villager may, but neither decides that appeal, nor reverses H's entries,
awards H, approves H's claims, redeems or voids for H at the counter, nor checks H's people in at an event's desk.
A colleague does each of them. Walked through the API, the door the finding came through; the pages call the same
services (tests/ledger/test_pages.py walks the reversal's page)."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from points.auth.cards import issue_card
from points.auth.models import Role
from points.auth.services import create_user
from points.claims.services import PhotoStore, submit_claim
from points.events import services as events
from points.events.models import CheckinMode
from points.extensions import db
from points.ledger.models import LedgerEntry
from points.ledger.queries import balance_of
from points.ledger.services import apply_rule
from points.people.cards import card_text
from points.people.services import add_resident
from points.rules.models import RuleCategory
from points.timeutil import utc_to_local, utcnow

from .. import factories
from .conftest import error_of


@pytest.fixture
def scene(village):
    home = factories.gen_household(village.grids[0], "张三明")
    self_admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    self_admin.resident = home.head  # the admin lives in household H
    colleague = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    award = factories.gen_rule(village.village, "庭院整洁", 5)
    penalty = factories.gen_rule(village.village, "乱堆乱放", -5)
    volunteering = factories.gen_rule(village.village, "参加志愿活动", 5, category=RuleCategory.VOLUNTEERING,
                                      self_claimable=True)
    factories.gen_points(home, 100)
    deduction = apply_rule(worker, home.id, penalty.id, "deduction")
    shop = factories.gen_shop(village.village)
    soap = factories.gen_product(shop, "肥皂", price=10, stock=20)
    db.session.commit()
    return dict(village=village, home=home, me=self_admin, colleague=colleague, worker=worker, award=award,
                volunteering=volunteering, deduction=deduction, shop=shop, soap=soap)


def entries() -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry))


def test_an_admin_appeals_their_households_deduction_but_a_colleague_decides_it(api, scene):
    me, home = scene["me"], scene["home"]
    appeal = api.post("/api/v1/appeals", me, json={"entry_id": scene["deduction"].id, "reason": "没有乱堆"})
    assert appeal.status_code == 201
    path = f"/api/v1/appeals/{appeal.get_json()['id']}/decision"
    refused = api.post(path, me, json={"reverse": True})
    assert error_of(refused, 403, "own_appeal")["message"] == "不能处理自己家的申诉，请由其他管理员处理"
    assert balance_of(home.id) == 95
    assert api.post(path, scene["colleague"], json={"reverse": True}).status_code == 200
    assert balance_of(home.id) == 100


def test_an_admin_does_not_reverse_their_households_entries(api, scene):
    path = f"/api/v1/entries/{scene['deduction'].id}/reversal"
    before = entries()
    error_of(api.post(path, scene["me"], json={"note": "撤销"}), 403, "own_reversal")
    assert entries() == before and balance_of(scene["home"].id) == 95
    assert api.post(path, scene["colleague"], json={"note": "撤销"}).status_code == 201


def test_an_admin_does_not_award_their_household_one_by_one_or_in_a_batch(api, scene):
    me, home = scene["me"], scene["home"]
    error_of(api.post("/api/v1/entries", me, json={"household_id": home.id, "rule_id": scene["award"].id}),
             403, "own_household")
    other = factories.gen_household(scene["village"].grids[0], "李四")
    db.session.commit()
    batch = api.post("/api/v1/entries/batch", me, json={"household_ids": [home.id, other.id],
                                                        "rule_id": scene["award"].id})
    refused = batch.get_json()["error"]
    assert refused["code"] == "own_household" and [d["household_id"] for d in refused["details"]] == [home.id]
    assert balance_of(home.id) == 95 and balance_of(other.id) == 0, "a batch is all or nothing"


def test_an_admin_does_not_approve_their_households_claim(api, scene, tmp_path):
    spouse = add_resident(scene["home"], "李小红", "配偶", None, None)
    villager = create_user("spouse", factories.PASSWORD, resident=spouse)
    claim = submit_claim(villager, scene["volunteering"].id, [factories.gen_photo()],
                         PhotoStore(str(tmp_path), 8 * 1024 * 1024))
    db.session.commit()
    error_of(api.post(f"/api/v1/claims/{claim.id}/approve", scene["me"]), 403, "own_claim")
    assert api.post(f"/api/v1/claims/{claim.id}/approve", scene["colleague"]).status_code == 200


def test_an_admin_does_not_redeem_or_void_for_their_household(api, scene):
    body = {"shop_id": scene["shop"].id, "household_id": scene["home"].id,
            "lines": [{"product_id": scene["soap"].id, "quantity": 1}]}
    error_of(api.post("/api/v1/redemptions", scene["me"], json=body), 403, "own_redemption")
    made = api.post("/api/v1/redemptions", scene["colleague"], json=body)
    assert made.status_code == 201
    path = f"/api/v1/redemptions/{made.get_json()['id']}/void"
    error_of(api.post(path, scene["me"], json={"reason": "买错了"}), 403, "own_redemption")
    assert balance_of(scene["home"].id) == 85


def test_an_admin_does_not_check_their_household_in_at_the_desk(api, scene):
    starts = utc_to_local(utcnow()) - timedelta(minutes=10)
    event = events.create_event(scene["colleague"], scene["village"].village, events.EventTerms(
        "环境整治日", "村委会广场", starts, starts + timedelta(hours=2), scene["volunteering"].id, CheckinMode.IN,
        None, None))
    card = card_text(issue_card(scene["colleague"], scene["home"]))
    db.session.commit()
    error_of(api.post("/api/v1/checkins", scene["me"], json={"event_id": event.id, "card": card}), 403, "own_check_in")
    error_of(api.post("/api/v1/checkins", scene["me"], json={"event_id": event.id,
                                                             "resident_id": scene["home"].head_id}),
             403, "own_check_in")
    assert api.post("/api/v1/checkins", scene["colleague"],
                    json={"event_id": event.id, "card": card}).status_code == 201


def test_an_admin_does_not_check_their_household_out_at_the_desk_not_even_themselves(api, scene):
    """On a per-hour event the check-out sets the pay: the desk never checks out the staff's own household."""
    starts = utc_to_local(utcnow()) - timedelta(hours=2)
    event = events.create_event(scene["colleague"], scene["village"].village, events.EventTerms(
        "环境整治日", "村委会广场", starts, starts + timedelta(hours=3), scene["volunteering"].id, CheckinMode.IN_OUT,
        None, None))
    card = card_text(issue_card(scene["colleague"], scene["home"]))
    db.session.commit()
    assert api.post("/api/v1/checkins", scene["colleague"],
                    json={"event_id": event.id, "card": card}).status_code == 201
    for body in ({"card": card}, {"resident_id": scene["home"].head_id}):  # the head is the admin themselves
        error_of(api.post("/api/v1/checkouts", scene["me"], json={"event_id": event.id, "early": True, **body}),
                 403, "own_check_out")
    assert api.post("/api/v1/checkouts", scene["colleague"],
                    json={"event_id": event.id, "card": card, "early": True}).status_code in (200, 201)
