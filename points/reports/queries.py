"""Read-only queries on 民情诉求: a household's own, the staff's tabs, the public counts per grid, and what voiding
one would take back."""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..grids.queries import grids_of_village
from ..ledger.models import DutyRecord, LedgerEntry
from ..limits import MAX_PAGE
from ..paging import Page
from .models import DONE_STATUSES, OPEN_STATUSES, Report, ReportStatus


def _page(where: list, order, page: int, per_page: int) -> Page:
    page = min(max(1, page), MAX_PAGE)
    total = db.session.scalar(select(func.count()).select_from(Report).where(*where))
    items = db.session.scalars(
        select(Report).where(*where).options(selectinload(Report.category), selectinload(Report.photos),
                                             selectinload(Report.grid), selectinload(Report.household))
        .order_by(*order).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total, page, per_page)


NEWEST = (Report.created_at.desc(), Report.id.desc())


def reporter_reports(household_id: int | None, user_id: int, page: int = 1, per_page: int = 20) -> Page:
    """The reports of a villager's household, and those the user filed (代报), newest first."""
    mine = Report.submitted_by_id == user_id
    where = or_(Report.household_id == household_id, mine) if household_id is not None else mine
    return _page([where], NEWEST, page, per_page)


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """超期, as Report.is_overdue says."""
    waiting = (Report.status == ReportStatus.SUBMITTED) & or_(Report.deadline_at < now, Report.escalations > 0)
    return waiting | ((Report.status == ReportStatus.ACCEPTED) & (Report.due_at < now))


def staff_reports(in_scope: ColumnElement[bool], tab: str, user_id: int, now: datetime, page: int = 1,
                  per_page: int = 20) -> Page:
    """A staff member's tab: "mine" (accepted by them and not closed), "grid" (everything in scope, the open ones
    first), "overdue"."""
    where = [in_scope]
    order = NEWEST
    if tab == "mine":
        where += [Report.handler_id == user_id, Report.status.in_((ReportStatus.ACCEPTED, ReportStatus.FINISHED))]
        order = (Report.due_at, Report.id)
    elif tab == "overdue":
        where.append(overdue_clause(now))
        order = (Report.created_at, Report.id)
    else:
        waiting = Report.status.in_(OPEN_STATUSES)
        order = (waiting.desc(), *NEWEST)
    return _page(where, order, page, per_page)


@dataclass(frozen=True)
class GridCount:
    grid_id: int
    name: str
    open: int
    done: int


def public_counts(village_id: int) -> list[GridCount]:
    """Per grid of the village, how many reports wait (待受理, 已受理) and how many were done (已办结, 已回访):
    numbers only."""
    rows = db.session.execute(
        select(Report.grid_id, Report.status, func.count()).where(Report.village_id == village_id)
        .group_by(Report.grid_id, Report.status)
    ).all()
    counts: dict[int, list[int]] = {}
    for grid_id, status, n in rows:
        pair = counts.setdefault(grid_id, [0, 0])
        if status in OPEN_STATUSES:
            pair[0] += n
        elif status in DONE_STATUSES:
            pair[1] += n
    return [GridCount(g.id, g.name, *counts.get(g.id, [0, 0])) for g in grids_of_village(village_id)]


@dataclass(frozen=True)
class AtStake:
    """What voiding a report takes back: the reporter's points and the handler's duty points."""

    reward: int
    duty: int


def at_stake(report: Report) -> AtStake:
    reward = db.session.scalar(select(LedgerEntry.amount).where(LedgerEntry.id == report.reward_entry_id)) \
        if report.reward_entry_id else 0
    duty = db.session.scalar(select(DutyRecord.amount).where(DutyRecord.idempotency_key == f"report:{report.id}:duty"))
    return AtStake(reward or 0, duty or 0)


def visible_reports(in_scope: ColumnElement[bool], household_id: int | None, user_id: int,
                    status: ReportStatus | None, page: int = 1, per_page: int = 20) -> Page:
    """The reports a user may see (the staff's scope, and their own as a reporter), newest first."""
    seen = [in_scope, Report.submitted_by_id == user_id]
    if household_id is not None:
        seen.append(Report.household_id == household_id)
    where = [or_(*seen)]
    if status is not None:
        where.append(Report.status == status)
    return _page(where, NEWEST, page, per_page)
