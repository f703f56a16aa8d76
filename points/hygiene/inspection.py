"""每周卫生评比's rounds: one per village per ISO week, its 交叉检查 rotation and assignment, and the score sheets
saved in it. Functions flush and never commit."""
from datetime import date
from functools import cache

from flask_babel import gettext
from sqlalchemy import Row, Select, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..audit.services import record
from ..auth import policy
from ..auth.models import User
from ..errors import DomainError, Forbidden, NotFound
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..grids.services import blocks_retirement
from ..people.models import Household
from ..periods import month_label, month_of_week, parse_week, week_label, week_of
from ..timeutil import local_today, utcnow
from .models import Assignment, ChecklistItem, Deduction, InspectionRound, MonthlySummary, Score
from .village_settings import checklist, ensure_checklist

MAX_NOTE = 200
_A_MONDAY = date(2001, 1, 1)  # counts weeks for the rotation


def inspected_grids(village_id: int) -> list[GridNode]:
    """The village's grids that hold households on the register (at whatever level they sit), in the order they were
    made."""
    holding = select(Household.grid_id).where(Household.village_id == village_id,
                                              Household.closed_on.is_(None)).distinct()
    return list(db.session.scalars(
        select(GridNode).where(GridNode.kind == NodeKind.GRID, GridNode.village_id == village_id,
                               GridNode.id.in_(holding)).order_by(GridNode.id)))


def rotation(grid_ids: list[int], monday: date) -> dict[int, int | None]:
    """交叉检查 for one week: inspected grid → the grid that inspects it. Grid i inspects grid i + s (mod n), where
    the shift s runs through 1 … n-1 from week to week: never itself, and a different grid each week while n > 2.
    Two grids inspect each other every week; a lone grid has no other grid to inspect it (None: the village
    committee does)."""
    n = len(grid_ids)
    if n < 2:
        return {grid_id: None for grid_id in grid_ids}
    shift = 1 + ((monday - _A_MONDAY).days // 7) % (n - 1)
    return {grid_ids[(i + shift) % n]: grid_ids[i] for i in range(n)}


def round_for(village: GridNode, week: str, create: bool = True) -> InspectionRound | None:
    """The village's round of a week, made with this week's rotation the first time it is asked for (create).

    Raises DomainError("invalid_week" | "week_in_future" | "not_a_village")."""
    if village.kind is not NodeKind.VILLAGE:
        raise DomainError("not_a_village")
    monday = parse_week(week)
    week = week_of(monday)
    found = db.session.scalar(
        select(InspectionRound).where(InspectionRound.village_id == village.id, InspectionRound.week == week))
    if found is not None or not create:
        return found
    if monday > local_today():
        raise DomainError("week_in_future")
    try:
        with db.session.begin_nested():
            made = InspectionRound(village_id=village.id, week=week, monday=monday, month=month_of_week(monday))
            db.session.add(made)
            db.session.flush()
            ensure_checklist(village.id)
            grids = [g.id for g in inspected_grids(village.id)]
            for grid_id, inspector in rotation(grids, monday).items():
                db.session.add(Assignment(round_id=made.id, grid_id=grid_id, inspector_grid_id=inspector))
            db.session.flush()
    except IntegrityError:  # made at the same moment by another request
        return db.session.scalar(
            select(InspectionRound).where(InspectionRound.village_id == village.id, InspectionRound.week == week))
    return made


def reassign(actor: User, round_: InspectionRound, inspectors: dict[int, int | None]) -> list[Assignment]:
    """The village admin overrides the rotation: inspected grid → inspecting grid (None: the village committee).

    Raises Forbidden, DomainError("assignment_invalid" | "inspects_itself" | "inspector_twice")."""
    policy.require(actor, policy.Permission.MANAGE_HYGIENE, round_.village_id)
    village_grids = {g.id for g in db.session.scalars(
        select(GridNode).where(GridNode.village_id == round_.village_id, GridNode.kind == NodeKind.GRID))}
    by_grid = {a.grid_id: a for a in round_.assignments}
    chosen = [i for i in inspectors.values() if i is not None]
    if set(inspectors) - set(by_grid) or set(chosen) - village_grids:
        raise DomainError("assignment_invalid")
    if any(grid == inspector for grid, inspector in inspectors.items()):
        raise DomainError("inspects_itself")
    final = {grid: inspectors.get(grid, a.inspector_grid_id) for grid, a in by_grid.items()}
    taken = [i for i in final.values() if i is not None]
    if len(taken) != len(set(taken)):
        raise DomainError("inspector_twice")
    before = {str(g): a.inspector_grid_id for g, a in by_grid.items()}
    for grid, inspector in final.items():
        by_grid[grid].inspector_grid_id = inspector
    db.session.flush()
    record(actor, "hygiene.assigned", "inspection_round", round_.id, round_.village_id,
           before={"assignment": before}, after={"assignment": {str(g): i for g, i in final.items()}})
    return round_.assignments


def may_open_round(actor: User, village_id: int) -> bool:
    """Who may start a week's round (policy.can_open_round): the village admin, and the leaders and workers of the
    grids it inspects."""
    return policy.can_open_round(actor, village_id, lambda: [grid.id for grid in inspected_grids(village_id)])


def assignment_of(round_: InspectionRound, grid_id: int) -> Assignment:
    """Raises DomainError("grid_not_in_round")."""
    found = db.session.get(Assignment, (round_.id, grid_id))
    if found is None:
        raise DomainError("grid_not_in_round", status=404)
    return found


def month_published(village_id: int, month: str) -> bool:
    return db.session.scalar(select(MonthlySummary.id).where(
        MonthlySummary.village_id == village_id, MonthlySummary.month == month)) is not None


# ---------------------------------------------------------------------------------------------------- scoring


def score_refusal(actor: User, round_: InspectionRound, grid_id: int) -> DomainError | None:
    """Why actor may not save score sheets of grid_id in this round (policy.can_save_score), or None.

    Raises DomainError("grid_not_in_round")."""
    assignment = assignment_of(round_, grid_id)
    closed = cache(lambda: _closed(round_, assignment))  # asked only of those who would score the grid
    if policy.can_save_score(actor, round_.village_id, assignment.inspector_grid_id, lambda: closed() is not None):
        return None
    if policy.can_score(actor, round_.village_id, assignment.inspector_grid_id):
        return closed()
    week = week_label(round_.monday)
    own = [a.grid.name for a in round_.assignments
           if a.inspector_grid_id is not None and policy.can_score(actor, round_.village_id, a.inspector_grid_id)]
    if own:
        return DomainError("not_your_grid", status=403, week=week, grids="、".join(own), grid=assignment.grid.name)
    inspector = assignment.inspector_grid.name if assignment.inspector_grid else gettext("村两委")
    return DomainError("not_inspector", status=403, week=week, grid=assignment.grid.name, inspector=inspector)


def _closed(round_: InspectionRound, assignment: Assignment) -> DomainError | None:
    """Why the grid's sheets of the round are closed to its inspectors, or None: the month is summed up, or the grid's
    results of the round are published."""
    if month_published(round_.village_id, round_.month):
        return DomainError("month_closed", status=409, month=month_label(round_.month))
    if assignment.published_at is not None:
        return DomainError("round_published", status=409, week=week_label(round_.monday), grid=assignment.grid.name)
    return None


def require_score(actor: User, round_: InspectionRound, grid_id: int) -> None:
    """Raises the score_refusal, if there is one."""
    refusal = score_refusal(actor, round_, grid_id)
    if refusal is not None:
        raise refusal


def may_score(actor: User, round_: InspectionRound, grid_id: int) -> bool:
    """Whether to offer actor the grid's score sheets of the round (score_refusal says why not when asked anyway)."""
    found = db.session.get(Assignment, (round_.id, grid_id))
    return found is not None and score_refusal(actor, round_, grid_id) is None


def readable_sheets(user: User, round_: InspectionRound, grid_id: int | None = None) -> list[Assignment]:
    """The grids of the round whose score sheets user may read (policy.can_read_score_sheets), in grid order: grid_id
    alone, or every grid (None). Raises DomainError("grid_not_in_round"), Forbidden when there is none."""
    assignments = [assignment_of(round_, grid_id)] if grid_id is not None else list(round_.assignments)
    readable = [a for a in assignments
                if policy.can_read_score_sheets(user, round_.village_id, a.grid_id, a.inspector_grid_id)]
    if not readable:
        raise Forbidden()
    return sorted(readable, key=lambda a: a.grid_id)


def save_score(
    actor: User,
    round_: InspectionRound,
    household_id: int,
    deductions: dict[int, int],
    note: str = "",
    revision: int | None = None,
    photo: str | None = None,
) -> Score:
    """Save a household's score sheet: checklist item id → points deducted (0 … the item's maximum; items left out
    deduct nothing). revision: the sheet's revision the inspector saw (0: none yet); a sheet saved by someone else
    since is not overwritten. None (the API without it): the last save wins. photo: a stored file's name, or None
    to keep the sheet's photo.

    Raises NotFound, DomainError("grid_not_in_round" | the score_refusal | "own_household" | "unknown_item"
    | "deduction_out_of_range" | "note_too_long" | "score_changed")."""
    household = db.session.get(Household, household_id) if isinstance(household_id, int) else None
    if household is None or household.village_id != round_.village_id:
        raise NotFound()
    existing = db.session.execute(
        select(Score.id, Score.revision, Score.deductions, Score.grid_id)
        .where(Score.round_id == round_.id, Score.household_id == household.id)).first()
    # A sheet stays with the grid it was saved in: a household that moved since is corrected there, by its inspectors.
    grid_id = existing.grid_id if existing is not None else household.grid_id
    require_score(actor, round_, grid_id)
    policy.refuse_own_household(actor, household.id)
    if household.closed_on is not None:
        raise DomainError("household_closed", status=409, number=household.number)
    items = {item.id: item for item in checklist(round_.village_id)}
    lines = _deducted(items, deductions)
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise DomainError("note_too_long", limit=MAX_NOTE)

    total = sum(lines.values())
    values = dict(grid_id=grid_id, deductions=total, note=note, scored_by_id=actor.id, scored_at=utcnow())
    if photo is not None:
        values["photo"] = photo
    score, before = _write_sheet(round_.id, household.id, existing, revision, values)
    if lines:
        db.session.execute(insert(Deduction), [dict(score_id=score.id, item_id=i, points=p) for i, p in lines.items()])
    db.session.refresh(score)
    record(actor, "inspection.scored", "household", household.id, grid_id, before=before,
           after={"household": household.number, "week": round_.week, "deductions": total,
                  "items": {items[i].name: p for i, p in lines.items()}})
    return score


def _deducted(items: dict[int, ChecklistItem], deductions: dict[int, int]) -> dict[int, int]:
    """The sheet's lines that deduct something: item id → points. Raises DomainError("unknown_item" |
    "deduction_out_of_range")."""
    lines = {}
    for item_id, points in deductions.items():
        if item_id not in items:
            raise DomainError("unknown_item")
        if not isinstance(points, int) or isinstance(points, bool) or not 0 <= points <= items[item_id].max_deduction:
            raise DomainError("deduction_out_of_range", item=items[item_id].name, most=items[item_id].max_deduction)
        if points:
            lines[item_id] = points
    return lines


def _write_sheet(
    round_id: int, household_id: int, existing: Row | None, revision: int | None, values: dict
) -> tuple[Score, dict | None]:
    """The household's first sheet of the round added, or its sheet (existing: id, revision, deductions) overwritten
    if still at the revision the inspector saw, its deductions cleared; with what the audit log keeps of before.
    Raises DomainError("score_changed")."""
    if existing is None:
        if revision not in (None, 0):
            raise DomainError("score_changed", status=409)
        try:
            with db.session.begin_nested():
                score = Score(round_id=round_id, household_id=household_id, revision=1, **values)
                db.session.add(score)
                db.session.flush()
        except IntegrityError:  # another inspector saved the first sheet of this household a moment ago
            raise DomainError("score_changed", status=409) from None
        return score, None
    seen = existing.revision if revision is None else revision
    changed = db.session.execute(
        update(Score).where(Score.id == existing.id, Score.revision == seen)
        .values(revision=Score.revision + 1, **values)).rowcount
    if not changed:
        raise DomainError("score_changed", status=409)
    db.session.execute(delete(Deduction).where(Deduction.score_id == existing.id))
    return db.session.get(Score, existing.id, populate_existing=True), {"deductions": existing.deductions}


@blocks_retirement
def _rounds_left(node_ids: Select) -> list[str]:
    """A grid is retired once no round waits for its results, as the inspected grid or the inspecting one."""
    count = db.session.scalar(select(func.count(func.distinct(Assignment.round_id))).where(
        or_(Assignment.grid_id.in_(node_ids), Assignment.inspector_grid_id.in_(node_ids)),
        Assignment.published_at.is_(None)))
    return [gettext("%(n)d 轮未发布的卫生评比", n=count)] if count else []
