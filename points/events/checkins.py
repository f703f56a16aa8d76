"""签到 and 签退 of 志愿活动: the signed check-in codes (rotating and printed), a villager's own scan, staff scanning
a household card or picking a name, checking out, and taking a wrong attendance off. Functions flush and never
commit."""
import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm.attributes import set_committed_value

from ..audit.services import record
from ..auth import policy
from ..auth.models import User
from ..errors import DomainError, NotFound
from ..extensions import add_unless_taken, connection, db, fetch
from ..people.cards import household_of_card
from ..people.models import Resident
from ..timeutil import utc_to_local, utcnow
from .models import Attendance, CheckinMethod, Event
from .services import OPENS_BEFORE, checkout_after, fence_of, how_long, require_check_in

ROTATION_SECONDS = 30  # the display page's code changes this often; the code before it stays valid too
SCAN_GRACE = timedelta(minutes=10)  # a scanned rotating code carries the check-in page on this long


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
    event = fetch(Event, event_id) if isinstance(event_id, int) else None
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



_EVENTS = Event.__table__
# The table's statement, not the entity's: the session would look for the event among its objects to update it.
_COUNT_IN = (update(_EVENTS).where(_EVENTS.c.id == bindparam("event"), _EVENTS.c.closed_at.is_(None),
                                   _EVENTS.c.capacity.is_(None) | (_EVENTS.c.attendees < _EVENTS.c.capacity))
             .values(attendees=_EVENTS.c.attendees + 1).returning(_EVENTS.c.attendees))


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
    attendance = None if refusal else add_unless_taken(Attendance, dict(
        event_id=event.id, resident_id=resident.id, household_id=household.id, method=method, recorded_by_id=actor.id,
        checked_in_at=now, client_key=client_key or None, request_digest=digest if client_key else None))
    if attendance is None:  # not open, or checked in before: the check-in made then answers
        repeat = _repeat_check_in(event, resident, actor, client_key, digest)
        if repeat is not None:
            return repeat
        if refusal is not None:
            raise refusal
        raise RuntimeError("an attendance met another, which is not there to read")  # none is ever deleted
    attendees = connection().execute(_COUNT_IN, {"event": event.id}).scalar()
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
