"""限制兑换: a bar in force refuses a redemption with its reason and end date, a bar to come or lifted does not; bad
bars are refused in Chinese; nobody bars their own household; the household appeals once; and a redemption of an
unbarred household in a village with the default settings costs no statement more than before bars existed."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from points.audit.models import AuditEvent
from points.auth import services as auth_services
from points.auth.models import Role, User
from points.errors import DomainError
from points.extensions import db
from points.ledger import bars
from points.ledger.queries import balance_of
from points.shop import services as shop_services
from points.timeutil import local_today

from .. import factories

REASON = "参与赌博，按村规民约限制兑换"


@pytest.fixture
def counter(village):
    """A shop with soap at 10 points, its clerk, the village admin, and a household with 100 points and its
    villager."""
    shop = factories.gen_shop(village.village)
    soap = factories.gen_product(shop, "肥皂", price=10, stock=20, unit="块")
    clerk = factories.gen_user(Role.SHOP_CLERK, village.village)
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    household = factories.gen_household(village.grids[0])
    factories.gen_points(household, 100)
    villager = factories.gen_villager(household)
    db.session.commit()
    return shop, soap, clerk, admin, household, villager


def days(n: int):
    return local_today() + timedelta(days=n)


def redeem(counter):
    shop, soap, clerk, _, household, _ = counter
    return shop_services.redeem(clerk, shop, [(soap.id, 1)], household_id=household.id)


def refusal(call, *args) -> DomainError:
    with pytest.raises(DomainError) as raised:
        call(*args)
    db.session.rollback()
    return raised.value


def test_a_bar_in_force_refuses_a_redemption_with_its_reason_and_end_date(counter):
    _, _, _, admin, household, _ = counter
    found = bars.bar(admin, household, days(-1), days(30), REASON)
    db.session.commit()
    refused = refusal(redeem, counter)
    assert (refused.code, refused.status) == ("redemption_barred", 409)
    assert refused.message == f"这户被限制兑换到 {plain(days(30))}：{REASON}"
    assert balance_of(household.id) == 100
    assert bars.current_bar(household.id).id == found.id
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "bar.set"))
    assert (audit.actor_id, audit.subject_id, audit.after) == (admin.id, found.id, {
        "household": household.number, "starts_on": days(-1).isoformat(), "ends_on": days(30).isoformat(),
        "reason": REASON})


def test_a_bar_ending_today_still_holds_today(counter):
    _, _, _, admin, household, _ = counter
    bars.bar(admin, household, days(-5), days(0), REASON)
    db.session.commit()
    assert refusal(redeem, counter).code == "redemption_barred"


def test_a_bar_to_come_does_not_refuse(counter):
    _, _, _, admin, household, _ = counter
    bars.bar(admin, household, days(3), days(30), REASON)
    db.session.commit()
    assert redeem(counter).balance_after == 90


def test_a_lifted_bar_does_not_refuse_and_is_lifted_once(counter):
    _, _, _, admin, household, _ = counter
    found = bars.bar(admin, household, days(0), days(30), REASON)
    db.session.commit()
    bars.lift(admin, found.id, "已整改")
    db.session.commit()
    assert redeem(counter).balance_after == 90
    again = refusal(bars.lift, admin, found.id)
    assert (again.code, again.message) == ("bar_already_lifted", "这项限制已经解除了")
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "bar.lifted"))
    assert audit.after == {"household": household.number, "note": "已整改"}


def test_every_bar_counts_until_it_is_lifted_or_over(counter):
    _, _, _, admin, household, _ = counter
    first = bars.bar(admin, household, days(0), days(30), REASON)
    second = bars.bar(admin, household, days(0), days(5), "违章搭建")
    later = bars.bar(admin, household, days(40), days(50), "私搭乱建")
    db.session.commit()
    assert first.lifted_at is None and bars.current_bar(household.id).id == first.id  # the one ending last
    bars.lift(admin, first.id, "已改正")
    db.session.commit()
    assert refusal(redeem, counter).message == f"这户被限制兑换到 {plain(days(5))}：违章搭建"
    bars.lift(admin, second.id, "")
    db.session.commit()
    assert bars.current_bar(household.id) is None and bars.current_bar(household.id, days(45)).id == later.id


@pytest.mark.parametrize("starts, ends, reason, code, message", [
    (5, 4, REASON, "bar_ends_before_start", "限制的结束日期不能早于开始日期"),
    (-10, -1, REASON, "bar_ends_in_past", "限制的结束日期已经过去了，请选今天或以后的日期"),
    (0, 730, REASON, "bar_too_long", "一次最多限制兑换 730 天"),
    (731, 740, REASON, "bar_starts_too_late", "限制的开始日期最晚只能在 730 天以后"),
    (0, 30, "", "bar_reason_required", "请写明限制兑换的原因（最多 200 字）"),
    (0, 30, "   ", "bar_reason_required", "请写明限制兑换的原因（最多 200 字）"),
    (0, 30, "赌" * 201, "bar_reason_required", "请写明限制兑换的原因（最多 200 字）"),
])
def test_a_bad_bar_is_refused_in_chinese_and_bars_nothing(counter, starts, ends, reason, code, message):
    _, _, _, admin, household, _ = counter
    refused = refusal(bars.bar, admin, household, days(starts), days(ends), reason)
    assert (refused.code, refused.message) == (code, message)
    assert bars.bars_of(household.id) == [] and redeem(counter).balance_after == 90


def test_the_longest_bar_is_a_day_short_of_two_years(counter):
    _, _, _, admin, household, _ = counter
    assert bars.bar(admin, household, days(0), days(729), REASON).ends_on == days(729)


def test_nobody_bars_their_own_household_and_only_admins_bar(counter, village):
    _, _, clerk, _, household, villager = counter
    auth_services.assign_role(None, villager, Role.VILLAGE_ADMIN, village.village)
    db.session.commit()
    own = refusal(bars.bar, villager, household, days(0), days(30), REASON)
    assert (own.code, own.status, own.message) == ("own_bar", 403, "不能限制或解除自己家的兑换，请村里其他管理员处理")
    found = bars.bar(factories.gen_user(Role.VILLAGE_ADMIN, village.village), household, days(0), days(30), REASON)
    db.session.commit()
    assert refusal(bars.lift, villager, found.id).code == "own_bar"
    assert refusal(bars.bar, clerk, household, days(0), days(30), REASON).code == "forbidden"
    assert [b.id for b in bars.bars_of(household.id)] == [found.id] and found.lifted_at is None


def test_the_household_appeals_once(counter, village):
    _, _, _, admin, household, villager = counter
    found = bars.bar(admin, household, days(0), days(30), REASON)
    db.session.commit()
    empty = refusal(bars.appeal, villager, found.id, "  ")
    assert (empty.code, empty.message) == ("appeal_reason_required", "请写明申诉理由（最多 500 字）")
    neighbour = factories.gen_villager(factories.gen_household(village.grids[1]))
    assert refusal(bars.appeal, neighbour, found.id, "不是我家").code == "not_found"

    bars.appeal(villager, found.id, "那天我在外地打工，没有参与赌博")
    db.session.commit()
    assert found.appeal == "那天我在外地打工，没有参与赌博" and found.appealed_at is not None
    twice = refusal(bars.appeal, villager, found.id, "再申诉一次")
    assert (twice.code, twice.message) == ("bar_already_appealed", "这项限制已经申诉过了，请等村里处理")
    assert db.session.scalar(select(AuditEvent.after).where(AuditEvent.action == "bar.appealed")) == {
        "household": household.number, "appeal": "那天我在外地打工，没有参与赌博"}


def test_a_lifted_bar_is_not_appealed(counter):
    _, _, _, admin, household, villager = counter
    found = bars.bar(admin, household, days(0), days(30), REASON)
    bars.lift(admin, found.id)
    db.session.commit()
    assert refusal(bars.appeal, villager, found.id, "申诉").code == "bar_already_lifted"


def test_an_unbarred_redemption_costs_what_it_cost_before_bars(counter, statements):
    """As tests/api/test_shop.py counts the API's redemption: the bar rides on the balance row the lock reads, and
    a village with the default settings asks nothing about 公示."""
    shop, soap, clerk, _, household, _ = counter
    shop_id, soap_id, household_id, clerk_id = shop.id, soap.id, household.id, clerk.id
    db.session.expunge_all()
    clerk = db.session.get(User, clerk_id)
    assert clerk.assignments  # the clerk's roles are read before counting, as the API's token does
    statements.clear()
    done = shop_services.redeem(clerk, shop_services.shop_of(shop_id), [(soap_id, 2)], household_id=household_id)
    assert done.balance_after == 80
    assert statements.summary() == [
        "SELECT shops", "SELECT households", "SELECT products",
        "INSERT household_balances",  # hold(): the lock, which reads the bar too
        "INSERT redemptions", "UPDATE products", "INSERT redemption_lines", "INSERT stock_movements",
        "UPDATE household_balances", "INSERT ledger_entries", "UPDATE redemptions", "INSERT audit_events"]


def plain(day) -> str:
    """How a refusal names a day: 2027年1月31日."""
    return f"{day.year}年{day.month}月{day.day}日"
