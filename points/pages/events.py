"""Pages of 志愿活动: a village's events and the new-event form with the village's check-in settings, the
monthly-series form, an event's page with its attendance list and its edit form, and closing it. The check-in pages
are in events_checkins.py and the household cards in cards.py, on this same blueprint."""
from datetime import datetime, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ..auth import policy
from ..errors import DomainError, Forbidden, NotFound
from ..events import checkins, services
from ..events.models import METHOD_LABELS, MODE_LABELS, Attendance, CheckinMode, Event
from ..events.queries import visible_event, visible_events
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..people.models import Household
from ..people.privacy import mask_name
from ..qr import inline_svg
from ..rules.models import Rule, RuleUnit, RuleVersion
from ..rules.queries import version_in_force
from ..timeutil import local_today, utc_to_local, utcnow
from . import confirm
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


def event_to_run(event_id: int) -> Event:
    """The event, for its organizer or staff of its village. Raises NotFound, Forbidden."""
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
    event = event_to_run(event_id)
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
    event_to_run(attendance.event_id)
    checkins.remove_attendance(current_user, attendance)
    flash(_("已移除 %(name)s 的签到", name=mask_name(attendance.resident.name)))
    return redirect(url_for("events.detail", event_id=attendance.event_id))


@bp.post("/events/<id:event_id>/close")
@login_required
def close(event_id: int):
    """结束活动并记分, confirmed first: it cannot be undone, and before the event's end nobody can check in after."""
    event = event_to_run(event_id)
    if event.closed_at is None and not confirm.confirmed():
        return _ask_close(event)
    services.close_event(current_user, event, early=True)
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


# The routes of these modules are on bp: imported here, they are registered with it.
from . import cards, events_checkins  # noqa: E402, F401
