"""Reads of events: which events a user sees, the same on the pages and in the API; and what `flask --app points
verify` checks of them: each event's count of attendees is its attendance rows, and no event has more attendees than
its capacity."""
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, func, or_, select

from ..auth import policy
from ..auth.models import User
from ..errors import Forbidden, NotFound
from ..extensions import db
from ..grids.models import GridNode
from ..people.models import Household
from ..timeutil import utcnow
from .models import Attendance, Event


def visible_filter(user: User, as_villager: bool = False) -> ColumnElement[bool]:
    """The events user sees in a list: those they organize; a villager's, those of their village as a whole and of
    their own grid (the ones they may check in to); staff's, those of the villages in, above or around their
    scopes. as_villager: only the first two, for 我的活动, even of a villager who is staff too."""
    own = policy.own_household_id(user)
    conditions = [] if as_villager else [Event.organizer_id == user.id]
    if own is not None:
        household = db.session.get(Household, own)
        conditions.append(and_(Event.village_id == household.village_id,
                               or_(Event.grid_id.is_(None), Event.grid_id == household.grid_id)))
    scopes = [] if as_villager else policy.scope_ids(user, policy.Permission.VIEW_GRIDS)
    if scopes:
        conditions.append(policy.node_filter(user, policy.Permission.VIEW_GRIDS, Event.village_id))
        conditions.append(Event.village_id.in_(select(GridNode.village_id).where(GridNode.id.in_(scopes))))
    return or_(*conditions) if conditions else false()


def visible_events(user: User, village_id: int, past: int = 50, as_villager: bool = False
                   ) -> tuple[list[Event], list[Event]]:
    """The village's events user sees (as_villager: as visible_filter), (those still open, soonest first; the last
    past ones, latest first)."""
    query = select(Event).where(Event.village_id == village_id, visible_filter(user, as_villager))
    now = utcnow()
    upcoming = db.session.scalars(query.where(Event.ends_at >= now, Event.closed_at.is_(None))
                                  .order_by(Event.starts_at)).all()
    done = db.session.scalars(query.where((Event.ends_at < now) | Event.closed_at.is_not(None))
                              .order_by(Event.starts_at.desc()).limit(past)).all()
    return list(upcoming), list(done)


def visible_event(user: User, event_id: int) -> Event:
    """One event, for whoever sees its village or runs it. Raises NotFound, Forbidden."""
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound()
    if not (policy.can_see_village(user, event.village_id)
            or policy.can_run_event(user, event.village_id, event.organizer_id)):
        raise Forbidden()
    return event


@dataclass(frozen=True)
class AttendanceMismatch:
    event_id: int
    attendees: int  # the count the event keeps
    rows: int  # its attendance rows, less those removed
    capacity: int | None


def attendance_mismatches() -> Iterator[AttendanceMismatch]:
    """Every event whose count disagrees with its attendance rows (those the organizer has not removed), or which
    holds more than its capacity, by id."""
    rows = (select(Attendance.event_id, func.count().label("rows")).where(Attendance.removed_at.is_(None))
            .group_by(Attendance.event_id).subquery())
    counted = func.coalesce(rows.c.rows, 0)
    found = db.session.execute(
        select(Event.id, Event.attendees, counted, Event.capacity)
        .outerjoin(rows, rows.c.event_id == Event.id)
        .where(or_(Event.attendees != counted, Event.attendees > Event.capacity))
        .order_by(Event.id)
    )
    for event_id, attendees, counted_rows, capacity in found:
        yield AttendanceMismatch(event_id, attendees, int(counted_rows), capacity)


def event_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Event))
