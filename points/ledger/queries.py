"""Read-only queries on the ledger: a household's entries and balance, its rank in its grid, and the checks that the
cached balances and period totals agree with the entries, and the grid totals with the period totals (flask --app
points verify)."""
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import (
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import aliased, selectinload

from ..auth import policy
from ..auth.models import User
from ..extensions import db
from ..grids.models import GridNode, GridPath
from ..limits import MAX_PAGE
from ..paging import Page
from ..people.models import Household
from ..people.queries import on_register
from ..periods import Period, PeriodKind, period_of
from ..rules.models import RuleVersion
from ..rules.queries import rule_book
from .models import DutyRecord, EntrySource, GridPeriodTotal, HouseholdBalance, LedgerEntry, PeriodTotal
from .totals import SPENT


def balance_of(household_id: int) -> int:
    return db.session.scalar(
        select(HouseholdBalance.balance).where(HouseholdBalance.household_id == household_id)
    ) or 0


def rules_actor_may_apply(actor: User, household: Household, day: date) -> list[RuleVersion]:
    """The rules in force on day that actor's roles may apply to this household (its kind's rule book)."""
    roles = policy.roles_over(actor, household.grid_id)
    if not roles:
        return []
    return [v for v in rule_book(household.village_id, day) if v.role_set & roles and v.applies_to(household.kind)]


@dataclass(frozen=True)
class AwardSides:
    """Which buttons a household's pages offer: 加分 (a rule that awards) and 扣分 (one that deducts)."""

    award: bool
    deduct: bool


def award_sides(actor: User, household: Household, day: date) -> AwardSides:
    """加分 and 扣分 as the award page allows them: under the rules in force actor's roles may apply to the household
    (rules_actor_may_apply), never on their own household (apply_rule refuses it) nor one off the register."""
    if household.closed_on is not None or household.id == policy.own_household_id(actor):
        return AwardSides(False, False)
    versions = rules_actor_may_apply(actor, household, day)
    return AwardSides(any(v.points > 0 for v in versions), any(v.points < 0 for v in versions))


def balances_of(household_ids: list[int]) -> dict[int, int]:
    """The balances of many households in one query (a household without entries has no row: 0)."""
    rows = db.session.execute(
        select(HouseholdBalance.household_id, HouseholdBalance.balance).where(
            HouseholdBalance.household_id.in_(household_ids)
        )
    )
    return {household_id: balance for household_id, balance in rows}


def household_entries(household_id: int, page: int = 1, per_page: int = 20) -> Page:
    """A household's entries, newest first, with their rule, actor and reversal loaded."""
    page = min(max(1, page), MAX_PAGE)
    where = LedgerEntry.household_id == household_id
    total = db.session.scalar(select(func.count()).select_from(LedgerEntry).where(where))
    items = db.session.scalars(
        select(LedgerEntry)
        .where(where)
        .options(selectinload(LedgerEntry.rule_version).selectinload(RuleVersion.rule),
                 selectinload(LedgerEntry.actor), selectinload(LedgerEntry.reversed_by))
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total, page, per_page)


def undone_entries(entries: list[LedgerEntry]) -> dict[int, LedgerEntry]:
    """The entries the reversals among entries undid, keyed by the reversal's id, with their rules: what a reversal
    is says what it undid (a voided redemption, a deduction taken back)."""
    wanted = {e.reverses_id: e.id for e in entries if e.reverses_id is not None}
    if not wanted:
        return {}
    found = db.session.scalars(select(LedgerEntry).where(LedgerEntry.id.in_(list(wanted)))
                               .options(selectinload(LedgerEntry.rule_version)))
    return {wanted[original.id]: original for original in found}


@dataclass(frozen=True)
class OwnPlace:
    rank: int | None  # None: the household has nothing in the period, and is not ranked
    households: int  # how many households the scope holds
    total: int


def household_place(household: Household, scope: GridNode, period: Period) -> OwnPlace:
    """Where a household stands among the households of scope (its grid, or its village) in period: one more than
    the number with a higher total. A household without points in the period has no place."""
    own = db.session.scalar(select(PeriodTotal.total).where(
        PeriodTotal.period == period.key, PeriodTotal.household_id == household.id, PeriodTotal.resident_id == 0,
        PeriodTotal.category == "")) or 0
    members = select(Household.id).join(GridPath, GridPath.descendant_id == Household.grid_id).where(
        GridPath.ancestor_id == scope.id, on_register(period))
    size = db.session.scalar(select(func.count()).select_from(members.subquery()))
    if own <= 0:
        return OwnPlace(None, size, own)
    ahead = db.session.scalar(select(func.count()).select_from(PeriodTotal).where(
        PeriodTotal.period == period.key, PeriodTotal.resident_id == 0, PeriodTotal.category == "",
        PeriodTotal.total > own, PeriodTotal.household_id.in_(members)))
    return OwnPlace(ahead + 1, size, own)


VERIFY_HOUSEHOLDS = 2000  # households checked per statement: a county's ledger is checked a slice at a time


@dataclass(frozen=True)
class BalanceMismatch:
    """A household whose cached balance is not the sum of its entries; None: no balance row, or no entries."""

    household_id: int
    balance: int | None
    entries_sum: int | None


@dataclass(frozen=True)
class TotalMismatch:
    """A period total that is not what its entries make. stored None: the row is missing; expected None: no entry
    makes the row. The figures are (total, entries, deducted, hours)."""

    period: str
    household_id: int
    resident_id: int
    category: str
    stored: tuple[int, int, int, int] | None
    expected: tuple[int, int, int, int] | None


@dataclass(frozen=True)
class GridTotalMismatch:
    """A grid total that is not what the overall period totals of the grid's households (by the grids they are in now)
    on the register in the period make. stored None: the row is missing; expected None: no household's total makes
    the row. The figures are (total, households with a total)."""

    period: str
    grid_id: int
    category: str
    stored: tuple[int, int] | None
    expected: tuple[int, int] | None


@dataclass(frozen=True)
class LedgerSize:
    balances: int
    entries: int
    totals: int
    grid_totals: int


def ledger_size() -> LedgerSize:
    """How many balance rows, entries, period totals and grid totals there are: what a clean check went through."""
    return LedgerSize(*(db.session.scalar(select(func.count()).select_from(model))
                        for model in (HouseholdBalance, LedgerEntry, PeriodTotal, GridPeriodTotal)))


def _household_ranges(size: int = VERIFY_HOUSEHOLDS) -> Iterator[tuple[int, int]]:
    """The households' ids in consecutive ranges of size ids, lowest first."""
    low, high = db.session.execute(select(func.min(Household.id), func.max(Household.id))).one()
    if low is None:
        return
    for start in range(low, high + 1, size):
        yield start, start + size - 1


def balance_mismatches() -> Iterator[BalanceMismatch]:
    """Every household whose balance row disagrees with the sum of its entries: a wrong balance, entries without a
    balance row, or a balance other than 0 without entries (a row at 0 is what hold() leaves for a household that
    never posted). By household id."""
    for low, high in _household_ranges():
        sums = (select(LedgerEntry.household_id, func.sum(LedgerEntry.amount).label("amount"))
                .where(LedgerEntry.household_id.between(low, high)).group_by(LedgerEntry.household_id).subquery())
        balances = (select(HouseholdBalance.household_id, HouseholdBalance.balance)
                    .where(HouseholdBalance.household_id.between(low, high)).subquery())
        wrong = (select(balances.c.household_id.label("household_id"), balances.c.balance, sums.c.amount)
                 .outerjoin(sums, sums.c.household_id == balances.c.household_id)
                 .where(or_(and_(sums.c.amount.is_(None), balances.c.balance != 0),
                            sums.c.amount != balances.c.balance)))
        missing = (select(sums.c.household_id.label("household_id"), balances.c.balance, sums.c.amount)
                   .outerjoin(balances, balances.c.household_id == sums.c.household_id)
                   .where(balances.c.household_id.is_(None)))
        rows = db.session.execute(union_all(wrong, missing).order_by(literal_column("household_id")))
        for household_id, balance, amount in rows:
            yield BalanceMismatch(household_id, balance, None if amount is None else int(amount))


def _period_texts(day) -> list:
    """period_keys(day) in SQL, but for 'ALL': the ISO week, month, quarter and year of a date column."""
    if db.engine.dialect.name == "postgresql":
        return [literal("W").concat(func.to_char(day, "IYYY-IW")), literal("M").concat(func.to_char(day, "YYYY-MM")),
                literal("Q").concat(func.to_char(day, "YYYY-Q")), literal("Y").concat(func.to_char(day, "YYYY"))]
    # SQLite: the ISO week is the one of the week's Thursday, in the Thursday's year.
    thursday = func.date(day, "-3 days", "weekday 4")
    week = (cast(func.strftime("%j", thursday), Integer) + 6) // 7
    quarter = (cast(func.strftime("%m", day), Integer) + 2) // 3
    return [func.printf("W%s-%02d", func.strftime("%Y", thursday), week),
            func.printf("M%s", func.strftime("%Y-%m", day)),
            func.printf("Q%s-%d", func.strftime("%Y", day), quarter),
            func.printf("Y%s", func.strftime("%Y", day))]


def _expected_totals(low: int, high: int):
    """The period totals the entries of households low..high make, as services.post_entries adds them up: every entry
    but a redemption or a 清零 and their reversals, in each of its five periods, under each distinct (resident or 0,
    category or '') of (0, ''), (0, category), (resident, ''), (resident, category).

    The entries are read once (a CTE used twice is computed once), and the periods worked out once per day."""
    undone = aliased(LedgerEntry)
    # Looked up by id for each reversal (few), rather than joined: a join or EXISTS may read every entry.
    undone_source = select(undone.source).where(undone.id == LedgerEntry.reverses_id).scalar_subquery()
    penalty_side = or_(and_(LedgerEntry.reverses_id.is_not(None), LedgerEntry.amount > 0),
                       and_(LedgerEntry.reverses_id.is_(None), LedgerEntry.amount < 0))
    counted = (
        select(LedgerEntry.household_id, func.coalesce(LedgerEntry.resident_id, 0).label("resident_id"),
               func.coalesce(type_coerce(LedgerEntry.category, String), "").label("category"),
               LedgerEntry.occurred_on, LedgerEntry.amount,
               case((penalty_side, -LedgerEntry.amount), else_=0).label("deducted"), LedgerEntry.hours)
        .where(LedgerEntry.household_id.between(low, high), LedgerEntry.source.not_in(SPENT),
               or_(LedgerEntry.reverses_id.is_(None), undone_source.not_in(SPENT)))
        .cte("counted")
    )
    days = select(counted.c.occurred_on).distinct().cte("days")
    calendar = union_all(*(select(days.c.occurred_on, period.label("period"))
                           for period in (*_period_texts(days.c.occurred_on), literal("ALL")))).subquery("calendar")
    slots = union_all(*(select(literal_column(str(r)).label("r"), literal_column(str(c)).label("c"))
                        for r in (0, 1) for c in (0, 1))).subquery("slots")
    rows = (
        select(calendar.c.period, counted.c.household_id,
               case((slots.c.r == 1, counted.c.resident_id), else_=0).label("resident_id"),
               case((slots.c.c == 1, counted.c.category), else_="").label("category"),
               counted.c.amount, counted.c.deducted, counted.c.hours)
        .select_from(counted.join(calendar, calendar.c.occurred_on == counted.c.occurred_on)
                     .join(slots, and_(or_(slots.c.r == 0, counted.c.resident_id != 0),
                                       or_(slots.c.c == 0, counted.c.category != ""))))
        .subquery("expanded")
    )
    # Typed as the stored columns are, so that SQLite may index the slice's totals on the whole key to join them.
    keys = (cast(rows.c.period, String).label("period"), rows.c.household_id,
            cast(rows.c.resident_id, Integer).label("resident_id"), cast(rows.c.category, String).label("category"))
    return (select(*keys, func.sum(rows.c.amount).label("total"), func.count().label("entries"),
                   func.sum(rows.c.deducted).label("deducted"), func.sum(rows.c.hours).label("hours"))
            .group_by(*keys).cte("expected"))


def _stored_periods(table: str = "period_totals") -> list[str]:
    """Every period that has a row in table (period_totals or grid_period_totals, both keyed by period first), read off
    the primary key's index one period at a time (a loose index scan: a few hundred lookups, not a pass over the
    table)."""
    return list(db.session.scalars(text(
        f"WITH RECURSIVE p(period) AS (SELECT min(period) FROM {table} UNION ALL "
        f"SELECT (SELECT min(period) FROM {table} WHERE period > p.period) FROM p WHERE p.period IS NOT NULL) "
        "SELECT period FROM p WHERE period IS NOT NULL")))


def total_mismatches() -> Iterator[TotalMismatch]:
    """Every period total that differs from what its entries make, missing, or made by no entry, by household.

    A slice of households at a time, worked out by the database: the stored rows of a slice are found through the
    primary key (period, household, …), each stored period in turn, so that no statement reads the whole table."""
    if db.engine.dialect.name == "postgresql":
        # For this transaction: more memory for each slice's sorts, and no JIT (compiling a slice's plan took a
        # third of its time).
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))
        db.session.execute(text("SET LOCAL jit = off"))
    periods = _stored_periods()
    keys = ("period", "household_id", "resident_id", "category")
    figures = ("total", "entries", "deducted", "hours")
    for low, high in _household_ranges():
        expected = _expected_totals(low, high)
        stored = (select(PeriodTotal.period, PeriodTotal.household_id, PeriodTotal.resident_id, PeriodTotal.category,
                         *(getattr(PeriodTotal, name) for name in figures))
                  # The periods stored at the start, and any the slice's entries make now: a new week begun
                  # while verify runs beside a serving app is compared, not reported missing.
                  .where(or_(PeriodTotal.period.in_(periods), PeriodTotal.period.in_(select(expected.c.period))),
                         PeriodTotal.household_id.between(low, high))
                  .cte("stored"))
        ordered = _compared(expected, stored, keys, figures).order_by(*(literal_column(name) for name in
                                                     ("household_id", "period", "resident_id", "category")))
        for row in db.session.execute(ordered):
            stored_figures, expected_figures = row[4:8], row[8:12]
            yield TotalMismatch(
                row.period, row.household_id, row.resident_id, row.category,
                None if stored_figures[0] is None else tuple(int(n) for n in stored_figures),
                None if expected_figures[0] is None else tuple(int(n) for n in expected_figures))


def _compared(expected, stored, keys: tuple, figures: tuple):
    """The rows of expected that stored lacks or holds other figures for, and the rows of stored that expected lacks:
    each its keys, then stored's figures, then expected's (None where the row is not there)."""
    same_key = and_(*(expected.c[name] == stored.c[name] for name in keys))
    columns = [*(stored.c[name] for name in figures), *(expected.c[name] for name in figures)]
    wrong = (select(*(expected.c[name].label(name) for name in keys), *columns)
             .select_from(expected.outerjoin(stored, same_key))
             .where(or_(stored.c.period.is_(None), *(stored.c[name] != expected.c[name] for name in figures))))
    extra = (select(*(stored.c[name].label(name) for name in keys), *columns)
             .select_from(stored.outerjoin(expected, same_key))
             .where(expected.c.period.is_(None)))
    return union_all(wrong, extra)


_KEY_KINDS = {"W": PeriodKind.WEEK, "M": PeriodKind.MONTH, "Q": PeriodKind.QUARTER, "Y": PeriodKind.YEAR}


def period_of_key(key: str) -> Period:
    """The period a key of the period totals names: 'W2026-47', 'M2026-11', 'Q2026-4', 'Y2026' or 'ALL'."""
    if key == "ALL":
        return period_of(PeriodKind.ALL, date.min)
    kind = _KEY_KINDS[key[0]]
    year, _dash, number = key[1:].partition("-")
    if kind is PeriodKind.WEEK:
        return period_of(kind, date.fromisocalendar(int(year), int(number), 1))
    month = {PeriodKind.MONTH: int(number or 1), PeriodKind.QUARTER: 3 * int(number or 1) - 2}.get(kind, 1)
    return period_of(kind, date(int(year), month, 1))


def grid_total_mismatches() -> Iterator[GridTotalMismatch]:
    """Every grid total that differs from the overall period totals (resident 0) of the households in the grid now
    and on the register in the period (people.queries.on_register: not closed, or closed on or after its first day),
    added up from scratch, missing, or made by no household's total; by period, grid and category.

    A period at a time (those of either table), compared whole in one statement: the period's slice of period_totals
    is read through its key, and the stored rows and their sums come from the same snapshot of a serving app's
    writes."""
    periods = sorted(set(_stored_periods()) | set(_stored_periods("grid_period_totals")))
    keys = ("period", "grid_id", "category")
    figures = ("total", "active")
    for period in periods:
        expected = (select(PeriodTotal.period, Household.grid_id, PeriodTotal.category,
                           func.sum(PeriodTotal.total).label("total"), func.count().label("active"))
                    .join(Household, Household.id == PeriodTotal.household_id)
                    .where(PeriodTotal.period == period, PeriodTotal.resident_id == 0,
                           on_register(period_of_key(period)))
                    .group_by(PeriodTotal.period, Household.grid_id, PeriodTotal.category)
                    .cte("expected"))
        stored = (select(GridPeriodTotal.period, GridPeriodTotal.grid_id, GridPeriodTotal.category,
                         GridPeriodTotal.total, GridPeriodTotal.active)
                  .where(GridPeriodTotal.period == period).cte("stored"))
        for row in db.session.execute(_compared(expected, stored, keys, figures).order_by(literal_column("grid_id"),
                                                                       literal_column("category"))):
            stored_figures, expected_figures = row[3:5], row[5:7]
            yield GridTotalMismatch(
                row.period, row.grid_id, row.category,
                None if stored_figures[0] is None else tuple(int(n) for n in stored_figures),
                None if expected_figures[0] is None else tuple(int(n) for n in expected_figures))


@dataclass(frozen=True)
class DutyMismatch:
    """A household entry of a worker's duty without its 履职记录 (duty_amount None), or with other points."""

    entry_id: int
    entry_amount: int
    duty_amount: int | None


def duty_mismatches() -> Iterator[DutyMismatch]:
    """Every 网格员履职 entry is the household's side of one 履职记录, with the same points (a reversal's too)."""
    original = aliased(LedgerEntry)
    rows = db.session.execute(
        select(LedgerEntry.id, LedgerEntry.amount, DutyRecord.amount)
        .outerjoin(original, LedgerEntry.reverses_id == original.id)
        .outerjoin(DutyRecord, DutyRecord.entry_id == LedgerEntry.id)
        .where(or_(LedgerEntry.source == EntrySource.DUTY, original.source == EntrySource.DUTY),
               or_(DutyRecord.id.is_(None), DutyRecord.amount != LedgerEntry.amount))
        .order_by(LedgerEntry.id)
    )
    return (DutyMismatch(*row) for row in rows)
