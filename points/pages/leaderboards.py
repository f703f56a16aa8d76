"""排行榜 pages: the public 红黑榜 of a town, village or grid (names masked, nothing personal), the village TV's
display, and the village's 红黑榜 settings."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..auth import policy
from ..errors import DomainError, Forbidden, NotFound
from ..extensions import db
from ..grids.models import NodeKind
from ..grids.queries import ancestors, children, get_node
from ..leaderboards import queries, services
from ..leaderboards.queries import GridOrder, ResidentOrder
from ..people.models import Household
from ..periods import PERIOD_KIND_LABELS, PeriodKind, parse_period, period_of
from ..rules.models import CATEGORY_LABELS, RuleCategory
from ..timeutil import local_today, utcnow
from .forms.leaderboards import BoardSettingsForm

bp = Blueprint("leaderboards", __name__)
SUBJECTS = {"household": _l("户"), "resident": _l("个人"), "grid": _l("网格")}
TOWN_SUBJECTS = {**SUBJECTS, "village": _l("村")}  # a town's board also ranks its villages
KINDS = {kind.value for kind in PeriodKind}
ORDERS = {order.value for order in (*ResidentOrder, *GridOrder)}
TOWN_BOARD = 20  # a town's 红榜, and any list of volunteers: the villages' settings differ, so it lists this many
TV_ROWS = 15  # the most lines a slide of the display shows (three columns of five at 1920×1080)


@bp.get("/boards")
@login_required
def start():
    """排行: the board of the user's village (a villager's own; staff's first node)."""
    own = policy.own_household_id(current_user)
    if own is not None:
        return redirect(url_for("leaderboards.board", node_id=db.session.get(Household, own).village_id))
    homes = policy.home_node_ids(current_user)
    if not homes:
        raise Forbidden()
    return redirect(url_for("leaderboards.board", node_id=homes[0]))


@bp.get("/boards/<id:node_id>")
def board(node_id: int):
    """The public board of a node: 红榜 and 黑榜 of households, the volunteers, or the grids, for a period."""
    node = get_node(node_id)
    subjects = TOWN_SUBJECTS if node.kind is NodeKind.TOWN else SUBJECTS
    subject = request.args.get("subject", "household")
    if subject not in subjects:
        subject = "household"
    today = local_today()
    kind = request.args.get("kind", "month")
    status = 200
    try:
        period = parse_period(request.args["period"]) if request.args.get("period") else \
            period_of(PeriodKind(kind) if kind in KINDS else PeriodKind.MONTH, today)
        category = queries.parse_category(request.args.get("category"))
    except DomainError as refusal:
        flash(refusal.message, "error")
        period, category, status = period_of(PeriodKind.MONTH, today), None, 422
    village_id = node.id if node.kind is NodeKind.VILLAGE else node.village_id
    settings = queries.board_settings(village_id) if village_id else None
    red = black = residents = grids = villages = mine = None
    if subject == "household":
        red = queries.household_board(node, period, settings.red_count if settings else TOWN_BOARD, category)
        if settings and settings.black_count:
            black = queries.household_board(node, period, settings.black_count, category, worst=True)
        mine = queries.own_place(current_user, node, period, category)
    elif subject == "resident":
        order = ResidentOrder.HOURS if request.args.get("order") == "hours" else ResidentOrder.POINTS
        residents = queries.resident_board(node, period, TOWN_BOARD, category or RuleCategory.VOLUNTEERING, order)
    elif subject == "village":
        order = GridOrder.TOTAL if request.args.get("order") == "total" else GridOrder.AVERAGE
        villages = queries.village_board(node, period, category, order)
    else:
        order = GridOrder.TOTAL if request.args.get("order") == "total" else GridOrder.AVERAGE
        grids = queries.grid_board(node, period, category, order)
    below = children(node.id)
    return render_template(
        "leaderboards/board.html", node=node, path=ancestors(node.id), children=below, subject=subject,
        subjects=subjects, period=period, category=category, kinds=PERIOD_KIND_LABELS, categories=CATEGORY_LABELS,
        red=red, black=black, residents=residents, grids=grids, villages=villages, own=mine[1] if mine else None,
        own_id=mine[0] if mine else None,
        order=request.args.get("order") if request.args.get("order") in ORDERS else None,
        current=period_of(period.kind, today), village_id=village_id,
        may_manage=village_id is not None and policy.can(current_user, policy.Permission.MANAGE_BOARDS, village_id),
    ), status


@bp.get("/display/<id:village_id>")
def display(village_id: int):
    """The village TV: full screen, large type; cycles through its boards and reloads itself every few minutes."""
    village = get_node(village_id)
    if village.kind is not NodeKind.VILLAGE:
        raise NotFound()
    return render_template("leaderboards/display.html", data=queries.display(village, local_today(), utcnow()),
                           TV_ROWS=TV_ROWS)


@bp.route("/villages/<id:village_id>/boards/settings", methods=["GET", "POST"])
@login_required
def settings(village_id: int):
    """红黑榜设置: how many households the 红榜 lists, and whether (and how many) the 黑榜 does."""
    village = policy.visible_village(current_user, village_id)
    policy.require(current_user, policy.Permission.MANAGE_BOARDS, village.id)
    form = BoardSettingsForm(obj=queries.board_settings(village.id))
    status = 200
    if form.validate_on_submit():
        services.update_board_settings(current_user, village, form.red_count.data, form.black_count.data)
        flash(_("红黑榜设置已保存"))
        return redirect(url_for("leaderboards.board", node_id=village.id))
    if request.method == "POST":
        status = 422
    return render_template("leaderboards/settings.html", village=village, form=form), status
