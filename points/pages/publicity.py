"""积分公示表 pages: the public table of a village or grid for a month (and its A4 print for the notice board), a
villager's 公示异议, and the admins' list and answer of objections."""
from datetime import date, timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ..auth import policy
from ..claims import objections as services
from ..claims.models import OBJECTION_STATUS_LABELS, Objection, ObjectionStatus
from ..errors import DomainError, NotFound
from ..extensions import db
from ..grids.models import GridNode
from ..ledger.publicity import (
    Publicity,
    PublicityState,
    column_label,
    column_sums,
    past_month,
    publicity_node,
    publicity_table,
)
from ..limits import MAX_ID
from ..people.models import Household
from ..people.privacy import mask_name
from ..periods import day_label, month_label
from ..timeutil import local_today
from . import confirm, refused
from .forms import Form, fresh_key, refusal_message

bp = Blueprint("publicity", __name__)


class ObjectionForm(Form):
    reason = TextAreaField(_l("异议理由"), validators=[DataRequired(_l("请填写理由")),
                                                   Length(max=500, message=_l("理由不能超过 500 个字"))])
    key = HiddenField(validators=[DataRequired(), Length(max=40)])


class ObjectionDecisionForm(Form):
    decision = SelectField(_l("处理结果"), choices=[SelectChoice("accept", _l("采纳更正")),
                                                SelectChoice("dismiss", _l("不予采纳"))])
    note = StringField(_l("处理说明（异议人会看到）"),
                       validators=[Optional(), Length(max=200, message=_l("说明不能超过 200 个字"))])


def _last_month(today: date) -> str:
    return f"{today.replace(day=1) - timedelta(days=1):%Y-%m}"


def _asked_table(village_id: int) -> tuple[GridNode, GridNode, Publicity | DomainError]:
    """The village, the node (?grid=) and the table of ?month= (last month if absent), or the month's refusal."""
    grid = request.args.get("grid", type=int)
    village, node = publicity_node(village_id, grid)
    today = local_today()
    try:
        first = past_month(request.args.get("month") or _last_month(today), today)
    except DomainError as refusal:
        return village, node, refusal
    return village, node, publicity_table(village, node, first, today)


def _grids(village: GridNode) -> list[GridNode]:
    return list(db.session.scalars(select(GridNode).where(GridNode.parent_id == village.id,
                                                          GridNode.retired_at.is_(None))
                                   .order_by(GridNode.code, GridNode.id)))


def _may_object(village: GridNode, table: Publicity) -> bool:
    """A villager of the village, while the month's 公示 is on, sees 提出异议 beside each household."""
    own = policy.own_household_id(current_user)
    return (table.state is PublicityState.OPEN and own is not None
            and db.session.get(Household, own).village_id == village.id)


def _context(village: GridNode, node: GridNode, found: Publicity | DomainError) -> dict:
    table = found if isinstance(found, Publicity) else None
    month = table.month if table else _last_month(local_today())
    first = date.fromisoformat(f"{month}-01")
    after = (first + timedelta(days=32)).replace(day=1)
    return dict(village=village, node=node, table=table, grids=_grids(village), column_label=column_label,
                sums=column_sums(table) if table else {}, month=month, day_label=day_label,
                previous=f"{first - timedelta(days=1):%Y-%m}",
                following=f"{after:%Y-%m}" if after <= local_today() else None,
                may_object=table is not None and _may_object(village, table),
                title=table.title if table else village.name)


@bp.get("/villages/<id:village_id>/publicity")
def table(village_id: int):
    """积分公示表: public, names masked; ?month=2026-11 (last month if absent), ?grid= a node under the village."""
    village, node, found = _asked_table(village_id)
    if isinstance(found, DomainError):
        refused(found)
        return render_template("publicity/table.html", **_context(village, node, found)), 400
    return render_template("publicity/table.html", **_context(village, node, found))


@bp.get("/villages/<id:village_id>/publicity/print")
def print_table(village_id: int):
    """The table alone, for A4 paper on the notice board."""
    village, node, found = _asked_table(village_id)
    if isinstance(found, DomainError):
        refused(found)
        return redirect(url_for("publicity.table", village_id=village.id))
    return render_template("publicity/print.html", **_context(village, node, found))


def _objected(village: GridNode, household_id: int | None, month: str) -> tuple[Household, Publicity]:
    """The household objected to (one of the village's, on the month's table) and the table. Raises NotFound."""
    household = db.session.get(Household, household_id) if household_id and 1 <= household_id <= MAX_ID else None
    if household is None or household.village_id != village.id:
        raise NotFound()
    try:
        first = past_month(month)
    except DomainError:
        raise NotFound() from None
    return household, publicity_table(village, village, first)


@bp.route("/villages/<id:village_id>/publicity/objection", methods=["GET", "POST"])
@login_required
def new_objection(village_id: int):
    """提出异议 about one household's points of a month: the reason, a confirmation, then the objection's page. Only a
    villager's account objects: anyone else is told so at once."""
    if policy.own_household_id(current_user) is None:
        raise DomainError("villagers_only", status=403)
    village, _node = publicity_node(village_id)
    household_id, month = request.args.get("household", type=int), request.args.get("month", "")
    household, table = _objected(village, household_id, month)
    row = next((r for r in table.rows if r.household_id == household.id), None)
    form, status = ObjectionForm(), 200
    if form.validate_on_submit():
        try:
            objection = services.submit_objection(current_user, household.id, table.month, form.reason.data,
                                                  client_key=f"web:{form.key.data}")
        except DomainError as refusal:
            db.session.rollback()
            form.reason.errors.append(refusal_message(refusal, form))
            status = 422
        else:
            if not confirm.confirmed():
                return confirm.ask(
                    _("确认提出异议"),
                    _("对%(month)s 户号 %(number)s（%(head)s）的积分提出异议", month=table.label,
                      number=household.number, head=row.head if row else ""),
                    button=_("确认提出异议"), back=url_for("publicity.table", village_id=village.id, month=month),
                    details=[_("理由：%(reason)s", reason=objection.reason),
                             _("村委会会收到这条异议并答复您；提出后不能撤回。")])
            flash(_("异议已提交，村委会会尽快处理"))
            return redirect(url_for("publicity.objection", objection_id=objection.id))
    elif request.method == "POST":
        status = 422
    else:
        fresh_key(form)
    return render_template("publicity/new_objection.html", form=form, village=village, household=household,
                           table=table, row=row, column_label=column_label, day_label=day_label), status


@bp.get("/objections")
@login_required
def objections():
    """The objections an admin answers (their scope; ?status=pending|accepted|dismissed|all) and those one made."""
    status_arg = request.args.get("status", "pending" if policy.holds(
        current_user, policy.Permission.DECIDE_APPEALS) else "all")
    status = next((s for s in ObjectionStatus if s.value == status_arg), None)
    page = services.objections_in_scope(current_user, status, request.args.get("page", 1, type=int),
                                        current_app.config["PER_PAGE"])
    return render_template("publicity/objections.html", page=page, status=status, statuses=ObjectionStatus,
                           labels=OBJECTION_STATUS_LABELS, month_label=month_label)


@bp.get("/objections/<id:objection_id>")
@login_required
def objection(objection_id: int):
    objection = services.visible_objection(current_user, objection_id)
    return render_template("publicity/objection.html", objection=objection, labels=OBJECTION_STATUS_LABELS,
                           decider=services.may_decide(current_user, objection), month_label=month_label,
                           head=mask_name(objection.household.head.name if objection.household.head else ""),
                           staff=policy.can(current_user, policy.Permission.VIEW_HOUSEHOLDS,
                                            objection.household.grid_id),
                           form=ObjectionDecisionForm(formdata=None))


@bp.post("/objections/<id:objection_id>/decision")
@login_required
def decide(objection_id: int):
    """采纳更正 or 不予采纳, after a confirmation naming the household, the month and the answer."""
    form, back = ObjectionDecisionForm(), url_for("publicity.objection", objection_id=objection_id)
    if not form.validate_on_submit():
        services.visible_objection(current_user, objection_id)
        for errors in form.errors.values():
            flash(errors[0], "error")
        return redirect(back)
    accept = form.decision.data == "accept"
    try:
        decided = services.decide_objection(current_user, objection_id, accept, form.note.data or "")
    except DomainError as refusal:
        if refusal.status == 404:
            raise
        refused(refusal)
        return redirect(back)
    if not confirm.confirmed():
        return _decision_question(decided, accept, back)
    flash(_("已采纳，请到该户的积分页用冲正或加分更正") if accept else _("已答复：不予采纳"))
    return redirect(back)


def _decision_question(objection: Objection, accept: bool, back: str):
    what = _("%(month)s 户号 %(number)s 的公示异议", month=month_label(objection.month),
             number=objection.household.number)
    details = [_("异议理由：%(reason)s", reason=objection.reason)]
    if objection.decision_note:
        details.append(_("处理说明：%(note)s", note=objection.decision_note))
    details.append(_("答复后不能更改，异议人会收到答复。"))
    if accept:
        details.append(_("采纳不会自动改积分：请再到该户的积分页用冲正或加分更正。"))
        return confirm.ask(_("确认采纳异议"), _("采纳%(what)s", what=what), button=_("确认采纳"), back=back,
                           details=details)
    return confirm.ask(_("确认不予采纳"), _("不予采纳%(what)s：积分不变", what=what), button=_("确认不予采纳"),
                       back=back, details=details)
