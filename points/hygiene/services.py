"""每周卫生评比 and 每月汇总: the checklist and settings, rounds and their cross-inspection, score sheets, and
publishing, which posts awards and penalties through the ledger and, on a correction, reverses and re-posts only
what changed. Functions flush and never commit: the caller's transaction decides."""
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext
from sqlalchemy import Select, delete, false, func, insert, or_, select, union, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..audit.services import record
from ..auth import policy
from ..auth.models import User
from ..errors import DomainError, Forbidden, NotFound
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..grids.services import blocks_retirement, starts_villages
from ..ledger.models import EntrySource
from ..ledger.services import Movement, post_entries, reversal_of
from ..people.models import Household
from ..periods import (
    day_label,
    month_label,
    month_of_week,
    month_week,
    month_weeks_end,
    parse_month,
    parse_week,
    week_label,
    week_of,
)
from ..ranking import competition_ranks
from ..rules.models import Rule, RuleCategory, RuleVersion
from ..rules.queries import version_in_force
from ..timeutil import local_today, utcnow
from .models import (
    Assignment,
    ChecklistItem,
    Deduction,
    HygieneSettings,
    InspectionRound,
    MonthlyResult,
    MonthlySummary,
    Outcome,
    Posting,
    Publication,
    Result,
    Score,
    TiePolicy,
    UnscoredPolicy,
)

DEFAULT_CHECKLIST = (("门前卫生", 5), ("门前秩序", 5), ("门前绿化", 5), ("庭院整洁", 5), ("杂物堆放", 5),
                     ("禽畜圈养", 5))
MAX_ITEMS = 20
MAX_DEDUCTION = 50  # per item
MAX_SETTING = 1000  # no count or award of a village comes near it
MAX_NOTE = 200
_A_MONDAY = date(2001, 1, 1)  # counts weeks for the rotation


# ---------------------------------------------------------------------------------------------------- settings


def settings_of(village_id: int) -> HygieneSettings:
    """The village's settings; the defaults (not added to the session) if it never changed them."""
    return db.session.get(HygieneSettings, village_id) or HygieneSettings(
        village_id=village_id, full_score=100, model_count=3, model_points=20, shame_count=0, penalty_rule_id=None,
        ties=TiePolicy.ALL, shame_ties=TiePolicy.ALL, shame_max=0, unscored=UnscoredPolicy.SKIP, flag_points=50,
    )


SETTING_NUMBERS = ("full_score", "model_count", "model_points", "shame_count", "shame_max", "flag_points")


def update_settings(actor: User, village: GridNode, **values) -> HygieneSettings:
    """Change some of the village's numbers and choices (the keys of HygieneSettings).

    A new shame_count without a shame_max raises the most listed to at least the count.

    Raises Forbidden, DomainError("setting_out_of_range" | "shame_max_below_count" | "full_score_too_low" |
    "penalty_rule_invalid")."""
    policy.require(actor, policy.Permission.MANAGE_HYGIENE, village.id)
    settings = db.session.get(HygieneSettings, village.id)
    if settings is None:
        settings = settings_of(village.id)
        db.session.add(settings)
    before = _settings_dict(settings)
    for name in SETTING_NUMBERS:
        if name in values:
            value = values[name]
            low = 1 if name == "full_score" else 0
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= MAX_SETTING:
                raise DomainError("setting_out_of_range", low=low, high=MAX_SETTING)
            setattr(settings, name, value)
    if "shame_max" not in values:
        settings.shame_max = max(settings.shame_max, settings.shame_count)
    if settings.shame_max < settings.shame_count:
        raise DomainError("shame_max_below_count", count=settings.shame_count)
    if "ties" in values:
        settings.ties = TiePolicy(values["ties"])
    if "shame_ties" in values:
        settings.shame_ties = TiePolicy(values["shame_ties"])
    if "unscored" in values:
        settings.unscored = UnscoredPolicy(values["unscored"])
    if "penalty_rule_id" in values:
        settings.penalty_rule_id = _penalty_rule(village.id, values["penalty_rule_id"])
    _check_full_score(village.id, settings.full_score, [i.max_deduction for i in checklist(village.id)])
    db.session.flush()
    record(actor, "hygiene.settings", "village", village.id, village.id, before=before, after=_settings_dict(settings))
    return settings


def _penalty_rule(village_id: int, rule_id: int | None) -> int | None:
    if rule_id is None:
        return None
    rule = db.session.get(Rule, rule_id) if isinstance(rule_id, int) and not isinstance(rule_id, bool) else None
    version = version_in_force(rule.id, local_today()) if rule is not None and rule.village_id == village_id else None
    if version is None or version.points >= 0:
        raise DomainError("penalty_rule_invalid")
    return rule.id


def _settings_dict(settings: HygieneSettings) -> dict:
    values = {name: getattr(settings, name) for name in SETTING_NUMBERS}
    return values | {"ties": settings.ties.value, "shame_ties": settings.shame_ties.value,
                     "unscored": settings.unscored.value,
                     "penalty_rule": settings.penalty_rule_id}


def _check_full_score(village_id: int, full_score: int, maxima: list[int]) -> None:
    """A household's weekly score (full score less deductions) never goes below zero."""
    if sum(maxima) > full_score:
        raise DomainError("full_score_too_low", full=full_score, most=sum(maxima))


def checklist(village_id: int, with_retired: bool = False) -> list[ChecklistItem]:
    """The village's checklist in order. A village that never wrote one is shown 门前三包 and the rest, 5 points each
    (unsaved: its first round saves them, see ensure_checklist)."""
    query = select(ChecklistItem).where(ChecklistItem.village_id == village_id)
    if not with_retired:
        query = query.where(ChecklistItem.active)
    items = list(db.session.scalars(query.order_by(ChecklistItem.position, ChecklistItem.id)))
    if items or db.session.scalar(select(ChecklistItem.id).where(ChecklistItem.village_id == village_id).limit(1)):
        return items
    return [ChecklistItem(village_id=village_id, name=name, max_deduction=most, position=position, active=True)
            for position, (name, most) in enumerate(DEFAULT_CHECKLIST)]


@starts_villages(order=2)
def copy_template(village: GridNode, town: GridNode) -> None:
    """A new village's checklist and settings start as its town's template, if the town saved one; the penalty rule
    of 晾晒 becomes the village's rule of the same code (copied from the template by the rule book's starter)."""
    items = db.session.scalars(select(ChecklistItem).where(ChecklistItem.village_id == town.id, ChecklistItem.active)
                               .order_by(ChecklistItem.position, ChecklistItem.id)).all()
    db.session.add_all([ChecklistItem(village_id=village.id, name=i.name, max_deduction=i.max_deduction,
                                      position=i.position, active=True) for i in items])
    if items:
        record(None, "hygiene.checklist", "village", village.id, village.id,
               after={"from": town.name, "items": [(i.name, i.max_deduction) for i in items]})
    model = db.session.get(HygieneSettings, town.id)
    if model is not None:
        penalty = None
        if model.penalty_rule is not None:
            penalty = db.session.scalar(select(Rule.id).where(Rule.village_id == village.id,
                                                              Rule.code == model.penalty_rule.code))
        settings = HygieneSettings(village_id=village.id, penalty_rule_id=penalty, ties=model.ties,
                                   shame_ties=model.shame_ties,
                                   unscored=model.unscored, **{n: getattr(model, n) for n in SETTING_NUMBERS})
        db.session.add(settings)
        record(None, "hygiene.settings", "village", village.id, village.id,
               after={"from": town.name} | _settings_dict(settings))
    db.session.flush()


def ensure_checklist(village_id: int) -> list[ChecklistItem]:
    """The village's checklist, the default one saved if it has none."""
    items = checklist(village_id)
    if items and items[0].id is None:
        db.session.add_all(items)
        db.session.flush()
    return items


def save_checklist(
    actor: User, village: GridNode, lines: list[tuple[int | None, str, int]], full_score: int | None = None
) -> list[ChecklistItem]:
    """The village's checklist becomes lines, in order: (id of an item kept, or None for a new one; name; most it
    deducts). Items left out are retired, not deleted: score sheets that deducted them keep their name. The items'
    maxima together stay within the full score (full_score: the one about to be set with them).

    Raises Forbidden, DomainError("checklist_empty" | "checklist_too_long" | "item_name_invalid" | "item_name_taken"
    | "max_deduction_invalid" | "full_score_too_low")."""
    policy.require(actor, policy.Permission.MANAGE_HYGIENE, village.id)
    if not lines:
        raise DomainError("checklist_empty")
    if len(lines) > MAX_ITEMS:
        raise DomainError("checklist_too_long", limit=MAX_ITEMS)
    names = [(name or "").strip() for _, name, _ in lines]
    for name in names:
        if not name or len(name) > ChecklistItem.name.type.length:
            raise DomainError("item_name_invalid", limit=ChecklistItem.name.type.length)
    if len(set(names)) != len(names):
        raise DomainError("item_name_taken")
    for _, _, most in lines:
        if not isinstance(most, int) or isinstance(most, bool) or not 1 <= most <= MAX_DEDUCTION:
            raise DomainError("max_deduction_invalid", limit=MAX_DEDUCTION)
    _check_full_score(village.id, full_score or settings_of(village.id).full_score, [most for _, _, most in lines])
    current = {item.id: item for item in checklist(village.id, with_retired=True) if item.id is not None}
    before = [(i.name, i.max_deduction) for i in current.values() if i.active]
    kept = set()
    for position, ((item_id, _, most), name) in enumerate(zip(lines, names)):
        item = current.get(item_id)
        if item is None:
            item = ChecklistItem(village_id=village.id)
            db.session.add(item)
        item.name, item.max_deduction, item.position, item.active = name, most, position, True
        kept.add(item_id)
    for item_id, item in current.items():
        if item_id not in kept:
            item.active = False
    db.session.flush()
    record(actor, "hygiene.checklist", "village", village.id, village.id,
           before={"items": before}, after={"items": [(n, m) for (_, _, m), n in zip(lines, names)]})
    return checklist(village.id)


# ---------------------------------------------------------------------------------------------------- rounds


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
    """Who may start a week's round: the village admin, and the leaders and workers of the village's grids."""
    if policy.can(actor, policy.Permission.MANAGE_HYGIENE, village_id):
        return True
    return any(policy.can_score(actor, village_id, grid.id) for grid in inspected_grids(village_id))


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
    """Why actor may not save score sheets of grid_id in this round, or None: the village admin may at any time, the
    inspecting grid's leaders and workers until the grid's results of the round are published (and the month's).

    Raises DomainError("grid_not_in_round")."""
    assignment = assignment_of(round_, grid_id)
    if policy.can(actor, policy.Permission.MANAGE_HYGIENE, round_.village_id):
        return None
    week = week_label(round_.monday)
    if policy.can_score(actor, round_.village_id, assignment.inspector_grid_id):
        if month_published(round_.village_id, round_.month):
            return DomainError("month_closed", status=409, month=month_label(round_.month))
        if assignment.published_at is not None:
            return DomainError("round_published", status=409, week=week, grid=assignment.grid.name)
        return None
    own = [a.grid.name for a in round_.assignments
           if a.inspector_grid_id is not None and policy.can_score(actor, round_.village_id, a.inspector_grid_id)]
    if own:
        return DomainError("not_your_grid", status=403, week=week, grids="、".join(own), grid=assignment.grid.name)
    inspector = assignment.inspector_grid.name if assignment.inspector_grid else gettext("村两委")
    return DomainError("not_inspector", status=403, week=week, grid=assignment.grid.name, inspector=inspector)


def require_score(actor: User, round_: InspectionRound, grid_id: int) -> None:
    """Raises the score_refusal, if there is one."""
    refusal = score_refusal(actor, round_, grid_id)
    if refusal is not None:
        raise refusal


def may_score(actor: User, round_: InspectionRound, grid_id: int) -> bool:
    found = db.session.get(Assignment, (round_.id, grid_id))
    return found is not None and score_refusal(actor, round_, grid_id) is None


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
    lines = {}
    for item_id, points in deductions.items():
        if item_id not in items:
            raise DomainError("unknown_item")
        if not isinstance(points, int) or isinstance(points, bool) or not 0 <= points <= items[item_id].max_deduction:
            raise DomainError("deduction_out_of_range", item=items[item_id].name, most=items[item_id].max_deduction)
        if points:
            lines[item_id] = points
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise DomainError("note_too_long", limit=MAX_NOTE)

    total = sum(lines.values())
    values = dict(grid_id=grid_id, deductions=total, note=note, scored_by_id=actor.id, scored_at=utcnow())
    if photo is not None:
        values["photo"] = photo
    if existing is None:
        if revision not in (None, 0):
            raise DomainError("score_changed", status=409)
        try:
            with db.session.begin_nested():
                score = Score(round_id=round_.id, household_id=household.id, revision=1, **values)
                db.session.add(score)
                db.session.flush()
        except IntegrityError:  # another inspector saved the first sheet of this household a moment ago
            raise DomainError("score_changed", status=409) from None
        before = None
    else:
        seen = existing.revision if revision is None else revision
        changed = db.session.execute(
            update(Score).where(Score.id == existing.id, Score.revision == seen)
            .values(revision=Score.revision + 1, **values)).rowcount
        if not changed:
            raise DomainError("score_changed", status=409)
        db.session.execute(delete(Deduction).where(Deduction.score_id == existing.id))
        score = db.session.get(Score, existing.id, populate_existing=True)
        before = {"deductions": existing.deductions}
    if lines:
        db.session.execute(insert(Deduction), [dict(score_id=score.id, item_id=i, points=p) for i, p in lines.items()])
    db.session.refresh(score)
    record(actor, "inspection.scored", "household", household.id, grid_id, before=before,
           after={"household": household.number, "week": round_.week, "deductions": total,
                  "items": {items[i].name: p for i, p in lines.items()}})
    return score


# ---------------------------------------------------------------------------------------------------- ranking


@dataclass(frozen=True)
class Sheet:
    household_id: int
    scored: bool
    deductions: int


@dataclass(frozen=True)
class Placing:
    household_id: int
    scored: bool
    deductions: int
    rank: int | None
    outcome: Outcome | None


def top(values: list[int], n: int, ties: TiePolicy) -> int:
    """How many of the best-first values make the first n, those tied at the cut-off all in (ALL) or all out."""
    if n <= 0:
        return 0
    if len(values) <= n or values[n] != values[n - 1]:
        return min(n, len(values))
    cutoff = values[n - 1]
    if ties is TiePolicy.ALL:
        return sum(1 for v in values if v == cutoff) + values.index(cutoff)
    return values.index(cutoff)


def shame_rule(settings: HygieneSettings) -> str:
    """The 晾晒 rule in plain words: 扣分最多的 2 户；并列时全部列出，最多 4 户 …"""
    if not settings.shame_count:
        return gettext("本村不晾晒。")
    if settings.shame_ties is TiePolicy.ALL:
        ties = gettext("并列时全部列出，最多 %(most)d 户（超过时并列的都不列）", most=settings.shame_max)
    else:
        ties = gettext("名额边上并列的都不列")
    penalty = gettext("，并按细则扣分") if settings.penalty_rule_id else ""
    return gettext("每个网格扣分最多的 %(n)d 户（有扣分的）列入晾晒名单%(penalty)s；%(ties)s。"
                   "扣分正在申诉的户，申诉处理完"
                   "之前不公开晾晒。", n=settings.shame_count, penalty=penalty, ties=ties)


def shame_cut(values: list[int], settings: HygieneSettings) -> int:
    """How many of the worst-first values are listed for 晾晒: the first shame_count, ties at the cut-off per
    shame_ties, and never more than shame_max."""
    listed = top(values, settings.shame_count, settings.shame_ties)
    return listed if listed <= settings.shame_max else top(values, settings.shame_count, TiePolicy.NONE)


def rank_grid(sheets: list[Sheet], settings: HygieneSettings) -> list[Placing]:
    """One grid's week: the fewest deductions first. The first model_count are 示范户 (fewer households: all of
    them), ties at the cut-off per settings.ties; of those with more deductions than the N-th best (and some
    deductions), the most first, the shame_count are listed for 晾晒, ties at the cut-off per settings.shame_ties but
    never more than settings.shame_max (ties that would make more are all left out). A grid without a single score
    sheet was not inspected: nobody places."""
    if not any(s.scored for s in sheets):
        return [Placing(s.household_id, False, 0, None, None) for s in sheets]
    counted = sorted((s for s in sheets if s.scored or settings.unscored is UnscoredPolicy.CLEAN),
                     key=lambda s: (s.deductions, s.household_id))
    ranks = competition_ranks([s.deductions for s in counted])
    models = top([s.deductions for s in counted], settings.model_count, settings.ties)
    # 晾晒 only below the 示范户 cut-off: a household tied with the N-th best (left out under "none") is not among
    # the worst.
    cutoff = counted[min(settings.model_count, len(counted)) - 1].deductions if settings.model_count and counted else 0
    rest = sorted((s for s in counted[models:] if s.deductions > cutoff), key=lambda s: (-s.deductions, s.household_id))
    shamed = {s.household_id for s in rest[: shame_cut([-s.deductions for s in rest], settings)]}
    placings = [
        Placing(s.household_id, s.scored, s.deductions, rank,
                Outcome.MODEL if index < models else Outcome.SHAME if s.household_id in shamed else None)
        for index, (s, rank) in enumerate(zip(counted, ranks))
    ]
    placed = {s.household_id for s in counted}
    left_out = [Placing(s.household_id, False, 0, None, None) for s in sheets if s.household_id not in placed]
    return placings + sorted(left_out, key=lambda p: p.household_id)


# ---------------------------------------------------------------------------------------------------- publishing


@dataclass(frozen=True)
class Award:
    amount: int
    grid_id: int
    note: str
    rule_version: RuleVersion | None = None


def publish_round(
    actor: User, round_: InspectionRound, grid_id: int | None = None, client_key: str | None = None,
    early: bool = False,
) -> Publication:
    """Publish one grid's results of the round (grid_id), or every grid's (the village admin): rank each grid,
    keep the results, and bring the ledger to them: the 示范户 award and the 晾晒 penalty posted once, and a
    household whose outcome a correction changed has its entry reversed and, if it still earns one, re-posted.
    Publishing unchanged results again posts nothing. A grid with no score sheet is left unpublished.

    The week's results are final once it is over: before, a grid is published only when all its households are
    scored, or by the village admin's explicit early (提前发布), audited with the households still unscored.

    Raises Forbidden, DomainError("grid_not_in_round" | "week_not_over" | "early_admin_only" |
    "idempotency_key_reused" | …the ledger's)."""
    period = "W" + round_.week
    repeat = _earlier_publication(actor, client_key, round_.village_id, period, grid_id)
    if repeat is not None:
        return repeat
    assignments = [assignment_of(round_, grid_id)] if grid_id is not None else list(round_.assignments)
    if grid_id is None:  # the village admin, who may publish every grid
        policy.require(actor, policy.Permission.MANAGE_HYGIENE, round_.village_id)
    elif not policy.can_publish(actor, round_.village_id, assignments[0].inspector_grid_id):
        raise Forbidden()
    grid_ids = [a.grid_id for a in assignments]
    # The first write of the publication: it waits for (and so follows) any other publication of these grids.
    db.session.execute(update(Assignment).where(Assignment.round_id == round_.id, Assignment.grid_id.in_(grid_ids))
                       .values(publications=Assignment.publications + 1))
    settings = settings_of(round_.village_id)
    sheets = _sheets(round_, grid_ids)
    published = [g for g in grid_ids if any(s.scored for s in sheets[g])]
    unscored = _early(actor, round_, {a.grid_id: a.grid.name for a in assignments if a.grid_id in published},
                      sheets, early)
    placings = {g: rank_grid(sheets[g], settings) for g in published}
    # A household placed here may still have a place (and postings) elsewhere in the round: listed unscored in the
    # grid it has since moved out of. Its place and outcome move with it, so that it places once.
    placed = _placed(round_.id, published)

    db.session.execute(delete(Result).where(Result.round_id == round_.id,
                                            Result.grid_id.in_(published) | Result.household_id.in_(placed)))
    rows = [dict(round_id=round_.id, household_id=p.household_id, grid_id=g, scored=p.scored, deductions=p.deductions,
                 score=settings.full_score - p.deductions if p.rank is not None else 0, rank=p.rank, outcome=p.outcome)
            for g in published for p in placings[g]]
    if rows:
        # render_nulls: the ORM otherwise leaves out a None outcome or rank, and splits the rows into a statement
        # per run of rows with and without one (two per grid).
        db.session.execute(insert(Result), rows, execution_options={"render_nulls": True})

    day = min(round_.monday + timedelta(days=6), local_today())
    penalty = _penalty_version(settings, day)
    shamed = [r["household_id"] for r in rows if r["outcome"] is Outcome.SHAME]
    kinds = dict(db.session.execute(select(Household.id, Household.kind).where(Household.id.in_(shamed))).all())
    desired, name = {}, period_name(period)
    for g in published:
        for p in placings[g]:
            if p.outcome is Outcome.MODEL and settings.model_points:
                desired[(p.household_id, Outcome.MODEL)] = Award(settings.model_points, g, f"{name} 卫生保洁示范户")
            elif p.outcome is Outcome.SHAME and penalty is not None and penalty.applies_to(kinds[p.household_id]):
                desired[(p.household_id, Outcome.SHAME)] = Award(penalty.points, g, f"{name} 卫生评比晾晒", penalty)
    posted, reversed_ = _settle(actor, round_.village_id, period, published, desired, day, placed)
    now = utcnow()
    for assignment in assignments:
        if assignment.grid_id in published:
            assignment.published_at, assignment.published_by_id = now, actor.id
    return _publication(actor, client_key, round_.village_id, period, grid_id, posted, reversed_,
                        subject=("inspection_round", round_.id), grids=len(published), unscored=unscored)


def week_over(round_: InspectionRound) -> bool:
    return local_today() > round_.monday + timedelta(days=6)


def unscored_text(unscored: dict[str, int]) -> str:
    """第三网格还有 149 户没有评分，第一网格还有 3 户没有评分."""
    return gettext("，").join(gettext("%(grid)s还有 %(n)d 户没有评分", grid=name, n=n) for name, n in unscored.items())


def _early(actor: User, round_: InspectionRound, names: dict[int, str], sheets: dict[int, list[Sheet]],
           early: bool) -> dict[str, int]:
    """Grid name → its households without a sheet, for grids published before the week is over (提前发布), once the
    admin chose to; raises the refusal otherwise."""
    if week_over(round_):
        return {}
    unscored = {names[g]: n for g in names if (n := sum(1 for s in sheets[g] if not s.scored))}
    if not unscored:
        return {}
    params = dict(week=week_label(round_.monday), end=day_label(round_.monday + timedelta(days=6)),
                  unscored=unscored_text(unscored))
    if not policy.can(actor, policy.Permission.MANAGE_HYGIENE, round_.village_id):
        raise DomainError("early_admin_only", status=403, **params)
    if not early:
        raise DomainError("week_not_over", status=409, **params)
    return unscored


def _placed(round_id: int, grid_ids: list[int]):
    """A query of the households _sheets places in grid_ids: scored there, or living there without a sheet; on the
    register."""
    sheet_of = select(Score.id).where(Score.round_id == round_id, Score.household_id == Household.id).exists()
    return union(select(Score.household_id).join(Household, Household.id == Score.household_id)
                 .where(Score.round_id == round_id, Score.grid_id.in_(grid_ids), Household.closed_on.is_(None)),
                 select(Household.id).where(Household.grid_id.in_(grid_ids), Household.closed_on.is_(None), ~sheet_of))


def _sheets(round_: InspectionRound, grid_ids: list[int]) -> dict[int, list[Sheet]]:
    """Per grid: the sheets inspected there this round, and the grid's households that have none; a household that
    left the register (整户迁出) is in no ranking made after it left."""
    sheets: dict[int, list[Sheet]] = {g: [] for g in grid_ids}
    scored = set()
    for household_id, grid_id, deductions, closed_on in db.session.execute(
        select(Score.household_id, Score.grid_id, Score.deductions, Household.closed_on)
        .join(Household, Household.id == Score.household_id).where(Score.round_id == round_.id)
    ):
        scored.add(household_id)
        if grid_id in sheets and closed_on is None:
            sheets[grid_id].append(Sheet(household_id, True, deductions))
    for household_id, grid_id in db.session.execute(
        select(Household.id, Household.grid_id).where(Household.grid_id.in_(grid_ids), Household.closed_on.is_(None))
    ):
        if household_id not in scored:
            sheets[grid_id].append(Sheet(household_id, False, 0))
    return sheets


def _penalty_version(settings: HygieneSettings, day: date) -> RuleVersion | None:
    if settings.penalty_rule_id is None or not settings.shame_count:
        return None
    version = version_in_force(settings.penalty_rule_id, day)
    return version if version is not None and version.points < 0 else None


def _settle(
    actor: User, village_id: int, period: str, grid_ids: list[int] | None, desired: dict, day: date,
    households=None,
) -> tuple[int, int]:
    """Bring the entries published for period (in grid_ids, and wherever for the households query; grid_ids None:
    the whole village) to desired: (household, outcome) → Award. An entry that no longer matches is reversed; a
    missing one is posted, under a key that counts the household's earlier postings of that outcome, so that a
    re-post after a reversal is a new entry and a retry of the same publication is not. The ledger posts them all in
    one batch."""
    query = select(Posting).where(Posting.village_id == village_id, Posting.period == period)
    if grid_ids is not None:
        placed = Posting.household_id.in_(households) if households is not None else false()
        query = query.where(Posting.grid_id.in_(grid_ids) | placed)
    postings = list(db.session.scalars(query.options(joinedload(Posting.entry))
                                       .order_by(Posting.household_id, Posting.id)))
    # What a household that has left the register was given stays with it: it is out of the rankings from then on,
    # which takes nothing back.
    closed = set(db.session.scalars(select(Household.id).where(
        Household.id.in_({p.household_id for p in postings}), Household.closed_on.is_not(None)))) if postings else set()
    earlier = defaultdict(int)
    keep, withdraw = set(), []
    for posting in postings:
        earlier[(posting.household_id, posting.outcome)] += 1
        if posting.reversal_id is not None or posting.household_id in closed:
            continue
        want = desired.get((posting.household_id, posting.outcome))
        entry = posting.entry
        if want is not None and (want.amount, want.grid_id, want.rule_version and want.rule_version.id) == (
            entry.amount, posting.grid_id, entry.rule_version_id
        ):
            keep.add((posting.household_id, posting.outcome))
        else:
            withdraw.append(posting)
    # Per household, the reversal before the re-post: a household's entries keep the order they happened in.
    changes = sorted([(p.household_id, 0, p) for p in withdraw] +
                     [(h, 1, (h, o)) for (h, o) in desired if (h, o) not in keep], key=lambda c: (c[0], c[1]))
    movements = []
    for household_id, is_post, item in changes:
        if not is_post:
            movements.append(reversal_of(item.entry_id, f"hygiene-undo:{item.entry_id}",
                                         f"{period_name(period)} 评比更正",
                                         correction=True))
            continue
        award = desired[item]
        key = f"hygiene:{village_id}:{period}:{item[1].value}:{household_id}:{earlier[item]}"
        movements.append(Movement(household_id, award.amount, EntrySource.INSPECTION, key,
                                  rule_version=award.rule_version, category=RuleCategory.HYGIENE, note=award.note,
                                  occurred_on=day))
    entries = post_entries(movements, actor)
    rows = []
    for (household_id, is_post, item), entry in zip(changes, entries):
        if is_post:
            rows.append(dict(village_id=village_id, period=period, household_id=household_id, outcome=item[1],
                             grid_id=desired[item].grid_id, entry_id=entry.id))
        else:
            item.reversal_id = entry.id
    if rows:
        db.session.execute(insert(Posting), rows)
    db.session.flush()
    return len(rows), len(withdraw)


def period_name(period: str) -> str:
    """A period as the notes of its entries and the exports name it, in Chinese whatever the page's language (notes
    are stored): 2026年12月第2周 for W2026-W50, 2026-12 for M2026-12."""
    if period.startswith("M"):
        return period[1:]
    return "{}年{}月第{}周".format(*month_week(parse_week(period[1:])))


def _earlier_publication(actor: User, client_key: str | None, village_id: int, period: str,
                         grid_id: int | None) -> Publication | None:
    if not client_key:
        return None
    found = db.session.scalar(select(Publication).where(Publication.actor_id == actor.id,
                                                        Publication.client_key == client_key))
    if found is not None and (found.village_id, found.period, found.grid_id) != (village_id, period, grid_id):
        raise DomainError("idempotency_key_reused", status=409)
    return found


def _publication(actor: User, client_key: str | None, village_id: int, period: str, grid_id: int | None,
                 posted: int, reversed_: int, subject: tuple[str, int], grids: int,
                 unscored: dict[str, int] | None = None) -> Publication:
    """Keeps and audits the publication; unscored (grid name → households without a sheet): published early."""
    publication = Publication(village_id=village_id, period=period, grid_id=grid_id, actor_id=actor.id,
                              client_key=client_key, posted=posted, reversed=reversed_)
    db.session.add(publication)
    db.session.flush()
    after = {"period": period, "grids": grids, "posted": posted, "reversed": reversed_}
    if unscored:
        # Stored as the log shows it, in Chinese as the entries' notes are: 第三网格 149 户、第四网格 2 户.
        after |= {"early": True, "unscored_households": [f"{name} {n} 户" for name, n in unscored.items()]}
    record(actor, "hygiene.published_early" if unscored else "hygiene.published", subject[0], subject[1],
           grid_id or village_id, after=after)
    return publication


# ---------------------------------------------------------------------------------------------------- the month


def publish_month(actor: User, village: GridNode, month: str, client_key: str | None = None) -> MonthlySummary:
    """每月汇总: each household's monthly total is the sum of its published weekly scores of the month's rounds (a
    week it was left out of adds nothing); it counts in the grid it belongs to now. Per grid, the highest total
    (ties per settings.ties) holds the 流动红旗 and gets flag_points. Publishing again after a correction reverses
    and re-posts only what changed. A month is summed up once it is over and every week of it published.

    Raises Forbidden, DomainError("invalid_month" | "month_in_future" | "month_not_over" | "month_weeks_unpublished"
    | "idempotency_key_reused" | …the ledger's)."""
    policy.require(actor, policy.Permission.MANAGE_HYGIENE, village.id)
    first, last = parse_month(month)
    month = f"{first.year}-{first.month:02d}"
    refusal = month_refusal(village.id, month)
    if refusal is not None:
        raise refusal
    period = "M" + month
    repeat = _earlier_publication(actor, client_key, village.id, period, None)
    if repeat is not None:
        return db.session.scalar(select(MonthlySummary).where(MonthlySummary.village_id == village.id,
                                                              MonthlySummary.month == month))
    try:
        with db.session.begin_nested():
            db.session.add(MonthlySummary(village_id=village.id, month=month, published_by_id=actor.id))
            db.session.flush()
    except IntegrityError:
        pass
    # The write that serializes two publications of one month.
    db.session.execute(update(MonthlySummary).where(MonthlySummary.village_id == village.id,
                                                    MonthlySummary.month == month)
                       .values(publications=MonthlySummary.publications + 1, published_at=utcnow(),
                               published_by_id=actor.id))
    summary = db.session.scalar(select(MonthlySummary).where(MonthlySummary.village_id == village.id,
                                                             MonthlySummary.month == month))
    settings = settings_of(village.id)
    totals = db.session.execute(
        select(Result.household_id, Household.grid_id, func.sum(Result.score), func.count(Result.rank))
        .join(InspectionRound, Result.round_id == InspectionRound.id)
        .join(Household, Result.household_id == Household.id)
        .where(InspectionRound.village_id == village.id, InspectionRound.month == month, Result.rank.is_not(None),
               Household.closed_on.is_(None))
        .group_by(Result.household_id, Household.grid_id)
    ).all()
    by_grid = defaultdict(list)
    for household_id, grid_id, total, weeks in totals:
        by_grid[grid_id].append((int(total), weeks, household_id))
    db.session.execute(delete(MonthlyResult).where(MonthlyResult.summary_id == summary.id))
    rows, desired = [], {}
    for grid_id, lines in by_grid.items():
        lines.sort(key=lambda line: (-line[0], line[2]))
        ranks = competition_ranks([-line[0] for line in lines])
        holders = top([-line[0] for line in lines], 1, settings.ties)
        for index, ((total, weeks, household_id), rank) in enumerate(zip(lines, ranks)):
            flag = index < holders
            rows.append(dict(summary_id=summary.id, household_id=household_id, grid_id=grid_id, total=total,
                             weeks=weeks, rank=rank, flag=flag))
            if flag and settings.flag_points:
                desired[(household_id, Outcome.FLAG)] = Award(settings.flag_points, grid_id,
                                                              f"{month} 环境卫生流动红旗")
    if rows:
        db.session.execute(insert(MonthlyResult), rows)
    posted, reversed_ = _settle(actor, village.id, period, None, desired, min(last, local_today()))
    _publication(actor, client_key, village.id, period, None, posted, reversed_,
                 subject=("monthly_summary", summary.id), grids=len(by_grid))
    return summary


def month_refusal(village_id: int, month: str) -> DomainError | None:
    """Why the month (2026-11) cannot be summed up yet, or None: its last week has not ended, or a grid's week of it
    with score sheets is not published."""
    first = parse_month(month)[0]
    if first > local_today():
        return DomainError("month_in_future")
    end = month_weeks_end(month)
    if end >= local_today():
        return DomainError("month_not_over", status=409, month=month_label(month), end=day_label(end))
    sheet_of = select(Score.id).where(Score.round_id == Assignment.round_id, Score.grid_id == Assignment.grid_id)
    waiting = defaultdict(list)
    for monday, name in db.session.execute(
        select(InspectionRound.monday, GridNode.name).join(Assignment, Assignment.round_id == InspectionRound.id)
        .join(GridNode, GridNode.id == Assignment.grid_id)
        .where(InspectionRound.village_id == village_id, InspectionRound.month == month,
               Assignment.published_at.is_(None), sheet_of.exists())
        .order_by(InspectionRound.monday, GridNode.id)
    ):
        waiting[monday].append(name)
    if not waiting:
        return None
    weeks = "；".join(gettext("%(week)s（%(grids)s）", week=week_label(monday), grids="、".join(names))
                     for monday, names in waiting.items())
    return DomainError("month_weeks_unpublished", status=409, month=month_label(month), weeks=weeks)


@blocks_retirement
def _rounds_left(node_ids: Select) -> list[str]:
    """A grid is retired once no round waits for its results, as the inspected grid or the inspecting one."""
    count = db.session.scalar(select(func.count(func.distinct(Assignment.round_id))).where(
        or_(Assignment.grid_id.in_(node_ids), Assignment.inspector_grid_id.in_(node_ids)),
        Assignment.published_at.is_(None)))
    return [gettext("%(n)d 轮未发布的卫生评比", n=count)] if count else []
