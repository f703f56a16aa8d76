"""Pages of a village's 公示 and 清零 settings, and of its 清零: what is due now and next, running it after a
confirmation naming the households and points, and undoing a run."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms import DateField, IntegerField, RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional

from ..auth import policy
from ..errors import DomainError, NotFound
from ..extensions import db
from ..grids.models import GridNode
from ..ledger import lifecycle
from ..ledger.models import EXPIRY_MODE_LABELS, ExpiryMode, ExpiryRun
from ..people.models import Household
from ..people.privacy import mask_name
from ..timeutil import local_today, utc_to_local
from . import confirm, refused
from .forms import Form

bp = Blueprint("expiry", __name__)

MANAGE = policy.Permission.MANAGE_POINTS
CONFIRM_LINES = 30  # households named one by one on a confirmation page; the rest are counted


class SettingsForm(Form):
    objection_days = IntegerField(_l("公示异议天数"), validators=[InputRequired(_l("请填写天数（0 到 28）"))])
    spend_after_publicity = RadioField(_l("积分公示结束后才能兑换"), choices=[
        SelectChoice("0", _l("否：积分记上就能在积分超市兑换（默认）")),
        SelectChoice("1", _l("是：每月的积分要等公示结束、没有异议后才能兑换"))])
    expiry = RadioField(_l("清零方式"), choices=[SelectChoice(m.value, EXPIRY_MODE_LABELS[m]) for m in ExpiryMode])
    reset_on = DateField(_l("清零日期（第一次清零的日子，以后每年这一天）"), validators=[Optional()])
    carry_percent = IntegerField(_l("保留比例（%，0 为全部清零）"), validators=[Optional()])
    carry_cap = IntegerField(_l("最多保留多少分（不限就留空）"), validators=[Optional()])
    expiry_months = IntegerField(_l("积分有效几个月（1 到 120）"), validators=[Optional()])


def _managed_village(village_id: int) -> GridNode:
    """The village, to whoever manages its points. Raises NotFound, Forbidden."""
    village = policy.visible_village(current_user, village_id)
    policy.require(current_user, MANAGE, village.id)
    return village


@bp.route("/villages/<id:village_id>/points-settings", methods=["GET", "POST"])
@login_required
def settings(village_id: int):
    """公示和清零设置: the objection days, whether points wait for their 公示, and how points are cleared."""
    village = _managed_village(village_id)
    current = lifecycle.settings_of(village.id)
    form = SettingsForm(obj=current)
    if request.method == "GET":
        form.spend_after_publicity.data = "1" if current.spend_after_publicity else "0"
        form.expiry.data = ExpiryMode(current.expiry).value
    error, status = None, 200
    if form.validate_on_submit():
        try:
            lifecycle.update_settings(current_user, village, **_settings_fields(form, current))
        except DomainError as refusal:
            db.session.rollback()
            error, status = refusal.message, 422
        else:
            flash(_("公示和清零设置已保存"))
            return redirect(url_for("expiry.settings", village_id=village.id))
    elif request.method == "POST":
        status = 422
    return render_template("expiry/settings.html", village=village, form=form, error=error), status


def _settings_fields(form: SettingsForm, current) -> dict:
    """The form's values for update_settings; a number left empty keeps what the village has."""
    return {
        "objection_days": form.objection_days.data,
        "spend_after_publicity": form.spend_after_publicity.data == "1",
        "expiry": form.expiry.data or ExpiryMode(current.expiry).value,
        "reset_on": form.reset_on.data if form.reset_on.data is not None else current.reset_on,
        "carry_percent": form.carry_percent.data if form.carry_percent.data is not None else current.carry_percent,
        "carry_cap": form.carry_cap.data,
        "expiry_months": form.expiry_months.data if form.expiry_months.data is not None else current.expiry_months,
    }


@bp.get("/villages/<id:village_id>/expiry")
@login_required
def expiry(village_id: int):
    """积分清零: the clearing due now (or its run), the next one, and the past runs with their undoing."""
    village = _managed_village(village_id)
    today = local_today()
    return render_template(
        "expiry/expiry.html", village=village, settings=lifecycle.settings_of(village.id),
        due=lifecycle.preview(village, today), upcoming=lifecycle.preview(village, today, upcoming=True),
        runs=lifecycle.runs_of(village.id), day=lifecycle.full_day_label, when=local_moment,
        modes=EXPIRY_MODE_LABELS)


@bp.post("/villages/<id:village_id>/expiry")
@login_required
def run(village_id: int):
    """执行清零, after a confirmation naming each household and its points. A period cleared already is shown with
    the time it was cleared, and nothing is cleared again."""
    village = _managed_village(village_id)
    back = url_for("expiry.expiry", village_id=village.id)
    due = lifecycle.preview(village)
    if due.run is not None:
        return _already_run(due.run, back)
    if not confirm.confirmed() and due.due is not None:
        what = _("将清零 %(households)d 户，共 %(points)d 分：%(cutoff)s以前得到的积分（已兑换的不算）",
                 households=due.households, points=due.points, cutoff=lifecycle.full_day_label(due.due.cutoff))
        return confirm.ask(_("确认执行积分清零"), what, back=back, details=_household_lines(due.lost),
                           button=_("确认清零 %(points)d 分", points=due.points),
                           warning=_("清零后各户的这些积分不能再兑换；如有错误，可以在本页撤销。"))
    try:
        made, new = lifecycle.run_expiry(current_user, village)
    except DomainError as refusal:
        refused(refusal)
        return redirect(back)
    if not new:  # a run racing this one made it first
        return _already_run(made, back)
    flash(_("已清零 %(households)d 户，共 %(points)d 分", households=made.households, points=made.points))
    return redirect(back)


def _already_run(made: ExpiryRun, back: str):
    flash(DomainError("expiry_already_run", when=_run_time(made)).message)
    return redirect(back)


def _run_time(made: ExpiryRun) -> str:
    return local_moment(made.created_at)


def local_moment(moment) -> str:
    """2027年1月10日 09:00, in local time, of a stored (UTC) time."""
    local = utc_to_local(moment)
    return f"{lifecycle.full_day_label(local.date())} {local:%H:%M}"


def _household_lines(points: dict[int, int]) -> list[str]:
    """户号 and masked head of each household with its points, the first CONFIRM_LINES of them; then how many more."""
    ids = list(points)
    households = {h.id: h for h in db.session.scalars(select(Household).where(
        Household.id.in_(ids[:CONFIRM_LINES])))}
    lines = [_("户号 %(number)s %(head)s：%(points)d 分", number=households[i].number,
               head=mask_name(households[i].head.name) if households[i].head else "", points=points[i])
             for i in ids[:CONFIRM_LINES]]
    if len(ids) > CONFIRM_LINES:
        lines.append(_("……另有 %(more)d 户，共 %(points)d 分", more=len(ids) - CONFIRM_LINES,
                       points=sum(points[i] for i in ids[CONFIRM_LINES:])))
    return lines


@bp.post("/expiry-runs/<id:run_id>/undo")
@login_required
def undo(run_id: int):
    """撤销清零, after a confirmation naming each household and the points it gets back."""
    made = db.session.get(ExpiryRun, run_id)
    if made is None:
        raise NotFound()
    _managed_village(made.village_id)
    back = url_for("expiry.expiry", village_id=made.village_id)
    if not confirm.confirmed() and made.undone_at is None:
        given = lifecycle.cleared_by(made)
        what = _("将撤销 %(time)s 的积分清零：退回 %(households)d 户，共 %(points)d 分",
                 time=_run_time(made), households=len(given), points=sum(given.values()))
        return confirm.ask(_("确认撤销积分清零"), what, back=back, details=_household_lines(given),
                           button=_("确认撤销，退回 %(points)d 分", points=sum(given.values())),
                           warning=_("撤销后这一期不会再清零。"))
    try:
        lifecycle.undo_expiry(current_user, made)
    except DomainError as refusal:
        refused(refusal)
        return redirect(back)
    flash(_("已撤销这次清零，积分已退回各户"))
    return redirect(back)
