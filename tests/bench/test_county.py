"""The benchmarks' county generator (bench/county.py) writes what the ledger's services would have written."""
import sys
from collections import defaultdict
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from points.extensions import db
from points.grids.models import GridNode, GridPath
from points.ledger.models import EntrySource, HouseholdBalance, LedgerEntry, PeriodTotal
from points.ledger.services import deduction, period_keys
from points.people.models import Household, Resident

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


def test_county_matches_the_ledger_services():
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

    grow_county(county, layers=2, progress=lambda text: None)

    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 2 * SPEC.entries
    check_ledger()
