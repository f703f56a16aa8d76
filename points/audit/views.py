"""The audit log page (审计日志) for admins, filtered and paginated."""
from datetime import date

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user, login_required

from ..auth import policy
from ..errors import Forbidden
from ..limits import MAX_ID
from .models import AuditEvent
from .queries import search_events
from .services import ACTIONS, FIELD_LABELS

bp = Blueprint("audit", __name__)

SUBJECT_TYPES = ("entry", "rule", "user", "household", "resident", "village", "claim", "appeal")


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.get("/audit")
@login_required
def audit_log():
    if not policy.holds(current_user, policy.Permission.VIEW_AUDIT):
        raise Forbidden()
    action = request.args.get("action", "")
    subject_type = request.args.get("subject_type", "")
    subject_id = request.args.get("subject_id", type=int)
    page = search_events(
        policy.node_filter(current_user, policy.Permission.VIEW_AUDIT, AuditEvent.node_id),
        action=action if action in ACTIONS else "",
        actor=request.args.get("actor", "").strip()[:64],
        start=_day("start"),
        end=_day("end"),
        subject_type=subject_type if subject_type in SUBJECT_TYPES else "",
        subject_id=subject_id if subject_id and 1 <= subject_id <= MAX_ID else None,
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PER_PAGE"],
    )
    return render_template("audit/log.html", page=page, actions=ACTIONS, fields=FIELD_LABELS)
