"""Pages of 志愿活动 and 户卡: a village's events and the new-event form, the monthly-series form, an event's page
with its attendance list and its edit form, the TV display of the rotating code and the printable static code, the
villager's check-in by scanning, the staff's check-in desk (USB scanner or a name), and the household cards of a
grid with the button that issues the missing ones."""
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ..auth import policy
from ..errors import DomainError, Forbidden, NotFound
from ..events import services
from ..events.models import METHOD_LABELS, MODE_LABELS, Attendance, CheckinMode, Event
from ..events.queries import visible_event, visible_events
from ..extensions import db, limiter
from ..grids.models import GridNode, NodeKind
from ..grids.queries import get_node
from ..people.models import Household, Resident
from ..people.privacy import mask_name
from ..qr import inline_svg
from ..rules.models import Rule, RuleUnit, RuleVersion
from ..rules.queries import version_in_force
from ..timeutil import local_today, utc_to_local, utcnow
from . import confirm
from .forms.auth import LoginForm
from .forms.events import (
    NTH_LABELS,
    WEEKDAY_LABELS,
    CheckoutAfterForm,
    EventForm,
    EventTermsForm,
    FenceForm,
    SeriesForm,
)

bp = Blueprint("events", __name__)
PASSES = "checkin_passes"  # in the session: the passes this browser was given for the codes it scanned
MAX_PASSES = 5
MANAGE = policy.Permission.MANAGE_EVENTS
UNPAID_LABELS = {
    "rule_not_in_force": _l("该细则在活动当天不在有效期内"),
    "rule_not_for_household_kind": _l("该细则不适用于这一户的户籍类型"),
    "cap_exceeded": _l("已达细则的积分上限"),
    "household_closed": _l("这一户已整户迁出"),
    "resident_left": _l("此人已不在这一户"),
}


def rule_label(version: RuleVersion) -> str:
    """A rule as the people at an event read it: its name and what it pays, not its code."""
    unit = _("每小时") if version.unit is RuleUnit.HOUR else _("每次")
    return _("%(name)s，%(unit)s +%(points)d 分", name=version.name, unit=unit, points=version.points)


@bp.context_processor
def _template_helpers() -> dict:
    return dict(MODE_LABELS=MODE_LABELS, METHOD_LABELS=METHOD_LABELS, CheckinMode=CheckinMode, svg=inline_svg,
                UNPAID_LABELS=UNPAID_LABELS, rule_label=rule_label, rule_of=services.rule_of)


def _may_run(event: Event) -> bool:
    return policy.can_run_event(current_user, event.village_id, event.organizer_id)


def _run_event(event_id: int) -> Event:
    event = visible_event(current_user, event_id)
    if not _may_run(event):
        raise Forbidden()
    return event


@bp.get("/events")
@login_required
def mine():
    """活动: a villager's upcoming events of their village; staff go to their (first) village's events."""
    own = policy.own_household_id(current_user)
    if own is not None:
        household = db.session.get(Household, own)
        upcoming, _past = visible_events(current_user, household.village_id, as_villager=True)
        return render_template("events/mine.html", events=upcoming, village=household.village)
    for permission in (MANAGE, policy.Permission.VIEW_GRIDS):
        nodes = policy.nodes_in_scope(current_user, permission)
        ids = [n.id if n.kind is NodeKind.VILLAGE else n.village_id for n in nodes
               if n.kind in (NodeKind.VILLAGE, NodeKind.GRID)]
        if ids:
            return redirect(url_for("events.village_events", village_id=ids[0]))
    raise Forbidden()


def _award_rules(village_id: int) -> list[tuple[int, str]]:
    today, choices = local_today(), []
    for rule in db.session.scalars(select(Rule).where(Rule.village_id == village_id).order_by(Rule.code)):
        version = version_in_force(rule.id, today)
        if version is not None and version.points > 0:
            choices.append((rule.id, f"{rule.code} {rule_label(version)}"))
    return choices


def _fill_choices(form: EventTermsForm, village_id: int, current_rule: Rule | None = None) -> None:
    """The rules (awards in force today, and the event's own rule if it no longer is), after an empty first choice so
    that nobody is paid under a rule they did not pick, and the grids to pick from."""
    rules = _award_rules(village_id)
    if current_rule is not None and current_rule.id not in {rule_id for rule_id, _label in rules}:
        rules.append((current_rule.id, current_rule.code))
    form.rule_id.choices = [SelectChoice("", _("请选择…"))] + [SelectChoice(rule_id, label) for rule_id, label in rules]
    grids = db.session.scalars(select(GridNode).where(GridNode.village_id == village_id,
                                                      GridNode.kind == NodeKind.GRID).order_by(GridNode.code))
    form.grid_id.choices = [SelectChoice(0, _("全村"))] + [SelectChoice(g.id, g.name) for g in grids]


def _terms(form: EventTermsForm, starts: datetime, ends: datetime, organizer_id: int | None) -> services.EventTerms:
    located = getattr(form, "latitude", None)  # a series has no place on the map
    return services.EventTerms(title=form.title.data, place=form.place.data, starts=starts, ends=ends,
                               rule_id=form.rule_id.data, mode=form.mode.data, capacity=form.capacity.data,
                               grid_id=form.grid_id.data or None, organizer_id=organizer_id,
                               latitude=located.data if located else None,
                               longitude=form.longitude.data if located else None)


@bp.route("/villages/<id:village_id>/events", methods=["GET", "POST"])
@login_required
def village_events(village_id: int):
    village = policy.visible_village(current_user, village_id)
    manager = policy.can(current_user, MANAGE, village.id)
    form, error, status = None, None, 200
    if manager:
        form = EventForm()
        _fill_choices(form, village.id)
    if request.method == "POST":
        if not manager:
            raise Forbidden()
        if form.validate_on_submit():
            terms = _terms(form, form.starts.data, form.ends.data, current_user.id)
            try:
                event = services.create_event(current_user, village, terms)
            except DomainError as refusal:
                db.session.rollback()
                error, status = refusal.message, 422
            else:
                db.session.commit()
                flash(_("活动已创建：%(title)s", title=event.title))
                return redirect(url_for("events.detail", event_id=event.id))
        else:
            status = 422
    upcoming, past = visible_events(current_user, village.id)
    fence = FenceForm(formdata=None, fence=services.fence_of(village.id)) if manager else None
    checkout_after = CheckoutAfterForm(formdata=None, minutes=services.checkout_after(village.id)) if manager else None
    return render_template("events/village.html", village=village, upcoming=upcoming, past=past, form=form,
                           error=error, fence=fence, checkout_after=checkout_after), status


@bp.post("/villages/<id:village_id>/events/fence")
@login_required
def set_fence(village_id: int):
    """签到范围: how near the event's place a villager's own check-in must be (events with a place on the map)."""
    village = policy.visible_village(current_user, village_id)
    form = FenceForm()
    if not form.validate_on_submit():
        flash(next(iter(form.errors.values()))[0], "error")
        return redirect(url_for("events.village_events", village_id=village.id))
    services.set_fence(current_user, village, form.fence.data)
    db.session.commit()
    flash(_("签到须在活动地点 %(m)d 米之内", m=form.fence.data) if form.fence.data else _("签到不限地点"))
    return redirect(url_for("events.village_events", village_id=village.id))


@bp.post("/villages/<id:village_id>/events/checkout-after")
@login_required
def set_checkout_after(village_id: int):
    """签退等待: how long after checking in 签退 is offered (签到并签退 events); before it, a check-out is confirmed."""
    village = policy.visible_village(current_user, village_id)
    form = CheckoutAfterForm()
    if not form.validate_on_submit():
        flash(next(iter(form.errors.values()))[0], "error")
        return redirect(url_for("events.village_events", village_id=village.id))
    services.set_checkout_after(current_user, village, form.minutes.data)
    db.session.commit()
    flash(_("签到满 %(m)d 分钟后可以签退", m=form.minutes.data))
    return redirect(url_for("events.village_events", village_id=village.id))


@bp.get("/events/<id:event_id>")
@login_required
def detail(event_id: int):
    event = visible_event(current_user, event_id)
    runner = _may_run(event)
    attendances = []
    if runner:
        attendances = db.session.scalars(select(Attendance).where(Attendance.event_id == event.id)
                                         .order_by(Attendance.checked_in_at, Attendance.id)).all()
    own = None
    if current_user.resident_id is not None:
        own = db.session.scalar(select(Attendance).where(Attendance.event_id == event.id,
                                                         Attendance.resident_id == current_user.resident_id))
    return render_template("events/detail.html", event=event, runner=runner, attendances=attendances, own=own,
                           window=services.event_window(event), over=utcnow() >= event.starts_at,
                           editable=runner and event.closed_at is None and policy.can(current_user, MANAGE,
                                                                                      event.village_id))


@bp.route("/events/<id:event_id>/edit", methods=["GET", "POST"])
@login_required
def edit(event_id: int):
    """编辑活动: the event's terms, times in local time. A closed event is shown with why it cannot change."""
    event = _run_event(event_id)
    policy.require(current_user, MANAGE, event.village_id)  # the service's own check, before showing the form
    form = EventForm(data=_terms_of(event) if request.method == "GET" else None)
    _fill_choices(form, event.village_id, event.rule)
    error, status = None, 200
    if request.method == "GET" and event.closed_at is not None:
        error, status = DomainError("event_closed").message, 409
    elif request.method == "POST":
        if form.validate_on_submit():
            terms = _terms(form, form.starts.data, form.ends.data, event.organizer_id)
            try:
                services.update_event(current_user, event, terms)
            except DomainError as refusal:
                db.session.rollback()
                error, status = refusal.message, 422
            else:
                db.session.commit()
                flash(_("活动已保存：%(title)s", title=event.title))
                return redirect(url_for("events.detail", event_id=event.id))
        else:
            status = 422
    return render_template("events/edit.html", event=event, form=form, error=error), status


def _terms_of(event: Event) -> dict:
    return {"title": event.title, "place": event.place, "starts": utc_to_local(event.starts_at),
            "ends": utc_to_local(event.ends_at), "rule_id": event.rule_id, "mode": event.mode.value,
            "capacity": event.capacity, "grid_id": event.grid_id or 0, "latitude": event.latitude,
            "longitude": event.longitude}


@bp.route("/villages/<id:village_id>/series", methods=["GET", "POST"])
@login_required
def series(village_id: int):
    """每月重复的活动: one event on the nth weekday of each month, from a first month to a last, all made at once."""
    village = policy.visible_village(current_user, village_id)
    policy.require(current_user, MANAGE, village.id)
    form = SeriesForm()
    _fill_choices(form, village.id)
    error, status = None, 200
    if request.method == "POST":
        if form.validate_on_submit():
            first = form.first_month.data
            terms = _terms(form, datetime.combine(first, form.start_time.data),
                           datetime.combine(first, form.end_time.data), current_user.id)
            try:
                made = services.create_series(current_user, village, terms, form.nth.data, form.weekday.data,
                                              first, form.last_month.data)
            except DomainError as refusal:
                db.session.rollback()
                error, status = refusal.message, 422
            else:
                count = len(services.series_days(made))
                db.session.commit()
                flash(_("已创建 %(n)d 场“%(title)s”：每月%(nth)s%(weekday)s", n=count, title=made.title,
                        nth=NTH_LABELS[made.nth], weekday=WEEKDAY_LABELS[made.weekday]))
                return redirect(url_for("events.village_events", village_id=village.id))
        else:
            status = 422
    return render_template("events/series.html", village=village, form=form, error=error), status


@bp.post("/attendances/<id:attendance_id>/remove")
@login_required
def remove(attendance_id: int):
    attendance = db.session.get(Attendance, attendance_id)
    if attendance is None:
        raise NotFound()
    _run_event(attendance.event_id)
    services.remove_attendance(current_user, attendance)
    db.session.commit()
    flash(_("已移除 %(name)s 的签到", name=mask_name(attendance.resident.name)))
    return redirect(url_for("events.detail", event_id=attendance.event_id))


@bp.post("/events/<id:event_id>/close")
@login_required
def close(event_id: int):
    """结束活动并记分, confirmed first: it cannot be undone, and before the event's end nobody can check in after."""
    event = _run_event(event_id)
    if event.closed_at is None and not confirm.confirmed():
        return _ask_close(event)
    services.close_event(current_user, event, early=True)
    db.session.commit()
    paid = db.session.scalars(select(Attendance).where(Attendance.event_id == event.id,
                                                       Attendance.entry_id.is_not(None))).all()
    flash(_("活动已结束：%(paid)d 人记分", paid=len(paid)))
    return redirect(url_for("events.detail", event_id=event.id))


def _ask_close(event: Event):
    """The confirmation of closing, with the service's own numbers: the event closed, read, and rolled back."""
    left = event.ends_at - utcnow()
    services.close_event(current_user, event, early=True)
    version = services.rule_of(event)
    attendances = db.session.scalars(select(Attendance).where(Attendance.event_id == event.id,
                                                              Attendance.removed_at.is_(None))).all()
    paid = [a for a in attendances if a.entry is not None]
    what = _("将为 %(people)d 人（%(households)d 户）记分，共 %(points)d 分", people=len(paid),
             households=len({a.household_id for a in paid}), points=sum(a.entry.amount for a in paid))
    details = [_("按细则：%(rule)s", rule=rule_label(version))] if version else []
    unpaid = [a for a in attendances if a.entry is None]
    if unpaid:
        reasons = "、".join(sorted({str(UNPAID_LABELS.get(a.unpaid_reason, a.unpaid_reason)) for a in unpaid}))
        details.append(_("%(n)d 人不记分：%(reasons)s", n=len(unpaid), reasons=reasons))
    if event.mode is CheckinMode.IN_OUT and version is not None and version.unit is RuleUnit.HOUR:
        missing = sum(1 for a in attendances if a.checked_out_at is None)
        if missing:
            details.append(_("%(n)d 人没有签退，按 %(h)d 小时记分", n=missing, h=services.MISSING_CHECKOUT_HOURS))
    details.append(_("结束后不能再签到或移除签到，也不能撤销。"))
    db.session.rollback()
    warning = _("活动还有 %(left)s才结束；现在结束，之后来的人不能再签到", left=services.how_long(left)) \
        if left > timedelta(0) else ""
    return confirm.ask(_("确认结束活动"), what, button=_("结束活动并记分"), details=details, warning=warning,
                       back=url_for("events.detail", event_id=event.id))


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
    opens = utc_to_local(services.checkout_opens(attendance)).strftime("%H:%M")
    minutes = services.checkout_after(event.village_id)
    who = _("您") if attendance.resident_id == current_user.resident_id else _(
        "%(name)s（户号 %(number)s）", name=mask_name(attendance.resident.name), number=attendance.household.number)
    db.session.rollback()
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
    event = _run_event(event_id)
    url = _checkin_url(services.rotating_token(event))
    return render_template("events/display.html", event=event, url=url, refresh=services.ROTATION_SECONDS)


@bp.get("/events/<id:event_id>/print")
@login_required
def print_code(event_id: int):
    event = _run_event(event_id)
    return render_template("events/print.html", event=event, url=_checkin_url(services.static_token(event)),
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
        event = services.event_of_token(token)
        scanned = services.scanned_token(token) if request.method == "GET" else None
    except DomainError as refusal:
        db.session.rollback()
        return render_template("events/result.html", event=None, ok=False, message=refusal.message,
                               token=token, attendance=None), refusal.status
    if scanned is not None:
        # The pass is this browser's: kept in its (signed) session, it opens the page here and nowhere else.
        session[PASSES] = [scanned] + [p for p in session.get(PASSES, []) if p != scanned][:MAX_PASSES - 1]
        return redirect(url_for("events.checkin", token=scanned))
    try:
        services.require_scanned_here(token, session.get(PASSES, []))
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
                               fence=services.fenced(event), window=services.event_window(event),
                               **_checkout_times(attendance))
    action = request.form.get("action", "in")
    try:
        if action == "out":
            attendance = _check_out(partial(services.check_out_self, current_user, token,
                                            passes=session.get(PASSES, [])),
                                    url_for("events.checkin", token=token))
            if not isinstance(attendance, Attendance):
                return attendance
            message, already = _("签退成功"), False
        else:
            done = services.check_in_self(current_user, token, passes=session.get(PASSES, []),
                                          position=_position())
            attendance, already = done.attendance, done.already
            message = _("您已签到过") if done.already else _("签到成功")
    except DomainError as refusal:
        db.session.rollback()
        return render_template("events/result.html", event=event, ok=False, message=refusal.message, token=token,
                               attendance=None), refusal.status
    db.session.commit()
    return render_template("events/result.html", event=event, ok=True, message=message, token=token,
                           attendance=attendance, already=already, action=action, **_checkout_times(attendance))


def _checkout_times(attendance: Attendance | None) -> dict:
    """When 签退 is offered to this attendance (local), and whether it is now: before it, only a confirmed 提前签退."""
    if attendance is None:
        return {}
    opens = services.checkout_opens(attendance)
    return dict(checkout_at=utc_to_local(opens), checkout_open=utcnow() >= opens)


@bp.route("/events/<id:event_id>/checkin-desk", methods=["GET", "POST"])
@login_required
@limiter.shared_limit(lambda: current_app.config["CHECKIN_DESK_RATE_LIMIT"], "checkin-desk", key_func=_account,
                      methods=["POST"])
def desk(event_id: int):
    """签到台: a USB scanner types the household card's text and Enter into the focused field; or a name is
    searched and checked in. With ?out=1 (签到并签退 events) it is the 签退台: the same, checking out."""
    event = _run_event(event_id)
    out = event.mode is CheckinMode.IN_OUT and request.args.get("out") == "1"
    if request.method == "POST" and out:
        return _desk_check_out(event)
    if request.method == "POST":
        card = request.form.get("card", "").replace("\x00", "").strip()[:200]
        resident_id = request.form.get("resident_id", type=int)
        try:
            if card:
                done = services.check_in_card(current_user, event, card)
            elif resident_id is not None:
                done = services.check_in_resident(current_user, event, resident_id)
            else:
                raise DomainError("invalid_card")
        except DomainError as refusal:
            db.session.rollback()
            flash(refusal.message, "error")
        else:
            db.session.commit()
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
        check_out = partial(services.check_out_card, current_user, event, card)
    else:
        check_out = partial(services.check_out_resident, current_user, event, resident_id or 0)
    try:
        attendance = _check_out(check_out, back)
    except DomainError as refusal:
        db.session.rollback()
        flash(refusal.message, "error")
        return redirect(back)
    if not isinstance(attendance, Attendance):
        return attendance
    name, number = mask_name(attendance.resident.name), attendance.household.number
    db.session.commit()
    flash(_("%(name)s（%(number)s）签退成功", name=name, number=number))
    return redirect(back)


def _grid(grid_id: int) -> GridNode:
    grid = get_node(grid_id)
    if grid.kind is not NodeKind.GRID:
        raise NotFound()
    return grid


@bp.get("/grids/<id:grid_id>/cards")
@login_required
def cards(grid_id: int):
    """户卡: the current card of every household of the grid, eight to an A4 page; households without a card are
    listed, and issued theirs by one button (the page itself changes nothing)."""
    grid = _grid(grid_id)
    printed, missing = services.cards_of_grid(current_user, grid)
    return render_template("events/cards.html", grid=grid, cards=printed, missing=missing, text=services.card_text)


@bp.post("/grids/<id:grid_id>/cards")
@login_required
def issue_cards(grid_id: int):
    grid = _grid(grid_id)
    issued = services.issue_missing_cards(current_user, grid)
    db.session.commit()
    if issued:
        flash(_("已发放 %(n)d 户的户卡", n=len(issued)))
    else:
        flash(_("每户都已有户卡，没有发放新卡"))
    return redirect(url_for("events.cards", grid_id=grid.id))


@bp.post("/households/<id:household_id>/card/reissue")
@login_required
def reissue(household_id: int):
    household = db.session.get(Household, household_id)
    if household is None:
        raise NotFound()
    card = services.issue_card(current_user, household, request.form.get("serial", type=int))
    if card is None:  # the card this page showed was replaced already: the form was sent twice
        db.session.rollback()
        flash(_("户号 %(number)s 的卡已经补办过了，不再补办", number=household.number), "error")
        return redirect(url_for("events.cards", grid_id=household.grid_id))
    if not confirm.confirmed():  # 补办 voids the card the household holds: confirmed first, naming it
        head = mask_name(household.head.name) if household.head else ""
        what = _("将为户号 %(number)s（%(head)s）补办第 %(serial)d 张户卡", number=household.number, head=head,
                 serial=card.serial)
        warning = _("旧卡（第 %(old)d 张）立即作废：扫旧卡不能再签到，也不能在积分超市兑换", old=card.serial - 1) \
            if card.serial > 1 else ""
        back = url_for("events.cards", grid_id=household.grid_id)
        db.session.rollback()
        return confirm.ask(_("确认补办户卡"), what, button=_("补办户卡"), back=back, warning=warning,
                           details=[_("补办后请打印新卡交给这一户，并收回旧卡。")])
    db.session.commit()
    flash(_("已为 %(number)s 补办户卡（第 %(serial)d 张），旧卡作废", number=household.number, serial=card.serial))
    return redirect(url_for("events.cards", grid_id=household.grid_id))
