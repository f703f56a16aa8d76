"""flask --app points demo: the demo village and its accounts; running it twice changes nothing.

The demo is loaded once for the module (about 15 s) and its tests only read it. `.ci/run` runs them on the calendar's
hard days too (`--clock`): the demo must have points in the week and month in progress whatever the day.
"""
from datetime import date

import pytest
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth.models import Role, User
from points.auth.services import authenticate
from points.claims.models import Appeal, Claim
from points.events.models import Attendance, CheckinMethod, Event, EventSeries
from points.extensions import db
from points.grids.models import GridNode
from points.hygiene import inspection, village_settings
from points.hygiene.models import MonthlyResult, MonthlySummary, Score
from points.leaderboards import queries as boards
from points.ledger.models import EntrySource, HouseholdBalance, LedgerEntry
from points.people.models import Household, HouseholdCard, HouseholdCareTag, HouseholdKind, Resident
from points.periods import PeriodKind, month_weeks_end, period_of, week_of
from points.rules.models import RuleCategory, RuleUnit, RuleVersion
from points.rules.queries import rule_book
from points.shop.models import Product, Redemption, Shop, StockMovement
from points.timeutil import local_today, utc_to_local, utcnow

from .conftest import empty_database

TABLES = (GridNode, Household, Resident, User, HouseholdCareTag, RuleVersion, LedgerEntry, Claim, Appeal, AuditEvent,
          EventSeries, Event, Attendance, HouseholdCard, Shop, Product, StockMovement, Redemption)


@pytest.fixture(scope="module")
def demo_output(app):
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["demo"])
        assert result.exit_code == 0, result.output
        yield result.output
        empty_database()


@pytest.fixture(autouse=True)
def _context(app, demo_output):
    """Replaces the harness's: the demo stays in the database for the module's tests, and goes after the last."""
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()


def counts():
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model)) for model in TABLES}


def test_demo_builds_yaoqian_and_is_idempotent(runner, demo_output):
    assert "demo12345" in demo_output
    before = counts()
    assert before["Household"] == 450 and 1400 <= before["Resident"] <= 1700
    assert db.session.scalar(select(func.count()).where(Household.kind == HouseholdKind.RENTER)) > 20
    assert before["HouseholdCareTag"] > 5
    assert before["LedgerEntry"] > 200 and before["Claim"] == 2 and before["Appeal"] == 1  # a month of activity
    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0, again.output
    assert counts() == before


def test_demo_accounts_hold_their_roles():
    expected = {
        "admin": Role.TOWN_ADMIN, "cunwei": Role.VILLAGE_ADMIN, "leader1": Role.GRID_LEADER,
        "leader2": Role.GRID_LEADER, "leader3": Role.GRID_LEADER, "worker1": Role.GRID_WORKER,
        "clerk": Role.SHOP_CLERK, "organizer": Role.EVENT_ORGANIZER,
    }
    for username, role in expected.items():
        assert [a.role for a in authenticate(username, "demo12345").assignments] == [role]
    villagers = [authenticate(f"villager{i}", "demo12345") for i in range(1, 6)]
    assert len({v.resident.household_id for v in villagers}) == 5


def test_demo_has_the_seed_rule_book():
    village = db.session.scalar(select(GridNode).where(GridNode.code == "yaoqian"))
    book = {v.rule.code: v for v in rule_book(village.id, date(2026, 11, 23))}
    settings = village_settings.settings_of(village.id)
    assert (settings.model_count, settings.model_points, settings.flag_points) == (3, 20, 50)
    assert book["VR-GAMBLE"].points == -20 and book["HYG-PILE"].points == -10
    assert book["VOL-HOUR"].unit is RuleUnit.HOUR
    assert {v.category for v in book.values()} == set(RuleCategory)
    assert any(not v.for_registered for v in book.values()), "the renters' rule book"


def test_the_demo_months_points_add_up():
    sums = dict(db.session.execute(select(LedgerEntry.household_id, func.sum(LedgerEntry.amount))
                                   .group_by(LedgerEntry.household_id)).all())
    balances = dict(db.session.execute(select(HouseholdBalance.household_id, HouseholdBalance.balance)).all())
    assert sums and {k: v for k, v in balances.items() if v or k in sums} == sums


def test_the_demo_has_events_and_the_held_ones_are_paid():
    organizer = db.session.scalar(select(User).where(User.username == "organizer"))
    now = utcnow()
    series = db.session.scalars(select(EventSeries)).one()
    cleanups = db.session.scalars(select(Event).where(Event.series_id == series.id).order_by(Event.starts_at)).all()
    assert series.title == "环境整治日" and (series.nth, series.weekday) == (3, 5) and len(cleanups) == 5
    for event in cleanups:
        day = utc_to_local(event.starts_at).date()
        assert day.weekday() == 5 and 15 <= day.day <= 21  # the third Saturday
    assert any(e.starts_at > now for e in cleanups) and any(e.closed_at is not None for e in cleanups)

    upcoming = db.session.scalar(select(Event).where(Event.title == "探访空巢老人"))
    assert upcoming.organizer_id == organizer.id and upcoming.starts_at > now and upcoming.closed_at is None

    river = db.session.scalar(select(Event).where(Event.title == "清理河道垃圾"))
    assert river.closed_at is not None and river.rule.code == "VOL-HOUR" and river.organizer_id == organizer.id
    attendances = db.session.scalars(select(Attendance).where(Attendance.event_id == river.id)).all()
    assert len(attendances) == river.attendees >= 10
    assert {a.method for a in attendances} == {CheckinMethod.SELF, CheckinMethod.CARD}
    assert all(a.entry is not None and a.entry.source is EntrySource.ATTENDANCE and a.entry.amount == 5 * a.hours
               and a.entry.household_id == a.household_id for a in attendances)
    assert len({a.hours for a in attendances}) > 1  # paid by the hours between check-in and check-out

    for event in (e for e in (*cleanups, river) if e.closed_at is not None):
        paid = db.session.scalar(select(func.sum(LedgerEntry.amount)).where(
            LedgerEntry.source == EntrySource.ATTENDANCE,
            LedgerEntry.idempotency_key.like(f"event:{event.id}:attendance:%")))
        assert paid == sum(a.entry.amount for a in db.session.scalars(
            select(Attendance).where(Attendance.event_id == event.id))) > 0
    assert all(e.attendees == 0 for e in (*cleanups, upcoming) if e.starts_at > now)

    first_grid = db.session.scalar(select(GridNode).where(GridNode.code == "yaoqian-1"))
    carded = select(HouseholdCard.household_id).where(HouseholdCard.revoked_at.is_(None))
    assert db.session.scalar(select(func.count()).select_from(Household).where(
        Household.grid_id == first_grid.id, Household.id.not_in(carded))) == 0
    assert db.session.scalar(select(func.count()).select_from(HouseholdCard)) == db.session.scalar(
        select(func.count()).select_from(Household).where(Household.grid_id == first_grid.id))


def test_the_demo_has_a_shop_with_todays_redemptions_and_a_void():
    shop = db.session.scalars(select(Shop)).one()
    products = db.session.scalars(select(Product).where(Product.shop_id == shop.id)).all()
    assert shop.village.code == "yaoqian" and len(products) >= 8
    assert any(p.stock <= shop.low_stock for p in products)  # the report has a low-stock warning to show
    for product in products:
        moved = db.session.scalar(
            select(func.sum(StockMovement.quantity)).where(StockMovement.product_id == product.id))
        assert product.stock == moved
    redemptions = db.session.scalars(select(Redemption).order_by(Redemption.id)).all()
    assert len(redemptions) >= 5 and [r.voided_at is not None for r in redemptions].count(True) == 1
    assert all(r.clerk.username == "clerk" and r.entry.amount == -r.total for r in redemptions)
    assert any(r.card_id is not None for r in redemptions)  # 第一网格's households show their cards


def test_this_weeks_and_this_months_boards_have_points_whatever_the_day(client):
    """On the 1st of a month or the Monday of a week (`--clock` in .ci/run), the demo's boards are not empty."""
    village = db.session.scalar(select(GridNode).where(GridNode.code == "yaoqian"))
    for kind in ("week", "month"):
        period = period_of(PeriodKind(kind), local_today())
        for subject in ("household", "resident", "grid"):
            page = client.get(f"/boards/{village.id}?subject={subject}&kind={kind}").get_data(as_text=True)
            assert "这一期还没有人得分" not in page, (kind, subject)
        assert boards.household_board(village, period, 10), kind
        assert boards.resident_board(village, period, 10, RuleCategory.VOLUNTEERING, boards.ResidentOrder.HOURS), kind
        assert all(place.active for place in boards.grid_board(village, period)), kind
    this_week = inspection.round_for(village, week_of(local_today()), create=False)
    assert this_week is not None and db.session.scalar(select(func.count()).where(Score.round_id == this_week.id))


def test_the_demo_sums_up_the_latest_month_that_is_over_whatever_the_day():
    """Its last week published with last week, so the month page and its 流动红旗 are there even in the first days of
    a month, when last month's last week may not be over."""
    summaries = db.session.scalars(select(MonthlySummary)).all()
    assert len(summaries) == 1
    assert month_weeks_end(summaries[0].month) < local_today()
    assert db.session.scalar(select(func.count()).select_from(MonthlyResult).where(MonthlyResult.flag)) > 0
