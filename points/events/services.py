"""志愿活动: create and repeat events, the village's settings of them, and closing an event into the ledger. Check-in
codes, check-in and check-out are in checkins.py. Functions flush and never commit."""
import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from ..audit.services import record
from ..auth import policy
from ..auth.models import User
from ..errors import DomainError, Forbidden
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..grids.services import blocks_retirement
from ..ledger.models import EntrySource
from ..ledger.services import MAX_QUANTITY, post_entry
from ..periods import next_month
from ..rules.models import Rule, RuleUnit, RuleVersion
from ..rules.queries import version_in_force
from ..timeutil import local_to_utc, utc_to_local, utcnow
from .models import CHECKOUT_AFTER_MINUTES, Attendance, CheckinMode, Event, EventSeries, EventSettings

OPENS_BEFORE = timedelta(minutes=30)  # check-in opens this long before the start, and closes at the end
MAX_FENCE = 100_000  # metres: a village's fence is at most this wide
MISSING_CHECKOUT_HOURS = 1  # per-hour points for someone who checked in but never out: this many hours
MAX_CHECKOUT_AFTER = 720  # minutes: a village offers 签退 at most this long after check-in
MAX_SERIES_MONTHS = 24


@dataclass(frozen=True)
class EventTerms:
    """What an event says, as the form or the API gives it; times are local (Asia/Shanghai)."""

    title: str
    place: str
    starts: datetime
    ends: datetime
    rule_id: int
    mode: CheckinMode = CheckinMode.IN
    capacity: int | None = None
    grid_id: int | None = None
    organizer_id: int | None = None
    latitude: float | None = None  # where it takes place, as a phone gives it; both or neither
    longitude: float | None = None


# ---------------------------------------------------------------------------------------------------- events


def create_event(actor: User, village: GridNode, terms: EventTerms, series: EventSeries | None = None) -> Event:
    """Raises Forbidden, DomainError("event_title_required" | "event_ends_before_start" | "invalid_capacity" |
    "event_rule_required" | "unknown_rule" | "rule_not_an_award" | "invalid_grid" | "unknown_organizer")."""
    policy.require(actor, policy.Permission.MANAGE_EVENTS, village.id)
    event = Event(village_id=village.id, series_id=series.id if series else None)
    _apply_terms(event, village, terms)
    db.session.add(event)
    db.session.flush()
    record(actor, "event.created", "event", event.id, event.grid_id or village.id, after=_summary(event))
    return event


def update_event(actor: User, event: Event, terms: EventTerms) -> Event:
    """Raises what create_event raises, and DomainError("event_closed" | "capacity_below_attendees" |
    "event_series_clash")."""
    policy.require(actor, policy.Permission.MANAGE_EVENTS, event.village_id)
    _lock(event)
    if event.closed_at is not None:
        raise DomainError("event_closed", status=409)
    before = _summary(event)
    _apply_terms(event, event.village, terms)
    if event.capacity is not None and event.capacity < event.attendees:
        raise DomainError("capacity_below_attendees", attendees=event.attendees)
    with db.session.no_autoflush:  # the event's new time is not written before it is known to be free
        clash = event.series_id is not None and db.session.scalar(select(Event.id).where(
            Event.series_id == event.series_id, Event.starts_at == event.starts_at, Event.id != event.id))
    if clash:
        raise DomainError("event_series_clash", status=409)
    db.session.flush()
    record(actor, "event.updated", "event", event.id, event.grid_id or event.village_id, before=before,
           after=_summary(event))
    return event


def _lock(event: Event) -> None:
    """The event's row locked until the transaction ends, and its count and state read under the lock: an UPDATE that
    writes the count as it is (on SQLite a write takes the database's write lock before anything is read; on
    PostgreSQL the row is locked). A check-in racing an edit then either counts before the edit reads the count, or
    waits and meets the new capacity in its guarded UPDATE."""
    attendees, closed_at = db.session.execute(
        update(Event).where(Event.id == event.id).values(attendees=Event.attendees)
        .returning(Event.attendees, Event.closed_at)
    ).one()
    set_committed_value(event, "attendees", attendees)
    set_committed_value(event, "closed_at", closed_at)


def _apply_terms(event: Event, village: GridNode, terms: EventTerms) -> None:
    title, place = terms.title.strip(), terms.place.strip()
    if not title or len(title) > 60:
        raise DomainError("event_title_required")
    if not place or len(place) > 100:
        raise DomainError("event_place_required")
    if terms.ends <= terms.starts:
        raise DomainError("event_ends_before_start")
    if terms.ends - terms.starts > timedelta(hours=MAX_QUANTITY[RuleUnit.HOUR]):
        raise DomainError("event_too_long", hours=MAX_QUANTITY[RuleUnit.HOUR])
    if terms.capacity is not None and not 1 <= terms.capacity <= 100_000:
        raise DomainError("invalid_capacity")
    if terms.rule_id is None:
        raise DomainError("event_rule_required")
    rule = db.session.get(Rule, terms.rule_id) if isinstance(terms.rule_id, int) else None
    if rule is None or rule.village_id != village.id:
        raise DomainError("unknown_rule")
    version = version_in_force(rule.id, terms.starts.date())
    if version is None or version.points <= 0:
        raise DomainError("rule_not_an_award")
    if terms.grid_id is not None:
        grid = db.session.get(GridNode, terms.grid_id)
        if grid is None or grid.kind is not NodeKind.GRID or grid.village_id != village.id:
            raise DomainError("invalid_grid")
    if terms.organizer_id is not None and db.session.get(User, terms.organizer_id) is None:
        raise DomainError("unknown_organizer")
    if (terms.latitude is None) != (terms.longitude is None) or (terms.latitude is not None and not (
            -90 <= terms.latitude <= 90 and -180 <= terms.longitude <= 180)):
        raise DomainError("invalid_location")
    event.latitude, event.longitude = terms.latitude, terms.longitude
    event.title, event.place, event.rule_id, event.mode = title, place, rule.id, terms.mode
    event.starts_at, event.ends_at = local_to_utc(terms.starts), local_to_utc(terms.ends)
    event.capacity, event.grid_id, event.organizer_id = terms.capacity, terms.grid_id, terms.organizer_id


def rule_of(event: Event) -> RuleVersion | None:
    """The version of the event's rule that pays it: the one in force on the event's (local) day."""
    return version_in_force(event.rule_id, utc_to_local(event.starts_at).date())


def how_long(span: timedelta) -> str:
    """A span as people say it: "2 小时 55 分", "25 分钟" (whole minutes, rounded down)."""
    hours, minutes = divmod(max(int(span.total_seconds() // 60), 0), 60)
    return _("%(h)d 小时 %(m)d 分", h=hours, m=minutes) if hours else _("%(m)d 分钟", m=minutes)


def require_check_in(actor: User, event: Event) -> None:
    """Raises Forbidden unless actor runs the event: its organizer, or staff of its village."""
    if not policy.can_run_event(actor, event.village_id, event.organizer_id):
        raise Forbidden()


def _summary(event: Event) -> dict:
    return {"title": event.title, "place": event.place, "starts_at": event.starts_at.isoformat(),
            "ends_at": event.ends_at.isoformat(), "capacity": event.capacity, "mode": event.mode.value,
            "rule": event.rule_id, "grid": event.grid_id, "located": event.latitude is not None}


def create_series(actor: User, village: GridNode, terms: EventTerms, nth: int, weekday: int, first_month: date,
                  last_month: date) -> EventSeries:
    """A recurring event: the nth (1 … 4, or -1: last) weekday (0 Monday) of every month from first_month to
    last_month, at the time of day and for the length of terms (whose date is ignored). Each month's event is
    made now; generating again adds nothing twice.

    Raises what create_event raises, and DomainError("invalid_recurrence")."""
    policy.require(actor, policy.Permission.MANAGE_EVENTS, village.id)
    first, last = first_month.replace(day=1), last_month.replace(day=1)
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    if (nth not in (1, 2, 3, 4, -1) or weekday not in range(7) or not 1 <= months <= MAX_SERIES_MONTHS
            or not 2000 <= first.year <= last.year <= 2100):
        raise DomainError("invalid_recurrence", months=MAX_SERIES_MONTHS)
    _apply_terms(Event(), village, terms)  # refused here, before anything is saved
    minutes = int((terms.ends - terms.starts).total_seconds() // 60)
    series = EventSeries(village_id=village.id, grid_id=terms.grid_id, title=terms.title.strip(),
                         place=terms.place.strip(), capacity=terms.capacity, organizer_id=terms.organizer_id,
                         rule_id=terms.rule_id, mode=terms.mode, nth=nth, weekday=weekday,
                         start_time=terms.starts.time(), minutes=max(minutes, 1), first_month=first, last_month=last)
    db.session.add(series)
    db.session.flush()
    for day in series_days(series):
        starts = datetime.combine(day, series.start_time)
        create_event(actor, village, EventTerms(series.title, series.place, starts,
                                                starts + timedelta(minutes=series.minutes), series.rule_id,
                                                series.mode, series.capacity, series.grid_id, series.organizer_id),
                     series)
    return series


def series_days(series: EventSeries) -> list[date]:
    """The days of a series: its nth weekday of each month."""
    days, month = [], series.first_month
    while month <= series.last_month:
        weeks = calendar.monthcalendar(month.year, month.month)
        matching = [week[series.weekday] for week in weeks if week[series.weekday]]
        days.append(month.replace(day=matching[series.nth - 1 if series.nth > 0 else -1]))
        month = next_month(month)
    return days


# ---------------------------------------------------------------------------------------------------- settings


def fence_of(village_id: int) -> int | None:
    """How near the event's place, in metres, a villager's own check-in must be made in this village; None: anywhere
    (the default)."""
    return db.session.scalar(select(EventSettings.fence_meters).where(EventSettings.village_id == village_id))


def set_fence(actor: User, village: GridNode, meters: int | None) -> None:
    """The village's fence (None: off). Raises Forbidden, DomainError("invalid_fence")."""
    policy.require(actor, policy.Permission.MANAGE_EVENTS, village.id)
    if meters is not None and not (isinstance(meters, int) and 10 <= meters <= MAX_FENCE):
        raise DomainError("invalid_fence", limit=MAX_FENCE)
    settings = db.session.get(EventSettings, village.id) or EventSettings(village_id=village.id)
    before = settings.fence_meters
    settings.fence_meters = meters
    db.session.add(settings)
    db.session.flush()
    record(actor, "events.fence", "village", village.id, village.id, before={"fence": before}, after={"fence": meters})


def checkout_after(village_id: int) -> int:
    """How many minutes after checking in 签退 is offered in this village; before it a check-out is confirmed first."""
    return db.session.scalar(select(EventSettings.checkout_after_minutes)
                             .where(EventSettings.village_id == village_id)) or CHECKOUT_AFTER_MINUTES


def set_checkout_after(actor: User, village: GridNode, minutes: int) -> None:
    """How long after checking in 签退 is offered. Raises Forbidden, DomainError("invalid_checkout_after")."""
    policy.require(actor, policy.Permission.MANAGE_EVENTS, village.id)
    if not (isinstance(minutes, int) and 1 <= minutes <= MAX_CHECKOUT_AFTER):
        raise DomainError("invalid_checkout_after", limit=MAX_CHECKOUT_AFTER)
    settings = db.session.get(EventSettings, village.id) or EventSettings(village_id=village.id)
    before = checkout_after(village.id)
    settings.checkout_after_minutes = minutes
    db.session.add(settings)
    db.session.flush()
    record(actor, "events.checkout_after", "village", village.id, village.id, before={"checkout_after": before},
           after={"checkout_after": minutes})


# ---------------------------------------------------------------------------------------------------- closing


def hours_of(event: Event, attendance: Attendance) -> int:
    """The hours an attendance counts, which a per-hour rule pays and volunteer rankings add up: check-in to
    check-out in whole hours, at least 1; an attendance never checked out counts MISSING_CHECKOUT_HOURS; in a
    check-in-only event, the event's scheduled length."""
    if event.mode is CheckinMode.IN:
        span = event.ends_at - event.starts_at
    elif attendance.checked_out_at is None:
        return MISSING_CHECKOUT_HOURS
    else:
        span = attendance.checked_out_at - max(attendance.checked_in_at, event.starts_at)
    return min(max(int(span.total_seconds() // 3600), 1), MAX_QUANTITY[RuleUnit.HOUR])


def points_of(event: Event, version: RuleVersion | None, attendance: Attendance) -> int:
    """What the rule's version pays an attendance as it stands (before caps): per event, or per hour."""
    if version is None:
        return 0
    return version.points * (hours_of(event, attendance) if version.unit is RuleUnit.HOUR else 1)


# The ledger's refusals that leave one attendance unpaid (and say why) rather than the event unclosed.
UNPAID_REFUSALS = frozenset({"cap_exceeded", "household_closed", "resident_left"})


def close_event(actor: User, event: Event, early: bool = False) -> Event:
    """结束活动: each attendance earns the rule's points (per event, or per hour) through the ledger, once. One whose
    household the rule does not apply to, whose caps are full, or who has left the register since, gets nothing and
    says why. Before the event's end only when early (the organizer confirmed it, knowing that nobody can check in
    after). Closing again changes nothing. Raises Forbidden, DomainError("event_not_over" | "event_not_ended")."""
    require_check_in(actor, event)
    # The write that serializes closing with check-ins and with another close.
    db.session.execute(update(Event).where(Event.id == event.id).values(attendees=Event.attendees))
    db.session.refresh(event)
    if event.closed_at is not None:
        return event
    now = utcnow()
    if now < event.starts_at:
        raise DomainError("event_not_over")
    if now < event.ends_at and not early:
        raise DomainError("event_not_ended", status=409, left=how_long(event.ends_at - now))
    day = utc_to_local(event.starts_at).date()
    version = rule_of(event)
    attendances = db.session.scalars(select(Attendance).where(Attendance.event_id == event.id,
                                                              Attendance.removed_at.is_(None))
                                     .order_by(Attendance.household_id, Attendance.id)).all()
    hourly = version is not None and version.unit is RuleUnit.HOUR
    for attendance in attendances:
        attendance.hours = hours_of(event, attendance) if hourly else None
        if version is None:
            attendance.unpaid_reason = "rule_not_in_force"
            continue
        if not version.applies_to(attendance.household.kind):
            attendance.unpaid_reason = "rule_not_for_household_kind"
            continue
        try:
            with db.session.begin_nested():
                entry = post_entry(attendance.household_id, points_of(event, version, attendance),
                                   EntrySource.ATTENDANCE, f"event:{event.id}:attendance:{attendance.id}", actor=actor,
                                   rule_version=version, resident_id=attendance.resident_id,
                                   note=event.title[:60], occurred_on=day, hours=hours_of(event, attendance))
        except DomainError as refusal:
            if refusal.code not in UNPAID_REFUSALS:
                raise
            attendance.unpaid_reason = refusal.code
            continue
        attendance.entry_id = entry.id
    event.closed_at, event.closed_by_id = now, actor.id
    db.session.flush()
    record(actor, "event.closed", "event", event.id, event.grid_id or event.village_id,
           after={"attendees": len(attendances), "paid": sum(1 for a in attendances if a.entry_id),
                  "early": now < event.ends_at})
    return event


def event_window(event: Event) -> tuple[datetime, datetime]:
    """When check-in is open, in local time."""
    return utc_to_local(event.starts_at - OPENS_BEFORE), utc_to_local(event.ends_at)


@blocks_retirement
def _events_left(node_ids: Select) -> list[str]:
    """A village or grid is retired once its events are closed (or were never for it)."""
    count = db.session.scalar(select(func.count()).select_from(Event).where(
        or_(Event.village_id.in_(node_ids), Event.grid_id.in_(node_ids)), Event.closed_at.is_(None)))
    return [_("%(n)d 个未结束的活动", n=count)] if count else []
