"""The rule book's pages: read, add, revise, and .xlsx import and export (积分细则)."""
import io
from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from ..auth import policy
from ..errors import DomainError, Forbidden, NotFound, error_response
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..people.models import Household
from ..rules.labels import CAP_LABELS, FIELD_LABELS, by_category, signed
from ..rules.models import CATEGORY_LABELS, UNIT_LABELS, Rule
from ..rules.queries import compare_with_template, rule_book, upcoming_versions
from ..rules.services import RuleTerms, create_rule, revise_rule
from ..rules.workbook import export_workbook, import_rules
from ..timeutil import local_today
from ..xlsx import XLSX
from .forms.rules import ImportForm, NewRuleForm, ReviseRuleForm, RuleTermsForm, tomorrow

bp = Blueprint("rules", __name__)

MANAGE = policy.Permission.MANAGE_RULES
# The form field that shows a refusal the form's own checks cannot foresee; any other is shown above the form.
REFUSAL_FIELDS = {
    "rule_code_taken": "code",
    "rule_window_empty": "effective_until",
    "rule_revision_backdated": "effective_from",
    "rule_bars_days_invalid": "bars_days",
    "rule_bars_only_penalty": "bars_days",
}


@bp.context_processor
def rule_words() -> dict:
    return dict(CATEGORY_LABELS=CATEGORY_LABELS, UNIT_LABELS=UNIT_LABELS, CAP_LABELS=CAP_LABELS, signed=signed)


def _village(village_id: int) -> GridNode:
    """The village with this id, or the town whose template book the user keeps. Raises NotFound, Forbidden."""
    return policy.village_or_template(current_user, village_id, MANAGE)


def _own_village_id() -> int | None:
    """The village of a villager account's household."""
    household_id = policy.own_household_id(current_user)
    return db.session.get(Household, household_id).village_id if household_id else None


def _staff_village_ids() -> list[int]:
    """The villages where the current user holds VIEW_GRIDS: at the village, above it, or on one of its grids."""
    villages = [v.id for v in policy.nodes_in_scope(current_user, policy.Permission.VIEW_GRIDS, NodeKind.VILLAGE)]
    for node_id in policy.scope_ids(current_user, policy.Permission.VIEW_GRIDS):
        village_id = db.session.get(GridNode, node_id).village_id
        if village_id is not None and village_id not in villages:
            villages.append(village_id)
    return villages


def _show_refusal(form: RuleTermsForm, refusal: DomainError) -> None:
    field = getattr(form, REFUSAL_FIELDS.get(refusal.code, ""), None)
    (field.errors if field is not None else form.form_errors).append(refusal.message)


def _status(form: RuleTermsForm) -> int:
    return 422 if form.errors else 200


@bp.get("/rules")
@login_required
def index():
    """The rule book of the first village the user manages, else sees as staff, else lives in."""
    managed = [v.id for v in policy.nodes_in_scope(current_user, MANAGE, NodeKind.VILLAGE)]
    village_id = next((v for v in [*managed, *_staff_village_ids(), _own_village_id()] if v is not None), None)
    if village_id is None:
        raise Forbidden()
    return redirect(url_for("rules.book", village_id=village_id))


@bp.get("/villages/<id:village_id>/rules")
@login_required
def book(village_id: int):
    village = _village(village_id)
    today = local_today()
    return render_template(
        "rules/book.html",
        village=village,
        today=today,
        groups=by_category(rule_book(village.id, today)),
        upcoming=upcoming_versions(village.id, today),
        can_manage=policy.can(current_user, MANAGE, village.id),
        staff=bool(policy.home_node_ids(current_user)),  # staff name rules by code too; villagers by name alone
        template=(compare_with_template(village.id, village.parent_id, today)
                  if village.kind is NodeKind.VILLAGE else None),
        FIELD_LABELS=FIELD_LABELS,
    )


@bp.route("/villages/<id:village_id>/rules/new", methods=["GET", "POST"])
@login_required
def new_rule(village_id: int):
    village = _village(village_id)
    policy.require(current_user, MANAGE, village.id)
    form = NewRuleForm()
    if form.validate_on_submit():
        try:
            rule = create_rule(
                village, form.code.data, form.terms(), form.effective_from.data, form.effective_until.data, current_user
            )
        except DomainError as refusal:
            db.session.rollback()
            _show_refusal(form, refusal)
        else:
            flash(_("已新增细则 %(code)s", code=rule.code))
            return redirect(url_for("rules.book", village_id=village.id))
    return render_template("rules/new.html", village=village, form=form), _status(form)


@bp.route("/rules/<id:rule_id>/edit", methods=["GET", "POST"])
@login_required
def edit_rule(rule_id: int):
    rule = db.session.get(Rule, rule_id)
    if rule is None:
        raise NotFound()
    policy.require(current_user, MANAGE, rule.village_id)
    latest = rule.versions[-1]
    current = RuleTerms.of(latest)
    first_day = max(tomorrow(), latest.effective_from + timedelta(days=1))
    form = ReviseRuleForm(data=RuleTermsForm.data_of(current) | {"effective_from": first_day})
    if form.validate_on_submit():
        if form.terms() == current:
            form.form_errors.append(_("内容与当前版本相同，没有需要保存的修改"))
        else:
            try:
                version = revise_rule(rule, form.terms(), form.effective_from.data, current_user)
            except DomainError as refusal:
                db.session.rollback()
                _show_refusal(form, refusal)
            else:
                flash(_("已修改细则 %(code)s：第 %(n)d 版自 %(day)s 起生效", code=rule.code, n=version.version,
                        day=version.effective_from.isoformat()))
                return redirect(url_for("rules.book", village_id=rule.village_id))
    village = db.session.get(GridNode, rule.village_id)
    return render_template("rules/edit.html", village=village, rule=rule, form=form), _status(form)


@bp.get("/villages/<id:village_id>/rules.xlsx")
@login_required
def export(village_id: int):
    village = _village(village_id)
    policy.require(current_user, MANAGE, village.id)
    today = local_today()
    return send_file(
        io.BytesIO(export_workbook(rule_book(village.id, today) + upcoming_versions(village.id, today))),
        mimetype=XLSX,
        as_attachment=True,
        download_name=_("积分细则-%(village)s-%(day)s.xlsx", village=village.name, day=today.isoformat()),
    )


@bp.route("/villages/<id:village_id>/rules/import", methods=["GET", "POST"])
@login_required
def import_page(village_id: int):
    village = _village(village_id)
    policy.require(current_user, MANAGE, village.id)
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        report = import_rules(
            village, form.file.data.read(), current_app.config["IMPORT_MAX_BYTES"], form.effective_from.data,
            current_user,
        )
    # A report with errors answers 422, which writes nothing (unit_of_work).
    status = 422 if form.errors or (report is not None and not report.ok) else 200
    return render_template("rules/import.html", village=village, form=form, report=report, max_errors=200), status


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(error):
    """An upload over MAX_CONTENT_LENGTH is refused while the body is first read (CSRF reads it before the view
    runs): a manager sees the import form again with the limit, anyone else the plain error."""
    limit = _("文件太大，上限为 %(mb)d MB", mb=current_app.config["MAX_CONTENT_LENGTH"] // 1048576)
    village = (db.session.get(GridNode, request.view_args["village_id"])
               if request.endpoint == "rules.import_page" else None)
    if village is None or village.kind is not NodeKind.VILLAGE or not policy.can(current_user, MANAGE, village.id):
        return error_response("file_too_large", limit, 413)
    form = ImportForm(formdata=None)
    form.file.errors = [limit]
    return render_template("rules/import.html", village=village, form=form, report=None), 413
