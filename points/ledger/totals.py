"""Per-period totals of the entries earned and lost (not spent), per household and added up per grid: what the
leaderboards and dashboards read. Written by services.py alone, in the transaction that posts the entries, and by a
household's move to another grid (move_totals)."""
import functools
import json
from collections import defaultdict
from datetime import date

from flask_sqlalchemy.session import Session as SignallingSession
from sqlalchemy import Date, Integer, String, and_, bindparam, case, cast, delete, event, func, or_, select, type_coerce
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from ..extensions import conflict_insert, db, within
from ..people.models import Household
from ..people.services import GridFigures, keeps_grid_figures
from ..periods import Period, PeriodKind, period_keys, period_of
from .locks import hold_all
from .models import EntrySource, GridPeriodTotal, LedgerEntry, PeriodTotal

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
    """Add the entries to every period they count in: overall, for the resident, for the category, for both; and keep
    the households' overall totals for their grids', which are added when the transaction commits
    (write_grid_totals). One row per total: an upsert statement may not meet the same row twice.

    Why at the commit: on PostgreSQL a grid's rows, once written, stay locked until the transaction ends, and every
    posting to the grid waits for them. Written at each posting, a transaction posting to several households in turn
    (an event's close) would hold grid rows while it waits for a household that another posting holds, which waits
    for those grid rows: a deadlock. Written last, in one statement in one order, they are the last lock a
    transaction takes: whoever waits for them holds nothing they need."""
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    firsts: dict[str, date | None] = {}  # each period's first day (None: all time), for the grids' register
    for entry in entries:
        firsts.update((period.key, period.first) for period in (period_of(kind, entry.occurred_on)
                                                                  for kind in PeriodKind))
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
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        db.session.execute(_totals_upsert("postgresql"), columns)
    else:  # SQLite's executemany runs its loop in C: a statement per row costs little there
        db.session.execute(_totals_upsert("sqlite"), [dict(zip(columns, row)) for row in zip(*columns.values())])
    session = db.session()
    transaction = session.get_nested_transaction() or session.get_transaction()
    _held_for_grids().extend((transaction, k[0], k[1], k[3], *sums[k][:2], firsts[k[0]]) for k in keys if k[2] == 0)


def write_grid_totals() -> None:
    """Add what the transaction's postings kept for the grids (add_to_totals) to the grid totals, in one statement:
    at its commit, or before anything reads or moves them in the same transaction. A savepoint rolled back takes its
    postings' share with it; written inside a savepoint, the share of the postings made outside it is held again if
    the savepoint is rolled back (_after_rollback), as the write is undone with it."""
    held = db.session.info.pop(_FOR_GRIDS, None)
    undone = db.session.info.pop(_UNDONE, set())
    kept = [row for row in held or () if not within(row[0], undone)]
    if not kept:
        return
    savepoint = db.session().get_nested_transaction()
    if savepoint is not None:
        db.session.info.setdefault(_WRITTEN, []).append((savepoint, kept))
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    firsts: dict[str, date | None] = {}
    for _transaction, period, household_id, category, total, entries, first in kept:
        sum_ = sums[(period, household_id, category)]
        sum_[0] += total
        sum_[1] += entries
        firsts[period] = first
    if sums:
        dialect = db.engine.dialect.name
        rows = [(*key, *value, _day(firsts[key[0]], dialect)) for key, value in sorted(sums.items())]
        db.session.execute(_grid_totals_upsert(dialect), _batch_parameters(dialect, "batch", _OVERALL, rows))


_FOR_GRIDS, _UNDONE, _WRITTEN = "grid_totals_held", "grid_totals_undone", "grid_totals_written_in_savepoints"


def _day(day: date | None, dialect: str):
    """A day as the batch passes it: as it is in PostgreSQL's array, as ISO text in SQLite's JSON (as SQLite keeps
    dates)."""
    return day.isoformat() if day is not None and dialect == "sqlite" else day


def _held_for_grids() -> list[tuple]:
    return db.session.info.setdefault(_FOR_GRIDS, [])


@event.listens_for(SignallingSession, "before_commit")
def _before_commit(session) -> None:
    if not session.in_nested_transaction():  # a savepoint's release keeps them for the commit
        write_grid_totals()


@event.listens_for(SignallingSession, "after_soft_rollback")
def _after_rollback(session, transaction) -> None:
    """A savepoint rolled back: what its postings held is dropped when the rest is written; what was written inside it
    is undone, and the share of postings made outside it is held again."""
    if transaction.parent is None:
        return
    if _FOR_GRIDS in session.info:
        session.info.setdefault(_UNDONE, set()).add(transaction)
    written = session.info.get(_WRITTEN)
    if written:
        undone = {transaction}
        again = [row for savepoint, rows in written if within(savepoint, undone)
                 for row in rows if not within(row[0], undone)]
        session.info[_WRITTEN] = [(savepoint, rows) for savepoint, rows in written if not within(savepoint, undone)]
        session.info.setdefault(_FOR_GRIDS, []).extend(again)


@event.listens_for(SignallingSession, "after_transaction_end")
def _after_end(session, transaction) -> None:
    """A transaction ended by a rollback or a close (which sends no rollback event) keeps nothing for the next."""
    if transaction.parent is None:
        for name in (_FOR_GRIDS, _UNDONE, _WRITTEN):
            session.info.pop(name, None)


def move_totals(moves: dict[int, tuple[int, int]]) -> None:
    """Take the overall period totals of households that moved from the grid each left to the grid it joined (household
    id → (grid left, grid joined)), under the households' locks (taken before their grids were read, so that no
    posting adds to them meanwhile): one read of the days of their entries, which name the periods their totals are
    in (the totals are found by period first), one upsert that takes them off the grids left and adds them to the
    grids joined, and one delete of the rows of the grids left that no household has a total in any more."""
    write_grid_totals()  # the postings of this transaction before the move count where they were made
    periods = {household_id: {period.key for period in found} for household_id, found in _periods_of(moves).items()}
    _shift([(household_id, period, grid_id, sign) for household_id, keys in periods.items() for period in keys
            for grid_id, sign in zip(moves[household_id], (-1, 1))])


def leave_totals(household_id: int, grid_id: int, closed_on: date, sign: int = -1) -> None:
    """整户迁出 on closed_on (sign -1), or its undoing when the household is reopened (sign 1): its overall totals of
    the periods that begin after that day, and of all time, leave its grid's totals (or come back to them), as the
    boards count a household only in the periods it was on the register in (people.queries.on_register)."""
    write_grid_totals()
    after = {period.key for period in _periods_of([household_id]).get(household_id, ())
             if period.first is None or period.first > closed_on}
    _shift([(household_id, period, grid_id, sign) for period in sorted(after)])


def _periods_of(household_ids) -> dict[int, set[Period]]:
    """Each household's periods with entries in them (every period of the day of each of its entries)."""
    days = db.session.execute(select(LedgerEntry.household_id, LedgerEntry.occurred_on).distinct()
                              .where(LedgerEntry.household_id.in_(sorted(household_ids)))).all()
    periods: dict[int, set[Period]] = defaultdict(set)
    for household_id, day in days:
        periods[household_id].update(period_of(kind, day) for kind in PeriodKind)
    return periods


def _shift(rows: list[tuple[int, str, int, int]]) -> None:
    """Add each (household, period, grid, sign)'s overall totals of the period, times sign, to the grid's; then delete
    the rows of the grids taken from that no household has a total in any more."""
    if not rows:
        return
    dialect = db.engine.dialect.name
    db.session.execute(_grid_totals_move(dialect), _batch_parameters(dialect, "moves", _MOVES, rows))
    db.session.execute(_emptied_grid_totals(), dict(grids=sorted({grid for _h, _p, grid, sign in rows if sign < 0}),
                                                    periods=sorted({period for _h, period, _g, _s in rows})))


def _hold(household_ids: list[int]) -> None:
    """The ledger's lock on households (locks.hold_all): a posting takes it too. Then what the transaction posted
    so far goes to the grid totals while the households are as they were posted to, before a move or a closure
    changes their grid or register (move_totals and leave_totals take their totals as written)."""
    hold_all(household_ids)
    write_grid_totals()


# A household's move to another grid (people.services.move_household, an import) holds it and takes its totals along.
keeps_grid_figures(GridFigures(hold=_hold, move=move_totals, leave=leave_totals))

# The rows a grid statement takes in one parameter: a household's overall totals that a batch added to, and a moving
# household's periods, each with its grid and whether the totals leave it (-1) or join it (1).
_OVERALL = {"period": String(10), "household_id": Integer(), "category": String(24), "total": Integer(),
            "entries": Integer(), "first": Date()}
_MOVES = {"household_id": Integer(), "period": String(10), "grid_id": Integer(), "sign": Integer()}


def _batch(dialect: str, name: str, columns: dict):
    """Rows passed in one parameter, as a table a statement reads (named name, with columns): on PostgreSQL one array
    per column, unnested; on SQLite one JSON array of rows, read by json_each. _batch_parameters passes them."""
    if dialect == "postgresql":
        arrays = [cast(bindparam(column), postgresql.ARRAY(type_)) for column, type_ in columns.items()]
        return func.unnest(*arrays).table_valued(*columns).render_derived(name=name)
    rows = func.json_each(bindparam(name, type_=String())).table_valued("value")
    return select(*(type_coerce(func.json_extract(rows.c.value, f"$[{place}]"), type_).label(column)
                    for place, (column, type_) in enumerate(columns.items()))).subquery(name)


def _batch_parameters(dialect: str, name: str, columns: dict, rows: list[tuple]) -> dict:
    if dialect == "postgresql":
        return {column: [row[place] for row in rows] for place, column in enumerate(columns)}
    return {name: json.dumps(rows)}


def _grid_upsert(dialect: str, rows):
    """Add rows (period, grid, category, total, active) to the grid totals. The rows come sorted by grid, period and
    category, the order in which every such statement locks the rows it meets on PostgreSQL: two of them meeting the
    same grids wait for each other rather than each holding a row the other needs."""
    table = GridPeriodTotal.__table__
    statement = conflict_insert(dialect)(table).from_select(["period", "grid_id", "category", "total", "active"], rows)
    return statement.on_conflict_do_update(
        index_elements=["period", "grid_id", "category"],
        set_={name: table.c[name] + statement.excluded[name] for name in ("total", "active")},
    )


@functools.cache
def _grid_totals_upsert(dialect: str):
    """A batch's overall totals (_OVERALL) of the households on the register in each period (as
    people.queries.on_register has it: not closed, or closed on or after its first day; leave_totals takes a closed
    household's totals of the later periods off its grid), added up by the grid each is in as the statement runs,
    read from households rather than from objects loaded before the household's lock was taken (a move committed
    meanwhile would make them stale). A household counts as newly active where its total, upserted before, has no
    more entries than the batch added to it: entries only grow, so the row was made by this batch."""
    batch = _batch(dialect, "batch", _OVERALL)
    households, totals = Household.__table__, PeriodTotal.__table__
    made = case((totals.c.entries == batch.c.entries, 1), else_=0)
    on_register = or_(households.c.closed_on.is_(None),
                      and_(batch.c.first.is_not(None), households.c.closed_on >= batch.c.first))
    rows = (select(batch.c.period, households.c.grid_id, batch.c.category, func.sum(batch.c.total), func.sum(made))
            .join_from(batch, households, and_(households.c.id == batch.c.household_id, on_register))
            .join(totals, and_(totals.c.period == batch.c.period, totals.c.household_id == batch.c.household_id,
                               totals.c.resident_id == 0, totals.c.category == batch.c.category))
            .group_by(batch.c.period, households.c.grid_id, batch.c.category)
            .order_by(households.c.grid_id, batch.c.period, batch.c.category))
    return _grid_upsert(dialect, rows)


@functools.cache
def _grid_totals_move(dialect: str):
    """The moving households' overall totals of the periods given (_MOVES), each category's, times sign, into the
    grid given: off the grid left, onto the grid joined."""
    moves = _batch(dialect, "moves", _MOVES)
    totals = PeriodTotal.__table__
    rows = (select(moves.c.period, moves.c.grid_id, totals.c.category, func.sum(moves.c.sign * totals.c.total),
                   func.sum(moves.c.sign))
            .join_from(moves, totals, and_(totals.c.period == moves.c.period,
                                           totals.c.household_id == moves.c.household_id, totals.c.resident_id == 0))
            .group_by(moves.c.period, moves.c.grid_id, totals.c.category)
            .order_by(moves.c.grid_id, moves.c.period, totals.c.category))
    return _grid_upsert(dialect, rows)


@functools.cache
def _emptied_grid_totals():
    """The rows of the grids given in the periods given that no household has a total in any more."""
    table = GridPeriodTotal.__table__
    return delete(table).where(table.c.period.in_(bindparam("periods", expanding=True)),
                               table.c.grid_id.in_(bindparam("grids", expanding=True)), table.c.active == 0)


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
