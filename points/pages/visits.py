"""Pages of 走访 (敲门行动): the worker's due list and their visits, logging a visit from the household page, a
visit and its photo, the village's visit settings; and the 履职 ranking of staff. Staff-only throughout: care tags
and notes are read only by those doing grid work."""
import re
import uuid
from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from .. import media
from ..auth import policy
from ..errors import DomainError, NotFound
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..leaderboards.duty import duty_ranking
from ..ledger.models import DutyRecord
from ..limits import MAX_ID
from ..people.models import CareTag, Household
from ..people.services import CARE_TAG_LABELS
from ..periods import day_label, month_bounds, parse_month
from ..timeutil import local_today
from ..visits import queries, services
from ..visits.models import UNEARNED_LABELS, VISIT_KIND_LABELS
from . import refused
from .forms import refusal_message
from .forms.visits import VisitForm, VisitSettingsForm, cadence_field

bp = Blueprint("visits", __name__)
KEY = re.compile("[0-9a-f]{32}")
GRID_WORK = policy.Permission.GRID_WORK


@bp.context_processor
def _labels():
    return dict(VISIT_KIND_LABELS=VISIT_KIND_LABELS, UNEARNED_LABELS=UNEARNED_LABELS, CARE_TAG_LABELS=CARE_TAG_LABELS)


def _grid_worker() -> None:
    if not policy.holds(current_user, GRID_WORK):
        raise DomainError("grid_work_only", status=403)


def _photo_store() -> services.PhotoStore:
    return services.PhotoStore(current_app.config["UPLOAD_FOLDER"], current_app.config["PHOTO_MAX_BYTES"])


@bp.get("/visits")
@login_required
def due():
    """走访: tab 待走访 (overdue and due within 7 days, in the grids the user serves) or 我的走访记录."""
    _grid_worker()
    tab = request.args.get("tab", "due")
    if tab == "mine":
        page = queries.my_visits(current_user, request.args.get("page", 1, type=int), current_app.config["PER_PAGE"])
        return render_template("visits/visits.html", tab=tab, page=page)
    return render_template("visits/visits.html", tab="due", due=queries.worker_due_list(current_user, local_today()),
                           today=local_today())


@bp.route("/households/<id:household_id>/visits/new", methods=["GET", "POST"])
@login_required
def new_visit(household_id: int):
    household = db.session.get(Household, household_id)
    if household is None:
        raise NotFound()
    if not policy.can(current_user, GRID_WORK, household.grid_id):
        raise DomainError("visit_outside_grid" if policy.holds(current_user, GRID_WORK) else "grid_work_only",
                          status=403)
    policy.refuse_own_household(current_user, household.id, "visit_own_household")
    form, status = VisitForm(), 200
    if form.validate_on_submit():
        upload = form.photo.data
        photo = upload.read() if upload and getattr(upload, "filename", "") else None
        asked = services.VisitAsked(household.id, form.visited_on.data, form.kind.data, form.note.data or "", photo)
        try:
            visit = services.log_visit(current_user, asked, _photo_store(), client_key=f"web:{form.key.data}")
        except DomainError as refusal:
            db.session.rollback()
            field = form.photo if refusal.code in ("photo_too_large", "not_an_image") else form.visited_on
            field.errors = [*field.errors, refusal_message(refusal, form)]
            status = 422 if refusal.status < 403 else refusal.status
        else:
            _said(visit)
            return redirect(url_for("visits.visit", visit_id=visit.id))
    elif request.method == "POST":
        status = 422
    else:
        key = request.args.get("key", "")
        if not KEY.fullmatch(key):
            return redirect(url_for("visits.new_visit", household_id=household.id, key=uuid.uuid4().hex))
        form.visited_on.data, form.key.data = local_today(), key
    return render_template("visits/new_visit.html", form=form, household=household,
                           earliest=local_today().toordinal() - services.VISIT_WINDOW_DAYS), status


def _said(visit) -> None:
    if visit.duty_id is not None:
        flash(_("走访已记录，履职积分 %(amount)+d 分", amount=db.session.get(DutyRecord, visit.duty_id).amount))
    else:
        flash(_("走访已记录，本次没有履职积分：%(why)s", why=UNEARNED_LABELS[visit.unearned]))


@bp.get("/visits/<id:visit_id>")
@login_required
def visit(visit_id: int):
    visit = services.visible_visit(current_user, visit_id)
    duty = db.session.get(DutyRecord, visit.duty_id) if visit.duty_id else None
    return render_template("visits/visit.html", visit=visit, duty=duty)


@bp.get("/visits/<id:visit_id>/photo")
@login_required
def photo(visit_id: int):
    visit = services.visible_visit(current_user, visit_id)
    return _private_jpeg(services.photo_path(visit, current_app.config["UPLOAD_FOLDER"]))


@bp.get("/visits/<id:visit_id>/photo/small")
@login_required
def thumbnail(visit_id: int):
    visit = services.visible_visit(current_user, visit_id)
    return _private_jpeg(media.thumbnail(services.photo_path(visit, current_app.config["UPLOAD_FOLDER"])))


def _private_jpeg(path: str):
    response = send_file(path, mimetype="image/jpeg", max_age=0)
    response.headers["Cache-Control"] = "private, max-age=86400"  # a household's photo, never in a shared cache
    return response


@bp.route("/villages/<id:village_id>/visit-settings", methods=["GET", "POST"])
@login_required
def settings(village_id: int):
    """走访设置: the 履职 rule a visit earns under, the 敲门 round, and the days of each care tag."""
    village = services.managed_village(current_user, village_id)
    current = services.settings_of(village.id)
    cadences = {tag: row.days for tag, row in services.cadences_of(village.id).items()}
    form = VisitSettingsForm(obj=current)
    form.rule_id.choices = [SelectChoice(0, _("不记履职积分"))] + [
        SelectChoice(rule.id, _("%(name)s（每次 %(points)+d 分）", name=version.name, points=version.points))
        for rule, version in services.duty_rules(village.id, local_today())]
    if request.method == "GET":
        form.rule_id.data = current.rule_id or 0
    error, status = None, 200
    if form.validate_on_submit():
        try:
            asked = {tag: int(request.form.get(cadence_field(tag)) or 0) for tag in CareTag}
        except ValueError:
            asked = None
        try:
            if asked is None:
                raise DomainError("visit_days_invalid", limit=services.MAX_DAYS)
            services.save_settings(current_user, village.id, form.rule_id.data or None, form.knock_days.data, asked)
        except DomainError as refusal:
            refused(refusal)
            error, status = refusal.message, 422
            cadences = {tag: days for tag, days in (asked or {}).items() if days} or cadences
        else:
            flash(_("走访设置已保存"))
            return redirect(url_for("visits.settings", village_id=village.id))
    elif request.method == "POST":
        status = 422
    return render_template("visits/settings.html", village=village, form=form, error=error, tags=list(CareTag),
                           cadences=cadences, field_of=cadence_field), status


def _duty_node() -> GridNode:
    """The node of the ranking: ?node=, else the user's first village or town (an admin's scope, or the village of
    the grid they serve). Raises NotFound (an absurd ?node= too) or DomainError("grid_work_only")."""
    node_id = request.args.get("node", type=int)
    if node_id is not None and not 1 <= node_id <= MAX_ID:
        raise NotFound()
    if node_id is None:
        scopes = policy.scope_ids(current_user, policy.Permission.VIEW_DASHBOARDS)
        grids = policy.scope_ids(current_user, GRID_WORK)
        if scopes:
            node_id = scopes[0]
        elif grids:
            node_id = db.session.get(GridNode, grids[0]).village_id
    node = db.session.get(GridNode, node_id) if node_id else None
    if node is None:
        if not policy.holds(current_user, GRID_WORK):
            raise DomainError("grid_work_only", status=403)
        raise NotFound()
    return node


def _duty_nodes(node: GridNode) -> list[GridNode]:
    """The towns and villages whose ranking the user may read, to choose from (the one shown among them)."""
    kinds = (NodeKind.TOWN, NodeKind.VILLAGE)
    nodes = [n for n in policy.nodes_in_scope(current_user, policy.Permission.VIEW_DASHBOARDS) if n.kind in kinds]
    for grid_id in policy.scope_ids(current_user, GRID_WORK):
        village = db.session.get(GridNode, db.session.get(GridNode, grid_id).village_id or grid_id)
        if village is not None and village.kind is NodeKind.VILLAGE and village not in nodes:
            nodes.append(village)
    return nodes if node in nodes else [node, *nodes]


def _months(today: date) -> list[tuple[str, str]]:
    """The last 12 months, newest first, as (2026-12, 12月) — with the year where it is not this year's."""
    months, year, month = [], today.year, today.month
    for _i in range(12):
        label = _("%(month)d月", month=month) if year == today.year else _("%(year)d年%(month)d月", year=year,
                                                                                       month=month)
        months.append((f"{year:04d}-{month:02d}", label))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


@bp.get("/duty")
@login_required
def duty():
    """履职排行: per worker, the 网格员履职 points and visits of a month in a village or a town."""
    node = _duty_node()
    if not policy.can_see_duty_ranking(current_user, node):
        if node.kind.value not in ("village", "town"):
            abort(404)
        raise DomainError("forbidden", status=403)
    today = local_today()
    month = request.args.get("month") or f"{today.year:04d}-{today.month:02d}"
    try:
        start, end = parse_month(month)
    except DomainError as refusal:
        refused(refusal)
        month, (start, end) = f"{today.year:04d}-{today.month:02d}", month_bounds(today)
    return render_template("visits/duty.html", node=node, nodes=_duty_nodes(node), month=month, months=_months(today),
                           rows=duty_ranking(node.id, start, end), start=start, end=end, day_label=day_label)
