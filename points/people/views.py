"""Pages of households and residents, and the import of a village's 花名册."""
import io

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms.fields.choices import SelectChoice

from ..auth import policy
from ..errors import DomainError, Forbidden, error_response
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..grids.queries import grids_of_village
from ..hygiene.queries import household_flags
from .forms import ImportForm
from .imports import import_households, template_workbook
from .queries import search_households
from .services import move_household

bp = Blueprint("people", __name__)


@bp.get("/households")
@login_required
def households():
    grid_id = request.args.get("grid", type=int)
    page = search_households(
        policy.household_filter(current_user),
        q=request.args.get("q", ""),
        grid_id=grid_id,
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PER_PAGE"],
    )
    grid_choices = policy.nodes_in_scope(current_user, policy.Permission.VIEW_HOUSEHOLDS, NodeKind.GRID)
    return render_template("people/households.html", page=page, grid_choices=grid_choices, grid_id=grid_id)


@bp.get("/households/<id:household_id>")
@login_required
def household(household_id: int):
    household = policy.visible_household(current_user, household_id)
    movable = policy.can(current_user, policy.Permission.IMPORT_HOUSEHOLDS, household.grid_id)
    return render_template(
        "people/household.html", household=household, show=policy.disclosure(current_user, household),
        flags=household_flags(household.id),
        grids=[g for g in grids_of_village(household.village_id)
               if policy.can(current_user, policy.Permission.IMPORT_HOUSEHOLDS, g.id)] if movable else [],
    )


@bp.post("/households/<id:household_id>/move")
@login_required
def move(household_id: int):
    """调整网格: an admin moves a household to another grid of its village (both within their scope)."""
    household = policy.visible_household(current_user, household_id)
    grid = db.session.get(GridNode, request.form.get("grid_id", 0, type=int))
    policy.require(current_user, policy.Permission.IMPORT_HOUSEHOLDS, household.grid_id)
    if grid is None:
        raise DomainError("invalid_grid")
    policy.require(current_user, policy.Permission.IMPORT_HOUSEHOLDS, grid.id)
    move_household(household, grid, current_user)
    db.session.commit()
    flash(_("已调整到 %(grid)s", grid=grid.name))
    return redirect(url_for("people.household", household_id=household.id))


@bp.get("/residents/<id:resident_id>")
@login_required
def resident(resident_id: int):
    person = policy.visible_resident(current_user, resident_id)
    household = person.household
    return render_template(
        "people/resident.html",
        person=person,
        household=household,
        show=policy.disclosure(current_user, household),
        can_manage=policy.can(current_user, policy.Permission.MANAGE_USERS, household.grid_id),
    )


def _import_villages() -> list[GridNode]:
    villages = policy.nodes_in_scope(current_user, policy.Permission.IMPORT_HOUSEHOLDS, NodeKind.VILLAGE)
    if not villages:
        raise Forbidden()
    return villages


def _import_form(villages: list[GridNode], read_request: bool = True) -> ImportForm:
    form = ImportForm() if read_request else ImportForm(formdata=None)
    form.village_id.choices = [SelectChoice(v.id, v.name) for v in villages]
    return form


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_page():
    villages = _import_villages()
    form = _import_form(villages)
    report = None
    if form.validate_on_submit():
        village = next(v for v in villages if v.id == form.village_id.data)
        report = import_households(
            village, form.file.data.read(), current_app.config["IMPORT_MAX_BYTES"], current_user
        )
        if report.ok:
            db.session.commit()
        else:
            db.session.rollback()
    status = 422 if report is not None and not report.ok else 200
    return render_template("people/import.html", form=form, report=report, max_errors=200), status


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(error):
    """An upload over MAX_CONTENT_LENGTH is refused while the body is first read (CSRF reads it before the
    view runs): show the import form again with the limit, not a bare error page."""
    limit = _("文件太大，上限为 %(mb)d MB", mb=current_app.config["MAX_CONTENT_LENGTH"] // 1048576)
    if not policy.holds(current_user, policy.Permission.IMPORT_HOUSEHOLDS):
        return error_response("file_too_large", limit, 413)
    form = _import_form(_import_villages(), read_request=False)
    form.file.errors = [limit]
    return render_template("people/import.html", form=form, report=None), 413


@bp.get("/import/template.xlsx")
@login_required
def import_template():
    villages = _import_villages()
    village = next((v for v in villages if v.id == request.args.get("village", type=int)), villages[0])
    return send_file(
        io.BytesIO(template_workbook(village)),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name="户籍花名册导入模板.xlsx",
    )
