"""Publishing a week of 卫生评比: each grid ranked (示范户 and 晾晒), its results kept, and the awards and penalties
posted through the ledger. Functions flush and never commit."""
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext
from sqlalchemy import delete, insert, select, union, update

from ..auth import policy
from ..auth.models import User
from ..errors import DomainError, Forbidden
from ..extensions import db
from ..people.models import Household
from ..periods import day_label, week_label
from ..ranking import competition_ranks
from ..rules.models import RuleVersion
from ..rules.queries import version_in_force
from ..timeutil import local_today, utcnow
from .inspection import assignment_of
from .models import (
    Assignment,
    HygieneSettings,
    InspectionRound,
    Outcome,
    Publication,
    Result,
    Score,
    TiePolicy,
    UnscoredPolicy,
)
from .postings import Award, earlier_publication, period_name, record_publication, settle_postings
from .village_settings import settings_of

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
    repeat = earlier_publication(actor, client_key, round_.village_id, period, grid_id)
    if repeat is not None:
        return repeat
    assignments = _publishable(actor, round_, grid_id)
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
    _keep_results(round_.id, placings, settings, placed)
    day = min(round_.monday + timedelta(days=6), local_today())
    desired = _awards(period, placings, settings, day)
    posted, reversed_ = settle_postings(actor, round_.village_id, period, published, desired, day, placed)
    now = utcnow()
    for assignment in assignments:
        if assignment.grid_id in published:
            assignment.published_at, assignment.published_by_id = now, actor.id
    return record_publication(actor, client_key, round_.village_id, period, grid_id, posted, reversed_,
                              subject=("inspection_round", round_.id), grids=len(published), unscored=unscored)


def _publishable(actor: User, round_: InspectionRound, grid_id: int | None) -> list[Assignment]:
    """The grids actor publishes: grid_id (the village admin or its inspecting grid's leader), or every grid (the
    village admin). Raises Forbidden, DomainError("grid_not_in_round")."""
    assignments = [assignment_of(round_, grid_id)] if grid_id is not None else list(round_.assignments)
    if grid_id is None:  # the village admin, who may publish every grid
        policy.require(actor, policy.Permission.MANAGE_HYGIENE, round_.village_id)
    elif not policy.can_publish(actor, round_.village_id, assignments[0].inspector_grid_id):
        raise Forbidden()
    return assignments


def _keep_results(round_id: int, placings: dict[int, list[Placing]], settings: HygieneSettings, placed) -> None:
    """The round's results of the grids published (placings: grid → its placings) replace those kept before, there
    and wherever the households placed (a query) were placed before."""
    db.session.execute(delete(Result).where(Result.round_id == round_id,
                                            Result.grid_id.in_(list(placings)) | Result.household_id.in_(placed)))
    rows = [dict(round_id=round_id, household_id=p.household_id, grid_id=g, scored=p.scored, deductions=p.deductions,
                 score=settings.full_score - p.deductions if p.rank is not None else 0, rank=p.rank, outcome=p.outcome)
            for g, grid_placings in placings.items() for p in grid_placings]
    if rows:
        # render_nulls: the ORM otherwise leaves out a None outcome or rank, and splits the rows into a statement
        # per run of rows with and without one (two per grid).
        db.session.execute(insert(Result), rows, execution_options={"render_nulls": True})


def _awards(period: str, placings: dict[int, list[Placing]], settings: HygieneSettings,
            day: date) -> dict[tuple[int, Outcome], Award]:
    """(household, outcome) → what the week's placings earn: the 示范户 award, and the 晾晒 penalty of the rule in
    force on day, for the kinds of household it applies to."""
    penalty = _penalty_version(settings, day)
    shamed = [p.household_id for grid_placings in placings.values() for p in grid_placings
              if p.outcome is Outcome.SHAME]
    kinds = dict(db.session.execute(select(Household.id, Household.kind).where(Household.id.in_(shamed))).all())
    desired, name = {}, period_name(period)
    for g, grid_placings in placings.items():
        for p in grid_placings:
            if p.outcome is Outcome.MODEL and settings.model_points:
                desired[(p.household_id, Outcome.MODEL)] = Award(settings.model_points, g, f"{name} 卫生保洁示范户")
            elif p.outcome is Outcome.SHAME and penalty is not None and penalty.applies_to(kinds[p.household_id]):
                desired[(p.household_id, Outcome.SHAME)] = Award(penalty.points, g, f"{name} 卫生评比晾晒", penalty)
    return desired


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
