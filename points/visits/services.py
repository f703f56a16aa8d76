"""走访: a worker logs a visit (earning 网格员履职 points through ledger.duty, within the rule's caps), and the
village admin sets the rule, the 敲门 round and how often each care tag is visited. Functions flush, never commit."""
import os
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import delete, select, update

from ..audit.services import record
from ..auth import policy
from ..auth.models import User
from ..errors import DomainError, Forbidden, NotFound
from ..extensions import add_unless_twin, db
from ..grids.models import GridNode
from ..ledger.duty import award_duty, duty_version
from ..ledger.models import DutyRecord
from ..media import clean_photo, store_photo
from ..people.models import CareTag, Household
from ..people.services import CARE_TAG_WORDS
from ..rules.models import Rule, RuleCategory
from ..rules.queries import version_in_force
from ..timeutil import local_today, utcnow
from .models import Unearned, Visit, VisitCadence, VisitKind, VisitSettings

VISIT_WINDOW_DAYS = 30  # a visit is logged on its day or up to 30 days later
MAX_NOTE = 300
MAX_DAYS = 366
DEFAULT_KNOCK_DAYS = 30


@dataclass(frozen=True)
class PhotoStore:
    """Where visit photos go, and how large an upload may be."""

    folder: str
    max_bytes: int


@dataclass(frozen=True)
class VisitAsked:
    """What a worker logs: the household, the day, the kind, the note and the optional photo (its bytes)."""

    household_id: int
    visited_on: date
    kind: VisitKind | str
    note: str = ""
    photo: bytes | None = None


def settings_of(village_id: int) -> VisitSettings:
    """The village's settings, or (not saved yet) the defaults: no rule, a 敲门 round every 30 days."""
    found = db.session.get(VisitSettings, village_id)
    return found or VisitSettings(village_id=village_id, rule_id=None, knock_days=DEFAULT_KNOCK_DAYS, since=None)


def cadences_of(village_id: int) -> dict[CareTag, VisitCadence]:
    rows = db.session.scalars(select(VisitCadence).where(VisitCadence.village_id == village_id))
    return {row.tag: row for row in rows}


def _kind(value) -> VisitKind:
    if isinstance(value, VisitKind):
        return value
    found = next((k for k in VisitKind if k.value == value), None)
    if found is None:
        raise DomainError("visit_kind_invalid")
    return found


def _visited_household(worker: User, household_id: int) -> Household:
    """The household, if the worker may log a visit to it. Raises NotFound, Forbidden or DomainError."""
    household = db.session.get(Household, household_id) if isinstance(household_id, int) else None
    if household is None:
        raise NotFound()
    if not policy.can(worker, policy.Permission.GRID_WORK, household.grid_id):
        if policy.holds(worker, policy.Permission.GRID_WORK):
            raise DomainError("visit_outside_grid", status=403)
        raise Forbidden()
    policy.refuse_own_household(worker, household.id, "visit_own_household")
    if household.closed_on is not None:
        raise DomainError("visit_household_closed")
    return household


def _checked(asked: VisitAsked, today: date) -> tuple[VisitKind, str]:
    day = asked.visited_on
    if not isinstance(day, date) or not 0 <= (today - day).days <= VISIT_WINDOW_DAYS:
        raise DomainError("visit_day_invalid", days=VISIT_WINDOW_DAYS)
    kind = _kind(asked.kind)
    note = (asked.note or "").strip()
    if len(note) > MAX_NOTE:
        raise DomainError("visit_note_too_long", limit=MAX_NOTE)
    return kind, note


def _existing(worker: User, client_key: str | None) -> Visit | None:
    if not client_key:
        return None
    return db.session.scalar(select(Visit).where(Visit.worker_id == worker.id, Visit.client_key == client_key))


def _as_asked(earlier: Visit, asked: VisitAsked) -> Visit:
    """The visit logged with the same key, if it is what this call asks for. Raises
    DomainError("idempotency_key_reused")."""
    same = (earlier.household_id, earlier.visited_on, earlier.kind.value, earlier.note) == (
        asked.household_id, asked.visited_on, getattr(asked.kind, "value", asked.kind), (asked.note or "").strip())
    if not same:
        raise DomainError("idempotency_key_reused", status=409)
    return earlier


def log_visit(worker: User, asked: VisitAsked, store: PhotoStore, *, client_key: str | None = None,
              today: date | None = None) -> Visit:
    """记走访: a worker with GRID_WORK at the household's grid logs a visit of a day within the last 30, and earns the
    village's 网格员履职 points once for it, within the rule's caps, if it is their first visit to the household that
    day and the day is in today's month; otherwise (or without a rule, or over a cap) the visit stands, and counts
    for the due list, without points (visit.unearned says why). The same client_key from the same account returns
    the visit logged the first time. Raises NotFound, Forbidden, DomainError("visit_outside_grid"
    | "visit_own_household" | "visit_household_closed" | "visit_day_invalid" | "visit_kind_invalid"
    | "visit_note_too_long" | "photo_too_large" | "not_an_image" | "idempotency_key_reused") and writes nothing then."""
    earlier = _existing(worker, client_key)
    if earlier is not None:
        return _as_asked(earlier, asked)
    household = _visited_household(worker, asked.household_id)
    today = today or local_today()
    kind, note = _checked(asked, today)
    stored = store_photo(store.folder, clean_photo(asked.photo, store.max_bytes)) if asked.photo else None
    visit = Visit(household_id=household.id, grid_id=household.grid_id, village_id=household.village_id,
                  worker_id=worker.id, visited_on=asked.visited_on, kind=kind, note=note,
                  photo_filename=stored.filename if stored else None, photo_width=stored.width if stored else None,
                  photo_height=stored.height if stored else None, client_key=client_key or None)
    earlier = add_unless_twin(visit, lambda: _existing(worker, client_key))
    if earlier is not None:
        return _as_asked(earlier, asked)
    _earn(worker, visit, today)
    duty = db.session.get(DutyRecord, visit.duty_id) if visit.duty_id else None
    record(worker, "visit.logged", "visit", visit.id, household.grid_id,
           after={"household": household.number, "visited_on": visit.visited_on.isoformat(),
                  "visit_kind": kind.value, "photos": 1 if stored else 0, "amount": duty.amount if duty else 0})
    return visit


def _repeat(visit: Visit) -> bool:
    """Whether the worker logged another visit to the household on the same day. Taken under the worker's lock
    (the one ledger.duty takes first, too): of two first visits logged at once, the later sees the earlier."""
    db.session.execute(update(User).where(User.id == visit.worker_id).values(id=User.id))
    return db.session.scalar(select(Visit.id).where(
        Visit.worker_id == visit.worker_id, Visit.household_id == visit.household_id,
        Visit.visited_on == visit.visited_on, Visit.id != visit.id).limit(1)) is not None


def _unearned_before_duty(visit: Visit, today: date) -> Unearned | None:
    """Why the visit earns nothing whatever the rule: a day of an ended month (back-dating would fill a closed
    month's cap), or the worker's second visit to the household that day (a visit is paid once a household a day)."""
    if (visit.visited_on.year, visit.visited_on.month) != (today.year, today.month):
        return Unearned.PAST_MONTH
    if _repeat(visit):
        return Unearned.REPEAT
    return None


def _earn(worker: User, visit: Visit, today: date) -> None:
    """The visit's 履职 points, once, under the key "visit:<id>"; or why it earns none (visit.unearned)."""
    visit.unearned = _unearned_before_duty(visit, today)
    if visit.unearned is not None:
        db.session.flush()
        return
    rule_id = settings_of(visit.village_id).rule_id
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):  # the ledger's note, in the village's language
        note = _("走访")
    duty = award_duty(worker, visit.village_id, rule_id, f"visit:{visit.id}", visit.visited_on, note=note)
    if duty is not None:
        visit.duty_id = duty.id
    elif duty_version(visit.village_id, rule_id, visit.visited_on) is None:
        visit.unearned = Unearned.NO_RULE
    else:
        visit.unearned = Unearned.CAP
    db.session.flush()


def visible_visit(user: User, visit_id: int) -> Visit:
    """A visit, to staff doing grid work at its household's grid. Raises NotFound or Forbidden."""
    visit = db.session.get(Visit, visit_id)
    if visit is None:
        raise NotFound()
    if not policy.can(user, policy.Permission.GRID_WORK, visit.grid_id):
        raise Forbidden()
    return visit


def photo_path(visit: Visit, folder: str) -> str:
    """Where the visit's photo is stored under folder. Raises NotFound."""
    path = os.path.join(folder, visit.photo_filename) if visit.photo_filename else None
    if path is None or not os.path.isfile(path):
        raise NotFound()
    return path


def managed_village(admin: User, village_id: int) -> GridNode:
    """A village whose 走访 settings admin keeps. Raises NotFound or Forbidden."""
    village = db.session.get(GridNode, village_id)
    if village is None or village.kind.value != "village":
        raise NotFound()
    policy.require(admin, policy.Permission.MANAGE_GRID_WORK, village.id)
    return village


def duty_rules(village_id: int, day: date) -> list[tuple[Rule, object]]:
    """The village's 网格员履职 rules in force on day, with their versions: those a visit may earn under."""
    rules = db.session.scalars(select(Rule).where(Rule.village_id == village_id).order_by(Rule.code))
    found = [(rule, version_in_force(rule.id, day)) for rule in rules]
    return [(r, v) for r, v in found if v is not None and v.category is RuleCategory.GRID_DUTY]


def save_settings(admin: User, village_id: int, rule_id: int | None, knock_days: int,
                  cadences: dict[CareTag, int], today: date | None = None) -> VisitSettings:
    """The village admin sets the rule visits earn under (None: none), the 敲门 round (days, 0: none) and the days
    of each care tag (0: none). Raises NotFound, Forbidden, DomainError("visit_rule_invalid"
    | "visit_days_invalid")."""
    village = managed_village(admin, village_id)
    today = today or local_today()
    if rule_id is not None and rule_id not in {r.id for r, _v in duty_rules(village.id, today)}:
        raise DomainError("visit_rule_invalid")
    for days in (knock_days, *cadences.values()):
        if not isinstance(days, int) or not 0 <= days <= MAX_DAYS:
            raise DomainError("visit_days_invalid", limit=MAX_DAYS)
    current = db.session.get(VisitSettings, village.id)
    before = {"duty_rule": _rule_name(current.rule_id), "knock_days": current.knock_days,
              "cadences": _cadence_words({t: c.days for t, c in cadences_of(village.id).items()})} if current else None
    if current is None:
        current = VisitSettings(village_id=village.id, since=today)
        db.session.add(current)
    current.rule_id, current.knock_days, current.updated_at = rule_id, knock_days, utcnow()
    _save_cadences(village.id, cadences, today)
    db.session.flush()
    record(admin, "visit.settings_saved", "village", village.id, village.id, before=before,
           after={"duty_rule": _rule_name(rule_id), "knock_days": knock_days, "cadences": _cadence_words(cadences)})
    return current


def _rule_name(rule_id: int | None) -> str:
    rule = db.session.get(Rule, rule_id) if rule_id else None
    return f"{rule.code}" if rule is not None else "—"


def _cadence_words(cadences: dict[CareTag, int]) -> str:
    """空巢老人 14 天、低保 30 天: for the audit log (staff-only)."""
    return "、".join(f"{CARE_TAG_WORDS[t]} {cadences[t]} 天" for t in CareTag if cadences.get(t)) or "—"


def _save_cadences(village_id: int, cadences: dict[CareTag, int], today: date) -> None:
    existing = cadences_of(village_id)
    for tag, days in cadences.items():
        row = existing.get(tag)
        if not days:
            if row is not None:
                db.session.execute(delete(VisitCadence).where(VisitCadence.village_id == village_id,
                                                              VisitCadence.tag == tag))
        elif row is None:
            db.session.add(VisitCadence(village_id=village_id, tag=tag, days=days, since=today))
        else:
            row.days = days


def due_day(last: date | None, start: date, days: int) -> date:
    """When a household is due again: days after its last visit, or after start if never visited."""
    return (last or start) + timedelta(days=days)
