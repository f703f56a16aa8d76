"""公示异议: while a month's 积分公示表 is up, a villager of the village questions a household's points of that month
(their own or a neighbour's); the village's admins answer it. An accepted objection is corrected on the household's
own page (冲正 or 加分), not here: an answer moves no points."""
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..audit.services import record
from ..auth import policy
from ..auth.models import User
from ..errors import DomainError, Forbidden, NotFound, register_messages
from ..extensions import db
from ..ledger.lifecycle import publicity_ends, settings_of
from ..limits import MAX_PAGE
from ..messages.services import tell, tell_staff
from ..paging import Page
from ..people.models import Household
from ..periods import day_label, month_label, next_month, parse_month
from ..timeutil import local_today, utcnow
from .models import Objection, ObjectionStatus
from .services import MAX_NOTE, MAX_REASON, _decide, _existing, _text


def submit_objection(user: User, household_id: int, month: str, reason: str, client_key: str | None = None,
                     today: date | None = None) -> Objection:
    """A villager objects to a household's points of a month while its 公示 is on. The same client_key from the
    same account returns the objection made the first time, if this call asks for the same. Raises
    DomainError("villagers_only" | "invalid_month" | "objection_not_open" | "objection_window_closed"
    | "reason_required" | "reason_too_long" | "idempotency_key_reused") or NotFound."""
    asked = (household_id, str(month), (reason or "").strip())
    earlier = _existing(Objection, Objection.objector_id, user, client_key)
    if earlier is not None:
        return _as_asked(earlier, *asked)
    household = _neighbour(user, household_id)
    first, _last = parse_month(month)
    _require_open(household.village_id, first, today or local_today())
    reason = _text(reason, MAX_REASON, "reason_too_long")
    if not reason:
        raise DomainError("reason_required")
    objection = Objection(village_id=household.village_id, household_id=household.id, month=f"{first:%Y-%m}",
                          objector_id=user.id, reason=reason, client_key=client_key or None)
    try:
        with db.session.begin_nested():
            db.session.add(objection)
            db.session.flush()
    except IntegrityError:  # the same key, sent twice at once: the other request made it
        return _as_asked(_existing(Objection, Objection.objector_id, user, client_key), *asked)
    record(user, "objection.submitted", "objection", objection.id, household.grid_id,
           after={"household": household.number, "month": objection.month, "reason": reason})
    tell_staff(household.village_id, "objection",
               _l("有一条公示异议等您处理：%(month)s 户号 %(number)s", month=month_label(objection.month),
                  number=household.number),
               f"/objections/{objection.id}", skip=user, permission=policy.Permission.DECIDE_APPEALS)
    return objection


def _as_asked(earlier: Objection, household_id: int, month: str, reason: str) -> Objection:
    """The key's objection, if it is what this call asks for. Raises DomainError("idempotency_key_reused")."""
    if (earlier.household_id, earlier.month, earlier.reason) != (household_id, month, reason):
        raise DomainError("idempotency_key_reused", status=409)
    return earlier


def _neighbour(user: User, household_id: int) -> Household:
    """The household objected to: the villager's own or another of their village. Raises
    DomainError("villagers_only") or NotFound."""
    own_id = policy.own_household_id(user)
    if own_id is None:
        raise DomainError("villagers_only", status=403)
    own = db.session.get(Household, own_id)
    household = db.session.get(Household, household_id) if isinstance(household_id, int) else None
    if household is None or household.village_id != own.village_id:
        raise NotFound()
    return household


def objection_window(village_id: int, first: date) -> tuple[date, date]:
    """The first and the last day objections to the month beginning on first are taken."""
    return next_month(first), publicity_ends(settings_of(village_id), first) - timedelta(days=1)


def _require_open(village_id: int, first: date, today: date) -> None:
    """Raises DomainError("objection_not_open" | "objection_window_closed") outside the month's 公示."""
    opens, deadline = objection_window(village_id, first)
    month = month_label(f"{first:%Y-%m}")
    if today < opens:
        raise DomainError("objection_not_open", month=month, day=day_label(opens))
    if today > deadline:
        raise DomainError("objection_window_closed", month=month, day=day_label(deadline))


def visible_objection(user: User, objection_id: int) -> Objection:
    """An objection its objector, or an admin deciding appeals where the household is, may see. Raises NotFound or
    Forbidden."""
    objection = db.session.get(Objection, objection_id)
    if objection is None:
        raise NotFound()
    if not (user is not None and objection.objector_id == getattr(user, "id", None)) and not policy.can(
            user, policy.Permission.DECIDE_APPEALS, objection.household.grid_id):
        raise Forbidden()
    return objection


def may_decide(user: User, objection: Objection) -> bool:
    """Whether the user may answer the objection now (the page shows its form)."""
    return (objection.status is ObjectionStatus.PENDING
            and policy.can(user, policy.Permission.DECIDE_APPEALS, objection.household.grid_id)
            and objection.household_id != policy.own_household_id(user) and objection.objector_id != user.id)


def objections_in_scope(user: User, status: ObjectionStatus | None = None, page: int = 1,
                        per_page: int = 20) -> Page:
    """The objections an admin decides (households in their scope) and those the user made: pending first (the
    oldest first), then the newest."""
    households = select(Household.id).where(
        policy.node_filter(user, policy.Permission.DECIDE_APPEALS, Household.grid_id))
    where = [Objection.household_id.in_(households) | (Objection.objector_id == user.id)]
    if status is not None:
        where.append(Objection.status == status)
    pending = Objection.status == ObjectionStatus.PENDING
    order = (case((pending, 0), else_=1), case((pending, Objection.id), else_=-Objection.id))
    page = min(max(1, page), MAX_PAGE)
    total = db.session.scalar(select(db.func.count()).select_from(Objection).where(*where))
    items = db.session.scalars(select(Objection).where(*where).options(selectinload(Objection.household))
                               .order_by(*order).limit(per_page).offset((page - 1) * per_page)).all()
    return Page(list(items), total, page, per_page)


def decide_objection(admin: User, objection_id: int, accept: bool, note: str = "", retry: bool = False) -> Objection:
    """采纳更正 (accept: the admin corrects the points on the household's page) or 不予采纳, once, with a note the
    objector reads. retry: the request may be a resent one, so an objection this admin answered already the same
    way with the same note is returned unchanged. Raises DomainError("own_objection" | "note_too_long"
    | "objection_already_decided"), NotFound or Forbidden."""
    objection = db.session.get(Objection, objection_id)
    if objection is None:
        raise NotFound()
    policy.require(admin, policy.Permission.DECIDE_APPEALS, objection.household.grid_id)
    policy.refuse_own_household(admin, objection.household_id, "own_objection")
    if objection.objector_id == admin.id:
        raise DomainError("own_objection", status=403)
    note = _text(note, MAX_NOTE, "note_too_long")
    decided = ObjectionStatus.ACCEPTED if accept else ObjectionStatus.DISMISSED
    if not _decide(Objection, objection.id, ObjectionStatus.PENDING, decided):
        if retry and (objection.status, objection.decided_by_id, objection.decision_note) == (decided, admin.id,
                                                                                               note):
            return objection
        raise DomainError("objection_already_decided", status=409)
    objection.decided_by_id, objection.decided_at, objection.decision_note = admin.id, utcnow(), note
    db.session.flush()
    record(admin, f"objection.{decided.value}", "objection", objection.id, objection.household.grid_id,
           before={"status": "pending"}, after={"status": decided.value, "note": note})
    tell([objection.objector_id], "objection", _decided_text(objection, accept, note),
         f"/objections/{objection.id}", skip=admin)
    return objection


def _decided_text(objection: Objection, accept: bool, note: str):
    """What the objector reads: the month, the 户号, the answer and the note."""
    words = dict(month=month_label(objection.month), number=objection.household.number, note=note)
    if accept:
        if note:
            return _l("您对%(month)s 户号 %(number)s 积分的公示异议已采纳，积分会更正。说明：%(note)s", **words)
        return _l("您对%(month)s 户号 %(number)s 积分的公示异议已采纳，积分会更正", **words)
    if note:
        return _l("您对%(month)s 户号 %(number)s 积分的公示异议未予采纳。说明：%(note)s", **words)
    return _l("您对%(month)s 户号 %(number)s 积分的公示异议未予采纳", **words)


register_messages({
    "objection_not_open": _l("%(month)s还没开始公示：%(day)s开始公示后才能提出异议"),
    "objection_window_closed": _l("%(month)s的公示期已于%(day)s截止，不能再提出异议"),
    "own_objection": _l("不能处理自己家的或自己提出的公示异议，请由其他管理员处理"),
    "objection_already_decided": _l("这条公示异议已经处理过了"),
})
