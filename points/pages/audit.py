"""The audit log page (审计日志) for admins, filtered and paginated."""
from datetime import date

from flask import Blueprint, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..audit.labels import ACTIONS, FIELD_LABELS, VALUE_WORDS
from ..audit.models import AuditEvent
from ..audit.queries import search_events
from ..auth import policy
from ..errors import Forbidden
from ..limits import MAX_ID

bp = Blueprint("audit", __name__)

SUBJECT_TYPES = ("entry", "rule", "user", "household", "resident", "village", "claim", "appeal", "inspection_round",
                 "monthly_summary")


def shown_value(value) -> str:
    """A before/after value as the log page shows it: yes/no, a dash for nothing, enum values in words."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(_l("是") if value else _l("否"))
    if isinstance(value, list):
        return "、".join(shown_value(v) for v in value) or "—"
    return str(VALUE_WORDS.get(value, value)) if isinstance(value, str) else str(value)


def _day(name: str) -> date | None:
    """A filter day; one that is not a date, or too far out to compute its UTC start, is ignored."""
    try:
        day = date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None
    return day if date(1970, 1, 2) <= day <= date(9998, 12, 30) else None


def filtered_events(page: int, per_page: int):
    """The log within the user's scope, under the filters the request names (action, actor, days, subject): the page
    and its export read the same."""
    action = request.args.get("action", "")
    subject_type = request.args.get("subject_type", "")
    subject_id = request.args.get("subject_id", type=int)
    return search_events(
        policy.node_filter(current_user, policy.Permission.VIEW_AUDIT, AuditEvent.node_id),
        action=action if action in ACTIONS else "",
        actor=request.args.get("actor", "").replace("\x00", "").strip()[:64],
        start=_day("start"),
        end=_day("end"),
        subject_type=subject_type if subject_type in SUBJECT_TYPES else "",
        subject_id=subject_id if subject_id and 1 <= subject_id <= MAX_ID else None,
        page=page,
        per_page=per_page,
    )


@bp.get("/audit")
@login_required
def audit_log():
    if not policy.holds(current_user, policy.Permission.VIEW_AUDIT):
        raise Forbidden()
    page = filtered_events(request.args.get("page", 1, type=int), current_app.config["PER_PAGE"])
    return render_template("audit/log.html", page=page, actions=ACTIONS, fields=FIELD_LABELS, shown=shown_value)
