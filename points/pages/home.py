"""The front door: each user's start page (a clerk's counter, a grid's inspectors' week, a node's overview, a
villager's points), /healthz, the language switch and helpers every template uses."""
from dataclasses import dataclass
from datetime import date

from flask import Blueprint, Flask, jsonify, redirect, render_template, request, url_for
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from ..auth import policy
from ..auth.models import ROLE_LABELS, User
from ..claims.models import APPEAL_STATUS_LABELS, CLAIM_STATUS_LABELS
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..hygiene import inspection
from ..hygiene.models import InspectionRound
from ..hygiene.queries import progress
from ..messages.queries import unread_count
from ..people.models import KIND_LABELS
from ..people.privacy import mask_id_number, mask_name, mask_phone
from ..people.queries import household_counts
from ..people.services import CARE_TAG_LABELS, CLOSURE_LABELS, DEPARTURE_LABELS
from ..periods import day_label, full_day_label, month_label, parse_week, week_label, week_of
from ..shop.queries import first_shop_run_by
from ..timeutil import local_today, utc_to_local
from .forms import safe_next

bp = Blueprint("web", __name__)


@bp.get("/")
@login_required
def home():
    counter = clerk_counter(current_user)
    if counter is not None:
        return redirect(counter)
    today = local_today()
    weeks = inspection_weeks(current_user, today)
    homes = policy.home_node_ids(current_user)
    if weeks:
        nodes = list(db.session.scalars(select(GridNode).where(GridNode.id.in_(homes)).order_by(GridNode.id)))
        return render_template("home/inspector.html", weeks=weeks, nodes=nodes, counts=household_counts(homes))
    if homes:
        return redirect(url_for("grids.overview", node_id=homes[0]))
    return redirect(url_for("ledger.my_points"))


def clerk_counter(user: User) -> str | None:
    """The counter of a shop clerk's (first) shop, where they start after login and at home (policy.only_clerk)."""
    if not policy.only_clerk(user):
        return None
    shop = first_shop_run_by(user)
    return url_for("shop.counter", shop_id=shop.id) if shop is not None else None


@dataclass
class InspectedGrid:
    """A grid the user's grid inspects this week: how many of its households have a score sheet, whether the user
    may score it now (not yet published)."""

    grid: GridNode
    done: int
    total: int
    may_score: bool


@dataclass
class InspectionWeek:
    """本周你检查: a village's round of this week (None: not opened yet), the grids the user inspects in it, or,
    before it opens, the grids the rotation gives them; and whether the user may open it."""

    village: GridNode
    week: str  # 2026-W50, for the form that opens the round
    monday: date
    round: InspectionRound | None
    grids: list[InspectedGrid]
    may_open: bool


def inspection_weeks(user: User, today: date) -> list[InspectionWeek]:
    """This week's 卫生评比 for a grid's leaders and workers, in each village where they keep a grid (交叉检查: their
    grid inspects another). Not for the village's admins, who score every grid."""
    grid_nodes = db.session.scalars(select(GridNode).where(
        GridNode.id.in_(policy.scope_ids(user, policy.Permission.VIEW_HOUSEHOLDS)), GridNode.kind == NodeKind.GRID))
    villages = [db.session.get(GridNode, v) for v in dict.fromkeys(g.village_id for g in grid_nodes)]
    week = week_of(today)
    monday = parse_week(week)
    found = []
    for village in villages:
        if village is None or policy.can(user, policy.Permission.MANAGE_HYGIENE, village.id):
            continue
        round_ = inspection.round_for(village, week, create=False)
        found.append(InspectionWeek(village, week, monday, round_, _inspected(user, village, round_, monday),
                                    round_ is None and inspection.may_open_round(user, village.id)))
    return found


def _inspected(user: User, village: GridNode, round_: InspectionRound | None, monday: date) -> list[InspectedGrid]:
    """The grids user's grid inspects: in the round, or as the rotation will assign them when it opens."""
    if round_ is None:
        grids = {g.id: g for g in inspection.inspected_grids(village.id)}
        return [InspectedGrid(grids[grid_id], 0, 0, False)
                for grid_id, inspector in inspection.rotation(list(grids), monday).items()
                if inspector is not None and policy.can_score(user, village.id, inspector)]
    mine = [a for a in round_.assignments
            if a.inspector_grid_id is not None and policy.can_score(user, village.id, a.inspector_grid_id)]
    done = progress(round_.id) if mine else {}
    return [InspectedGrid(a.grid, *done.get(a.grid_id, (0, 0)), inspection.may_score(user, round_, a.grid_id))
            for a in mine]


@bp.get("/manage")
@login_required
def manage():
    """管理: the admin pages that do not fit the top bar of a phone; for a town admin, the town's templates too."""
    towns = policy.nodes_in_scope(current_user, policy.Permission.MANAGE_RULES, NodeKind.TOWN)
    return render_template("manage.html", towns=towns)


@bp.get("/healthz")
def healthz():
    db.session.execute(text("SELECT 1"))
    return jsonify(status="ok")


@bp.get("/lang/<code>")
def set_language(code: str):
    """Remember a chosen language in a cookie and go back."""
    response = redirect(safe_next(request.args.get("next")))
    if code in ("zh_CN", "en"):
        response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


def unread_messages() -> int:
    """The number on the top bar's 消息: called by the template, so a page without the bar costs nothing. 0 on the
    error page of a request whose database work failed (PostgreSQL refuses every query then, until the rollback)."""
    if not current_user.is_authenticated:
        return 0
    try:
        return unread_count(current_user)
    except SQLAlchemyError:
        return 0


def day_time(moment) -> str:
    """A stored (UTC) time as a villager reads it: 12月7日 14:05 (and the year, when not this one)."""
    if not moment:
        return ""
    local = utc_to_local(moment)
    day = day_label(local.date())
    if local.year != local_today().year:
        day = _("%(year)d年%(day)s", year=local.year, day=day)
    return f"{day} {local:%H:%M}"


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters.update(
        mask_phone=mask_phone,
        mask_name=mask_name,
        mask_id=mask_id_number,
        local_time=lambda value: format_datetime(value, "yyyy-MM-dd HH:mm") if value else "",
        day_time=day_time,
        full_day=full_day_label,  # 2027年1月31日: a day that may fall in another year
    )
    app.jinja_env.globals.update(
        KIND_LABELS=KIND_LABELS,
        CARE_TAG_LABELS=CARE_TAG_LABELS,
        CLOSURE_LABELS=CLOSURE_LABELS,
        DEPARTURE_LABELS=DEPARTURE_LABELS,
        ROLE_LABELS=ROLE_LABELS,
        CLAIM_STATUS_LABELS=CLAIM_STATUS_LABELS,
        APPEAL_STATUS_LABELS=APPEAL_STATUS_LABELS,
        Permission=policy.Permission,
        can=policy.can,
        holds=policy.holds,
        get_locale=get_locale,
        week_label=week_label,
        month_label=month_label,
        day_label=day_label,
        unread_messages=unread_messages,
    )

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'"
        )
        if app.config["SESSION_COOKIE_SECURE"]:
            # Secure cookies say the site is served over HTTPS, so browsers may be told to use nothing else. Not
            # without them: a village server reached over plain HTTP on its intranet would be locked out. Not for
            # subdomains either, which may be other sites of the same government domain.
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
