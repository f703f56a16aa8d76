"""Pages of households and residents, the import of a village's 花名册, and the admins' pages that keep the
register: households added, edited, closed (整户迁出) and reopened; residents added, edited and leaving."""
import io
from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms.fields.choices import SelectChoice

from ..auth import policy, register
from ..auth.models import User
from ..errors import DomainError, Forbidden, NotFound, error_response
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..grids.queries import grids_of_village
from ..hygiene.queries import household_flags
from ..ledger.queries import award_sides, balance_of
from ..people.models import HouseholdKind
from ..people.queries import search_households
from ..people.register_workbook import export_register, template_workbook
from ..timeutil import local_today
from ..uploads import drop_upload, keep_upload, kept_upload
from ..xlsx import XLSX
from . import refused
from .forms.people import (
    REFUSAL_FIELDS,
    ClosureForm,
    ConfirmImportForm,
    DepartureForm,
    EditHouseholdForm,
    ImportForm,
    NewHouseholdForm,
    ResidentForm,
)

bp = Blueprint("people", __name__)
T = TypeVar("T")


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
    return render_template("people/households.html", page=page, grid_choices=grid_choices, grid_id=grid_id,
                           may_add=policy.holds(current_user, register.KEEP))


@bp.get("/households/<id:household_id>")
@login_required
def household(household_id: int):
    household = policy.visible_household(current_user, household_id)
    movable = register.may_keep(current_user, household) and household.closed_on is None
    return render_template(
        "people/household.html", household=household, show=policy.disclosure(current_user, household),
        flags=household_flags(household.id), may_keep=register.may_keep(current_user, household),
        sides=award_sides(current_user, household, local_today()),
        grids=[g for g in grids_of_village(household.village_id)
               if policy.can(current_user, policy.Permission.IMPORT_HOUSEHOLDS, g.id)] if movable else [],
    )


@bp.post("/households/<id:household_id>/move")
@login_required
def move(household_id: int):
    """调整网格: an admin moves a household to another grid of its village (both within their scope)."""
    try:
        household = register.move_household(current_user, household_id, request.form.get("grid_id", 0, type=int))
    except (Forbidden, NotFound):
        raise
    except DomainError as refusal:
        refused(refusal)
        return redirect(url_for("people.household", household_id=household_id))
    flash(_("已调整到 %(grid)s", grid=household.grid.name))
    return redirect(url_for("people.household", household_id=household.id))


def _kept(form, write: Callable[[], T], said: Callable[[T], str], household_of: Callable[[T], int]):
    """A register form sent and valid: write, and back to the household page saying what was done; None when
    the form is not sent, not valid, or refused (the refusal is shown under its field, else above the form)."""
    if not form.validate_on_submit():
        return None
    try:
        done = write()
    except DomainError as refusal:
        db.session.rollback()
        field = getattr(form, REFUSAL_FIELDS.get(refusal.code, ""), None)
        (field.errors if field is not None else form.form_errors).append(refusal.message)
        return None
    flash(said(done))
    return redirect(url_for("people.household", household_id=household_of(done)))


def _status(form) -> int:
    return 422 if form.errors or form.form_errors else 200


@bp.route("/households/new", methods=["GET", "POST"])
@login_required
def new_household():
    """新增户: in a grid the admin keeps, with its head; the next free 户号."""
    grids = policy.nodes_in_scope(current_user, register.KEEP, NodeKind.GRID)
    if not grids:
        raise Forbidden()
    form = NewHouseholdForm()
    villages = {v.id: v.name for v in policy.nodes_in_scope(current_user, register.KEEP, NodeKind.VILLAGE)}
    form.grid_id.choices = [SelectChoice(g.id, f"{villages.get(g.village_id, '')} · {g.name}" if len(villages) > 1
                                         else g.name) for g in grids]
    if request.method == "GET":
        form.grid_id.data = request.args.get("grid", type=int)
        form.kind.data = HouseholdKind.REGISTERED
    done = _kept(form, lambda: register.add_household(
        current_user, form.grid_id.data, form.address.data, form.kind.data, form.head_name.data, form.head_phone.data,
        form.head_id_number.data, form.care_tags.data), lambda h: _("已新增户号 %(number)s", number=h.number),
        lambda h: h.id)
    if done:
        return done
    return render_template("people/household_form.html", form=form, household=None), _status(form)


@bp.route("/households/<id:household_id>/edit", methods=["GET", "POST"])
@login_required
def edit_household(household_id: int):
    """修改户信息: address, 户籍 or 外来, care tags, the head."""
    household = register.kept_household(current_user, household_id)
    form = EditHouseholdForm(obj=household)
    form.head_id.choices = [SelectChoice(r.id, f"{r.name}（{r.relation}）") for r in household.residents
                            if r.left_on is None]
    if request.method == "GET":
        form.care_tags.data = [t.tag for t in household.care_tags]
    done = _kept(form, lambda: register.update_household(
        current_user, household.id, address=form.address.data, kind=form.kind.data, care_tags=form.care_tags.data,
        head_id=form.head_id.data), lambda h: _("已保存户号 %(number)s 的信息", number=h.number), lambda h: h.id)
    if done:
        return done
    return render_template("people/household_form.html", form=form, household=household), _status(form)


@bp.route("/households/<id:household_id>/close", methods=["GET", "POST"])
@login_required
def close(household_id: int):
    """整户迁出, after a page that says what it means: the ledger and balance stay; no earning, redeeming or ranking."""
    household = register.kept_household(current_user, household_id)
    form = ClosureForm()
    if request.method == "GET":
        form.day.data = local_today()
    done = _kept(form, lambda: register.close_household(current_user, household.id, form.reason.data, form.day.data),
                 lambda h: _("户号 %(number)s 已整户迁出", number=h.number), lambda h: h.id)
    if done:
        return done
    return render_template("people/close.html", form=form, household=household,
                           balance=balance_of(household.id)), _status(form)


@bp.post("/households/<id:household_id>/reopen")
@login_required
def reopen(household_id: int):
    """恢复在册: a household that left comes back, or was closed by mistake."""
    household = register.reopen_household(current_user, household_id)
    flash(_("户号 %(number)s 已恢复在册", number=household.number))
    return redirect(url_for("people.household", household_id=household.id))


@bp.route("/households/<id:household_id>/residents/new", methods=["GET", "POST"])
@login_required
def new_resident(household_id: int):
    """新增成员."""
    household = register.kept_household(current_user, household_id)
    form = ResidentForm()
    done = _kept(form, lambda: register.add_resident(current_user, household.id, form.name.data, form.relation.data,
                                                     form.phone.data, form.id_number.data),
                 lambda r: _("已新增成员 %(name)s", name=r.name), lambda r: r.household_id)
    if done:
        return done
    return render_template("people/resident_form.html", form=form, household=household, person=None), _status(form)


@bp.route("/residents/<id:resident_id>/edit", methods=["GET", "POST"])
@login_required
def edit_resident(resident_id: int):
    """修改成员信息: name, relation, phone, ID number."""
    person = register.kept_resident(current_user, resident_id)
    form = ResidentForm(obj=person)
    done = _kept(form, lambda: register.update_resident(
        current_user, person.id, name=form.name.data, relation=form.relation.data, phone=form.phone.data,
        id_number=form.id_number.data), lambda r: _("已保存 %(name)s 的信息", name=r.name), lambda r: r.household_id)
    if done:
        return done
    return render_template("people/resident_form.html", form=form, household=person.household,
                           person=person), _status(form)


@bp.route("/residents/<id:resident_id>/leave", methods=["GET", "POST"])
@login_required
def leave(resident_id: int):
    """迁出, 死亡, 婚嫁迁出, after a page that says what it means."""
    person = register.kept_resident(current_user, resident_id)
    form = DepartureForm()
    if request.method == "GET":
        form.day.data = local_today()
    done = _kept(form, lambda: register.remove_resident(current_user, person.id, form.reason.data, form.day.data),
                 lambda r: _("已登记 %(name)s 离开这一户", name=r.name), lambda r: r.household_id)
    if done:
        return done
    return render_template("people/leave.html", form=form, person=person, household=person.household), _status(form)


@bp.get("/residents/<id:resident_id>")
@login_required
def resident(resident_id: int):
    person = policy.visible_resident(current_user, resident_id)
    household = person.household
    account = db.session.scalar(select(User).where(User.resident_id == person.id))
    return render_template(
        "people/resident.html",
        person=person,
        household=household,
        show=policy.disclosure(current_user, household),
        can_manage=policy.can(current_user, policy.Permission.MANAGE_USERS, household.grid_id),
        may_keep=register.may_keep(current_user, household),
        account=account,
        may_reissue=policy.may_reissue_slip(current_user, account),
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
    """Upload a 花名册: the preview of what it adds and changes (nothing written), or the report of its errors."""
    villages = _import_villages()
    form = _import_form(villages)
    if not form.validate_on_submit():
        return render_template("people/import.html", form=form, villages=villages)
    village = next(v for v in villages if v.id == form.village_id.data)
    data = form.file.data.read()
    report = register.import_households(current_user, village, data, current_app.config["IMPORT_MAX_BYTES"],
                                             apply=False)
    db.session.rollback()
    return _preview(form, villages, village, report, data)


def _preview(form: ImportForm, villages: list[GridNode], village: GridNode, report, data: bytes, notice: str = ""):
    confirm = None
    if report.ok and not report.empty:
        confirm = ConfirmImportForm(formdata=None, village_id=village.id, digest=report.digest,
                                    upload=keep_upload(current_app.config["UPLOAD_FOLDER"], data))
    return render_template("people/import.html", form=form, villages=villages, village=village, report=report,
                           confirm=confirm, notice=notice, max_errors=200, max_listed=300), 200 if report.ok else 422


@bp.post("/import/confirm")
@login_required
def import_confirm():
    """Apply the previewed file in one transaction, if it still does what its preview showed; else preview again."""
    villages = _import_villages()
    confirm = ConfirmImportForm()
    folder = current_app.config["UPLOAD_FOLDER"]
    data = kept_upload(folder, confirm.upload.data) if confirm.validate_on_submit() else None
    village = next((v for v in villages if v.id == confirm.village_id.data), None)
    if data is not None and village is None:
        raise Forbidden()
    if data is None:
        flash(_("预览已过期，请重新上传文件"), "error")
        return redirect(url_for("people.import_page"))
    report = register.import_households(current_user, village, data, current_app.config["IMPORT_MAX_BYTES"])
    form = _import_form(villages, read_request=False)
    form.village_id.data = village.id
    if not report.ok or report.digest != confirm.digest.data:
        db.session.rollback()
        report = register.import_households(current_user, village, data, current_app.config["IMPORT_MAX_BYTES"],
                                             apply=False)
        db.session.rollback()
        return _preview(form, villages, village, report, data,
                        notice=_("花名册在预览之后有了变动，下面是按现在的花名册重新生成的预览，请核对后再确认。"))
    drop_upload(folder, confirm.upload.data)
    return render_template("people/import.html", form=form, villages=villages, village=village, report=report,
                           applied=True, max_errors=200, max_listed=300)


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(error):
    """An upload over MAX_CONTENT_LENGTH is refused while the body is first read (CSRF reads it before the
    view runs): show the import form again with the limit, not a bare error page."""
    limit = _("文件太大，上限为 %(mb)d MB", mb=current_app.config["MAX_CONTENT_LENGTH"] // 1048576)
    if not policy.holds(current_user, policy.Permission.IMPORT_HOUSEHOLDS):
        return error_response("file_too_large", limit, 413)
    villages = _import_villages()
    form = _import_form(villages, read_request=False)
    form.file.errors = [limit]
    return render_template("people/import.html", form=form, villages=villages), 413


@bp.get("/import/register.xlsx")
@login_required
def export_page():
    """导出花名册: the import workbook filled with the village's register, to edit in Excel and import back."""
    village = _chosen_village(_import_villages())
    data = export_register(village, current_user)
    db.session.commit()
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True,
                     download_name=f"{village.name}花名册{local_today():%Y%m%d}.xlsx")


def _chosen_village(villages: list[GridNode]) -> GridNode:
    """The village of ?village=ID, which must be one the user imports into; the first of them without it."""
    chosen = request.args.get("village", type=int)
    if chosen is None:
        return villages[0]
    village = next((v for v in villages if v.id == chosen), None)
    if village is None:
        raise Forbidden()
    return village


@bp.get("/import/template.xlsx")
@login_required
def import_template():
    village = _chosen_village(_import_villages())
    return send_file(
        io.BytesIO(template_workbook(village)),
        mimetype=XLSX,
        as_attachment=True,
        download_name="户籍花名册导入模板.xlsx",
    )
