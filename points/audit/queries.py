"""Reading the audit log, newest first, within what the reader may see."""
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..limits import MAX_PAGE
from ..paging import Page
from ..timeutil import LOCAL
from .models import AuditEvent


def _utc(day: date) -> datetime:
    """The instant the local (Asia/Shanghai) day begins, as the naive UTC the log stores."""
    return datetime.combine(day, time(), LOCAL).astimezone(UTC).replace(tzinfo=None)


def search_events(
    visible: ColumnElement[bool],
    action: str = "",
    actor: str = "",
    start: date | None = None,
    end: date | None = None,
    subject_type: str = "",
    subject_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """Events the reader may see, filtered by action, actor's username, local days start..end inclusive, and
    subject."""
    page = min(max(1, page), MAX_PAGE)
    where = [visible]
    if action:
        where.append(AuditEvent.action == action)
    if actor:
        where.append(AuditEvent.actor.has(username=actor))
    if start:
        where.append(AuditEvent.created_at >= _utc(start))
    if end:
        where.append(AuditEvent.created_at < _utc(end + timedelta(days=1)))
    if subject_type:
        where.append(AuditEvent.subject_type == subject_type)
    if subject_id:
        where.append(AuditEvent.subject_id == subject_id)
    total = db.session.scalar(select(func.count()).select_from(AuditEvent).where(*where))
    items = db.session.scalars(
        select(AuditEvent)
        .where(*where)
        .options(selectinload(AuditEvent.actor))
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total, page, per_page)
