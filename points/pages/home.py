"""The front door: home redirect, /healthz, the language switch and helpers every template uses."""
from flask import Blueprint, Flask, jsonify, redirect, render_template, request, url_for
from flask_babel import format_datetime, get_locale
from flask_login import current_user, login_required
from sqlalchemy import text

from ..auth import policy
from ..auth.models import ROLE_LABELS
from ..claims.models import APPEAL_STATUS_LABELS, CLAIM_STATUS_LABELS
from ..extensions import db
from ..grids.models import NodeKind
from ..people.models import KIND_LABELS
from ..people.privacy import mask_id_number, mask_name, mask_phone
from ..people.services import CARE_TAG_LABELS, CLOSURE_LABELS, DEPARTURE_LABELS
from ..periods import day_label, month_label, week_label
from .forms import safe_next

bp = Blueprint("web", __name__)


@bp.get("/")
@login_required
def home():
    homes = policy.home_node_ids(current_user)
    if homes:
        return redirect(url_for("grids.overview", node_id=homes[0]))
    return redirect(url_for("ledger.my_points"))


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


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters.update(
        mask_phone=mask_phone,
        mask_name=mask_name,
        mask_id=mask_id_number,
        local_time=lambda value: format_datetime(value, "yyyy-MM-dd HH:mm") if value else "",
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
