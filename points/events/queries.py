"""What `flask --app points verify` checks of events: each event's count of attendees is its attendance rows, and
no event has more attendees than its capacity."""
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from ..extensions import db
from .models import Attendance, Event


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
