"""Pages of 民情诉求 (随手拍): report, list, the report's timeline and the buttons its viewer may use, photos, the
public counts per grid, and the village's settings."""
import os
import re
import uuid

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from .. import media
from ..auth import policy
from ..errors import DomainError, NotFound
from ..extensions import db
from ..grids.models import NodeKind
from ..grids.queries import get_node
from ..people.models import Household
from ..reports import queries, services
from ..reports import settings as village_settings
from ..reports.models import (
    FEEDBACK_LABELS,
    REPORT_STATUS_LABELS,
    STEP_LABELS,
    Report,
    ReportStatus,
    ReportStep,
)
from ..rules.models import RuleCategory
from ..timeutil import utcnow
from . import confirm, refused
from .forms import refusal_message
from .forms.reports import FeedbackForm, ReasonForm, ReportForm, SettingsForm, StepForm

bp = Blueprint("reports", __name__)
GRID_WORK, MANAGE = policy.Permission.GRID_WORK, policy.Permission.MANAGE_GRID_WORK
KEY = re.compile("[0-9a-f]{32}")
PHOTO_ERRORS = {"report_empty", "too_many_photos", "photo_too_large", "not_an_image"}
TABS = ("mine", "grid", "overdue")


def _store() -> services.PhotoStore:
    return services.PhotoStore(current_app.config["UPLOAD_FOLDER"], current_app.config["PHOTO_MAX_BYTES"])


def _uploads(field) -> list[bytes]:
    return [f.read() for f in field.data or [] if f and f.filename]


def _labels() -> dict:
    return dict(REPORT_STATUS_LABELS=REPORT_STATUS_LABELS, STEP_LABELS=STEP_LABELS, FEEDBACK_LABELS=FEEDBACK_LABELS,
                ReportStatus=ReportStatus)


def _household_by_number(number: str, village_id: int) -> int:
    """The household of that 户号 in the village, among those the staff member serves. Raises DomainError."""
    found = db.session.scalars(
        select(Household.id).where(Household.number == number.strip(), Household.village_id == village_id,
                                   Household.closed_on.is_(None),
                                   policy.node_filter(current_user, GRID_WORK, Household.grid_id)).limit(2)
    ).all()
    if len(found) != 1:
        raise DomainError("report_household_unknown", status=404)
    return found[0]


def _villages() -> list:
    """The villages the user may report in: their own household's first, then those of their grid work."""
    ids = []
    own = policy.own_household_id(current_user)
    if own is not None:
        ids.append(db.session.get(Household, own).village_id)
    ids += [n.village_id for n in policy.nodes_in_scope(current_user, GRID_WORK) if n.village_id is not None]
    return [get_node(i) for i in dict.fromkeys(ids)]


def _chosen(villages: list, raw: str | None) -> int | None:
    """The village asked for (if the user may report there); else their only one, or their own household's; None
    if they must choose."""
    by_id = {str(v.id): v.id for v in villages}
    if raw in by_id:
        return by_id[raw]
    if len(villages) == 1 or policy.own_household_id(current_user) is not None:
        return villages[0].id
    return None


def _report_form(staff: bool, village_id: int | None) -> ReportForm:
    form = ReportForm()
    offered = village_settings.categories(village_id) if village_id is not None else []
    form.category.choices = [SelectChoice(c.name, c.name) for c in offered]
    if not staff:
        del form.household_number
    return form


def _submit(form: ReportForm, staff: bool, village_id: int):
    number = form.household_number.data if staff else ""
    household_id = _household_by_number(number, village_id) if number else None
    return services.submit_report(
        current_user, form.category.data or "", form.text.data or "", _uploads(form.photos), _store(),
        place=form.place.data or "", household_id=household_id, client_key=f"web:{form.key.data}")


@bp.route("/reports/new", methods=["GET", "POST"])
@login_required
def new_report():
    """随手拍: a villager reports a problem; a worker reports for an elder of their grid (代报, by 户号). Staff of
    several villages choose the village first."""
    staff = policy.holds(current_user, GRID_WORK)
    villages = _villages()
    if not villages:
        raise DomainError("villagers_only", status=403)
    posted = request.method == "POST"
    village_id = _chosen(villages, request.form.get("village") if posted else request.args.get("village"))
    form, status = _report_form(staff, village_id), 200
    if posted and village_id is None:
        form.village.errors = [refusal_message(DomainError("report_village_required"), form)]
        status = 422
    elif form.validate_on_submit():
        try:
            report = _submit(form, staff, village_id)
        except DomainError as refusal:
            db.session.rollback()
            field = form.photos if refusal.code in PHOTO_ERRORS else form.category
            if staff and refusal.code in ("report_household_unknown", "report_not_for_staff"):
                field = form.household_number
            field.errors = [*field.errors, refusal_message(refusal, form)]
            status = 422
        else:
            flash(_("已提交，网格员会尽快受理"))
            return redirect(url_for("reports.report", report_id=report.id))
    elif posted:
        status = 422
    else:
        key = request.args.get("key", "")
        if not KEY.fullmatch(key):
            return redirect(url_for("reports.new_report", key=uuid.uuid4().hex, village=request.args.get("village")))
        form.key.data = key
    form.village.data = village_id
    return render_template("reports/new_report.html", form=form, staff=staff, villages=villages,
                           village_id=village_id), status


@bp.get("/reports")
@login_required
def reports():
    """A villager's own reports; the staff's tabs 我处理的 / 本网格 / 已超期."""
    page_number = request.args.get("page", 1, type=int)
    per_page = current_app.config["PER_PAGE"]
    household_id = policy.own_household_id(current_user)
    staff = policy.holds(current_user, GRID_WORK)
    if household_id is None and not staff:
        raise DomainError("villagers_only", status=403)
    mine = queries.reporter_reports(household_id, current_user.id, 1 if staff else page_number, per_page)
    queue, tab = None, request.args.get("tab", "grid")
    if staff:
        tab = tab if tab in TABS else "grid"
        queue = queries.staff_reports(policy.node_filter(current_user, GRID_WORK, Report.grid_id), tab,
                                      current_user.id, utcnow(), page_number, per_page)
    return render_template("reports/reports.html", mine=mine, queue=queue, tab=tab, staff=staff,
                           now=utcnow(), **_labels())


def _who(report: Report, staff_view: bool):
    """How a step's actor is named to this viewer: staff see names; the reporter sees 我, 反映人 or 网格员."""

    def name(step: ReportStep) -> str:
        if step.actor_id is None:
            return _("系统")
        if step.actor_id == current_user.id:
            return _("我")
        if staff_view:
            return step.actor.display_name if step.actor else _("网格员")
        if step.actor_id == report.submitted_by_id or (
                step.actor and step.actor.resident and step.actor.resident.household_id == report.household_id):
            return _("反映人")
        return _("网格员")

    return name


def _buttons(report: Report) -> dict:
    user = current_user
    deciding = (policy.can(user, GRID_WORK, report.grid_id) and report.submitted_by_id != user.id
                and report.household_id != policy.own_household_id(user))
    return dict(
        can_decide=deciding and report.status is ReportStatus.SUBMITTED,
        can_handle=deciding and report.status is ReportStatus.ACCEPTED,
        can_feedback=services.may_give_feedback(user, report) and report.status is ReportStatus.FINISHED,
        feedback_by_household=(report.status is ReportStatus.FINISHED and report.submitted_by_id == user.id
                               and not services.may_give_feedback(user, report)),
        can_void=(policy.can(user, MANAGE, report.grid_id) and report.household_id != policy.own_household_id(user)
                  and report.submitted_by_id != user.id
                  and report.status in (ReportStatus.ACCEPTED, ReportStatus.FINISHED, ReportStatus.CLOSED)),
    )


@bp.get("/reports/<id:report_id>")
@login_required
def report(report_id: int):
    report = services.visible_report(current_user, report_id)
    staff_view = policy.can(current_user, GRID_WORK, report.grid_id)
    return render_template(
        "reports/report.html", report=report, staff_view=staff_view, who=_who(report, staff_view),
        reason_form=ReasonForm(formdata=None), step_form=StepForm(formdata=None),
        feedback_form=FeedbackForm(formdata=None), overdue=report.is_overdue(utcnow()), **_buttons(report),
        **_labels())


def _private_jpeg(path: str):
    response = send_file(path, mimetype="image/jpeg", max_age=0)
    response.headers["Cache-Control"] = "private, max-age=86400"  # a household's photo, never in a shared cache
    return response


def _photo_path(rows, position: int) -> str:
    stored = next((p for p in rows if p.position == position), None)
    path = os.path.join(current_app.config["UPLOAD_FOLDER"], stored.filename) if stored is not None else None
    if path is None or not os.path.isfile(path):
        raise NotFound()
    return path


def _step_photos(report: Report, step_id: int):
    step = next((s for s in report.steps if s.id == step_id), None)
    if step is None:
        raise NotFound()
    return step.photos


@bp.get("/reports/<id:report_id>/photos/<int:position>")
@login_required
def photo(report_id: int, position: int):
    return _private_jpeg(_photo_path(services.visible_report(current_user, report_id).photos, position))


@bp.get("/reports/<id:report_id>/photos/<int:position>/small")
@login_required
def thumbnail(report_id: int, position: int):
    report = services.visible_report(current_user, report_id)
    return _private_jpeg(media.thumbnail(_photo_path(report.photos, position)))


@bp.get("/reports/<id:report_id>/steps/<id:step_id>/photos/<int:position>")
@login_required
def step_photo(report_id: int, step_id: int, position: int):
    report = services.visible_report(current_user, report_id)
    return _private_jpeg(_photo_path(_step_photos(report, step_id), position))


@bp.get("/reports/<id:report_id>/steps/<id:step_id>/photos/<int:position>/small")
@login_required
def step_thumbnail(report_id: int, step_id: int, position: int):
    report = services.visible_report(current_user, report_id)
    return _private_jpeg(media.thumbnail(_photo_path(_step_photos(report, step_id), position)))


def _act(report_id: int, form, do, said: str):
    """Run one action of the report's page and go back to it; a refusal is shown there, a 403 or 404 is the
    answer itself."""
    back = url_for("reports.report", report_id=report_id)
    if form is not None and not form.validate_on_submit():
        services.visible_report(current_user, report_id)
        for errors in form.errors.values():
            flash(errors[0], "error")
        return redirect(back)
    try:
        do()
    except DomainError as refusal:
        if refusal.status in (403, 404):
            raise
        refused(refusal)
        return redirect(back)
    flash(said)
    return redirect(back)


@bp.post("/reports/<id:report_id>/accept")
@login_required
def accept(report_id: int):
    return _act(report_id, None, lambda: services.accept_report(current_user, report_id),
                _("已受理，请在期限内办结"))


@bp.post("/reports/<id:report_id>/reject")
@login_required
def reject(report_id: int):
    form = ReasonForm()
    return _act(report_id, form, lambda: services.reject_report(current_user, report_id, form.reason.data),
                _("已不予受理"))


@bp.post("/reports/<id:report_id>/progress")
@login_required
def progress(report_id: int):
    form = StepForm()
    return _act(report_id, form, lambda: services.add_progress(current_user, report_id, form.note.data or "",
                                                               _uploads(form.photos), _store()), _("已记录处置情况"))


@bp.post("/reports/<id:report_id>/finish")
@login_required
def finish(report_id: int):
    form = StepForm()
    return _act(report_id, form, lambda: services.finish_report(current_user, report_id, form.note.data or "",
                                                                _uploads(form.photos), _store()),
                _("已办结，等待反映人评价"))


@bp.post("/reports/<id:report_id>/feedback")
@login_required
def feedback(report_id: int):
    form = FeedbackForm()
    return _act(report_id, form, lambda: services.give_feedback(
        current_user, report_id, form.satisfied.data == "yes", form.reason.data or ""), _("谢谢您的评价"))


@bp.post("/reports/<id:report_id>/void")
@login_required
def void(report_id: int):
    """撤销, after a confirmation naming the points it takes back."""
    form, back = ReasonForm(), url_for("reports.report", report_id=report_id)
    report = services.visible_report(current_user, report_id)
    stake = queries.at_stake(report)
    if form.validate_on_submit() and not confirm.confirmed():
        try:
            services.void_report(current_user, report_id, form.reason.data)
        except DomainError as refusal:
            if refusal.status in (403, 404):
                raise
            refused(refusal)
            return redirect(back)
        details = [_("理由：%(reason)s", reason=form.reason.data), _("撤销后不能恢复，反映人会收到通知。")]
        return confirm.ask(
            _("确认撤销这条民情诉求"),
            _("撤销“%(title)s”：反映人户扣回 %(reward)d 分，办理人扣回履职积分 %(duty)d 分",
              title=report.title, reward=stake.reward, duty=stake.duty),
            button=_("确认撤销"), back=back, details=details)
    return _act(report_id, form, lambda: services.void_report(current_user, report_id, form.reason.data),
                _("已撤销，积分已扣回"))


@bp.get("/villages/<id:village_id>/reports/public")
def public(village_id: int):
    """Open to anyone: per grid, how many reports wait and how many were done. Numbers only."""
    village = get_node(village_id)
    if village.kind is not NodeKind.VILLAGE or village.retired_at is not None:
        raise NotFound()
    return render_template("reports/public.html", village=village, counts=queries.public_counts(village.id))


def _rule_choices(village_id: int, category: RuleCategory) -> list:
    return [SelectChoice(0, _("不记分"))] + [SelectChoice(v.rule_id, f"{v.name}（+{v.points}）")
                                           for v in village_settings.rule_choices(village_id, category)]


def _save_settings(village, form) -> None:
    names = {k[5:]: v for k, v in request.form.items() if k.startswith("name-")}  # its name now → its new name
    retired = set(request.form.getlist("retire"))
    village_settings.save_categories(current_user, village, names, retired,
                             [form.new_category.data] if form.new_category.data else [])
    village_settings.update_settings(current_user, village, form.accept_hours.data, form.finish_days.data,
                             form.reward_rule_id.data or None, form.duty_rule_id.data or None)


@bp.route("/villages/<id:village_id>/report-settings", methods=["GET", "POST"])
@login_required
def settings(village_id: int):
    """The village admin's categories, deadlines and rules of 民情诉求."""
    village = get_node(village_id)
    if village.kind is not NodeKind.VILLAGE:
        raise NotFound()
    policy.require(current_user, MANAGE, village.id)
    current = village_settings.settings_of(village.id)
    form = SettingsForm(obj=current)
    form.reward_rule_id.choices = _rule_choices(village.id, RuleCategory.PUBLICITY)
    form.duty_rule_id.choices = _rule_choices(village.id, RuleCategory.GRID_DUTY)
    if request.method == "GET":
        form.reward_rule_id.data, form.duty_rule_id.data = current.reward_rule_id or 0, current.duty_rule_id or 0
    status = 200
    if form.validate_on_submit():
        try:
            _save_settings(village, form)
        except DomainError as refusal:
            refused(refusal)
            status = 422
        else:
            flash(_("民情诉求设置已保存"))
            return redirect(url_for("reports.settings", village_id=village.id))
    elif request.method == "POST":
        status = 422
    return render_template("reports/settings.html", village=village, form=form,
                           categories=village_settings.categories(village.id, with_retired=True)), status
