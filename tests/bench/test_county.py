"""The benchmarks' county generator (bench/county.py) writes what the ledger's services would have written: the grid
totals too, the households' overall period totals added up by their grids."""
import sys
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from points.auth.models import Role
from points.events.models import Attendance, Event
from points.events.services import hours_of
from points.extensions import db
from points.grids.models import GridNode, GridPath
from points.hygiene.models import (
    Assignment,
    InspectionRound,
    MonthlyResult,
    MonthlySummary,
    Outcome,
    Posting,
    Result,
    Score,
)
from points.hygiene.publishing import Sheet, publish_round, rank_grid
from points.hygiene.village_settings import settings_of
from points.leaderboards.queries import display
from points.ledger.models import EntrySource, HouseholdBalance, LedgerEntry, PeriodTotal
from points.ledger.totals import deduction
from points.people.models import Closure, Household, Resident
from points.periods import month_bounds, period_keys, week_of
from points.rules.models import Rule, RuleUnit, RuleVersion
from points.shop.models import Product, Redemption, Shop, StockChange, StockMovement
from points.shop.reports import report
from points.timeutil import utc_to_local
from tests import factories
from tests.ledger.grid_helpers import expected_grid_totals, stored_grid_totals

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.county import PRESETS, build_county, grow_county  # noqa: E402

SPEC = PRESETS["ci"]


def expected_totals() -> dict[tuple, list[int]]:
    """The period totals recomputed from the ledger as post_entries counts them: every entry in its five periods,
    under {(0, ''), (0, category), (resident, ''), (resident, category)}, redemptions and their voids left out."""
    original = aliased(LedgerEntry)
    sums = defaultdict(lambda: [0, 0, 0, 0])
    entries = db.session.execute(select(LedgerEntry, original.source).outerjoin(
        original, original.id == LedgerEntry.reverses_id)).all()
    for entry, undone_source in entries:
        if EntrySource.REDEMPTION in (entry.source, undone_source):
            continue
        category = entry.category.value if entry.category else ""
        resident = entry.resident_id or 0
        for period in period_keys(entry.occurred_on):
            for key in {(0, ""), (0, category), (resident, ""), (resident, category)}:
                total = sums[(period, entry.household_id, *key)]
                total[0] += entry.amount
                total[1] += 1
                total[2] += deduction(entry)
                total[3] += entry.hours
    return dict(sums)


def stored_totals() -> dict[tuple, list[int]]:
    return {(t.period, t.household_id, t.resident_id, t.category): [t.total, t.entries, t.deducted, t.hours]
            for t in db.session.scalars(select(PeriodTotal))}


def check_ledger() -> None:
    balances = dict(db.session.execute(select(HouseholdBalance.household_id, HouseholdBalance.balance)).all())
    sums = dict(db.session.execute(select(LedgerEntry.household_id, func.sum(LedgerEntry.amount))
                                   .group_by(LedgerEntry.household_id)).all())
    assert balances == {household: int(total) for household, total in sums.items()}
    assert stored_totals() == expected_totals()
    grid_totals = stored_grid_totals()
    assert grid_totals == expected_grid_totals() and len(grid_totals) > SPEC.towns * SPEC.villages * SPEC.grids


def check_rule_book() -> None:
    """Every entry posted under a rule names a version of its village's book, of its category and sign; only the
    hygiene awards (the settings') and the redemptions with their voids have none."""
    rows = db.session.execute(
        select(LedgerEntry, RuleVersion, Rule.village_id, Household.village_id)
        .join(Household, Household.id == LedgerEntry.household_id)
        .outerjoin(RuleVersion, RuleVersion.id == LedgerEntry.rule_version_id)
        .outerjoin(Rule, Rule.id == RuleVersion.rule_id)).all()
    for entry, version, book, village in rows:
        if version is None:
            assert entry.source in (EntrySource.INSPECTION, EntrySource.REDEMPTION) or entry.category is None
            continue
        assert (book, version.category) == (village, entry.category)
        assert (version.points > 0) == ((entry.amount > 0) == (entry.reverses_id is None))
    assert sum(1 for row in rows if row[1] is not None) > len(rows) / 2


def check_redemptions() -> None:
    """Every REDEMPTION entry is one redemption at its village's shop, whose lines add up to the debit, with a stock
    movement per line; the reversal of one is its void, which returns the stock."""
    entries = {e.id: e for e in db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.source == EntrySource.REDEMPTION))}
    voids = {e.reverses_id: e for e in db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.reverses_id.in_(list(entries))))}
    villages = dict(db.session.execute(select(Household.id, Household.village_id)).all())
    moved = defaultdict(list)
    for movement in db.session.scalars(select(StockMovement).where(StockMovement.redemption_id.is_not(None))):
        moved[movement.redemption_id].append((movement.kind, movement.product_id, movement.quantity))
    redemptions = db.session.scalars(select(Redemption)).all()
    assert sorted(r.entry_id for r in redemptions) == sorted(entries)
    for redemption in redemptions:
        entry = entries[redemption.entry_id]
        assert redemption.household_id == entry.household_id
        assert redemption.shop.village_id == villages[entry.household_id]
        assert redemption.created_at == entry.created_at
        assert sum(line.price * line.quantity for line in redemption.lines) == redemption.total == -entry.amount
        assert {line.product.shop_id for line in redemption.lines} == {redemption.shop_id}
        void = voids.get(entry.id)
        assert redemption.void_entry_id == (void.id if void else None)
        assert (redemption.voided_at is not None) == (void is not None)
        returned = [(StockChange.VOID, line.product_id, line.quantity) for line in redemption.lines] if void else []
        assert sorted(moved[redemption.id]) == sorted(
            [(StockChange.REDEMPTION, line.product_id, -line.quantity) for line in redemption.lines] + returned)
    assert voids and len(voids) < len(redemptions)


def check_stock() -> None:
    """Every product's stock is the sum of its movements, the first of which restocked it."""
    sums = dict(db.session.execute(select(StockMovement.product_id, func.sum(StockMovement.quantity))
                                   .group_by(StockMovement.product_id)).all())
    first = dict(db.session.execute(select(StockMovement.product_id, func.min(StockMovement.id))
                                    .group_by(StockMovement.product_id)).all())
    products = db.session.scalars(select(Product)).all()
    assert len(products) == 6 * SPEC.towns * SPEC.villages
    for product in products:
        assert product.stock == sums[product.id] >= 0
        assert db.session.get(StockMovement, first[product.id]).kind is StockChange.RESTOCK


def check_attendances() -> None:
    """Every ATTENDANCE entry is exactly one attendance, for the same person and hours, at a closed event of the
    household's village on the entry's day, under the village's per-hour rule; every attendance is one of them."""
    entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.source == EntrySource.ATTENDANCE)).all()
    events = {e.id: e for e in db.session.scalars(select(Event))}
    villages = dict(db.session.execute(select(Household.id, Household.village_id)).all())
    versions = {v.id: v for v in db.session.scalars(select(RuleVersion))}
    by_entry = defaultdict(list)
    attendees = defaultdict(int)
    for attendance in db.session.scalars(select(Attendance)):
        by_entry[attendance.entry_id].append(attendance)
        attendees[attendance.event_id] += 1
    assert sum(map(len, by_entry.values())) == len(entries)
    for entry in entries:
        (attendance,) = by_entry[entry.id]
        event = events[attendance.event_id]
        assert (attendance.resident_id, attendance.household_id) == (entry.resident_id, entry.household_id)
        assert attendance.hours == entry.hours == hours_of(event, attendance) > 0
        assert event.village_id == villages[entry.household_id] and event.closed_at is not None
        assert event.starts_at <= attendance.checked_in_at < attendance.checked_out_at <= event.ends_at
        assert utc_to_local(event.starts_at).date() == entry.occurred_on
        assert utc_to_local(attendance.checked_out_at).date() == entry.occurred_on
        version = versions[entry.rule_version_id]
        assert version.rule_id == event.rule_id and version.unit is RuleUnit.HOUR
        assert version.points * entry.hours == entry.amount
    assert attendees == {event.id: event.attendees for event in events.values()}


def check_inspections() -> None:
    """Every INSPECTION entry is a posting of its village's published round of its ISO week (示范户) or of its
    month's summary (流动红旗), and every 示范户 result and flag is one of them; the results are rank_grid's of the
    round's score sheets under the village's settings."""
    entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.source == EntrySource.INSPECTION)).all()
    postings = {p.entry_id: p for p in db.session.scalars(select(Posting))}
    rounds = {(r.village_id, r.week): r for r in db.session.scalars(select(InspectionRound))}
    results = {(r.round_id, r.household_id): r for r in db.session.scalars(select(Result))}
    published = {(a.round_id, a.grid_id) for a in db.session.scalars(select(Assignment).where(
        Assignment.published_at.is_not(None)))}
    flags = set(db.session.execute(select(MonthlySummary.village_id, MonthlySummary.month, MonthlyResult.household_id)
                                   .join(MonthlyResult, MonthlyResult.summary_id == MonthlySummary.id)
                                   .where(MonthlyResult.flag)).all())
    households = {h.id: h for h in db.session.scalars(select(Household))}
    assert set(postings) == {entry.id for entry in entries}
    models = 0
    for entry in entries:
        posting = postings[entry.id]
        village = households[entry.household_id].village_id
        assert (posting.household_id, posting.village_id, posting.reversal_id) == (entry.household_id, village, None)
        assert posting.grid_id == households[entry.household_id].grid_id
        if entry.amount == 20:
            models += 1
            round_ = rounds[(village, week_of(entry.occurred_on))]
            assert (posting.outcome, posting.period) == (Outcome.MODEL, "W" + round_.week)
            result = results[(round_.id, entry.household_id)]
            assert (result.outcome, result.rank, result.grid_id) == (Outcome.MODEL, 1, posting.grid_id)
            assert (round_.id, posting.grid_id) in published
        else:
            month = entry.occurred_on.strftime("%Y-%m")
            assert (entry.amount, posting.outcome, posting.period) == (50, Outcome.FLAG, "M" + month)
            assert (village, month, entry.household_id) in flags
    assert models == sum(1 for r in results.values() if r.outcome is Outcome.MODEL)
    assert len(entries) - models == len(flags)
    sheets = defaultdict(list)
    for score in db.session.scalars(select(Score)):
        sheets[(score.round_id, score.grid_id)].append(Sheet(score.household_id, True, score.deductions))
    village_of = {r.id: r.village_id for r in rounds.values()}
    for (round_id, grid_id) in published:
        scored = {sheet.household_id for sheet in sheets[(round_id, grid_id)]}
        unscored = [Sheet(h.id, False, 0) for h in households.values() if h.grid_id == grid_id and h.id not in scored]
        placings = rank_grid(sheets[(round_id, grid_id)] + unscored, settings_of(village_of[round_id]))
        assert {p.household_id: (p.rank, p.outcome) for p in placings if p.rank is not None} == {
            h: (r.rank, r.outcome) for (r_id, h), r in results.items() if r_id == round_id and r.grid_id == grid_id}


def check_pages(county, client, login) -> None:
    """The app's pages and queries over the county: a village's hygiene week, its TV display's 示范户 and 流动红旗,
    its shop's monthly report and an event; and publishing the village's rounds again posts and reverses nothing."""
    village = db.session.get(GridNode, county.villages[0])
    admin = login(factories.gen_user(Role.VILLAGE_ADMIN, village))
    round_ = db.session.scalar(select(InspectionRound).where(InspectionRound.village_id == village.id)
                               .order_by(InspectionRound.monday.desc()).limit(1))
    models = db.session.execute(select(Household.number).join(Result, Result.household_id == Household.id)
                                .where(Result.round_id == round_.id, Result.outcome == Outcome.MODEL)).scalars().all()
    assert models
    page = client.get(f"/villages/{village.id}/hygiene?week={round_.week}")
    assert page.status_code == 200
    assert all(number in page.get_data(as_text=True) for number in models)
    shown = display(village, date(2026, 11, 23), datetime(2026, 11, 23, 12))
    assert shown.week == round_.monday and sorted(h.number for h in shown.models) == sorted(models)
    holders = db.session.scalars(
        select(Household.number).join(MonthlyResult, MonthlyResult.household_id == Household.id)
        .join(MonthlySummary, MonthlySummary.id == MonthlyResult.summary_id)
        .where(MonthlySummary.village_id == village.id, MonthlySummary.month == shown.flag_month, MonthlyResult.flag)
    ).all()
    assert holders and sorted(h.number for h in shown.flags) == sorted(holders)
    assert client.get(f"/villages/{village.id}/hygiene/months/{shown.flag_month}").status_code == 200

    shop = db.session.scalar(select(Shop).where(Shop.village_id == village.id))
    first, last = month_bounds(date(2026, 11, 1))
    kept = db.session.execute(select(func.count(), func.sum(-LedgerEntry.amount)).select_from(Redemption)
                              .join(LedgerEntry, LedgerEntry.id == Redemption.entry_id)
                              .where(Redemption.shop_id == shop.id, Redemption.voided_at.is_(None),
                                     LedgerEntry.occurred_on >= first)).one()
    summary = report(admin, shop, first, last)
    assert kept[0] and (summary.redemptions, summary.points) == (kept[0], int(kept[1]))
    assert client.get(f"/shops/{shop.id}/report?month=2026-11").status_code == 200

    event = db.session.scalar(select(Event).where(Event.village_id == village.id).order_by(Event.attendees.desc())
                              .limit(1))
    page = client.get(f"/events/{event.id}")
    assert page.status_code == 200 and "志愿服务" in page.get_data(as_text=True)

    for round_ in db.session.scalars(select(InspectionRound).where(InspectionRound.village_id == village.id)).all():
        publication = publish_round(admin, round_)
        assert (publication.posted, publication.reversed) == (0, 0)
    db.session.rollback()


def county_household(county) -> int:
    """The household of the county's first village with the most entries."""
    return db.session.scalar(select(LedgerEntry.household_id).join(Household, Household.id == LedgerEntry.household_id)
                             .where(Household.village_id == county.villages[0]).group_by(LedgerEntry.household_id)
                             .order_by(func.count().desc(), LedgerEntry.household_id).limit(1))


def test_county_matches_the_ledger_services(client, login):
    county = build_county(SPEC, progress=lambda text: None)

    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == SPEC.entries
    check_ledger()
    sources = dict(db.session.execute(select(LedgerEntry.source, func.count()).group_by(LedgerEntry.source)).all())
    # Every kind of movement the totals treat differently is there: penalties, reversals, redemptions and voids.
    assert {EntrySource.INSPECTION, EntrySource.ATTENDANCE, EntrySource.MANUAL, EntrySource.REDEMPTION,
            EntrySource.REVERSAL} <= set(sources)
    original = aliased(LedgerEntry)
    voids = db.session.scalar(select(func.count()).select_from(LedgerEntry).join(
        original, original.id == LedgerEntry.reverses_id).where(original.source == EntrySource.REDEMPTION))
    assert voids > 0
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.amount < 0,
                                                                                 LedgerEntry.category.is_not(None)))

    # The shop never let a redemption take a household's balance below zero (in posting order).
    running = defaultdict(int)
    for household_id, amount, source in db.session.execute(select(
            LedgerEntry.household_id, LedgerEntry.amount, LedgerEntry.source).order_by(LedgerEntry.id)):
        running[household_id] += amount
        if source is EntrySource.REDEMPTION:
            assert running[household_id] >= 0

    # The grid tree as create_node makes it: each node's closure rows are itself and its ancestors.
    parents = dict(db.session.execute(select(GridNode.id, GridNode.parent_id)).all())
    assert len(parents) == SPEC.towns * (1 + SPEC.villages * (1 + SPEC.grids))
    for node, parent in parents.items():
        chain, distance = {node: 0}, 0
        while parent is not None:
            distance += 1
            chain[parent] = distance
            parent = parents[parent]
        assert dict(db.session.execute(select(GridPath.ancestor_id, GridPath.distance)
                                       .where(GridPath.descendant_id == node)).all()) == chain
    # Every household lives in a grid of its village and has a head among its residents.
    assert db.session.scalar(select(func.count()).select_from(Household)) == SPEC.households
    assert not db.session.scalar(select(func.count()).select_from(Household).join(
        GridNode, GridNode.id == Household.grid_id).where(GridNode.village_id != Household.village_id))
    assert not db.session.scalar(select(func.count()).select_from(Household).outerjoin(
        Resident, Resident.id == Household.head_id).where(Resident.household_id.is_distinct_from(Household.id)))

    # What wrote the entries is there behind them, and the app reads it.
    check_rule_book()
    check_redemptions()
    check_stock()
    check_attendances()
    check_inspections()
    check_pages(county, client, login)

    attendances = db.session.scalar(select(func.count()).select_from(Attendance))
    # The county closes no household; one closed here (整户迁出 in the middle of its entries' days) makes the grown
    # county's grid totals count it only in the periods it was on the register in, as the ledger and migration 0024 do.
    assert not db.session.scalar(select(func.count()).select_from(Household).where(Household.closed_on.is_not(None)))
    days = sorted(db.session.scalars(select(LedgerEntry.occurred_on).distinct().where(
        LedgerEntry.household_id == county_household(county))))
    closed = db.session.get(Household, county_household(county))
    closed.closed_on, closed.closure = days[len(days) // 2], Closure.MOVED_OUT
    db.session.commit()
    grow_county(county, layers=2, progress=lambda text: None)

    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 2 * SPEC.entries
    check_ledger()
    # The layer grown is plain postings: nothing more behind the entries, the stock untouched.
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == attendances
    check_stock()
