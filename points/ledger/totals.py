"""Per-period totals of the entries earned and lost (not spent): what the leaderboards and dashboards read. Written
by services.py alone, in the transaction that posts the entries."""
import functools
from collections import defaultdict
from datetime import date

from sqlalchemy import and_, bindparam, cast, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from ..extensions import db
from ..periods import period_keys
from .models import EntrySource, LedgerEntry, PeriodTotal

SPENT = frozenset({EntrySource.REDEMPTION, EntrySource.EXPIRY})


def spends(source: EntrySource) -> bool:
    """Whether points of an entry of this source (or undone by a reversal of one) were spent at the shop or expired:
    the period totals count points earned and lost, which rankings compare, and leave these out; the balance counts
    everything."""
    return source in SPENT


def fresh_points(household_ids: list[int], since: date) -> dict[int, int]:
    """Each household's points earned in entries dated on or after since, less those of them reversed: what is left of
    them is still pending (or kept from a clearing). Penalties and spending take the oldest points first, so they are
    not counted here; nor is an entry of the shop or of a 清零, nor the reversal of one. Households without any are
    left out."""
    if not household_ids:
        return {}
    original = aliased(LedgerEntry)
    spent_again = select(original.id).where(original.id == LedgerEntry.reverses_id, original.source.in_(SPENT))
    earned = or_(and_(LedgerEntry.reverses_id.is_(None), LedgerEntry.amount > 0),
                 and_(LedgerEntry.reverses_id.is_not(None), LedgerEntry.amount < 0))
    return dict(db.session.execute(
        select(LedgerEntry.household_id, func.sum(LedgerEntry.amount))
        .where(LedgerEntry.household_id.in_(household_ids), LedgerEntry.occurred_on >= since,
               LedgerEntry.source.not_in(SPENT), earned, ~spent_again.exists())
        .group_by(LedgerEntry.household_id)).all())


def deduction(entry: LedgerEntry) -> int:
    """The points a penalty takes (a positive number), or gives back when its reversal undoes it (negative); 0 for
    any other entry. A reversed award takes points too, but it is no penalty."""
    penalty_side = entry.amount > 0 if entry.reverses_id is not None else entry.amount < 0
    return -entry.amount if penalty_side else 0


def add_to_totals(entries: list[LedgerEntry]) -> None:
    """Add the entries to every period they count in: overall, for the resident, for the category, for both. One
    row per total: an upsert statement may not meet the same row twice."""
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for entry in entries:
        category = entry.category.value if entry.category else ""
        resident = entry.resident_id or 0
        deducted = deduction(entry)
        for period in period_keys(entry.occurred_on):
            for key in {(0, ""), (0, category), (resident, ""), (resident, category)}:
                total = sums[(period, entry.household_id, *key)]
                total[0] += entry.amount
                total[1] += 1
                total[2] += deducted
                total[3] += entry.hours
    keys = sorted(sums)
    columns = dict(period=[k[0] for k in keys], household_id=[k[1] for k in keys], resident_id=[k[2] for k in keys],
                   category=[k[3] for k in keys], total=[sums[k][0] for k in keys], entries=[sums[k][1] for k in keys],
                   deducted=[sums[k][2] for k in keys], hours=[sums[k][3] for k in keys])
    if db.engine.dialect.name == "postgresql":
        db.session.execute(_totals_upsert("postgresql"), columns)
    else:  # SQLite's executemany runs its loop in C: a statement per row costs little there
        db.session.execute(_totals_upsert("sqlite"), [dict(zip(columns, row)) for row in zip(*columns.values())])



@functools.cache
def _totals_upsert(dialect: str):
    """Made once per dialect: building the statement (its excluded columns above all) cost more than running it. On
    PostgreSQL, one statement for the lot: the rows go in as one array per column, unnested."""
    table = PeriodTotal.__table__  # the table, not the entity: the session passes the arrays on as they are
    names = ["period", "household_id", "resident_id", "category", "total", "entries", "deducted", "hours"]
    if dialect == "postgresql":
        arrays = [cast(bindparam(name), postgresql.ARRAY(table.c[name].type)) for name in names]
        rows = select(func.unnest(*arrays).table_valued(*names).render_derived())
        statement = postgresql.insert(table).from_select(names, rows)
    else:
        statement = sqlite.insert(table)
    return statement.on_conflict_do_update(
        index_elements=["period", "household_id", "resident_id", "category"],
        set_={name: table.c[name] + statement.excluded[name] for name in ("total", "entries", "deducted", "hours")},
    )
