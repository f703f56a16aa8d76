"""Points over their life: a month's 公示 window and the points pending in it, when a 清零 is due, what it takes
(the oldest points first, less what is carried over, never pending points), and a run posted once, audited, kept
out of the period totals, and undone once."""
from datetime import date

import pytest
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth.models import Role
from points.errors import DomainError
from points.extensions import db
from points.ledger import lifecycle
from points.ledger.lifecycle import Due, due_on, expiring, in_publicity, next_due, pending_since, publicity_ends
from points.ledger.models import (
    EntrySource,
    ExpiryMode,
    ExpiryRun,
    HouseholdBalance,
    LedgerEntry,
    LedgerSettings,
    PeriodTotal,
)
from points.ledger.queries import balance_of
from points.ledger.services import post_entry
from points.people.models import Closure
from points.people.services import close_household

from .. import factories
from .helpers import rule_versions

RESET_DAY = date(2027, 1, 10)


def terms(**changes) -> LedgerSettings:
    """A village's settings as an object (not in the session): the defaults, with changes."""
    values = dict(village_id=0, objection_days=7, spend_after_publicity=False, expiry=ExpiryMode.NONE, reset_on=None,
                  carry_percent=0, carry_cap=None, expiry_months=24)
    return LedgerSettings(**(values | changes))


def configure(village, **changes) -> LedgerSettings:
    """The village's settings row, stored."""
    row = terms(**changes)
    row.village_id = village.village.id
    db.session.add(row)
    db.session.flush()
    return row


def earn(household, amount: int, day: date, source: EntrySource = EntrySource.MANUAL) -> LedgerEntry:
    """An entry of the household on day: earned (or lost, negative), or spent at the shop (source REDEMPTION)."""
    return post_entry(household.id, amount, source, factories.unique("life-"), occurred_on=day)


def totals() -> list[tuple]:
    """Every period total, as it stands."""
    db.session.expire_all()
    return sorted((t.period, t.household_id, t.resident_id, t.category, t.total, t.entries, t.deducted, t.hours)
                  for t in db.session.scalars(select(PeriodTotal)))


def expiry_entries() -> list[LedgerEntry]:
    return list(db.session.scalars(select(LedgerEntry).where(LedgerEntry.source == EntrySource.EXPIRY)
                                   .order_by(LedgerEntry.id)))


# ---------------------------------------------------------------------------------------------------- 公示


@pytest.mark.parametrize("days, month, ends", [
    (7, date(2026, 12, 1), date(2027, 1, 8)),  # over a new year
    (7, date(2027, 1, 1), date(2027, 2, 8)),
    (0, date(2027, 1, 1), date(2027, 2, 1)),  # no objection days: counted the day the month is over
    (28, date(2027, 2, 1), date(2027, 3, 29)),  # the short month, the longest window
    (28, date(2028, 2, 1), date(2028, 3, 29)),  # a leap February
])
def test_a_months_publicity_opens_when_it_is_over_and_lasts_the_objection_days(days, month, ends):
    settings = terms(objection_days=days)
    assert publicity_ends(settings, month) == ends
    assert not in_publicity(settings, month, month.replace(day=28))  # the month itself is not in 公示 yet
    first_after = date(ends.year, ends.month, 1)
    assert in_publicity(settings, month, first_after) == (days > 0)
    assert not in_publicity(settings, month, ends)
    if days:
        assert in_publicity(settings, month, date.fromordinal(ends.toordinal() - 1))


@pytest.mark.parametrize("days, today, since", [
    (7, date(2027, 1, 31), date(2027, 1, 1)),  # December's 公示 is over: this month's points are pending
    (7, date(2027, 2, 1), date(2027, 1, 1)),  # January's 公示 opens: its points are pending still
    (7, date(2027, 2, 7), date(2027, 1, 1)),
    (7, date(2027, 2, 8), date(2027, 2, 1)),  # January's 公示 is over
    (7, date(2027, 1, 3), date(2026, 12, 1)),  # over a new year
    (0, date(2027, 2, 1), date(2027, 2, 1)),
    (28, date(2027, 3, 28), date(2027, 2, 1)),
    (28, date(2027, 3, 29), date(2027, 3, 1)),
])
def test_pending_since_is_this_month_or_last_month_while_its_publicity_is_on(days, today, since):
    assert pending_since(terms(objection_days=days, spend_after_publicity=True), today) == since
    assert pending_since(terms(objection_days=days), today) is None  # points count at once: nothing pending


# ---------------------------------------------------------------------------------------------------- when due


def when(due: Due | None) -> tuple[date, date] | None:
    """A clearing's cutoff and day (its period is a label of the day, whatever its spelling)."""
    return None if due is None else (due.cutoff, due.day)


@pytest.mark.parametrize("today, day", [
    (date(2027, 1, 9), None),  # before the first reset: none
    (RESET_DAY, RESET_DAY),
    (date(2027, 12, 31), RESET_DAY),
    (date(2028, 1, 9), RESET_DAY),
    (date(2028, 1, 10), date(2028, 1, 10)),  # a year later
])
def test_a_yearly_reset_is_due_from_its_day_once_a_year(today, day):
    settings = terms(expiry=ExpiryMode.RESET, reset_on=RESET_DAY)
    assert when(due_on(settings, today)) == (None if day is None else (day, day))
    if day is not None:  # one period a year: the same all year, another the next
        assert due_on(settings, today).period == due_on(settings, day).period
        assert due_on(settings, today).period != due_on(settings, date(day.year + 1, 1, 10)).period


def test_a_reset_in_february_falls_on_its_day_in_leap_years_too():
    settings = terms(expiry=ExpiryMode.RESET, reset_on=date(2027, 2, 28))
    assert when(due_on(settings, date(2028, 2, 27))) == (date(2027, 2, 28), date(2027, 2, 28))
    assert when(due_on(settings, date(2028, 2, 28))) == (date(2028, 2, 28), date(2028, 2, 28))
    assert due_on(settings, date(2028, 2, 29)) == due_on(settings, date(2028, 2, 28))
    assert next_due(settings, date(2028, 2, 28)).day == date(2029, 2, 28)


@pytest.mark.parametrize("today, day", [
    (date(2026, 3, 1), RESET_DAY),  # the first reset is still to come, more than a year ahead
    (date(2026, 12, 15), RESET_DAY),
    (date(2027, 1, 9), RESET_DAY),
    (RESET_DAY, date(2028, 1, 10)),  # due today: the next one is a year on
    (date(2027, 6, 1), date(2028, 1, 10)),
])
def test_the_next_reset_is_the_coming_day(today, day):
    assert when(next_due(terms(expiry=ExpiryMode.RESET, reset_on=RESET_DAY), today)) == (day, day)


def test_rolling_expiry_is_due_each_month_for_the_points_of_the_months_before_the_cutoff():
    settings = terms(expiry=ExpiryMode.ROLLING, expiry_months=24)
    assert due_on(settings, date(2027, 3, 15)) == Due("M2027-03", date(2025, 3, 1), date(2027, 3, 1))
    assert next_due(settings, date(2027, 3, 15)) == Due("M2027-04", date(2025, 4, 1), date(2027, 4, 1))
    assert next_due(settings, date(2026, 12, 31)) == Due("M2027-01", date(2025, 1, 1), date(2027, 1, 1))
    one = terms(expiry=ExpiryMode.ROLLING, expiry_months=1)
    assert due_on(one, date(2027, 1, 5)) == Due("M2027-01", date(2026, 12, 1), date(2027, 1, 1))
    assert due_on(one, date(2027, 3, 1)).cutoff == date(2027, 2, 1)


def test_without_expiry_nothing_is_ever_due():
    for settings in (terms(), terms(expiry=ExpiryMode.RESET)):  # a reset without its day is none either
        assert due_on(settings, RESET_DAY) is None and next_due(settings, RESET_DAY) is None


# ---------------------------------------------------------------------------------------------------- what expires


def lost_on(settings: LedgerSettings, households, today: date) -> dict[int, int]:
    """What the clearing due today takes from each of the households, as their balances stand."""
    balances = {h.id: balance_of(h.id) for h in households}
    return expiring(settings, due_on(settings, today), balances, today)


def test_spending_takes_the_oldest_points_first(village):
    reset = terms(expiry=ExpiryMode.RESET, reset_on=RESET_DAY)
    spent_old, spent_all_old, penalised = (factories.gen_household(village.grids[0]) for _ in range(3))
    for household in (spent_old, spent_all_old, penalised):
        earn(household, 100, date(2026, 6, 1))
    earn(spent_old, -30, date(2026, 12, 1), EntrySource.REDEMPTION)  # spent from the old 100
    earn(spent_old, 40, date(2027, 1, 12))  # earned after the cutoff: kept
    earn(spent_all_old, 40, date(2027, 1, 12))
    earn(spent_all_old, -120, date(2027, 1, 13), EntrySource.REDEMPTION)  # the old 100 and 20 of the new
    earn(penalised, -10, date(2027, 1, 12))  # a penalty after the cutoff is no point kept
    assert lost_on(reset, (spent_old, spent_all_old, penalised), date(2027, 1, 15)) == {
        spent_old.id: 70, penalised.id: 90}


@pytest.mark.parametrize("percent, cap, lost", [(0, None, 100), (50, None, 50), (50, 20, 80), (100, None, 0),
                                                (30, 0, 100), (0, 20, 80)])
def test_a_reset_carries_over_its_share_up_to_its_cap(village, percent, cap, lost):
    household = factories.gen_household(village.grids[0])
    earn(household, 100, date(2026, 6, 1))
    reset = terms(expiry=ExpiryMode.RESET, reset_on=RESET_DAY, carry_percent=percent, carry_cap=cap)
    assert lost_on(reset, [household], RESET_DAY) == ({household.id: lost} if lost else {})


def test_rolling_expiry_takes_the_points_older_than_the_cutoff(village):
    household = factories.gen_household(village.grids[0])
    earn(household, 30, date(2025, 2, 28))
    earn(household, 50, date(2025, 3, 1))
    rolling = terms(expiry=ExpiryMode.ROLLING, expiry_months=24)
    assert lost_on(rolling, [household], date(2027, 3, 2)) == {household.id: 30}
    carried = terms(expiry=ExpiryMode.ROLLING, expiry_months=24, carry_percent=50)  # only a reset carries over
    assert lost_on(carried, [household], date(2027, 3, 2)) == {household.id: 30}


def test_pending_points_never_expire(village):
    household = factories.gen_household(village.grids[0])
    earn(household, 100, date(2026, 6, 1))
    earn(household, 60, date(2026, 12, 10))  # December's 公示 runs to 8 January
    settings = terms(expiry=ExpiryMode.RESET, reset_on=date(2027, 1, 5), spend_after_publicity=True)
    assert lost_on(settings, [household], date(2027, 1, 5)) == {household.id: 100}
    settings.spend_after_publicity = False  # counted at once: nothing pending, all of it before the cutoff
    assert lost_on(settings, [household], date(2027, 1, 5)) == {household.id: 160}


def test_a_household_in_debt_or_at_zero_loses_nothing(village):
    debt, zero = factories.gen_household(village.grids[0]), factories.gen_household(village.grids[0])
    _, penalty, _ = rule_versions(village)
    for _ in range(2):
        post_entry(debt.id, -10, EntrySource.MANUAL, factories.unique("fine-"), rule_version=penalty,
                   occurred_on=date(2026, 6, 1))
    assert balance_of(debt.id) == -20
    assert lost_on(terms(expiry=ExpiryMode.RESET, reset_on=RESET_DAY), (debt, zero), RESET_DAY) == {}


# ---------------------------------------------------------------------------------------------------- a run


@pytest.fixture
def cleared(village):
    """A village resetting on 10 January: its admin, two households with old points (100 and 50, of which 20 were
    spent), and one with points only after the cutoff."""
    configure(village, expiry=ExpiryMode.RESET, reset_on=RESET_DAY)
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    old, spent, new = (factories.gen_household(village.grids[i]) for i in range(3))
    earn(old, 100, date(2026, 5, 1))
    earn(spent, 50, date(2026, 5, 1))
    earn(spent, -20, date(2026, 8, 1), EntrySource.REDEMPTION)
    earn(new, 30, date(2027, 1, 10))
    db.session.commit()
    return village, admin, old, spent, new


def test_a_run_posts_the_expiry_entries_once_audited(cleared):
    village, admin, old, spent, new = cleared
    shown = lifecycle.preview(village.village, RESET_DAY)
    assert (when(shown.due), shown.households, shown.points, shown.run) == ((RESET_DAY, RESET_DAY), 2, 130, None)
    run, made = lifecycle.run_expiry(admin, village.village, RESET_DAY)
    assert made and (run.period, run.cutoff, run.households, run.points) == (shown.due.period, RESET_DAY, 2, 130)
    entries = expiry_entries()
    assert [(e.household_id, e.amount, e.occurred_on, e.note, e.idempotency_key) for e in entries] == [
        (old.id, -100, RESET_DAY, "2027年积分清零", f"expiry:{village.village.id}:{run.period}:{old.id}"),
        (spent.id, -30, RESET_DAY, "2027年积分清零", f"expiry:{village.village.id}:{run.period}:{spent.id}")]
    assert (balance_of(old.id), balance_of(spent.id), balance_of(new.id)) == (0, 0, 30)
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "expiry.run"))
    assert (audit.actor_id, audit.subject_id, audit.after) == (
        admin.id, run.id, {"period": run.period, "households": 2, "points": 130})
    db.session.commit()

    again, made = lifecycle.run_expiry(None, village.village, date(2027, 3, 1))  # the cron, later in the period
    assert (again.id, made) == (run.id, False)
    assert len(expiry_entries()) == 2 and balance_of(new.id) == 30
    assert lifecycle.preview(village.village, date(2027, 3, 1)).run.id == run.id


def test_expiry_entries_leave_the_period_totals_alone_and_are_no_deduction(cleared):
    village, admin, *_ = cleared
    before = totals()
    run, _ = lifecycle.run_expiry(admin, village.village, RESET_DAY)
    assert totals() == before  # the boards rank points earned and lost; a 清零 is neither
    assert expiry_entries() and not any(e.is_deduction for e in expiry_entries())  # nothing to appeal
    lifecycle.undo_expiry(admin, run)
    assert totals() == before


def test_closed_households_are_not_cleared(cleared):
    village, admin, old, spent, _ = cleared
    close_household(old, Closure.MOVED_OUT, date(2026, 10, 1))
    run, _ = lifecycle.run_expiry(admin, village.village, RESET_DAY)
    assert [e.household_id for e in expiry_entries()] == [spent.id] and run.households == 1
    assert balance_of(old.id) == 100


def test_a_run_not_due_or_without_expiry_is_refused_in_chinese(village):
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    with pytest.raises(DomainError) as off:
        lifecycle.run_expiry(admin, village.village, RESET_DAY)
    assert off.value.code == "expiry_off" and off.value.message == "本村没有设置积分清零"
    configure(village, expiry=ExpiryMode.RESET, reset_on=RESET_DAY)
    with pytest.raises(DomainError) as early:
        lifecycle.run_expiry(admin, village.village, date(2027, 1, 9))
    assert early.value.code == "expiry_not_due" and early.value.message.startswith("还没到清零日期（")
    assert "不能提前清零" in early.value.message
    assert db.session.scalar(select(func.count()).select_from(ExpiryRun)) == 0


def test_only_who_manages_points_runs_or_undoes_a_clearing(cleared):
    village, admin, *_ = cleared
    clerk = factories.gen_user(Role.SHOP_CLERK, village.village)
    with pytest.raises(DomainError) as refused:
        lifecycle.run_expiry(clerk, village.village, RESET_DAY)
    assert refused.value.code == "forbidden"
    run, _ = lifecycle.run_expiry(admin, village.village, RESET_DAY)
    with pytest.raises(DomainError) as undo:
        lifecycle.undo_expiry(clerk, run)
    assert undo.value.code == "forbidden" and run.undone_at is None


def test_an_undo_gives_every_point_back_once_and_the_period_is_not_cleared_again(cleared):
    village, admin, old, spent, new = cleared
    run, _ = lifecycle.run_expiry(admin, village.village, RESET_DAY)
    db.session.commit()
    lifecycle.undo_expiry(admin, run)
    db.session.commit()
    assert (balance_of(old.id), balance_of(spent.id), balance_of(new.id)) == (100, 30, 30)
    assert run.undone_at is not None and run.undone_by_id == admin.id
    reversals = db.session.scalars(select(LedgerEntry).where(LedgerEntry.reverses_id.is_not(None))).all()
    assert sorted((r.household_id, r.amount, r.note) for r in reversals) == sorted(
        [(old.id, 100, "撤销积分清零"), (spent.id, 30, "撤销积分清零")])
    assert db.session.scalar(select(AuditEvent.after).where(AuditEvent.action == "expiry.undone")) == {
        "period": run.period, "households": 2, "points": 130}

    with pytest.raises(DomainError) as twice:
        lifecycle.undo_expiry(admin, run)
    assert twice.value.code == "expiry_already_undone" and twice.value.message == "这次清零已经撤销过了"
    db.session.rollback()
    assert lifecycle.run_expiry(admin, village.village, date(2027, 2, 1)) == (run, False)
    assert (balance_of(old.id), balance_of(spent.id)) == (100, 30)
    for household in (old, spent, new):
        balance = db.session.scalar(select(HouseholdBalance.balance).where(HouseholdBalance.household_id
                                                                           == household.id))
        assert balance == db.session.scalar(select(func.sum(LedgerEntry.amount)).where(
            LedgerEntry.household_id == household.id))


def test_a_rolling_run_names_the_month_whose_points_expired(village):
    configure(village, expiry=ExpiryMode.ROLLING, expiry_months=24)
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    household = factories.gen_household(village.grids[0])
    earn(household, 30, date(2025, 2, 10))
    earn(household, 50, date(2025, 3, 10))
    run, _ = lifecycle.run_expiry(admin, village.village, date(2027, 3, 5))
    assert (run.period, run.points) == ("M2027-03", 30)
    assert [(e.amount, e.note, e.occurred_on) for e in expiry_entries()] == [
        (-30, "2025年3月以前的积分到期", date(2027, 3, 1))]
    april, made = lifecycle.run_expiry(admin, village.village, date(2027, 4, 1))  # the next month: a new period
    assert made and april.points == 50 and balance_of(household.id) == 0
