"""Check-in pages of 志愿活动, on the events blueprint: the TV display of the rotating code and the printable static
code, the villager's check-in (and check-out) by scanning, and the staff's check-in desk (USB scanner or a name)."""
from collections.abc import Callable
from functools import partial

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required
from sqlalchemy import select

from ..errors import DomainError
from ..events import checkins, services
from ..events.models import Attendance, CheckinMode, Event
from ..extensions import db, limiter
from ..people.models import Household, Resident
from ..people.privacy import mask_name
from ..rules.models import RuleUnit
from ..timeutil import utc_to_local, utcnow
from . import confirm, refused
from .events import bp, event_to_run
from .forms.auth import LoginForm

PASSES = "checkin_passes"  # in the session: the passes this browser was given for the codes it scanned
MAX_PASSES = 5


def _check_out(check_out: Callable[..., Attendance], back: str) -> Attendance | ResponseReturnValue:
    """签退 by check_out(early=…). One before the village's wait (a second tap right after 签到) is confirmed first,
    naming how long they have been there and what they would be paid: the answer is then the confirmation page (the
    check-out done to read its numbers, and rolled back)."""
    try:
        return check_out(early=confirm.confirmed())
    except DomainError as refusal:
        if refusal.code != "checkout_too_soon":
            raise
    db.session.rollback()
    attendance = check_out(early=True)
    event, version = attendance.event, services.rule_of(attendance.event)
    points = services.points_of(event, version, attendance)
    stayed = services.how_long(attendance.checked_out_at - attendance.checked_in_at)
    if version is not None and version.unit is RuleUnit.HOUR:
        pay = _("现在签退，按 %(h)d 小时记 %(p)d 分", h=services.hours_of(event, attendance), p=points)
    else:
        pay = _("现在签退，记 %(p)d 分", p=points)
    opens = utc_to_local(checkins.checkout_opens(attendance)).strftime("%H:%M")
    minutes = services.checkout_after(event.village_id)
    who = _("您") if attendance.resident_id == current_user.resident_id else _(
        "%(name)s（户号 %(number)s）", name=mask_name(attendance.resident.name), number=attendance.household.number)
    return confirm.ask(_("确认现在签退"), _("%(who)s签到才 %(stayed)s。%(pay)s", who=who, stayed=stayed, pay=pay),
                       button=_("确认签退"), back=back,
                       warning=_("签到不满 %(m)d 分钟：如果还没离开，请先不要签退（%(opens)s 以后签退不用确认）",
                                 m=minutes, opens=opens),
                       details=[_("签退后不能再签退一次，记分按签到到签退的时间。")])


def _checkin_url(token: str) -> str:
    return url_for("events.checkin", token=token, _external=True)


@bp.get("/events/<id:event_id>/display")
@login_required
def display(event_id: int):
    """The TV page: the rotating code, refreshed every 30 s (a meta refresh: the CSP allows no inline script)."""
    event = event_to_run(event_id)
    url = _checkin_url(checkins.rotating_token(event))
    return render_template("events/display.html", event=event, url=url, refresh=checkins.ROTATION_SECONDS)


@bp.get("/events/<id:event_id>/print")
@login_required
def print_code(event_id: int):
    event = event_to_run(event_id)
    return render_template("events/print.html", event=event, url=_checkin_url(checkins.static_token(event)),
                           window=services.event_window(event))


def _account() -> str:
    """The key of the check-in limits: the account, whichever door it comes through (these pages or the API, which
    shares the buckets "checkin" and "checkin-desk"); the address of someone not logged in."""
    return str(current_user.id) if current_user.is_authenticated else get_remote_address()


def _position() -> tuple[float, float] | None:
    """Where the phone is, as static/location.js put it in the check-in form; None when it could not say."""
    latitude, longitude = request.form.get("latitude", type=float), request.form.get("longitude", type=float)
    if latitude is None or longitude is None or not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return latitude, longitude


def _own_attendance(event: Event) -> Attendance | None:
    if current_user.resident_id is None:
        return None
    return db.session.scalar(select(Attendance).where(Attendance.event_id == event.id,
                                                      Attendance.resident_id == current_user.resident_id))


@bp.route("/c/<token>", methods=["GET", "POST"])
@limiter.shared_limit(lambda: current_app.config["CHECKIN_RATE_LIMIT"], "checkin", key_func=_account,
                      methods=["POST"])
def checkin(token: str):
    """The page a scanned code opens: the event and one big 签到 button (签退 when already in, in_out mode). A fresh
    rotating code is first exchanged for one that outlasts logging in."""
    token = token.replace("\x00", "")[:500]
    try:
        event = checkins.event_of_token(token)
        scanned = checkins.scanned_token(token) if request.method == "GET" else None
    except DomainError as refusal:
        db.session.rollback()
        return render_template("events/result.html", event=None, ok=False, message=refusal.message,
                               token=token, attendance=None), refusal.status
    if scanned is not None:
        # The pass is this browser's: kept in its (signed) session, it opens the page here and nowhere else.
        session[PASSES] = [scanned] + [p for p in session.get(PASSES, []) if p != scanned][:MAX_PASSES - 1]
        return redirect(url_for("events.checkin", token=scanned))
    try:
        checkins.require_scanned_here(token, session.get(PASSES, []))
    except DomainError as refusal:
        return render_template("events/result.html", event=event, ok=False, message=refusal.message,
                               token=token, attendance=None), refusal.status
    if not current_user.is_authenticated:
        # The login form, under the event it is for: after logging in the villager is back here to check in.
        return render_template("auth/login.html", form=LoginForm(), error=None, event=event,
                               action=url_for("auth.login", next=request.path))
    if request.method == "GET":
        attendance = _own_attendance(event)
        return render_template("events/checkin.html", event=event, token=token, attendance=attendance,
                               fence=checkins.fenced(event), window=services.event_window(event),
                               **_checkout_times(attendance))
    action = request.form.get("action", "in")
    try:
        if action == "out":
            attendance = _check_out(partial(checkins.check_out_self, current_user, token,
                                            passes=session.get(PASSES, [])),
                                    url_for("events.checkin", token=token))
            if not isinstance(attendance, Attendance):
                return attendance
            message, already = _("签退成功"), False
        else:
            done = checkins.check_in_self(current_user, token, passes=session.get(PASSES, []),
                                          position=_position())
            attendance, already = done.attendance, done.already
            message = _("您已签到过") if done.already else _("签到成功")
    except DomainError as refusal:
        db.session.rollback()
        return render_template("events/result.html", event=event, ok=False, message=refusal.message, token=token,
                               attendance=None), refusal.status
    return render_template("events/result.html", event=event, ok=True, message=message, token=token,
                           attendance=attendance, already=already, action=action, **_checkout_times(attendance))


def _checkout_times(attendance: Attendance | None) -> dict:
    """When 签退 is offered to this attendance (local), and whether it is now: before it, only a confirmed 提前签退."""
    if attendance is None:
        return {}
    opens = checkins.checkout_opens(attendance)
    return dict(checkout_at=utc_to_local(opens), checkout_open=utcnow() >= opens)


@bp.route("/events/<id:event_id>/checkin-desk", methods=["GET", "POST"])
@login_required
@limiter.shared_limit(lambda: current_app.config["CHECKIN_DESK_RATE_LIMIT"], "checkin-desk", key_func=_account,
                      methods=["POST"])
def desk(event_id: int):
    """签到台: a USB scanner types the household card's text and Enter into the focused field; or a name is
    searched and checked in. With ?out=1 (签到并签退 events) it is the 签退台: the same, checking out."""
    event = event_to_run(event_id)
    out = event.mode is CheckinMode.IN_OUT and request.args.get("out") == "1"
    if request.method == "POST" and out:
        return _desk_check_out(event)
    if request.method == "POST":
        card = request.form.get("card", "").replace("\x00", "").strip()[:200]
        resident_id = request.form.get("resident_id", type=int)
        try:
            if card:
                done = checkins.check_in_card(current_user, event, card)
            elif resident_id is not None:
                done = checkins.check_in_resident(current_user, event, resident_id)
            else:
                raise DomainError("invalid_card")
        except DomainError as refusal:
            refused(refusal)
        else:
            name = mask_name(done.attendance.resident.name)
            number = done.attendance.household.number
            if done.already:
                flash(_("%(name)s（%(number)s）已签到过", name=name, number=number), "error")
            else:
                flash(_("%(name)s（%(number)s）签到成功", name=name, number=number))
        return redirect(url_for("events.desk", event_id=event.id))
    query = request.args.get("q", "").replace("\x00", "").strip()[:20]
    found = []
    if query:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        search = (select(Resident).join(Household, Resident.household_id == Household.id)
                  .where(Household.village_id == event.village_id, Resident.name.like(pattern, escape="\\"),
                         Household.closed_on.is_(None), Resident.left_on.is_(None)))
        if event.grid_id is not None:
            search = search.where(Household.grid_id == event.grid_id)
        found = db.session.scalars(search.order_by(Household.number, Resident.id).limit(20)).all()
    return render_template("events/desk.html", event=event, query=query, found=found, out=out)


def _desk_check_out(event: Event) -> ResponseReturnValue:
    """签退台: a scanned card checks out its household's person at the event, or a name is checked out; before the
    village's wait, confirmed first."""
    back = url_for("events.desk", event_id=event.id, out=1)
    card = request.form.get("card", "").replace("\x00", "").strip()[:200]
    resident_id = request.form.get("resident_id", type=int)
    if card:
        check_out = partial(checkins.check_out_card, current_user, event, card)
    else:
        check_out = partial(checkins.check_out_resident, current_user, event, resident_id or 0)
    try:
        attendance = _check_out(check_out, back)
    except DomainError as refusal:
        refused(refusal)
        return redirect(back)
    if not isinstance(attendance, Attendance):
        return attendance
    name, number = mask_name(attendance.resident.name), attendance.household.number
    flash(_("%(name)s（%(number)s）签退成功", name=name, number=number))
    return redirect(back)
