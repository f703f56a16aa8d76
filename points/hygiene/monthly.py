"""每月汇总: a village's month summed up from its published weeks, and each grid's 流动红旗. Functions flush and
never commit."""
from collections import defaultdict

from flask_babel import gettext
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..auth import policy
from ..auth.models import User
from ..errors import DomainError
from ..extensions import db
from ..grids.models import GridNode
from ..people.models import Household
from ..periods import day_label, month_label, month_weeks_end, parse_month, week_label
from ..ranking import competition_ranks
from ..timeutil import local_today, utcnow
from .models import Assignment, InspectionRound, MonthlyResult, MonthlySummary, Outcome, Result, Score
from .postings import Award, earlier_publication, record_publication, settle_postings
from .publishing import top
from .queries import summary_of
from .village_settings import settings_of


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
    repeat = earlier_publication(actor, client_key, village.id, period, None)
    if repeat is not None:
        return summary_of(village.id, month)
    summary = _summary_to_publish(actor, village.id, month)
    settings = settings_of(village.id)
    by_grid = _totals_by_grid(village.id, month)
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
    posted, reversed_ = settle_postings(actor, village.id, period, None, desired, min(last, local_today()))
    record_publication(actor, client_key, village.id, period, None, posted, reversed_,
                       subject=("monthly_summary", summary.id), grids=len(by_grid))
    return summary


def _summary_to_publish(actor: User, village_id: int, month: str) -> MonthlySummary:
    """The month's summary, made the first time it is published, with this publication counted."""
    try:
        with db.session.begin_nested():
            db.session.add(MonthlySummary(village_id=village_id, month=month, published_by_id=actor.id))
            db.session.flush()
    except IntegrityError:
        pass
    # The write that serializes two publications of one month.
    db.session.execute(update(MonthlySummary).where(MonthlySummary.village_id == village_id,
                                                    MonthlySummary.month == month)
                       .values(publications=MonthlySummary.publications + 1, published_at=utcnow(),
                               published_by_id=actor.id))
    return summary_of(village_id, month)


def _totals_by_grid(village_id: int, month: str) -> dict[int, list[tuple[int, int, int]]]:
    """Grid → (monthly total, weeks counted, household) of each household on the register that placed in a published
    week of the month, counted in the grid it belongs to now."""
    totals = db.session.execute(
        select(Result.household_id, Household.grid_id, func.sum(Result.score), func.count(Result.rank))
        .join(InspectionRound, Result.round_id == InspectionRound.id)
        .join(Household, Result.household_id == Household.id)
        .where(InspectionRound.village_id == village_id, InspectionRound.month == month, Result.rank.is_not(None),
               Household.closed_on.is_(None))
        .group_by(Result.household_id, Household.grid_id)
    ).all()
    by_grid = defaultdict(list)
    for household_id, grid_id, total, weeks in totals:
        by_grid[grid_id].append((int(total), weeks, household_id))
    return by_grid


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
    weeks = "；".join(gettext("%(week)s（%(grids)s）", week=week_label(monday, dates=False), grids="、".join(names))
                     for monday, names in waiting.items())
    return DomainError("month_weeks_unpublished", status=409, month=month_label(month), weeks=weeks)
