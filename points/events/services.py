"""志愿活动 and 户卡: create and repeat events, sign their check-in codes, check people in and out, close an event
into the ledger, and issue household cards. Functions flush and never commit."""
import calendar
import math
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, Signer, URLSafeSerializer
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from ..audit.services import record
from ..auth import policy
from ..auth.models import User
from ..errors import DomainError, Forbidden, NotFound
from ..extensions import db, insert_unless_taken
from ..grids.models import GridNode, NodeKind
from ..grids.services import blocks_retirement
from ..ledger.models import EntrySource
from ..ledger.services import MAX_QUANTITY, post_entry
from ..people.models import Household, Resident
from ..periods import next_month
from ..rules.models import Rule, RuleUnit, RuleVersion
from ..rules.queries import version_in_force
from ..timeutil import local_to_utc, utc_to_local, utcnow
from .models import (
    CHECKOUT_AFTER_MINUTES,
    Attendance,
    CheckinMethod,
    CheckinMode,
    Event,
    EventSeries,
    EventSettings,
    HouseholdCard,
)

OPENS_BEFORE = timedelta(minutes=30)  # check-in opens this long before the start, and closes at the end
ROTATION_SECONDS = 30  # the display page's code changes this often; the code before it stays valid too
SCAN_GRACE = timedelta(minutes=10)  # a scanned rotating code carries the check-in page on this long
MAX_FENCE = 100_000  # metres: a village's fence is at most this wide
MISSING_CHECKOUT_HOURS = 1  # per-hour points for someone who checked in but never out: this many hours
MAX_CHECKOUT_AFTER = 720  # minutes: a village offers 签退 at most this long after check-in
MAX_SERIES_MONTHS = 24
CARD_PREFIX = "HC"


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


# ---------------------------------------------------------------------------------------------------- codes


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="event-checkin")


def _slot(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1)).total_seconds() // ROTATION_SECONDS)


def rotating_token(event: Event, now: datetime | None = None) -> str:
    """The code the display page shows now: valid for this 30-second slot and the next one."""
    return _serializer().dumps([event.id, "r", _slot(now or utcnow())])


def static_token(event: Event) -> str:
    """The printable code: valid only while check-in is open, until the event's code_version changes."""
    return _serializer().dumps([event.id, "s", event.code_version])


def scanned_token(token: str, now: datetime | None = None) -> str | None:
    """A fresh rotating code, once scanned, is exchanged for one that lasts SCAN_GRACE from the scan, so that
    logging in or a slow tap does not outlast the 30-second code (a photo of an old code still gets nothing).
    None for a printed code, which lasts anyway. Raises what event_of_token raises."""
    event = event_of_token(token, now)
    if _serializer().loads(token)[1] != "r":
        return None
    return _serializer().dumps([event.id, "g", _slot(now or utcnow())])


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


def fenced(event: Event) -> int | None:
    """The fence a villager's own check-in at the event must be made within, if any: the village's, when the event
    has a place on the map."""
    return fence_of(event.village_id) if event.latitude is not None else None


def meters_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The great-circle distance between two (latitude, longitude) points, in metres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(min(1.0, math.sqrt(h)))


def _require_near(event: Event, position: tuple[float, float] | None) -> None:
    """Raises DomainError("location_needed" | "too_far") when the village fences its events and this one has a place."""
    fence = fenced(event)
    if fence is None:
        return
    if position is None:
        raise DomainError("location_needed", status=403)
    distance = meters_between(position, (event.latitude, event.longitude))
    if distance > fence:
        raise DomainError("too_far", status=403, distance=round(distance), fence=fence)


def require_scanned_here(token: str, passes: Collection[str]) -> None:
    """The pass a scanned rotating code is exchanged for opens check-in only where the code was scanned (passes: the
    ones this browser was given): forwarded to someone at home, it asks them to scan the screen. Codes themselves
    (rotating and printed) are not bound. Raises DomainError("scan_here")."""
    try:
        kind = _serializer().loads(token)[1]
    except (BadSignature, ValueError, TypeError, IndexError):
        return  # event_of_token answers it
    if kind == "g" and token not in passes:
        raise DomainError("scan_here", status=403)


def event_of_token(token: str, now: datetime | None = None) -> Event:
    """The event a scanned code is for. Raises DomainError("invalid_code" | "code_expired") or NotFound."""
    try:
        event_id, kind, value = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        raise DomainError("invalid_code") from None
    event = db.session.get(Event, event_id) if isinstance(event_id, int) else None
    if event is None:
        raise NotFound()
    age = _slot(now or utcnow()) - value if kind in ("r", "g") and isinstance(value, int) else None
    if kind == "r" and age in (0, 1):
        return event
    if kind == "g" and age is not None and 0 <= age <= SCAN_GRACE // timedelta(seconds=ROTATION_SECONDS):
        return event
    if kind == "s" and value == event.code_version:
        return event
    raise DomainError("code_expired", status=410)


# ---------------------------------------------------------------------------------------------------- check-in


@dataclass(frozen=True)
class CheckIn:
    attendance: Attendance
    already: bool  # checked in before: nothing changed


def check_in_self(user: User, token: str, event_id: int | None = None, now: datetime | None = None, *,
                  client_key: str | None = None, digest: str = "", passes: Collection[str] = (),
                  position: tuple[float, float] | None = None) -> CheckIn:
    """A villager scanned the event's code. event_id, where the client names one, must be the code's. passes: the
    passes this browser was given when it scanned (require_scanned_here); the API, whose clients send the code
    itself, has none. position: where the phone is, which a fenced event asks for (_require_near).

    client_key (within the account) and digest (a fingerprint of the request): a retry with the key answers the
    attendance made the first time as new (already false), even once the code has expired.
    Raises DomainError("not_a_villager" | "scan_here" | "invalid_code" | "code_expired" | "code_of_other_event" |
    "location_needed" | "too_far" | …check_in's)."""
    if user.resident_id is None:
        raise DomainError("not_a_villager", status=403)
    require_scanned_here(token, passes)
    try:
        event = event_of_token(token, now)
    except DomainError:  # the code has expired since: a retry of a check-in made in time still answers
        repeat = _keyed_check_in(user, client_key, digest)
        if repeat is not None:
            return repeat
        raise
    if event_id is not None and event_id != event.id:
        raise DomainError("code_of_other_event")
    _require_near(event, position)
    return _check_in(event, user.resident, CheckinMethod.SELF, user, now, client_key, digest)


def check_in_card(actor: User, event: Event, card_text: str, resident_id: int | None = None,
                  now: datetime | None = None, *, client_key: str | None = None, digest: str = "") -> CheckIn:
    """Staff scanned a household card: its head (or resident_id, one of its members) is checked in. client_key and
    digest: as check_in_self's (a retry answers even once the card is revoked).

    Raises Forbidden, DomainError("invalid_card" | "card_revoked" | "resident_not_in_household" | …check_in's)."""
    require_check_in(actor, event)
    repeat = _keyed_check_in(actor, client_key, digest)
    if repeat is not None:
        return repeat
    household = household_of_card(card_text)
    resident = db.session.get(Resident, resident_id) if resident_id is not None else household.head
    if resident is None or resident.household_id != household.id:
        raise DomainError("resident_not_in_household")
    policy.refuse_own_household(actor, household.id, "own_check_in")
    return _check_in(event, resident, CheckinMethod.CARD, actor, now, client_key, digest)


def check_in_resident(actor: User, event: Event, resident_id: int, now: datetime | None = None, *,
                      client_key: str | None = None, digest: str = "") -> CheckIn:
    """Staff checked a person in by name; client_key and digest: as check_in_self's. Raises Forbidden, NotFound, or
    check_in's DomainErrors."""
    require_check_in(actor, event)
    repeat = _keyed_check_in(actor, client_key, digest)
    if repeat is not None:
        return repeat
    resident = db.session.get(Resident, resident_id) if isinstance(resident_id, int) else None
    if resident is None:
        raise NotFound()
    policy.refuse_own_household(actor, resident.household_id, "own_check_in")
    return _check_in(event, resident, CheckinMethod.MANUAL, actor, now, client_key, digest)


def _keyed_check_in(actor: User, client_key: str | None, digest: str) -> CheckIn | None:
    """The check-in actor made under client_key, answered as new. Of two requests with one key at once, the second's
    insert waits for the first's, meets the key, and then finds the first here.
    Raises DomainError("idempotency_key_reused") when the key came with another request."""
    if not client_key:
        return None
    earlier = db.session.scalar(select(Attendance).where(Attendance.recorded_by_id == actor.id,
                                                         Attendance.client_key == client_key)
                                .execution_options(populate_existing=True))
    if earlier is None:
        return None
    if earlier.request_digest != digest:
        raise DomainError("idempotency_key_reused", status=409)
    return CheckIn(earlier, False)


def require_check_in(actor: User, event: Event) -> None:
    if not policy.can_run_event(actor, event.village_id, event.organizer_id):
        raise Forbidden()


def _check_in(event: Event, resident: Resident, method: CheckinMethod, actor: User, now: datetime | None,
              client_key: str | None = None, digest: str = "") -> CheckIn:
    """One attendance per person: a repeated check-in answers the first (as new to a retry with the key that made
    it). The attendance goes in first, unless one is there for the person or under the key (the key is written with
    it, so that a request racing this one never sees the attendance without it). Then the event's attendee count is
    raised by a guarded UPDATE, which keeps the capacity under concurrency and serializes check-ins to the event; a
    refusal there leaves the attendance to the caller's rollback, as after any DomainError.

    Raises DomainError("household_closed" | "resident_left" | "event_closed" | "event_not_started" | "event_over" |
    "not_resident_here" | "attendance_removed" | "event_full" | "idempotency_key_reused")."""
    now = now or utcnow()
    household = resident.household
    if household.closed_on is not None or resident.left_on is not None:
        raise DomainError("household_closed", status=409, number=household.number) if household.closed_on else \
            DomainError("resident_left", status=409)
    if household.village_id != event.village_id or (event.grid_id is not None and household.grid_id != event.grid_id):
        keyed = _keyed_check_in(actor, client_key, digest)  # a retry answers even once the household has moved
        if keyed is not None:
            return keyed
        raise DomainError("not_resident_here", status=403)
    refusal = _why_not_open(event, now)
    attendance = None if refusal else db.session.scalar(
        insert_unless_taken(Attendance, db.engine.dialect.name),
        [dict(event_id=event.id, resident_id=resident.id, household_id=household.id, method=method,
              recorded_by_id=actor.id, checked_in_at=now, client_key=client_key or None,
              request_digest=digest if client_key else None)])
    if attendance is None:  # not open, or checked in before: the check-in made then answers
        repeat = _repeat_check_in(event, resident, actor, client_key, digest)
        if repeat is not None:
            return repeat
        if refusal is not None:
            raise refusal
        raise RuntimeError("an attendance met another, which is not there to read")  # none is ever deleted
    attendees = db.session.execute(
        update(Event).where(Event.id == event.id, Event.closed_at.is_(None),
                            Event.capacity.is_(None) | (Event.attendees < Event.capacity))
        .values(attendees=Event.attendees + 1).returning(Event.attendees)
    ).scalar()
    if attendees is None:
        db.session.refresh(event, ["attendees", "closed_at"])
        if event.closed_at is not None:  # closed while this check-in waited
            raise DomainError("event_closed", status=409)
        raise DomainError("event_full", status=409, capacity=event.capacity)
    set_committed_value(event, "attendees", attendees)
    set_committed_value(attendance, "resident", resident)  # the answer names the person: no query for it
    record(actor, "event.checked_in", "event", event.id, household.grid_id,
           after={"household": household.number, "method": method.value})
    return CheckIn(attendance, False)


def _repeat_check_in(event: Event, resident: Resident, actor: User, client_key: str | None,
                     digest: str) -> CheckIn | None:
    """The check-in made before: under the key (answered as new), else the person's (answered as already)."""
    keyed = _keyed_check_in(actor, client_key, digest)
    if keyed is not None:
        return keyed
    earlier = _attendance(event.id, resident.id)
    if earlier is None:
        return None
    if earlier.removed_at is not None:
        raise DomainError("attendance_removed", status=409)
    return CheckIn(earlier, True)


def _attendance(event_id: int, resident_id: int) -> Attendance | None:
    return db.session.scalar(select(Attendance).where(Attendance.event_id == event_id,
                                                      Attendance.resident_id == resident_id)
                             .execution_options(populate_existing=True))


def _why_not_open(event: Event, now: datetime) -> DomainError | None:
    """Why check-in is not open now, or None when it is."""
    if event.closed_at is not None:
        return DomainError("event_closed", status=409)
    if now < event.starts_at - OPENS_BEFORE:
        return DomainError("event_not_started", starts=utc_to_local(event.starts_at).strftime("%m-%d %H:%M"))
    if now > event.ends_at:
        return DomainError("event_over")
    return None


def check_out_self(user: User, token: str, now: datetime | None = None, passes: Collection[str] = (), *,
                   event_id: int | None = None, early: bool = False) -> Attendance:
    """签退: the villager scans the code again after checking in. early: the villager confirmed leaving before the
    village's checkout_after. event_id, where the client names one, must be the code's. Raises check_in_self's
    DomainErrors and _check_out's."""
    require_scanned_here(token, passes)
    event = event_of_token(token, now)
    if event_id is not None and event_id != event.id:
        raise DomainError("code_of_other_event")
    if user.resident_id is None:
        raise DomainError("not_a_villager", status=403)
    return _check_out(event, user.resident_id, user, now, early)


def check_out_resident(actor: User, event: Event, resident_id: int, now: datetime | None = None, *,
                       early: bool = False) -> Attendance:
    """Staff check a person out by name. Raises Forbidden and _check_out's DomainErrors."""
    require_check_in(actor, event)
    return _check_out(event, resident_id, actor, now, early, desk=True)


def check_out_card(actor: User, event: Event, card_text: str, now: datetime | None = None, *,
                   early: bool = False) -> Attendance:
    """Staff scanned a household card to check out: the one of its household who is checked in (its head first).
    Raises Forbidden, DomainError("invalid_card" | "card_revoked") and _check_out's."""
    require_check_in(actor, event)
    household = household_of_card(card_text)
    present = db.session.scalars(select(Attendance.resident_id).where(
        Attendance.event_id == event.id, Attendance.household_id == household.id, Attendance.removed_at.is_(None),
        Attendance.checked_out_at.is_(None))).all()
    resident_id = household.head_id if household.head_id in present or not present else present[0]
    return _check_out(event, resident_id, actor, now, early, desk=True)


def _check_out(event: Event, resident_id: int, actor: User, now: datetime | None, early: bool,
               desk: bool = False) -> Attendance:
    """签退, once: a check-out before the village's checkout_after (a second tap right after 签到) only when early;
    at the desk (staff, by card or name) never for the staff's own household, themselves included, as at check-in.
    Raises DomainError("not_checked_in" | "event_closed" | "own_check_out" | "checkout_too_soon")."""
    now = now or utcnow()
    attendance = _attendance(event.id, resident_id)
    if attendance is None or attendance.removed_at is not None:
        raise DomainError("not_checked_in", status=409)
    if event.closed_at is not None:
        raise DomainError("event_closed", status=409)
    if desk:
        policy.refuse_own_household(actor, attendance.household_id, "own_check_out")
    if attendance.checked_out_at is None:
        stayed, minutes = now - attendance.checked_in_at, checkout_after(event.village_id)
        if stayed < timedelta(minutes=minutes) and not early:
            raise DomainError("checkout_too_soon", status=409, stayed=how_long(stayed), minutes=minutes)
        attendance.checked_out_at = min(max(now, attendance.checked_in_at), event.ends_at)
        db.session.flush()
        record(actor, "event.checked_out", "event", event.id, attendance.household.grid_id,
               after={"household": attendance.household.number, "early": stayed < timedelta(minutes=minutes)})
    return attendance


def checkout_opens(attendance: Attendance) -> datetime:
    """When 签退 is offered to someone checked in (UTC): the village's checkout_after from their check-in."""
    return attendance.checked_in_at + timedelta(minutes=checkout_after(attendance.event.village_id))


def remove_attendance(actor: User, attendance: Attendance) -> None:
    """The organizer takes a wrong attendance off, before closing. Raises Forbidden, DomainError("event_closed")."""
    event = attendance.event
    require_check_in(actor, event)
    if event.closed_at is not None:
        raise DomainError("event_closed", status=409)
    if attendance.removed_at is not None:
        return
    db.session.execute(update(Event).where(Event.id == event.id).values(attendees=Event.attendees - 1))
    attendance.removed_at, attendance.removed_by_id = utcnow(), actor.id
    db.session.flush()
    db.session.refresh(event, ["attendees"])
    record(actor, "event.attendance_removed", "event", event.id, attendance.household.grid_id,
           after={"household": attendance.household.number})


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


# ---------------------------------------------------------------------------------------------------- cards


def _card_signer() -> Signer:
    return Signer(current_app.config["SECRET_KEY"], salt="household-card")


def card_text(card: HouseholdCard) -> str:
    """What the card's QR holds: HC-<random code>.<signature>; nothing about the household."""
    return _card_signer().sign(f"{CARD_PREFIX}-{card.code}").decode()


def issue_card(actor: User, household: Household, replacing: int | None = None) -> HouseholdCard | None:
    """A new card for the household (补办): the one before it is revoked. With replacing, the serial of the card the
    page showed: once that card is revoked (a second tap, a page sent again) nothing more is, and None is returned,
    so a card just printed is never voided by an old form. Raises Forbidden."""
    policy.require(actor, policy.Permission.MANAGE_CARDS, household.grid_id)
    return _issue(actor, household, replacing)


def _issue(actor: User | None, household: Household, replacing: int | None = None) -> HouseholdCard | None:
    now = utcnow()
    revoke = update(HouseholdCard).where(HouseholdCard.household_id == household.id,
                                         HouseholdCard.revoked_at.is_(None))
    if replacing is not None:
        revoke = revoke.where(HouseholdCard.serial == replacing)
    # The row lock of this update makes a twin request wait, then find the card revoked.
    if db.session.execute(revoke.values(revoked_at=now)).rowcount == 0 and replacing is not None:
        return None
    serial = db.session.scalar(select(func.coalesce(func.max(HouseholdCard.serial), 0))
                               .where(HouseholdCard.household_id == household.id)) + 1
    card = HouseholdCard(household_id=household.id, serial=serial, code=secrets.token_hex(6).upper(),
                         issued_by_id=actor.id if actor else None, issued_at=now)
    db.session.add(card)
    db.session.flush()
    record(actor, "card.issued", "household", household.id, household.grid_id,
           after={"household": household.number, "serial": serial})
    return card


def cards_of_grid(actor: User, grid: GridNode) -> tuple[list[HouseholdCard], list[Household]]:
    """户卡 of a grid, read only: the current card of each household that has one, and the households without one,
    both in household-number order. Raises Forbidden."""
    policy.require(actor, policy.Permission.MANAGE_CARDS, grid.id)
    households = db.session.scalars(select(Household).where(Household.grid_id == grid.id)
                                    .order_by(Household.number)).all()
    current = _current_cards(grid)
    return [current[h.id] for h in households if h.id in current], [h for h in households if h.id not in current]


def issue_missing_cards(actor: User, grid: GridNode) -> list[HouseholdCard]:
    """发放户卡: a first card for each household of the grid that has no current card; a second call issues none.
    Raises Forbidden."""
    policy.require(actor, policy.Permission.MANAGE_CARDS, grid.id)
    # The write that locks the grid's households (on SQLite, the database) before the cards are read: two staff
    # pressing the button at once do not each issue the same households.
    db.session.execute(update(Household).where(Household.grid_id == grid.id).values(grid_id=Household.grid_id))
    households = db.session.scalars(select(Household).where(Household.grid_id == grid.id)
                                    .order_by(Household.number)).all()
    current = _current_cards(grid)
    return [_issue(actor, h) for h in households if h.id not in current]


def _current_cards(grid: GridNode) -> dict[int, HouseholdCard]:
    return {c.household_id: c for c in db.session.scalars(
        select(HouseholdCard).join(Household).where(Household.grid_id == grid.id, HouseholdCard.revoked_at.is_(None)))}


def household_of_card(text: str) -> Household:
    """The household of a scanned card. Raises DomainError("invalid_card" | "card_revoked")."""
    try:
        value = _card_signer().unsign(text.strip()).decode()
    except (BadSignature, UnicodeError):
        raise DomainError("invalid_card") from None
    code = value.removeprefix(f"{CARD_PREFIX}-")
    card = db.session.scalar(select(HouseholdCard).where(HouseholdCard.code == code))
    if card is None:
        raise DomainError("invalid_card")
    if card.revoked_at is not None:
        raise DomainError("card_revoked", status=409, serial=card.serial)
    return card.household


def card_of_household(household: Household) -> HouseholdCard | None:
    return db.session.scalar(select(HouseholdCard).where(HouseholdCard.household_id == household.id,
                                                         HouseholdCard.revoked_at.is_(None)))


def event_window(event: Event) -> tuple[datetime, datetime]:
    """When check-in is open, in local time."""
    return utc_to_local(event.starts_at - OPENS_BEFORE), utc_to_local(event.ends_at)


@blocks_retirement
def _events_left(node_ids: Select) -> list[str]:
    """A village or grid is retired once its events are closed (or were never for it)."""
    count = db.session.scalar(select(func.count()).select_from(Event).where(
        or_(Event.village_id.in_(node_ids), Event.grid_id.in_(node_ids)), Event.closed_at.is_(None)))
    return [_("%(n)d 个未结束的活动", n=count)] if count else []
