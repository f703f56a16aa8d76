"""限制兑换 as a rule's penalty: a penalty under a rule version with bars_days bars its household from redeeming from
the day it is posted for that many days, once however often the posting is retried; reversing the penalty (冲正, or an
appeal decided for the household) lifts that bar and no other; the household is barred while any of its bars covers
the day, so that an admin's bar and a penalty's neither shorten nor hide each other; and a penalty under a rule that
bars nothing costs no statement more."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth.models import Role, User
from points.claims import services as claims
from points.errors import DomainError
from points.extensions import db
from points.ledger import bars
from points.ledger.barring import LIFTED_BY_REVERSAL
from points.ledger.models import LedgerEntry, RedemptionBar
from points.ledger.queries import balance_of
from points.ledger.services import apply_rule, reverse_entry
from points.rules.models import RuleCategory
from points.shop import services as shop_services
from points.timeutil import local_today

from .. import factories

GAMBLING = "参与赌博"
ADMIN_REASON = "违章搭建，拒不拆除"


def days(n: int):
    return local_today() + timedelta(days=n)


def plain(day) -> str:
    """How a refusal names a day: 2027年1月31日."""
    return f"{day.year}年{day.month}月{day.day}日"


@pytest.fixture
def scene(village):
    """A shop with soap at 10 points and its clerk, the village admin, a household with 100 points and its villager,
    and three rules: gambling (−20, bars redeeming for 30 days), littering (−5, bars nothing) and a yard award."""
    shop = factories.gen_shop(village.village)
    soap = factories.gen_product(shop, "肥皂", price=10, stock=20, unit="块")
    household = factories.gen_household(village.grids[0])
    factories.gen_points(household, 100)
    scene = dict(
        shop=shop, soap=soap, household=household,
        clerk=factories.gen_user(Role.SHOP_CLERK, village.village),
        admin=factories.gen_user(Role.VILLAGE_ADMIN, village.village),
        villager=factories.gen_villager(household),
        gambling=factories.gen_rule(village.village, GAMBLING, -20, RuleCategory.VILLAGE_RULES, code="VR-GAMBLE",
                                    effective_from=days(-400), bars_days=30),
        litter=factories.gen_rule(village.village, "乱扔垃圾", -5, code="HYG-LITTER", effective_from=days(-400)),
        yard=factories.gen_rule(village.village, "庭院整洁", 5, code="HYG-YARD", effective_from=days(-400)),
    )
    db.session.commit()
    return scene


def penalise(scene, key: str = "gamble-1", rule: str = "gambling", on=None):
    entry = apply_rule(scene["admin"], scene["household"].id, scene[rule].id, key, occurred_on=on)
    db.session.commit()
    return entry


def redeem(scene):
    return shop_services.redeem(scene["clerk"], scene["shop"], [(scene["soap"].id, 1)],
                                household_id=scene["household"].id)


def refusal(call, *args) -> DomainError:
    with pytest.raises(DomainError) as raised:
        call(*args)
    db.session.rollback()
    return raised.value


def bars_of(scene) -> list[RedemptionBar]:
    return bars.bars_of(scene["household"].id)


def test_a_penalty_under_such_a_rule_bars_the_household_from_the_day_it_is_posted(scene):
    entry = penalise(scene)
    refused = refusal(redeem, scene)
    assert (refused.code, refused.status) == ("redemption_barred", 409)
    assert refused.message == f"这户被限制兑换到 {plain(days(29))}：{GAMBLING}"  # day + 30 − 1
    assert balance_of(scene["household"].id) == 80
    (bar,) = bars_of(scene)
    assert (bar.starts_on, bar.ends_on, bar.reason, bar.entry_id) == (days(0), days(29), GAMBLING, entry.id)
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "bar.set"))
    assert (audit.actor_id, audit.subject_id, audit.after["entry"]) == (scene["admin"].id, bar.id, entry.id)


def test_a_late_entry_of_an_older_offence_bars_for_all_its_days_from_today(scene):
    penalise(scene, on=days(-40))
    (bar,) = bars_of(scene)
    assert (bar.starts_on, bar.ends_on) == (days(0), days(29))
    assert refusal(redeem, scene).message == f"这户被限制兑换到 {plain(days(29))}：{GAMBLING}"


def test_a_penalty_under_a_rule_that_bars_nothing_leaves_the_household_free(scene):
    penalise(scene, rule="litter")
    assert bars_of(scene) == []
    assert redeem(scene).balance_after == 85


def test_a_retried_penalty_bars_once(scene):
    first = penalise(scene)
    again = penalise(scene)
    assert again.id == first.id
    assert db.session.scalar(select(func.count()).select_from(RedemptionBar)) == 1
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "bar.set")) == 1


def assert_free_again(scene, bar_id: int) -> None:
    """The penalty's bar is lifted by its reversal, and the household redeems again."""
    db.session.expire_all()
    bar = db.session.get(RedemptionBar, bar_id)
    assert bar.lifted_at is not None and bar.lift_note == LIFTED_BY_REVERSAL
    assert redeem(scene).balance_after == 90
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "bar.lifted"))
    assert (audit.subject_id, audit.after["note"]) == (bar_id, LIFTED_BY_REVERSAL)


def test_reversing_the_penalty_lifts_its_bar(scene):
    entry = penalise(scene)
    (bar,) = bars_of(scene)
    reverse_entry(entry.id, "undo-1", scene["admin"], "认定有误")
    db.session.commit()
    assert_free_again(scene, bar.id)


def test_an_appeal_decided_for_the_household_lifts_the_bar(scene):
    entry = penalise(scene)
    (bar,) = bars_of(scene)
    appeal = claims.submit_appeal(scene["villager"], entry.id, "那天我在外地打工")
    db.session.commit()
    claims.decide_appeal(scene["admin"], appeal.id, reverse=True, note="核实不在场")
    db.session.commit()
    assert_free_again(scene, bar.id)


def test_an_appeal_decided_against_the_household_keeps_the_bar(scene):
    entry = penalise(scene)
    appeal = claims.submit_appeal(scene["villager"], entry.id, "不服")
    db.session.commit()
    claims.decide_appeal(scene["admin"], appeal.id, reverse=False, note="有照片为证")
    db.session.commit()
    assert bars_of(scene)[0].lifted_at is None
    assert refusal(redeem, scene).code == "redemption_barred"


def test_a_longer_admin_bar_is_not_shortened_and_outlives_the_penalty(scene):
    admin_bar = bars.bar(scene["admin"], scene["household"], days(0), days(200), ADMIN_REASON)
    db.session.commit()
    entry = penalise(scene)
    assert refusal(redeem, scene).message == f"这户被限制兑换到 {plain(days(200))}：{ADMIN_REASON}"
    reverse_entry(entry.id, "undo-1", scene["admin"])
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(RedemptionBar, admin_bar.id).lifted_at is None
    assert refusal(redeem, scene).message == f"这户被限制兑换到 {plain(days(200))}：{ADMIN_REASON}"


def test_a_longer_penalty_bar_holds_past_the_admin_bar_and_its_reversal_leaves_the_admin_bar(scene):
    admin_bar = bars.bar(scene["admin"], scene["household"], days(0), days(10), ADMIN_REASON)
    db.session.commit()
    entry = penalise(scene)
    assert refusal(redeem, scene).message == f"这户被限制兑换到 {plain(days(29))}：{GAMBLING}"
    reverse_entry(entry.id, "undo-1", scene["admin"])
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(RedemptionBar, admin_bar.id).lifted_at is None
    assert refusal(redeem, scene).message == f"这户被限制兑换到 {plain(days(10))}：{ADMIN_REASON}"


def test_a_penalty_bar_holds_while_a_longer_admin_bar_is_still_to_come(scene):
    bars.bar(scene["admin"], scene["household"], days(5), days(200), ADMIN_REASON)
    db.session.commit()
    penalise(scene)
    assert refusal(redeem, scene).message == f"这户被限制兑换到 {plain(days(29))}：{GAMBLING}"


def test_lifting_a_longer_admin_bar_leaves_the_penalty_bar_in_force(scene):
    admin_bar = bars.bar(scene["admin"], scene["household"], days(0), days(200), ADMIN_REASON)
    db.session.commit()
    penalise(scene)
    bars.lift(scene["admin"], admin_bar.id, "已整改")
    db.session.commit()
    assert refusal(redeem, scene).message == f"这户被限制兑换到 {plain(days(29))}：{GAMBLING}"


def statements_of(statements, ids: dict, key: str, rule: str) -> list[str]:
    """The statements of one posting under a rule, counted as the ledger page's apply_rule runs them: the actor's
    roles are read before."""
    db.session.expunge_all()
    admin = db.session.get(User, ids["admin"])
    assert admin.assignments
    statements.clear()
    apply_rule(admin, ids["household"], ids[rule], key)
    done = statements.summary()
    db.session.commit()
    return done


def test_an_ordinary_penalty_costs_no_statement_more(scene, statements):
    """A penalty under a rule that bars nothing costs what an award costs, and its reversal asks nothing about bars:
    the rule version is in hand, and only one that bars goes on to write a bar (and move the balance row to it)."""
    ids = {name: scene[name].id for name in ("admin", "household", "yard", "litter", "gambling")}
    award = statements_of(statements, ids, "yard-1", "yard")
    penalty = statements_of(statements, ids, "litter-1", "litter")
    assert penalty == award == [
        "SELECT households", "SELECT rule_versions",  # with its rule and roles
        "SELECT grid_paths",
        "INSERT household_balances",  # the lock
        "SELECT ledger_entries",  # the idempotency key
        "UPDATE household_balances", "INSERT ledger_entries", "INSERT period_totals", "INSERT audit_events"]
    entry_id = db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.idempotency_key == "litter-1"))
    statements.clear()
    reverse_entry(entry_id, "undo-litter", db.session.get(User, ids["admin"]))
    assert not any("redemption_bars" in statement for statement in statements)
    db.session.commit()
    barring = statements_of(statements, ids, "gamble-1", "gambling")
    assert barring == penalty[:-1] + ["INSERT redemption_bars", "UPDATE household_balances", "INSERT audit_events",
                                      "INSERT audit_events"]

