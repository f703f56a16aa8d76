"""Reads of 卫生评比 for the pages, the exports and the API: a round's grids and sheets, the published week and
month, a household's history, and who holds the 流动红旗."""
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from ..auth import policy
from ..auth.models import User
from ..claims.queries import under_appeal
from ..errors import Forbidden, NotFound
from ..extensions import db
from ..grids.models import GridNode
from ..ledger.models import LedgerEntry
from ..people.models import Household, Resident
from ..ranking import competition_ranks
from .models import (
    Assignment,
    ChecklistItem,
    Deduction,
    InspectionRound,
    MonthlyResult,
    MonthlySummary,
    Outcome,
    Posting,
    Publication,
    Result,
    Score,
)


def rounds_of(village_id: int, limit: int = 12) -> list[InspectionRound]:
    """The village's latest rounds, newest first."""
    return list(db.session.scalars(select(InspectionRound).where(InspectionRound.village_id == village_id)
                                   .order_by(InspectionRound.monday.desc()).limit(limit)))


def progress(round_id: int) -> dict[int, tuple[int, int]]:
    """Per inspected grid of the round: (households with a score sheet, households in the grid now)."""
    scored = dict(db.session.execute(select(Score.grid_id, func.count()).where(Score.round_id == round_id)
                                     .group_by(Score.grid_id)).all())
    grids = select(Assignment.grid_id).where(Assignment.round_id == round_id)
    sizes = dict(db.session.execute(select(Household.grid_id, func.count()).where(
        Household.grid_id.in_(grids), Household.closed_on.is_(None)).group_by(Household.grid_id)).all())
    return {grid_id: (scored.get(grid_id, 0), sizes.get(grid_id, 0)) for grid_id in set(sizes) | set(scored)}


@dataclass
class SheetRow:
    household: Household
    head_name: str
    score: Score | None


def sheet_rows(round_id: int, grid_id: int) -> list[SheetRow]:
    """The households of a grid on the register (now) by 户号, each with its score sheet of the round if it has one,
    and the sheets saved in the grid for households that have since moved away."""
    scores = {s.household_id: s for s in db.session.scalars(
        select(Score).where(Score.round_id == round_id, Score.grid_id == grid_id)
        .options(selectinload(Score.items).selectinload(Deduction.item)))}
    rows = db.session.execute(
        select(Household, Resident.name).outerjoin(Resident, Household.head_id == Resident.id)
        .where(((Household.grid_id == grid_id) & Household.closed_on.is_(None)) | Household.id.in_(list(scores)))
        .order_by(Household.number)).all()
    return [SheetRow(household, name or "", scores.get(household.id)) for household, name in rows]


def next_unscored(round_id: int, grid_id: int, after: str | None = None) -> int | None:
    """The household the inspector of a grid goes to next: the first by 户号 after `after` (wrapping round to the
    grid's first) that is on the grid's register and has no score sheet of the round; None when every one has."""
    scored = select(Score.id).where(Score.round_id == round_id, Score.household_id == Household.id).exists()
    query = select(Household.id).where(Household.grid_id == grid_id, Household.closed_on.is_(None), ~scored)
    if after is not None:
        query = query.order_by(case((Household.number > after, 0), else_=1))
    return db.session.scalar(query.order_by(Household.number).limit(1))


@dataclass
class Line:
    """One household in a published week or month."""

    household_id: int
    number: str
    head_name: str
    rank: int | None
    value: int  # the week: deductions; the month: the total
    score: int  # the week: the score; the month: weeks counted
    scored: bool = True
    outcome: Outcome | None = None
    items: list[tuple[str, int]] = field(default_factory=list)
    appealed: bool = False  # listed for 晾晒, kept off the list while the appeal of its penalty is pending


@dataclass
class GridWeek:
    grid: GridNode
    inspector: GridNode | None
    assignment: Assignment
    scored: int
    households: int
    lines: list[Line]  # empty until published

    @property
    def models(self) -> list[Line]:
        return [line for line in self.lines if line.outcome is Outcome.MODEL]

    @property
    def shamed(self) -> list[Line]:
        """The public 晾晒 list: the most deductions first, then by 户号."""
        return sorted((line for line in self.lines if line.outcome is Outcome.SHAME),
                      key=lambda line: (-line.value, line.number))

    @property
    def appealed(self) -> int:
        return sum(1 for line in self.lines if line.appealed)

    @property
    def unscored(self) -> list[Line]:
        return [line for line in self.lines if not line.scored]


def week_results(round_: InspectionRound) -> list[GridWeek]:
    """Per grid of the round, in grid order: its inspector, progress and, once published, every household's line
    (ranked first, then those left out), with the items each was deducted. A household listed for 晾晒 whose penalty
    is under a pending appeal has no outcome here (nor on any page, export or API answer built from this) until the
    appeal is decided."""
    counts = progress(round_.id)
    appealed = select(Posting.id).where(
        Posting.village_id == round_.village_id, Posting.period == "W" + round_.week,
        Posting.household_id == Result.household_id, Posting.outcome == Outcome.SHAME, Posting.reversal_id.is_(None),
        Posting.entry_id.in_(under_appeal())).exists()
    results = db.session.execute(
        select(Result, Household.number, Resident.name, (Result.outcome == Outcome.SHAME) & appealed)
        .join(Household, Result.household_id == Household.id)
        .outerjoin(Resident, Household.head_id == Resident.id)
        .where(Result.round_id == round_.id)
        .order_by(Result.grid_id, Result.rank.is_(None), Result.rank, Household.number)).all()
    items = _items_by_household(select(Score.id).where(Score.round_id == round_.id))
    lines: dict[int, list[Line]] = {}
    for result, number, name, held in results:
        lines.setdefault(result.grid_id, []).append(Line(
            result.household_id, number, name or "", result.rank, result.deductions, result.score, result.scored,
            None if held else result.outcome, items.get(result.household_id, []), bool(held)))
    grids = []
    for assignment in sorted(round_.assignments, key=lambda a: a.grid_id):
        scored, households = counts.get(assignment.grid_id, (0, 0))
        grids.append(GridWeek(assignment.grid, assignment.inspector_grid, assignment, scored, households,
                              lines.get(assignment.grid_id, [])))
    return grids


def _items_by_household(score_ids) -> dict[int, list[tuple[str, int]]]:
    """Per household of the given score sheets: (checklist item's name, points deducted), in checklist order."""
    found: dict[int, list[tuple[str, int]]] = {}
    for household_id, name, points in db.session.execute(
        select(Score.household_id, ChecklistItem.name, Deduction.points)
        .join(Deduction, Deduction.score_id == Score.id).join(ChecklistItem, Deduction.item_id == ChecklistItem.id)
        .where(Score.id.in_(score_ids)).order_by(Score.household_id, ChecklistItem.position, ChecklistItem.id)
    ).all():
        found.setdefault(household_id, []).append((name, points))
    return found


def summary_of(village_id: int, month: str) -> MonthlySummary | None:
    return db.session.scalar(select(MonthlySummary).where(MonthlySummary.village_id == village_id,
                                                          MonthlySummary.month == month))


@dataclass
class GridMonth:
    grid: GridNode
    average: float  # the grid's average monthly total per household counted
    rank: int
    lines: list[Line]

    @property
    def holders(self) -> list[Line]:
        return [line for line in self.lines if line.outcome is Outcome.FLAG]


def month_results(summary: MonthlySummary) -> list[GridMonth]:
    """Per grid, best average first: the households by monthly total, the 流动红旗 holders marked."""
    rows = db.session.execute(
        select(MonthlyResult, Household.number, Resident.name)
        .join(Household, MonthlyResult.household_id == Household.id)
        .outerjoin(Resident, Household.head_id == Resident.id)
        .where(MonthlyResult.summary_id == summary.id)
        .order_by(MonthlyResult.grid_id, MonthlyResult.rank, Household.number)).all()
    lines: dict[int, list[Line]] = {}
    for result, number, name in rows:
        lines.setdefault(result.grid_id, []).append(Line(
            result.household_id, number, name or "", result.rank, result.total, result.weeks,
            outcome=Outcome.FLAG if result.flag else None))
    grids = {g.id: g for g in db.session.scalars(select(GridNode).where(GridNode.id.in_(list(lines))))}
    averages = sorted(((sum(line.value for line in grid_lines) / len(grid_lines), grid_id)
                       for grid_id, grid_lines in lines.items()), key=lambda a: (-a[0], a[1]))
    ranks = competition_ranks([average for average, _grid_id in averages])
    return [GridMonth(grids[grid_id], round(average, 1), rank, lines[grid_id])
            for (average, grid_id), rank in zip(averages, ranks)]


@dataclass
class HouseholdWeek:
    round: InspectionRound
    score: Score | None
    result: Result | None
    items: list[tuple[str, int]]


def household_history(household_id: int, limit: int = 26) -> list[HouseholdWeek]:
    """The household's inspections, newest first: what was deducted, its place and outcome once published."""
    scores = {s.round_id: s for s in db.session.scalars(select(Score).where(Score.household_id == household_id))}
    results = {r.round_id: r for r in db.session.scalars(select(Result).where(Result.household_id == household_id))}
    rounds = list(db.session.scalars(select(InspectionRound).where(InspectionRound.id.in_(set(scores) | set(results)))
                                     .order_by(InspectionRound.monday.desc()).limit(limit)))
    return [HouseholdWeek(r, scores.get(r.id), results.get(r.id),
                          [(line.item.name, line.points) for line in scores[r.id].items] if r.id in scores else [])
            for r in rounds]


def flag_holders(village_id: int) -> tuple[MonthlySummary | None, list[tuple[GridNode, str, str]]]:
    """The village's latest published month and its 流动红旗 holders: (grid, 户号, head's name)."""
    summary = db.session.scalar(select(MonthlySummary).where(MonthlySummary.village_id == village_id)
                                .order_by(MonthlySummary.month.desc()).limit(1))
    if summary is None:
        return None, []
    rows = db.session.execute(
        select(GridNode, Household.number, Resident.name)
        .join(MonthlyResult, MonthlyResult.grid_id == GridNode.id)
        .join(Household, MonthlyResult.household_id == Household.id)
        .outerjoin(Resident, Household.head_id == Resident.id)
        .where(MonthlyResult.summary_id == summary.id, MonthlyResult.flag)
        .order_by(GridNode.id, Household.number)).all()
    return summary, [(grid, number, name or "") for grid, number, name in rows]


def household_flags(household_id: int) -> list[str]:
    """The months (2026-11) the household held the 流动红旗, newest first."""
    return list(db.session.scalars(
        select(MonthlySummary.month).join(MonthlyResult, MonthlyResult.summary_id == MonthlySummary.id)
        .where(MonthlyResult.household_id == household_id, MonthlyResult.flag)
        .order_by(MonthlySummary.month.desc())))


def posted_amounts(village_id: int, period: str) -> dict[tuple[int, Outcome], list[int]]:
    """(grid, outcome) → the amounts of the entries that stand for the week (W2026-47) or month (M2026-11)."""
    found: dict[tuple[int, Outcome], list[int]] = {}
    for grid_id, outcome, amount in db.session.execute(
        select(Posting.grid_id, Posting.outcome, LedgerEntry.amount)
        .join(LedgerEntry, LedgerEntry.id == Posting.entry_id)
        .where(Posting.village_id == village_id, Posting.period == period, Posting.reversal_id.is_(None))
        .order_by(Posting.id)
    ):
        found.setdefault((grid_id, outcome), []).append(amount)
    return found


def publications(village_id: int, period: str) -> list[Publication]:
    """Who published the week (W2026-47) or month (M2026-11), and what each publication posted and reversed."""
    return list(db.session.scalars(select(Publication).where(Publication.village_id == village_id,
                                                             Publication.period == period)
                                   .order_by(Publication.id)))


def visible_round(user: User, round_id: int) -> InspectionRound:
    """A week's round, to whoever sees its village (its villagers and staff). Raises NotFound, Forbidden."""
    round_ = db.session.get(InspectionRound, round_id)
    if round_ is None:
        raise NotFound()
    if not policy.can_see_village(user, round_.village_id):
        raise Forbidden()
    return round_
