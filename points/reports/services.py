"""民情诉求 from 提交 to 回访: submitted by a villager (or by a worker for a household of their grid: 代报), accepted
or rejected by the grid's staff, handled, finished and judged by the reporter; an admin may void it later. Each
change of status is one conditional UPDATE, so two people acting at once leave one change. Points move only
through the ledger's services. Functions flush and never commit."""
from datetime import datetime, timedelta

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..audit.services import record
from ..auth import policy
from ..auth.models import User
from ..claims.services import PhotoStore
from ..errors import DomainError, Forbidden, NotFound
from ..extensions import add_unless_twin, db
from ..ledger import services as ledger
from ..ledger.duty import award_duty, reverse_duty
from ..ledger.models import EntrySource, LedgerEntry
from ..media import clean_photo, store_photo
from ..messages.services import household_accounts, tell, tell_staff
from ..people.models import Household, Resident
from ..timeutil import utc_to_local, utcnow
from .models import (
    Feedback,
    Report,
    ReportPhoto,
    ReportStatus,
    ReportStep,
    ReportStepPhoto,
    StepKind,
)
from .settings import categories, category_named, settings_of

__all__ = ["PhotoStore", "submit_report", "visible_report", "accept_report", "reject_report", "add_progress",
           "finish_report", "may_give_feedback", "give_feedback", "void_report"]

MAX_PHOTOS = 3
MAX_TEXT = 500
MAX_PLACE = 100
MAX_NOTE = 200
KIND = "report"
# What a duty rule's points need no matter the rule's own wording: not earned, not posted, the report goes on.
NO_POINTS = {"cap_exceeded", "rule_not_in_force", "unknown_rule", "rule_not_for_household_kind"}


def link(report: Report) -> str:
    return f"/reports/{report.id}"


def _text(value: str | None, limit: int, too_long: str) -> str:
    value = (value or "").replace("\x00", "").strip()
    if len(value) > limit:
        raise DomainError(too_long, limit=limit)
    return value


def _photos(photos: list[bytes], store: PhotoStore) -> list[bytes]:
    if len(photos) > MAX_PHOTOS:
        raise DomainError("too_many_photos", limit=MAX_PHOTOS)
    return [clean_photo(data, store.max_bytes) for data in photos]  # every photo checked before any is stored


def _stored(model, cleaned: list[bytes], store: PhotoStore) -> list:
    rows = []
    for position, jpeg in enumerate(cleaned, start=1):
        stored = store_photo(store.folder, jpeg)
        rows.append(model(position=position, filename=stored.filename, width=stored.width, height=stored.height,
                          size=stored.size))
    return rows


def _reporting_household(user: User, household_id: int | None) -> Household:
    """The villager's own household, or (代报) a household of a grid the worker serves."""
    own = policy.own_household_id(user)
    if household_id is None or household_id == own:
        if own is None:
            code = "report_not_for_staff" if policy.holds(user, policy.Permission.GRID_WORK) else "villagers_only"
            raise DomainError(code, status=403)
        return db.session.get(Household, own)
    household = db.session.get(Household, household_id) if isinstance(household_id, int) else None
    if household is None or household.closed_on is not None \
            or not policy.can(user, policy.Permission.GRID_WORK, household.grid_id):
        raise DomainError("report_household_unknown", status=404)
    return household


def _existing(user: User, client_key: str | None) -> Report | None:
    if not client_key:
        return None
    return db.session.scalar(select(Report).where(Report.submitted_by_id == user.id, Report.client_key == client_key))


def _same_category(report: Report, category: str | int) -> bool:
    return report.category_id == category if isinstance(category, int) else report.category.name == category


def _as_asked(earlier: Report, asked: tuple) -> Report:
    household_id, category, text, place = asked
    if not _same_category(earlier, category) or (earlier.text, earlier.place) != (text, place) \
            or household_id not in (None, earlier.household_id):
        raise DomainError("idempotency_key_reused", status=409)
    return earlier


def _offered(village_id: int, category: str | int) -> bool:
    """Whether the village offers that category (by name, or by the id of a stored one), writing nothing."""
    if isinstance(category, bool) or not isinstance(category, (int, str)):
        return False
    if isinstance(category, int):
        return category in {c.id for c in categories(village_id) if c.id is not None}
    return category in {c.name for c in categories(village_id)}


def submit_report(user: User, category: str | int, text: str, photos: list[bytes], store: PhotoStore, *,
                  place: str = "", household_id: int | None = None, client_key: str | None = None,
                  now: datetime | None = None) -> Report:
    """随手拍: a villager reports a problem for their household, or a worker for a household they serve (代报, for
    an elder without a phone). category: the name of one of the village's categories in use, or the id of a stored
    one; a village that never stored its categories stores the defaults now. It lands with the staff of the
    household's grid. The same client_key from the same account returns the report made the first time, if this
    call asks for the same.
    Raises DomainError("villagers_only" | "report_not_for_staff" | "report_household_unknown"
    | "report_category_invalid" | "report_empty" | "report_text_too_long" | "report_place_too_long"
    | "too_many_photos" | "photo_too_large" | "not_an_image" | "idempotency_key_reused"); writes nothing then."""
    text, place = _text(text, MAX_TEXT, "report_text_too_long"), _text(place, MAX_PLACE, "report_place_too_long")
    asked = (household_id, category, text, place)
    earlier = _existing(user, client_key)
    if earlier is not None:
        return _as_asked(earlier, asked)
    household = _reporting_household(user, household_id)
    if not _offered(household.village_id, category):
        raise DomainError("report_category_invalid")
    if not text and not photos:
        raise DomainError("report_empty")
    cleaned = _photos(photos, store)
    now = now or utcnow()
    settings = settings_of(household.village_id)
    if isinstance(category, str):
        category = category_named(household.village_id, category).id
    report = Report(village_id=household.village_id, grid_id=household.grid_id, node_id=household.grid_id,
                    household_id=household.id, submitted_by_id=user.id, category_id=category, text=text,
                    place=place, created_at=now, landed_at=now,
                    deadline_at=now + timedelta(hours=settings.accept_hours), client_key=client_key or None)
    report.photos = _stored(ReportPhoto, cleaned, store)
    on_behalf = household.id != policy.own_household_id(user)
    report.steps.append(ReportStep(kind=StepKind.SUBMITTED, actor_id=user.id, note="代报" if on_behalf else "",
                                   created_at=now))
    earlier = add_unless_twin(report, lambda: _existing(user, client_key))
    if earlier is not None:
        return _as_asked(earlier, asked)
    record(user, "report.submitted", "report", report.id, report.grid_id,
           after={"household": household.number, "category": report.category.name, "photos": len(cleaned),
                  "status": report.status.value})
    tell_staff(report.grid_id, KIND, _l("网格内有一条新的民情诉求（%(category)s），请及时受理",
                                        category=report.category.name), link(report), skip=user)
    return report


def is_reporter(user: User | None, report: Report) -> bool:
    """The reporter: a villager of the household, or the worker who filed it for the household."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return report.household_id == policy.own_household_id(user) or report.submitted_by_id == user.id


def visible_report(user: User, report_id: int) -> Report:
    """A report its reporter or the staff over its grid may see. Raises NotFound or Forbidden."""
    report = db.session.get(Report, report_id) if isinstance(report_id, int) else None
    if report is None:
        raise NotFound()
    if not (is_reporter(user, report) or policy.can(user, policy.Permission.GRID_WORK, report.grid_id)):
        raise Forbidden()
    return report


def _handled(user: User, report_id: int, permission=policy.Permission.GRID_WORK) -> Report:
    """A report the user may act on as staff: in scope, not of their household, not filed by them."""
    report = db.session.get(Report, report_id) if isinstance(report_id, int) else None
    if report is None:
        raise NotFound()
    policy.require(user, permission, report.grid_id)
    policy.refuse_own_household(user, report.household_id, "own_report")
    if report.submitted_by_id == user.id:
        raise DomainError("own_report", status=403)
    return report


def _move(report: Report, before: tuple[ReportStatus, ...], **values) -> bool:
    """Change the report's row if its status is still one of before: of two people acting at once, one gets True."""
    result = db.session.execute(
        update(Report).where(Report.id == report.id, Report.status.in_(before)).values(**values)
    )
    if result.rowcount != 1:
        db.session.expire_all()  # read what the other change wrote
        return False
    db.session.expire(report)
    return True


def _step(report: Report, kind: StepKind, actor: User | None, note: str, now: datetime,
          photos: list[ReportStepPhoto] = (), client_key: str | None = None) -> ReportStep:
    step = ReportStep(kind=kind, actor_id=actor.id if actor else None, note=note, created_at=now,
                      client_key=client_key or None)
    step.photos = list(photos)
    report.steps.append(step)
    db.session.flush()
    return step


def _tell_reporter(report: Report, text: LazyString, actor: User | None) -> None:
    """The villagers of the household, and the worker who filed it for them."""
    tell(household_accounts(report.household_id) + [report.submitted_by_id], KIND, text, link(report), skip=actor)


def _reward(report: Report, actor: User, day) -> None:
    """The reporter's household earns the village's reward rule's points, once (none if no rule is set, or its cap
    is reached)."""
    rule_id = settings_of(report.village_id).reward_rule_id
    if rule_id is None or report.reward_entry_id is not None:
        return
    submitter = report.submitted_by
    resident = db.session.get(Resident, submitter.resident_id) if submitter and submitter.resident_id else None
    resident_id = resident.id if resident is not None and resident.household_id == report.household_id else None
    try:
        with db.session.begin_nested():
            version = ledger.rule_for_household(report.household, rule_id, day)
            entry = ledger.post_entry(report.household_id, version.points, EntrySource.REPORT, f"report:{report.id}",
                                      rule_version=version, resident_id=resident_id, actor=actor,
                                      note=report.title[:200], occurred_on=day)
    except DomainError as refusal:
        if refusal.code not in NO_POINTS:
            raise
        return
    report.reward_entry_id = entry.id
    db.session.flush()


def _accepted_by(report: Report, user: User) -> bool:
    """Whether this user accepted the report and handles it still (whatever happened to it since)."""
    return report.handler_id == user.id and any(
        step.kind is StepKind.ACCEPTED and step.actor_id == user.id for step in report.steps)


def accept_report(user: User, report_id: int, now: datetime | None = None, retry: bool = False) -> Report:
    """受理: the user takes the report (its handler); it must be finished within the village's finish_days. The
    reporter's household earns the reward rule's points. Accepting a report one accepted already returns it; so
    does a retry (a resent request with an idempotency key) after it moved on, if this user accepted it and
    handles it. Raises DomainError("report_already_handled" | "own_report"), NotFound or Forbidden."""
    report = _handled(user, report_id)
    if report.status is ReportStatus.ACCEPTED and report.handler_id == user.id:
        return report
    now = now or utcnow()
    due = now + timedelta(days=settings_of(report.village_id).finish_days)
    if not _move(report, (ReportStatus.SUBMITTED,), status=ReportStatus.ACCEPTED, handler_id=user.id,
                 accepted_at=now, due_at=due, deadline_at=due):
        if retry and _accepted_by(report, user):
            return report
        raise DomainError("report_already_handled", status=409)
    _reward(report, user, utc_to_local(now).date())
    _step(report, StepKind.ACCEPTED, user, "", now)
    record(user, "report.accepted", "report", report.id, report.grid_id, before={"status": "submitted"},
           after={"status": "accepted", "entry": report.reward_entry_id})
    _tell_reporter(report, _l("您反映的问题（%(title)s）已受理，网格员会尽快处理", title=report.title), user)
    return report


def reject_report(user: User, report_id: int, reason: str, now: datetime | None = None,
                  retry: bool = False) -> Report:
    """不予受理 with a reason the reporter will read; no points. retry: a resent request (an idempotency key), so a
    report this user rejected already with this reason is returned unchanged.
    Raises DomainError("report_reason_required" | "report_note_too_long" | "report_already_handled"
    | "own_report"), NotFound or Forbidden."""
    report = _handled(user, report_id)
    reason = _text(reason, MAX_NOTE, "report_note_too_long")
    if not reason:
        raise DomainError("report_reason_required")
    now = now or utcnow()
    if not _move(report, (ReportStatus.SUBMITTED,), status=ReportStatus.REJECTED, handler_id=user.id,
                 reason=reason, deadline_at=None):
        if retry and (report.status, report.handler_id, report.reason) == (ReportStatus.REJECTED, user.id, reason):
            return report
        raise DomainError("report_already_handled", status=409)
    _step(report, StepKind.REJECTED, user, reason, now)
    record(user, "report.rejected", "report", report.id, report.grid_id, before={"status": "submitted"},
           after={"status": "rejected", "reason": reason})
    _tell_reporter(report, _l("您反映的问题（%(title)s）不予受理，原因请看详情", title=report.title), user)
    return report


def add_progress(user: User, report_id: int, note: str, photos: list[bytes], store: PhotoStore,
                 now: datetime | None = None, client_key: str | None = None) -> ReportStep:
    """处置: a note of what was done so far, with up to 3 photos, on an accepted report. The same client_key from the
    same account returns the step recorded the first time, if it has the same note.
    Raises DomainError("report_note_required" | "report_note_too_long" | "report_already_handled"
    | "idempotency_key_reused" | photos'), NotFound or Forbidden."""
    report = _handled(user, report_id)
    note = _text(note, MAX_NOTE, "report_note_too_long")
    earlier = _earlier_step(user, report, note, client_key)
    if earlier is not None:
        return earlier
    if not note and not photos:
        raise DomainError("report_note_required")
    if report.status is not ReportStatus.ACCEPTED:
        raise DomainError("report_already_handled", status=409)
    cleaned = _photos(photos, store)
    try:
        with db.session.begin_nested():
            step = _step(report, StepKind.PROGRESS, user, note, now or utcnow(),
                         _stored(ReportStepPhoto, cleaned, store), client_key)
    except IntegrityError:  # the same key, a moment ago, from a retry racing this one
        db.session.expire_all()
        earlier = _earlier_step(user, report, note, client_key)
        if earlier is None:
            raise
        return earlier
    record(user, "report.progress", "report", report.id, report.grid_id, after={"note": note, "photos": len(cleaned)})
    return step


def _earlier_step(user: User, report: Report, note: str, client_key: str | None) -> ReportStep | None:
    """The step this account recorded under client_key, if it is what this call asks for. Raises
    DomainError("idempotency_key_reused")."""
    if not client_key:
        return None
    earlier = db.session.scalar(select(ReportStep).where(ReportStep.actor_id == user.id,
                                                         ReportStep.client_key == client_key))
    if earlier is not None and (earlier.report_id, earlier.note) != (report.id, note):
        raise DomainError("idempotency_key_reused", status=409)
    return earlier


def finish_report(user: User, report_id: int, note: str, photos: list[bytes], store: PhotoStore,
                  now: datetime | None = None, retry: bool = False) -> Report:
    """办结: what was done (a note; photos optional). Who finishes is the handler; finished by the due time, they earn
    the village's duty rule's points, once. retry: a resent request (an idempotency key), so a report this user
    finished already with this note is returned unchanged. Raises DomainError("report_note_required"
    | "report_note_too_long" | "report_already_handled" | photos'), NotFound or Forbidden."""
    report = _handled(user, report_id)
    note = _text(note, MAX_NOTE, "report_note_too_long")
    if not note:
        raise DomainError("report_note_required")
    cleaned = _photos(photos, store)
    now = now or utcnow()
    if not _move(report, (ReportStatus.ACCEPTED,), status=ReportStatus.FINISHED, handler_id=user.id,
                 finished_at=now, deadline_at=None):
        if retry and _finished_by(report, user, note):
            return report
        raise DomainError("report_already_handled", status=409)
    _step(report, StepKind.FINISHED, user, note, now, _stored(ReportStepPhoto, cleaned, store))
    duty = None
    if report.due_at is not None and now <= report.due_at:
        duty = award_duty(user, report.village_id, settings_of(report.village_id).duty_rule_id,
                          f"report:{report.id}:duty", utc_to_local(now).date(), note=report.title[:200])
    record(user, "report.finished", "report", report.id, report.grid_id, before={"status": "accepted"},
           after={"status": "finished", "note": note, "photos": len(cleaned), "duty": duty.amount if duty else 0})
    _tell_reporter(report, _l("您反映的问题（%(title)s）已办结，请看看处理得怎么样并评价", title=report.title), user)
    return report


def _finished_by(report: Report, user: User, note: str) -> bool:
    """Whether the report's last 办结 was this user's, with this note."""
    last = next((step for step in reversed(report.steps) if step.kind is StepKind.FINISHED), None)
    return last is not None and (last.actor_id, last.note) == (user.id, note)


def may_give_feedback(user: User | None, report: Report) -> bool:
    """回访 is the household's: its own villager accounts; the worker who filed it for them (代报) only while the
    household has no active villager account."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if report.household_id == policy.own_household_id(user):
        return True
    return report.submitted_by_id == user.id and not household_accounts(report.household_id)


def give_feedback(user: User, report_id: int, satisfied: bool, reason: str = "",
                  now: datetime | None = None) -> Report:
    """回访: the reporter says 满意 (closed) or 不满意 with a reason (back to accepted, with a new due time); see
    may_give_feedback. Raises DomainError("report_not_yours" | "report_feedback_by_household"
    | "report_reason_required" | "report_note_too_long"
    | "report_already_handled"), NotFound or Forbidden."""
    report = visible_report(user, report_id)
    if not is_reporter(user, report):
        raise DomainError("report_not_yours", status=403)
    if not may_give_feedback(user, report):
        raise DomainError("report_feedback_by_household", status=403)
    reason = _text(reason, MAX_NOTE, "report_note_too_long")
    now = now or utcnow()
    if satisfied:
        moved = _move(report, (ReportStatus.FINISHED,), status=ReportStatus.CLOSED, feedback=Feedback.SATISFIED)
    else:
        if not reason:
            raise DomainError("report_reason_required")
        due = now + timedelta(days=settings_of(report.village_id).finish_days)
        moved = _move(report, (ReportStatus.FINISHED,), status=ReportStatus.ACCEPTED, feedback=Feedback.UNSATISFIED,
                      due_at=due, deadline_at=due, finished_at=None)
    if not moved:
        raise DomainError("report_already_handled", status=409)
    _step(report, StepKind.FEEDBACK, user, ("满意" if satisfied else "不满意：" + reason)[:MAX_NOTE], now)
    record(user, "report.feedback", "report", report.id, report.grid_id, before={"status": "finished"},
           after={"status": report.status.value, "feedback": report.feedback.value, "note": reason})
    if not satisfied:
        text = _l("有一条民情诉求（%(category)s）反映人不满意，已重新打开，请再处理", category=report.category.name)
        staff = [u.id for u in policy.staff_at(report.grid_id, policy.Permission.GRID_WORK)]
        tell(staff + [report.handler_id], KIND, text, link(report), skip=user)  # each told once
    return report


def void_report(user: User, report_id: int, reason: str, now: datetime | None = None) -> Report:
    """撤销: an admin finds an accepted or finished report invalid. The reporter's points (unless reversed by hand
    already) and the handler's duty points are taken back, even below a balance spent already.
    Raises DomainError("report_reason_required" | "report_note_too_long"
    | "report_already_handled" | "own_report"), NotFound or Forbidden."""
    report = _handled(user, report_id, policy.Permission.MANAGE_GRID_WORK)
    reason = _text(reason, MAX_NOTE, "report_note_too_long")
    if not reason:
        raise DomainError("report_reason_required")
    before = report.status.value
    if not _move(report, (ReportStatus.ACCEPTED, ReportStatus.FINISHED, ReportStatus.CLOSED),
                 status=ReportStatus.VOIDED, reason=reason, deadline_at=None):
        raise DomainError("report_already_handled", status=409)
    now = now or utcnow()
    reversal = None
    entry = db.session.get(LedgerEntry, report.reward_entry_id) if report.reward_entry_id is not None else None
    if entry is not None and entry.reversed_by is None:  # an admin may have 冲正'd it by hand already
        # A correction of a decided result: it may take a balance spent already below zero.
        reversal = ledger.reverse_entry(entry.id, f"report:{report.id}:void", user, reason, correction=True)
    duty = reverse_duty(f"report:{report.id}:duty", user, reason)
    _step(report, StepKind.VOIDED, user, reason, now)
    record(user, "report.voided", "report", report.id, report.grid_id, before={"status": before},
           after={"status": "voided", "reason": reason, "entry": reversal.id if reversal else None,
                  "duty": duty.amount if duty else 0})
    _tell_reporter(report, _l("您反映的问题（%(title)s）经核实已撤销，原因请看详情", title=report.title), user)
    return report
