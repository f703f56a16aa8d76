"""Rankings of households, residents and grids within a grid subtree, read from the ledger's period totals (never
from the ledger itself), with standard competition ranks: equal totals share a place, and the next place skips
(1, 2, 2, 4).

A village or a grid holds at most a few thousand households: their totals are looked up one by one and sorted. A
town holds tens of thousands: its top is found by walking the period's totals from the highest down, keeping those
inside the town, which stops after a few hundred rows whatever the size of the ledger (a town with few points in a
county with many is read like a village). A household's own place is counted in its grid or village only. Grids and
villages are ranked from the totals the ledger keeps per grid: a row per grid, however many households it has.
"""
import enum
from dataclasses import dataclass, replace
from datetime import date, datetime
from fractions import Fraction

from sqlalchemy import ColumnElement, and_, exists, func, literal_column, select
from sqlalchemy.orm import aliased

from ..auth import policy
from ..auth.models import User
from ..claims.queries import under_appeal
from ..errors import DomainError
from ..events.models import Event
from ..extensions import db
from ..grids.models import GridNode, GridPath, NodeKind
from ..grids.queries import is_within
from ..hygiene.models import Assignment, InspectionRound, Outcome, Result
from ..hygiene.queries import flag_holders
from ..ledger.models import GridPeriodTotal, LedgerEntry, PeriodTotal
from ..ledger.queries import OwnPlace, household_place
from ..ledger.totals import write_grid_totals
from ..people.models import Household, Resident
from ..people.privacy import mask_name
from ..people.queries import on_register
from ..periods import Period, PeriodKind, period_of
from ..ranking import competition_ranks
from ..rules.models import RuleCategory
from .models import BoardSettings

MAX_LIMIT = 100  # the longest list a page or the API shows
TIE_ROOM = 10  # households tied at the last place are listed too, up to this many more
WALK = 5000  # the most period totals a town's board walks before it joins the town's households instead


def parse_category(text: str | None) -> RuleCategory | None:
    """A category's value, or empty for all of them. Raises DomainError("invalid_category")."""
    if not text:
        return None
    try:
        return RuleCategory(text)
    except ValueError:
        raise DomainError("invalid_category") from None


# ------------------------------------------------------------------------------------------------------ households


@dataclass(frozen=True)
class HouseholdPlace:
    rank: int
    household_id: int
    number: str  # 户号
    name: str  # the head's name, masked (张*明)
    grid: str
    total: int  # points earned less points lost (shopping leaves it alone)
    deducted: int  # points lost to penalties


def household_board(scope: GridNode, period: Period, limit: int = 20, category: RuleCategory | None = None,
                    worst: bool = False) -> list[HouseholdPlace]:
    """The households of scope's subtree with the most points in period (worst: the most points lost to
    penalties, for the 黑榜, leaving out those under appeal), best first; only households with a positive figure
    are listed. The last place's ties are listed too, up to TIE_ROOM more. Every door (the boards, the village TV,
    the API) reads its lists here."""
    limit = min(max(limit, 1), MAX_LIMIT)
    column = PeriodTotal.deducted if worst else PeriodTotal.total
    # Zero written out, not bound: the partial index of penalties serves only a query that says deducted > 0.
    where = [PeriodTotal.period == period.key, PeriodTotal.category == (category.value if category else ""),
             PeriodTotal.resident_id == 0, column > literal_column("0")]
    held = _under_appeal(scope, period, category) if worst else {}
    # Each household with points held can drop out of the list: read as many more, so that none is missed.
    rows = [(row.household_id, row.total, row.deducted - held.get(row.household_id, 0)) for row in _top(
        [PeriodTotal.household_id, PeriodTotal.total, PeriodTotal.deducted], scope, period, where, column,
        PeriodTotal.household_id, limit + len(held), walk=scope.kind is NodeKind.TOWN)]
    if held:
        rows = sorted((row for row in rows if row[2] > 0), key=lambda row: (-row[2], row[0]))[:limit + TIE_ROOM]
    ranks = competition_ranks([deducted if worst else total for _id, total, deducted in rows])
    kept = [(rank, row) for rank, row in zip(ranks, rows) if rank <= limit]
    about = _households_about([household_id for _rank, (household_id, *_figures) in kept])
    return [HouseholdPlace(rank, household_id, *about[household_id], total, deducted)
            for rank, (household_id, total, deducted) in kept]


def _under_appeal(scope: GridNode, period: Period, category: RuleCategory | None) -> dict[int, int]:
    """Per household of scope's subtree, the points lost in period (and category) to penalties whose appeal is
    pending: they stay off the 黑榜 until the appeal is decided. Upheld, they count again; reversed, the reversal has
    taken them off the totals. A penalty reversed by 冲正 while its appeal waits was given back already."""
    reversal = aliased(LedgerEntry)
    where = [LedgerEntry.id.in_(under_appeal()), LedgerEntry.amount < 0,
             ~exists().where(reversal.reverses_id == LedgerEntry.id)]
    if period.first is not None:
        where.append(LedgerEntry.occurred_on.between(period.first, period.last))
    if category is not None:
        where.append(LedgerEntry.category == category)
    return dict(db.session.execute(
        select(LedgerEntry.household_id, -func.sum(LedgerEntry.amount))
        .join(Household, Household.id == LedgerEntry.household_id)
        .join(GridPath, and_(GridPath.descendant_id == Household.grid_id, GridPath.ancestor_id == scope.id))
        .where(*where).group_by(LedgerEntry.household_id)).all())


def _still_here(period: Period) -> ColumnElement[bool]:
    """The residents a board of period lists: not those who left their household (迁出, 死亡) before it began."""
    gone = select(Resident.id).where(Resident.left_on.is_not(None))
    if period.first is not None:
        gone = gone.where(Resident.left_on < period.first)
    return PeriodTotal.resident_id.not_in(gone)


def _top(columns: list, scope: GridNode, period: Period, where: list, column, tiebreak, limit: int,
         walk: bool) -> list:
    """The first limit + TIE_ROOM rows of columns (the household's id among them) under where, of the households of
    scope's subtree on the register in period, by column from the highest, then by tiebreak. The query takes
    tiebreak from the highest too, the
    direction of the indexes that end with it, so that a walk down one needs no sort of the ties; the rows come back
    with the ties in tiebreak's order.

    walk (a town): the period's totals are walked from the top down by their index, keeping each row whose household
    lives inside, which stops after a few hundred rows for a busy town. The walk goes no further than the WALK
    highest totals of the period (a town with few points in a county with many): when it finds too few there, the
    town's households are joined to their totals instead, as a village's or a grid's always are.
    """
    wanted, rows = limit + TIE_ROOM, None
    if walk:
        bound = db.session.scalar(select(column).where(*where).order_by(column.desc()).offset(WALK - 1).limit(1))
        inside = exists().where(Household.id == PeriodTotal.household_id, GridPath.descendant_id == Household.grid_id,
                                GridPath.ancestor_id == scope.id, on_register(period))
        rows = db.session.execute(
            select(*columns).where(*where, inside, *([] if bound is None else [column > bound]))
            .order_by(column.desc(), tiebreak.desc()).limit(wanted)).all()
        # Every row above the bound was seen (ties at the bound are not: the join reads them in order).
        if len(rows) < wanted and bound is not None:
            rows = None
    if rows is None:
        rows = db.session.execute(
            select(*columns).join(Household, Household.id == PeriodTotal.household_id)
            .join(GridPath, and_(GridPath.descendant_id == Household.grid_id, GridPath.ancestor_id == scope.id))
            .where(*where, on_register(period)).order_by(column.desc(), tiebreak.desc()).limit(wanted)).all()
    return sorted(rows, key=lambda row: (-row._mapping[column.key], row._mapping[tiebreak.key]))


def _households_about(household_ids: list[int]) -> dict[int, tuple[str, str, str]]:
    """Each household's 户号, masked head's name and grid name."""
    if not household_ids:
        return {}
    grid = aliased(GridNode)
    rows = db.session.execute(
        select(Household.id, Household.number, Resident.name, grid.name)
        .outerjoin(Resident, Resident.id == Household.head_id)
        .join(grid, grid.id == Household.grid_id)
        .where(Household.id.in_(household_ids))
    )
    return {id_: (number, mask_name(name), grid_name) for id_, number, name, grid_name in rows}


def own_place(user: User | None, scope: GridNode, period: Period, category: RuleCategory | None
              ) -> tuple[int, OwnPlace] | None:
    """Where the user's own household stands on scope's board of period, with its id, for both doors: only on the
    board of all categories of a grid or village that holds it (its place counts all its points, and a town's
    households are too many to count on a request); None otherwise, and for staff without a household."""
    household_id = policy.own_household_id(user)
    if household_id is None or category is not None or scope.kind is NodeKind.TOWN:
        return None
    household = db.session.get(Household, household_id)
    if not is_within(household.grid_id, [scope.id]):
        return None
    return household.id, household_place(household, scope, period)


# ------------------------------------------------------------------------------------------------------- residents


class ResidentOrder(str, enum.Enum):
    POINTS = "points"
    HOURS = "hours"


@dataclass(frozen=True)
class ResidentPlace:
    rank: int
    resident_id: int
    name: str  # masked
    number: str  # the household's 户号
    grid: str
    total: int
    hours: int


def resident_board(scope: GridNode, period: Period, limit: int = 20,
                   category: RuleCategory | None = RuleCategory.VOLUNTEERING,
                   order: ResidentOrder = ResidentOrder.POINTS) -> list[ResidentPlace]:
    """The residents of scope's subtree with the most points (or hours) in period, in category (志愿服务 unless
    another is asked for; None for all), best first; only those with a positive figure are listed."""
    limit = min(max(limit, 1), MAX_LIMIT)
    column = PeriodTotal.hours if order is ResidentOrder.HOURS else PeriodTotal.total
    # Written out, not bound: the partial index on residents' totals serves only a query that says resident_id > 0.
    where = [PeriodTotal.period == period.key, PeriodTotal.category == (category.value if category else ""),
             PeriodTotal.resident_id > literal_column("0"), column > literal_column("0"), _still_here(period)]
    walk = scope.kind is NodeKind.TOWN and order is ResidentOrder.POINTS  # no index orders residents by hours
    rows = _top([PeriodTotal.resident_id, PeriodTotal.household_id, PeriodTotal.total, PeriodTotal.hours], scope,
                period, where, column, PeriodTotal.resident_id, limit, walk)
    ranks = competition_ranks([row.hours if order is ResidentOrder.HOURS else row.total for row in rows])
    kept = [(rank, row) for rank, row in zip(ranks, rows) if rank <= limit]
    about = _households_about(list({row.household_id for _rank, row in kept}))
    names = dict(db.session.execute(select(Resident.id, Resident.name).where(
        Resident.id.in_([row.resident_id for _rank, row in kept]))).all()) if kept else {}
    return [ResidentPlace(rank, row.resident_id, mask_name(names.get(row.resident_id)), about[row.household_id][0],
                          about[row.household_id][2], row.total, row.hours) for rank, row in kept]


# ----------------------------------------------------------------------------------------------------------- grids


class GridOrder(str, enum.Enum):
    AVERAGE = "average"
    TOTAL = "total"


@dataclass(frozen=True)
class GridPlace:
    rank: int
    grid_id: int
    name: str
    village: str
    households: int
    active: int  # households with any entry in the period
    total: int

    @property
    def average(self) -> Fraction:
        return Fraction(self.total, self.households) if self.households else Fraction(0)


def grid_board(scope: GridNode, period: Period, category: RuleCategory | None = None,
               order: GridOrder = GridOrder.AVERAGE) -> list[GridPlace]:
    """Every grid of scope's subtree that households on the register in period live in, by the average total of its
    households (a household without entries counts 0, so big grids do not win by size) or by the sum, best first.

    The totals and the households with any are the ledger's grid totals, a row per grid however many households it
    has; only the households on the register are counted, per grid, with no ledger join. The grid totals count a
    household in the periods it is on the register in (people.queries.on_register), as the households counted here:
    the same figures as a sum of the totals of the grid's households on the register. The postings of this
    transaction that are not in the grid totals yet (ledger.totals.write_grid_totals) are written first."""
    write_grid_totals()
    # Counted grid by grid, a range of the index on (grid, the day it left) each: a join of the subtree's nodes with
    # the households made PostgreSQL read every household of the county.
    counted = (select(func.count()).select_from(Household)
               .where(Household.grid_id == GridPath.descendant_id, on_register(period)).scalar_subquery())
    households = (select(GridPath.descendant_id.label("grid_id"), counted.label("households"))
                  .where(GridPath.ancestor_id == scope.id).subquery())
    rows = db.session.execute(
        select(households.c.grid_id, households.c.households, func.coalesce(GridPeriodTotal.active, 0),
               func.coalesce(GridPeriodTotal.total, 0))
        .outerjoin(GridPeriodTotal, _grid_totals_of(households.c.grid_id, period, category))
        .where(households.c.households > 0)
    ).all()
    village = aliased(GridNode)
    names = {id_: (name, village_name) for id_, name, village_name in db.session.execute(
        select(GridNode.id, GridNode.name, village.name).outerjoin(village, village.id == GridNode.village_id)
        .where(GridNode.id.in_([row[0] for row in rows])))} if rows else {}
    places = [GridPlace(0, grid_id, *names[grid_id], households, active, total)
              for grid_id, households, active, total in rows]
    key = (lambda p: p.average) if order is GridOrder.AVERAGE else (lambda p: p.total)
    places.sort(key=lambda p: (-key(p), p.grid_id))
    ranks = competition_ranks([key(p) for p in places])
    return [replace(place, rank=rank) for rank, place in zip(ranks, places)]


def _grid_totals_of(grid_id, period: Period, category: RuleCategory | None) -> ColumnElement[bool]:
    """The grid totals row of grid_id (a column) in period and category: one lookup by its key."""
    return and_(GridPeriodTotal.period == period.key, GridPeriodTotal.grid_id == grid_id,
                GridPeriodTotal.category == (category.value if category else ""))


# -------------------------------------------------------------------------------------------------------- villages


@dataclass(frozen=True)
class VillagePlace:
    """A village of a town on the 村 board: its households on the register and those with any entry (an award, a
    penalty or a reversal) in the period, and their total (points earned less points lost; shopping is not in it)."""

    rank: int
    village_id: int
    name: str
    households: int
    active: int
    total: int

    @property
    def average(self) -> Fraction:
        return Fraction(self.total, self.households) if self.households else Fraction(0)


def villages_in_use(scope: GridNode) -> list[GridNode]:
    """The villages of scope's subtree not retired (撤销), in the tree's order."""
    return list(db.session.scalars(
        select(GridNode).join(GridPath, and_(GridPath.descendant_id == GridNode.id, GridPath.ancestor_id == scope.id))
        .where(GridNode.kind == NodeKind.VILLAGE, GridNode.retired_at.is_(None)).order_by(GridNode.id)))


def village_board(scope: GridNode, period: Period, category: RuleCategory | None = None,
                  order: GridOrder = GridOrder.AVERAGE) -> list[VillagePlace]:
    """Every village in use of scope's subtree (a town's), by the average total of its households (a household
    without entries counts 0, as on the grid board) or by the sum, best first; a village without households counts
    0. The totals are its grids' (grid_board says whom they count: the households on the register in period); the
    households on the register are counted per village. Two statements whatever the number of villages: the villages,
    and one of grouped sums."""
    write_grid_totals()
    villages = villages_in_use(scope)
    if not villages:
        return []
    ids = [v.id for v in villages]
    households = (select(Household.village_id, func.count().label("households"))
                  .where(Household.village_id.in_(ids), on_register(period))
                  .group_by(Household.village_id).subquery())
    totals = (select(GridNode.village_id, func.sum(GridPeriodTotal.active).label("active"),
                     func.sum(GridPeriodTotal.total).label("total"))
              .join(GridPeriodTotal, _grid_totals_of(GridNode.id, period, category))
              .where(GridNode.village_id.in_(ids)).group_by(GridNode.village_id).subquery())
    sums = {village_id: (int(count), int(active or 0), int(total or 0))
            for village_id, count, active, total in db.session.execute(
                select(households.c.village_id, households.c.households, totals.c.active, totals.c.total)
                .outerjoin(totals, totals.c.village_id == households.c.village_id))}
    places = [VillagePlace(0, v.id, v.name, *sums.get(v.id, (0, 0, 0))) for v in villages]
    key = (lambda p: p.average) if order is GridOrder.AVERAGE else (lambda p: p.total)
    places.sort(key=lambda p: (-key(p), p.village_id))
    ranks = competition_ranks([key(p) for p in places])
    return [replace(place, rank=rank) for rank, place in zip(ranks, places)]


# -------------------------------------------------------------------------------------------------------- settings


def board_settings(village_id: int) -> BoardSettings:
    """The village's settings, or the defaults (not added to the session) for a village without a row."""
    return db.session.get(BoardSettings, village_id) or BoardSettings(village_id=village_id, red_count=10,
                                                                        black_count=0)


# --------------------------------------------------------------------------------------------------------- display


@dataclass(frozen=True)
class Honour:
    """A household named on the display: 示范户 of a week or 流动红旗 of a month."""

    grid: str
    number: str
    name: str  # masked


@dataclass(frozen=True)
class Upcoming:
    title: str
    place: str
    starts_at: datetime
    grid: str | None  # None: the whole village's


@dataclass(frozen=True)
class Display:
    """What the village TV cycles through."""

    village: GridNode
    month: Period
    red: list[HouseholdPlace]
    black: list[HouseholdPlace]
    week: date | None  # the Monday of the latest published week, None before the first
    models: list[Honour]
    flag_month: str | None  # the latest published month (2026-11)
    flags: list[Honour]
    grids: list[GridPlace]
    events: list[Upcoming]


def display(village: GridNode, today: date, now: datetime, events: int = 6) -> Display:
    """The village's 红榜 (and 黑榜, if it lists one) of this month, the latest published week's 示范户, the latest
    month's 流动红旗, the grids by average this month, and the next events (now is naive UTC)."""
    settings = board_settings(village.id)
    month = period_of(PeriodKind.MONTH, today)
    black = household_board(village, month, settings.black_count, worst=True) if settings.black_count else []
    week = db.session.scalar(
        select(InspectionRound.monday).join(Assignment, Assignment.round_id == InspectionRound.id)
        .where(InspectionRound.village_id == village.id, Assignment.published_at.is_not(None))
        .order_by(InspectionRound.monday.desc()).limit(1))
    models = [Honour(grid, number, mask_name(name)) for grid, number, name in db.session.execute(
        select(GridNode.name, Household.number, Resident.name).select_from(Result)
        .join(InspectionRound, InspectionRound.id == Result.round_id)
        .join(Household, Household.id == Result.household_id).join(GridNode, GridNode.id == Result.grid_id)
        .outerjoin(Resident, Resident.id == Household.head_id)
        .where(InspectionRound.village_id == village.id, InspectionRound.monday == week,
               Result.outcome == Outcome.MODEL)
        .order_by(GridNode.id, Result.rank, Household.number))] if week else []
    summary, holders = flag_holders(village.id)
    flags = [Honour(grid.name, number, mask_name(name)) for grid, number, name in holders]
    upcoming = db.session.execute(
        select(Event.title, Event.place, Event.starts_at, GridNode.name)
        .outerjoin(GridNode, GridNode.id == Event.grid_id)
        .where(Event.village_id == village.id, Event.ends_at >= now, Event.closed_at.is_(None))
        .order_by(Event.starts_at).limit(events)).all()
    return Display(village, month, household_board(village, month, settings.red_count), black, week, models,
                   summary.month if summary else None, flags, grid_board(village, month),
                   [Upcoming(*row) for row in upcoming])

