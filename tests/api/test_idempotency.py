"""Every /api/v1 POST that moves points or stock (and a claim, an appeal, a check-in, a report, a wish, a visit, a
公示异议 or a bar on redeeming), sent again with its Idempotency-Key, answers as the first time and changes nothing;
the key with another body is refused. Those that settle something once move no points twice even when repeated
without a key."""
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth.cards import issue_card
from points.auth.models import Role, User
from points.claims import services as claims
from points.claims.bar_appeals import set_bar
from points.claims.models import Appeal, Claim, Objection
from points.claims.objections import submit_objection
from points.events import checkins
from points.events import services as events
from points.events.models import Attendance, Event
from points.extensions import db
from points.hygiene import inspection, publishing, village_settings
from points.hygiene.models import MonthlySummary, Publication
from points.ledger import lifecycle
from points.ledger.models import (
    DutyRecord,
    EntrySource,
    ExpiryRun,
    HouseholdBalance,
    LedgerEntry,
    PeriodTotal,
    RedemptionBar,
)
from points.ledger.services import apply_rule, post_entry
from points.messages.models import Message
from points.people.cards import card_text
from points.periods import parse_month, week_of
from points.reports import services as reports
from points.reports import settings as report_settings
from points.reports.models import Report, ReportPhoto, ReportStep, ReportStepPhoto
from points.rules.models import RuleCategory
from points.shop import services as shop
from points.shop.models import Product, Redemption, StockMovement
from points.timeutil import local_today, utc_to_local, utcnow
from points.visits import services as visits
from points.visits.models import Visit
from points.wishes import services as wishes
from points.wishes.models import Wish, WishPhoto

from .. import factories
from ..hygiene.helpers import last_month, weeks_of_month
from .conftest import error_of

LAST_WEEK = week_of(local_today() - timedelta(days=7))


@pytest.fixture
def world(app, monkeypatch):
    """A village with its admin, a grid worker and a clerk; two households of the first grid (the first with a
    villager and 100 points), rules to award, deduct, claim and volunteer under; a shop with a product. Objections
    are taken as on the 3rd of this month, while last month's 公示 is on."""
    third = local_today().replace(day=3)
    monkeypatch.setattr("points.claims.objections.local_today", lambda: third)
    village = factories.gen_village()
    home = factories.gen_household(village.grids[0], "张三明")
    other = factories.gen_household(village.grids[0], "李四")
    since = local_today() - timedelta(days=60)
    world = SimpleNamespace(
        village=village, home=home, other=other,
        villager=factories.gen_villager(home),
        admin=factories.gen_user(Role.VILLAGE_ADMIN, village.village),
        worker=factories.gen_user(Role.GRID_WORKER, village.grids[0]),
        clerk=factories.gen_user(Role.SHOP_CLERK, village.village),
        award=factories.gen_rule(village.village, "庭院整洁", 5, effective_from=since),
        penalty=factories.gen_rule(village.village, "乱堆乱放", -10, RuleCategory.VILLAGE_RULES, effective_from=since),
        claimable=factories.gen_rule(village.village, "邻里互助", 3, RuleCategory.MUTUAL_AID, effective_from=since,
                                     self_claimable=True),
        volunteer=factories.gen_rule(village.village, "参加志愿活动", 4, RuleCategory.VOLUNTEERING,
                                     effective_from=since),
        store=claims.PhotoStore(app.config["UPLOAD_FOLDER"], app.config["PHOTO_MAX_BYTES"]),
    )
    world.shop = factories.gen_shop(village.village)
    world.soap = factories.gen_product(world.shop, "肥皂", price=5, stock=20)
    world.last_month = f"{local_today().replace(day=1) - timedelta(days=1):%Y-%m}"
    factories.gen_points(home, 100)
    db.session.commit()
    return world


def snapshot() -> dict:
    """Everything a POST of the table could move: the ledger, balances (and bars), period totals, 履职 records, stock
    and its movements, redemptions, attendances, claims, appeals, objections, events closed, wishes, reports and
    their steps, visits, photos, messages, hygiene publications, 清零 runs and the audit log."""
    db.session.expire_all()

    def rows(*columns, order=None) -> list[tuple]:
        return [tuple(row) for row in db.session.execute(select(*columns).order_by(*(order or columns)))]

    return {
        "entries": rows(func.count(LedgerEntry.id), func.coalesce(func.sum(LedgerEntry.amount), 0), order=[]),
        "balances": rows(HouseholdBalance.household_id, HouseholdBalance.balance, HouseholdBalance.bar_id),
        "bars": rows(RedemptionBar.id, RedemptionBar.appealed_at, RedemptionBar.lifted_at),
        "period_totals": rows(PeriodTotal.household_id, PeriodTotal.period, PeriodTotal.category,
                              PeriodTotal.resident_id, PeriodTotal.total, PeriodTotal.deducted),
        "stock": rows(Product.id, Product.stock),
        "stock_movements": rows(StockMovement.id, StockMovement.quantity),
        "redemptions": rows(Redemption.id, Redemption.voided_at),
        "attendances": rows(Attendance.id, Attendance.entry_id),
        "claims": rows(Claim.id, Claim.status),
        "appeals": rows(Appeal.id, Appeal.status),
        "objections": rows(Objection.id, Objection.status),
        "events": rows(Event.id, Event.closed_at),
        "wishes": rows(Wish.id, Wish.status, Wish.adopter_id, Wish.entry_id),
        "wish_photos": rows(func.count(WishPhoto.id), order=[]),
        "duty": rows(DutyRecord.id, DutyRecord.amount),
        "reports": rows(Report.id, Report.status, Report.handler_id, Report.reason, Report.reward_entry_id),
        "report_steps": rows(ReportStep.id, ReportStep.kind),
        "report_photos": rows(func.count(ReportPhoto.id), order=[]),
        "report_step_photos": rows(func.count(ReportStepPhoto.id), order=[]),
        "visits": rows(Visit.id, Visit.duty_id, Visit.unearned),
        "messages": rows(func.count(Message.id), order=[]),
        "publications": rows(Publication.id),
        "summaries": rows(MonthlySummary.id, MonthlySummary.publications),
        "expiry_runs": rows(ExpiryRun.id, ExpiryRun.undone_at),
        "audit": rows(func.count(AuditEvent.id), order=[]),
    }


# What a repeat without a key may still record: publishing again is a publication of its own (posting nothing).
RECORDS = ("publications", "summaries", "audit")


def moved(state: dict) -> dict:
    return {name: rows for name, rows in state.items() if name not in RECORDS}


@dataclass
class Operation:
    """One POST, ready to send: body is JSON, or multipart form fields; other is another body to send under the
    same key (None: the operation takes no body); reused is what that answers (status, error code; None: the
    first answer again)."""

    user: User
    path: str
    body: dict | None = None
    other: dict | None = None
    multipart: bool = False
    reused: tuple[int, str | None] = (409, "idempotency_key_reused")


def send(api, op: Operation, body: dict | None, key: str | None):
    headers = {"Idempotency-Key": key} if key else None
    if op.multipart:
        return api.post(op.path, op.user, headers=headers, data=dict(body), content_type="multipart/form-data")
    return api.post(op.path, op.user, headers=headers, json=body)


# The table: how to set up each operation's preconditions.


def _deduction(w) -> LedgerEntry:
    return apply_rule(w.worker, w.home.id, w.penalty.id, factories.unique("deduct-"))


def _claim(w) -> Claim:
    return claims.submit_claim(w.villager, w.claimable.id, [], w.store, note="帮邻居修屋顶")


def _event(w) -> Event:
    starts = utc_to_local(utcnow()).replace(microsecond=0) - timedelta(minutes=10)
    return events.create_event(w.admin, w.village.village, events.EventTerms(
        factories.unique("环境整治日"), "村委会广场", starts, starts + timedelta(hours=2), w.volunteer.id))


def _scored_round(w, week: str):
    """The week's round with every household of the village scored, the first household best."""
    round_ = inspection.round_for(w.village.village, week)
    item = village_settings.checklist(w.village.village.id)[0]
    for points, household in enumerate((w.home, w.other)):
        inspection.save_score(w.admin, round_, household.id, {item.id: points})
    return round_


class _PhotoForm(Mapping):
    """A multipart body with a fresh photo each time it is read (each send reads it whole)."""

    def __getitem__(self, key):
        if key != "photo":
            raise KeyError(key)
        return (io.BytesIO(factories.gen_photo(size=(64, 48))), "done.jpg")

    def __iter__(self):
        return iter(("photo",))

    def __len__(self):
        return 1


def _fulfilled_wish(w) -> Wish:
    wish = wishes.post_wish(w.worker, w.other.id, "想装一个楼梯扶手", "", w.claimable.id)
    wishes.adopt_wish(w.villager, wish.id)
    return wishes.fulfil(w.villager, wish.id)


def entries(w) -> Operation:
    body = {"household_id": w.home.id, "rule_id": w.award.id, "note": "门前干净"}
    return Operation(w.worker, "/api/v1/entries", body, {**body, "quantity": 2})


def batch(w) -> Operation:
    body = {"household_ids": [w.home.id, w.other.id], "rule_id": w.award.id}
    return Operation(w.worker, "/api/v1/entries/batch", body, {**body, "quantity": 2})


def reversal(w) -> Operation:
    entry = apply_rule(w.worker, w.home.id, w.award.id, "wrong-award")
    return Operation(w.admin, f"/api/v1/entries/{entry.id}/reversal", {"note": "录错了户"}, {"note": "另一个理由"})


def claim(w) -> Operation:
    body = {"rule_id": str(w.claimable.id), "note": "帮邻居修屋顶"}
    return Operation(w.villager, "/api/v1/claims", body, {**body, "quantity": "2"}, multipart=True)


def approve(w) -> Operation:
    return Operation(w.worker, f"/api/v1/claims/{_claim(w).id}/approve")


def reject(w) -> Operation:
    # Without a stored key a decision cannot tell its retry's other body from anyone's later one: already decided.
    return Operation(w.worker, f"/api/v1/claims/{_claim(w).id}/reject", {"reason": "照片看不清"},
                     {"reason": "另一个理由"}, reused=(409, "claim_already_decided"))


def appeal(w) -> Operation:
    body = {"entry_id": _deduction(w).id, "reason": "那天我不在家"}
    return Operation(w.villager, "/api/v1/appeals", body, {**body, "reason": "另一个理由"})


def decision(w) -> Operation:
    appeal_ = claims.submit_appeal(w.villager, _deduction(w).id, "那天我不在家")
    return Operation(w.admin, f"/api/v1/appeals/{appeal_.id}/decision", {"reverse": True, "note": "核实属实"},
                     {"reverse": False}, reused=(409, "appeal_already_decided"))


def publish(w) -> Operation:
    round_ = _scored_round(w, LAST_WEEK)
    return Operation(w.admin, f"/api/v1/inspection-rounds/{round_.id}/publish", {},
                     {"grid_id": w.village.grids[0].id})


def summary(w) -> Operation:
    month = last_month()
    publishing.publish_round(w.admin, _scored_round(w, weeks_of_month(month)[0]))
    body = {"village_id": w.village.village.id, "month": month}
    first = parse_month(month)[0]
    before = first - timedelta(days=1)
    return Operation(w.admin, "/api/v1/monthly-summaries", body, {**body, "month": f"{before.year}-{before.month:02d}"})


def close(w) -> Operation:
    event = _event(w)
    checkins.check_in_resident(w.admin, event, w.home.head.id)
    checkins.check_in_resident(w.admin, event, w.other.head.id)
    return Operation(w.admin, f"/api/v1/events/{event.id}/close", {"early": True})


def checkin_code(w) -> Operation:
    event, other = _event(w), _event(w)
    return Operation(w.villager, "/api/v1/checkins", {"event_id": event.id, "token": checkins.rotating_token(event)},
                     {"event_id": other.id, "token": checkins.rotating_token(other)})


def checkin_card(w) -> Operation:
    event = _event(w)
    card = card_text(issue_card(w.admin, w.home))
    body = {"event_id": event.id, "card": card}
    return Operation(w.admin, "/api/v1/checkins", body, {**body, "event_id": _event(w).id})


def checkin_resident(w) -> Operation:
    event = _event(w)
    body = {"event_id": event.id, "resident_id": w.home.head.id}
    return Operation(w.admin, "/api/v1/checkins", body, {**body, "resident_id": w.other.head.id})


def product(w) -> Operation:
    body = {"name": "洗衣液", "unit": "瓶", "price": 10, "stock": 12}
    return Operation(w.clerk, f"/api/v1/shops/{w.shop.id}/products", body, {**body, "stock": 13})


def restock(w) -> Operation:
    body = {"quantity": 5, "reason": "镇里送来"}
    return Operation(w.clerk, f"/api/v1/products/{w.soap.id}/restock", body, {**body, "quantity": 6})


def correction(w) -> Operation:
    body = {"counted": 17, "reason": "盘点少了三块"}
    return Operation(w.clerk, f"/api/v1/products/{w.soap.id}/stock-correction", body, {**body, "counted": 16})


def redemption(w) -> Operation:
    body = {"shop_id": w.shop.id, "household_id": w.home.id, "lines": [{"product_id": w.soap.id, "quantity": 2}]}
    return Operation(w.clerk, "/api/v1/redemptions", body,
                     {**body, "lines": [{"product_id": w.soap.id, "quantity": 3}]})


def void(w) -> Operation:
    done = shop.redeem(w.clerk, w.shop, [(w.soap.id, 2)], household_id=w.home.id)
    # Voiding is idempotent by itself: a second void, whatever its reason, answers the first and changes nothing.
    return Operation(w.clerk, f"/api/v1/redemptions/{done.redemption.id}/void", {"reason": "拿错了"},
                     {"reason": "另一个理由"}, reused=(200, None))


def wish(w) -> Operation:
    body = {"household_id": w.other.id, "title": "想装一个楼梯扶手", "rule_id": w.claimable.id}
    return Operation(w.worker, "/api/v1/wishes", body, {**body, "title": "想学用智能手机"})


def light(w) -> Operation:
    # Lit already by the same account, a retry answers the same whatever photo it sends.
    return Operation(w.admin, f"/api/v1/wishes/{_fulfilled_wish(w).id}/confirm", _PhotoForm(), _PhotoForm(),
                     multipart=True, reused=(200, None))


def _report_category(w):
    """The village's 民情诉求 set up (a reward rule for the reporter, a duty rule for the handler): its first
    category."""
    since = local_today() - timedelta(days=60)
    reward = factories.gen_rule(w.village.village, "反映安全隐患", 2, RuleCategory.PUBLICITY, effective_from=since)
    duty = factories.gen_rule(w.village.village, "及时办结民情诉求", 3, RuleCategory.GRID_DUTY, effective_from=since)
    report_settings.update_settings(w.admin, w.village.village, 24, 3, reward.id, duty.id)
    return report_settings.ensure_categories(w.village.village.id)[0]


def _report(w, accepted: bool = False) -> Report:
    """The villager's report, waiting; or accepted by the grid worker (the household earned the reward)."""
    report = reports.submit_report(w.villager, _report_category(w).id, "村口路灯坏了", [], w.store, place="村口")
    if accepted:
        reports.accept_report(w.worker, report.id)
    return report


def report(w) -> Operation:
    body = {"category_id": str(_report_category(w).id), "text": "村口路灯坏了，晚上很黑", "place": "村口"}
    return Operation(w.villager, "/api/v1/reports", body, {**body, "text": "水渠堵了"}, multipart=True)


def report_accept(w) -> Operation:
    return Operation(w.worker, f"/api/v1/reports/{_report(w).id}/accept")


def report_reject(w) -> Operation:
    # Like a claim's: a retry with another reason cannot be told from a later decision: already handled.
    return Operation(w.worker, f"/api/v1/reports/{_report(w).id}/reject", {"reason": "不属于村里管"},
                     {"reason": "另一个理由"}, reused=(409, "report_already_handled"))


def report_progress(w) -> Operation:
    return Operation(w.worker, f"/api/v1/reports/{_report(w, accepted=True).id}/progress", {"note": "已联系电工"},
                     {"note": "另一个说明"}, multipart=True)


def report_finish(w) -> Operation:
    return Operation(w.worker, f"/api/v1/reports/{_report(w, accepted=True).id}/finish", {"note": "路灯换好了"},
                     {"note": "另一个说明"}, multipart=True, reused=(409, "report_already_handled"))


def report_void(w) -> Operation:
    return Operation(w.admin, f"/api/v1/reports/{_report(w, accepted=True).id}/void", {"reason": "重复反映"},
                     {"reason": "另一个理由"}, reused=(409, "report_already_handled"))


def visit(w) -> Operation:
    rule = factories.gen_rule(w.village.village, "走访", 2, RuleCategory.GRID_DUTY,
                              effective_from=local_today() - timedelta(days=60))
    visits.save_settings(w.admin, w.village.village.id, rule.id, 30, {})
    body = {"household_id": w.other.id, "kind": "care", "note": "身体还好"}
    return Operation(w.worker, "/api/v1/visits", body, {**body, "note": "另一个说明"})


def objection(w) -> Operation:
    body = {"household_id": w.other.id, "month": w.last_month, "reason": "卫生分漏记了"}
    return Operation(w.villager, "/api/v1/objections", body, {**body, "reason": "另一个理由"})


def objection_decision(w) -> Operation:
    made = submit_objection(w.villager, w.other.id, w.last_month, "卫生分漏记了")
    return Operation(w.admin, f"/api/v1/objections/{made.id}/decision", {"accept": False, "note": "核实无误"},
                     {"accept": True}, reused=(409, "objection_already_decided"))


def _expiring(w) -> None:
    """Points of the first household older than last month, and the village's points valid a month since long ago
    (the month's notice a clearing is given is over): due to clear."""
    post_entry(w.home.id, 30, EntrySource.MANUAL, factories.unique("old-"),
               occurred_on=local_today() - timedelta(days=70))
    lifecycle.update_settings(w.admin, w.village.village, expiry="rolling", expiry_months=1).expiry_from = None


def expiry(w) -> Operation:
    # Once per village and period whatever the key: asked again, the period's run answers and nothing is cleared.
    _expiring(w)
    return Operation(w.admin, f"/api/v1/villages/{w.village.village.id}/expiry")


def expiry_undo(w) -> Operation:
    _expiring(w)
    run, _made = lifecycle.run_expiry(w.admin, w.village.village)
    return Operation(w.admin, f"/api/v1/expiry-runs/{run.id}/undo")


def _bar(w) -> RedemptionBar:
    return set_bar(w.admin, w.home, local_today(), local_today() + timedelta(days=30), "参与赌博")[0]


def bar(w) -> Operation:
    # Another bar under the same key cannot be told from a later one replacing it: no other body here.
    return Operation(w.admin, f"/api/v1/households/{w.home.id}/bars",
                     {"ends_on": (local_today() + timedelta(days=30)).isoformat(), "reason": "参与赌博"})


def bar_appeal(w) -> Operation:
    return Operation(w.villager, f"/api/v1/bars/{_bar(w).id}/appeal", {"text": "那天我在外地"}, {"text": "另一个理由"},
                     reused=(409, "bar_already_appealed"))


def bar_lift(w) -> Operation:
    return Operation(w.admin, f"/api/v1/bars/{_bar(w).id}/lift", {"note": "已改正"}, {"note": "另一个说明"},
                     reused=(409, "bar_already_lifted"))


OPERATIONS: dict[str, Callable[[SimpleNamespace], Operation]] = {
    "api_ledger.create_entry": entries,
    "api_ledger.create_batch": batch,
    "api_ledger.reverse_entry": reversal,
    "api_claims.create_claim": claim,
    "api_claims.approve_claim": approve,
    "api_claims.reject_claim": reject,
    "api_claims.create_appeal": appeal,
    "api_claims.decide_appeal": decision,
    "api_hygiene.publish_round": publish,
    "api_hygiene.publish_summary": summary,
    "api_events.close_event": close,
    "api_events.create_checkin:code": checkin_code,
    "api_events.create_checkin:card": checkin_card,
    "api_events.create_checkin:resident": checkin_resident,
    "api_shop.create_product": product,
    "api_shop.restock_product": restock,
    "api_shop.correct_stock": correction,
    "api_shop.create_redemption": redemption,
    "api_shop.void_redemption": void,
    "api_wishes.create_wish": wish,
    "api_wishes.confirm": light,
    "api_reports.create_report": report,
    "api_reports.accept_report": report_accept,
    "api_reports.reject_report": report_reject,
    "api_reports.report_progress": report_progress,
    "api_reports.finish_report": report_finish,
    "api_reports.void_report": report_void,
    "api_visits.create_visit": visit,
    "api_publicity.create_objection": objection,
    "api_publicity.decide_objection": objection_decision,
    "api_expiry.run_expiry": expiry,
    "api_expiry.undo_expiry": expiry_undo,
    "api_bars.set_household_bar": bar,
    "api_bars.appeal": bar_appeal,
    "api_bars.lift": bar_lift,
}

# Operations that settle something once: repeated without a key, they move no points or stock again.
SETTLE_ONCE = ("api_ledger.reverse_entry", "api_claims.approve_claim", "api_claims.reject_claim",
               "api_claims.decide_appeal", "api_hygiene.publish_round", "api_hygiene.publish_summary",
               "api_events.close_event", "api_shop.void_redemption", "api_wishes.confirm",
               "api_reports.accept_report", "api_reports.reject_report", "api_reports.finish_report",
               "api_reports.void_report", "api_publicity.decide_objection", "api_expiry.run_expiry",
               "api_expiry.undo_expiry", "api_bars.appeal", "api_bars.lift")

# Writes under /api/v1 that move neither points nor stock, and why.
NOT_MOVING = {
    "api_tokens.create_token": "issues a token",
    "api_events.create_event": "an event moves points only when it is closed",
    "api_events.update_event": "edits an event; a closed one is refused",
    "api_events.create_checkout": "records when someone left, once; points move only when the event is closed",
    "api_hygiene.open_round": "opens a week's round, idempotent by village and week",
    "api_hygiene.save_score": "a score sheet moves points only when the round is published",
    "api_shop.update_product": "name, unit, price, on offer: the stock changes only by movements",
    "api_grids.create_grid": "adds a node to the grid tree; a second try is refused by its code",
    "api_grids.change_grid": "renames, moves or retires a node: the same change again changes nothing",
    "api_people.create_household": "adds a household to the register; points come only by the ledger's writes",
    "api_people.change_household": "edits, closes or reopens a household: its ledger and balance stay as they are",
    "api_people.add_resident": "adds a member to a household",
    "api_people.change_resident": "edits a resident, or records that they left: their entries stay",
    "api_wishes.adopt": "adopts a wish, once (adopting it again answers the same); points move when it is lit",
    "api_wishes.give_back": "puts an adopted wish back on the wall; again: refused, it is not adopted",
    "api_wishes.fulfil": "says a wish is done, once (again answers the same); points move when it is lit",
    "api_wishes.withdraw": "takes an open wish off the wall; again: refused, it is not open",
    "api_reports.report_feedback": "the reporter's 满意 closes a finished report, 不满意 reopens it, once; again: "
                                   "refused, it is not finished; no points move",
    "api_messages.read_messages": "marks the account's messages read; again: nothing more to mark",
    "api_expiry.put_settings": "changes the village's 公示 and 清零 settings: the same again changes nothing; points "
                               "move only when a clearing runs",
}

def _prepare(w, name: str) -> Operation:
    op = OPERATIONS[name](w)
    db.session.commit()
    return op


@pytest.mark.parametrize("name", OPERATIONS)
def test_the_same_key_again_answers_the_first_and_changes_nothing(api, world, name):
    op = _prepare(world, name)
    before = snapshot()

    first = send(api, op, op.body, "tap-1")
    assert first.status_code in (200, 201), first.get_json()
    after = snapshot()
    assert moved(after) != moved(before), "the first request changed nothing: the table's setup is wrong"

    for _ in range(2):
        again = send(api, op, op.body, "tap-1")
        assert (again.status_code, again.get_json()) == (first.status_code, first.get_json())
        assert snapshot() == after

    if op.other is not None:
        status, code = op.reused
        refused = send(api, op, op.other, "tap-1")
        if code is None:
            assert (refused.status_code, refused.get_json()) == (status, first.get_json())
        else:
            error_of(refused, status, code)
        assert snapshot() == after


@pytest.mark.parametrize("name", SETTLE_ONCE)
def test_settling_again_without_a_key_moves_no_points(api, world, name):
    op = _prepare(world, name)
    first = send(api, op, op.body, None)
    assert first.status_code in (200, 201), first.get_json()
    after = snapshot()

    again = send(api, op, op.body, None)

    assert again.status_code in (200, 201, 409), again.get_json()
    if again.status_code == 409:  # already settled, said in Chinese
        assert re.search("[\u4e00-\u9fff]", again.get_json()["error"]["message"]), again.get_json()
    assert moved(snapshot()) == moved(after)


@pytest.mark.parametrize("name, change", [
    ("api_ledger.create_entry", {"note": "另一个说明"}),
    ("api_ledger.create_entry", {"resident_id": None}),
    ("api_ledger.create_batch", {"note": "另一个说明"}),
])
def test_a_key_sent_again_with_another_note_or_resident_is_refused(api, world, name, change):
    """The ledger tells a retry by household, amount and rule: what else the body says must match too."""
    op = _prepare(world, name)
    body = {**op.body, "resident_id": world.home.head.id} if name.endswith("create_entry") else op.body
    assert send(api, op, body, "tap-1").status_code == 201
    before = snapshot()

    error_of(send(api, op, {**body, **change}, "tap-1"), 409, "idempotency_key_reused")
    assert snapshot() == before


def test_a_batch_key_sent_again_with_another_household_is_refused(api, world):
    body = {"household_ids": [world.home.id], "rule_id": world.award.id}
    assert send(api, batch(world), body, "meeting").status_code == 201
    before = snapshot()

    again = send(api, batch(world), {**body, "household_ids": [world.home.id, world.other.id]}, "meeting")

    assert snapshot() == before
    error_of(again, 409, "idempotency_key_reused")


def test_every_api_write_is_in_the_table_or_moves_nothing(app):
    writes = {rule.endpoint for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/") and rule.methods & {"POST", "PUT", "PATCH", "DELETE"}}
    tested = {name.split(":")[0] for name in OPERATIONS}

    assert not tested & set(NOT_MOVING)
    assert writes == tested | set(NOT_MOVING), "a new API write: add it to OPERATIONS, or to NOT_MOVING with why"
