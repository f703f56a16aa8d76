"""Bars on redeeming (限制兑换): a village admin bars a household from the shop until a date, with the reason (a
penalty of the rule book: 赌博, 违建 …); the household may appeal once; an admin lifts a bar early. The household's
balance row points at its latest bar, written under the household's lock, so that the ledger refuses a redemption
while one is in force (services._Guard) without a query of its own. Functions flush and never commit.
"""
from datetime import date, timedelta

from sqlalchemy import select

from ..audit.services import record
from ..auth import policy
from ..auth.models import User
from ..errors import DomainError, NotFound
from ..extensions import db
from ..people.models import Household
from ..timeutil import local_today, utcnow
from .barring import bar_in_force
from .locks import hold_all
from .models import RedemptionBar

MANAGE = policy.Permission.MANAGE_POINTS
MOST_DAYS = 730
MAX_REASON = 200
MAX_APPEAL = 500


def may_bar(user: User, household: Household) -> bool:
    """Whether user may bar the household (the form is shown): an admin with MANAGE_POINTS where it lives, never
    for their own household, and only while it is on the register."""
    return (policy.can(user, MANAGE, household.grid_id) and household.id != policy.own_household_id(user)
            and household.closed_on is None)


def bar(actor: User, household: Household, starts_on: date, ends_on: date, reason: str) -> RedemptionBar:
    """Bar the household from redeeming from starts_on to ends_on, both included. Its other bars stand: the household
    is barred while any of them covers the day (an admin lifts one to shorten it).

    Raises Forbidden, DomainError("own_bar" | "bar_ends_before_start" | "bar_ends_in_past" | "bar_too_long"
    | "bar_starts_too_late"
    | "bar_reason_required")."""
    policy.require(actor, MANAGE, household.grid_id)
    policy.refuse_own_household(actor, household.id, "own_bar")
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise DomainError("bar_reason_required")
    if ends_on < starts_on:
        raise DomainError("bar_ends_before_start")
    if ends_on < local_today():
        raise DomainError("bar_ends_in_past")
    if ends_on - starts_on >= timedelta(days=MOST_DAYS):
        raise DomainError("bar_too_long", most=MOST_DAYS)
    if starts_on > local_today() + timedelta(days=MOST_DAYS):
        raise DomainError("bar_starts_too_late", most=MOST_DAYS)
    row = hold_all([household.id])[household.id]
    new = RedemptionBar(household_id=household.id, starts_on=starts_on, ends_on=ends_on, reason=reason,
                        actor_id=actor.id)
    db.session.add(new)
    db.session.flush()
    row.bar_id = new.id
    db.session.flush()
    record(actor, "bar.set", "redemption_bar", new.id, household.grid_id,
           after={"household": household.number, "starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat(),
                  "reason": reason})
    return new


def lift(actor: User, bar_id: int, note: str = "") -> RedemptionBar:
    """End a bar today, before its day. Raises NotFound, Forbidden, DomainError("own_bar"
    | "bar_already_lifted" | "note_too_long")."""
    found = visible_bar(actor, bar_id)
    policy.require(actor, MANAGE, found.household.grid_id)
    policy.refuse_own_household(actor, found.household_id, "own_bar")
    note = (note or "").strip()
    if len(note) > MAX_REASON:
        raise DomainError("note_too_long", limit=MAX_REASON)
    hold_all([found.household_id])
    db.session.refresh(found)
    if found.lifted_at is not None:
        raise DomainError("bar_already_lifted", status=409)
    _lift(actor, found, note)
    return found


def _lift(actor: User, found: RedemptionBar, note: str) -> None:
    found.lifted_at, found.lifted_by_id, found.lift_note = utcnow(), actor.id, note
    db.session.flush()
    record(actor, "bar.lifted", "redemption_bar", found.id, found.household.grid_id,
           after={"household": found.household.number, "note": note})


def appeal(user: User, bar_id: int, text: str) -> RedemptionBar:
    """申诉: the household's villager contests a bar in force or to come, once; the village's admins are shown it on
    the bar's page. Raises NotFound, DomainError("bar_already_appealed" | "bar_not_in_force" | "bar_already_lifted"
    | "appeal_reason_required")."""
    found = db.session.get(RedemptionBar, bar_id) if isinstance(bar_id, int) else None
    if found is None or found.household_id != policy.own_household_id(user):
        raise NotFound()
    text = (text or "").strip()
    if not text or len(text) > MAX_APPEAL:
        raise DomainError("appeal_reason_required")
    hold_all([found.household_id])
    db.session.refresh(found)
    if found.lifted_at is not None:
        raise DomainError("bar_already_lifted", status=409)
    if found.ends_on < local_today():
        raise DomainError("bar_not_in_force", status=409)
    if found.appealed_at is not None:
        raise DomainError("bar_already_appealed", status=409)
    found.appeal, found.appealed_at = text, utcnow()
    db.session.flush()
    record(user, "bar.appealed", "redemption_bar", found.id, found.household.grid_id,
           after={"household": found.household.number, "appeal": text})
    return found


def visible_bar(user: User, bar_id: int) -> RedemptionBar:
    """A bar its household or staff who see the household may see. Raises NotFound or Forbidden."""
    found = db.session.get(RedemptionBar, bar_id) if isinstance(bar_id, int) else None
    if found is None:
        raise NotFound()
    if found.household_id != policy.own_household_id(user):
        policy.require(user, policy.Permission.VIEW_HOUSEHOLDS, found.household.grid_id)
    return found


def bars_of(household_id: int) -> list[RedemptionBar]:
    """The household's bars, newest first."""
    return list(db.session.scalars(select(RedemptionBar).where(RedemptionBar.household_id == household_id)
                                   .order_by(RedemptionBar.starts_on.desc(), RedemptionBar.id.desc())))


def current_bar(household_id: int, day: date | None = None) -> RedemptionBar | None:
    """The bar in force on day (today) that ends last, if any."""
    return bar_in_force(household_id, day or local_today())
