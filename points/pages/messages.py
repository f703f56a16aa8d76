"""Pages of messages (站内消息: what each user has been told, and their household's points) and the hub of the grid
work (网格: 民情诉求, 走访, 心愿墙, 履职排行, and the village settings of each)."""
from dataclasses import dataclass

from flask import Blueprint, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..auth import policy
from ..errors import DomainError
from ..extensions import db
from ..grids.models import NodeKind
from ..messages.models import KIND_LABELS
from ..messages.queries import inbox
from ..messages.services import mark_read
from ..timeutil import utcnow

bp = Blueprint("messages", __name__)


def safe_link(link: str) -> str | None:
    """A message's link as an address of this app (a path), or None."""
    return link if link.startswith("/") and not link.startswith("//") and "\\" not in link else None


@bp.get("/messages")
@login_required
def messages():
    """消息: the newest notices, unread ones marked. Showing them is reading them: the page marks them read (and
    commits itself, a GET that writes), so the number in the top bar of this page and the next is what came after."""
    shown_at = utcnow()
    items = inbox(current_user)
    if any(item.unread for item in items):
        mark_read(current_user, shown_at)
        db.session.commit()
    return render_template("messages/messages.html", items=items, kinds=KIND_LABELS, safe_link=safe_link)


@dataclass(frozen=True)
class HubRow:
    title: str
    note: str
    url: str


def _work_rows() -> list[HubRow]:
    return [
        HubRow(_("民情诉求"), _("村民随手拍：受理、处置、办结"), url_for("reports.reports")),
        HubRow(_("走访"), _("到期和逾期要走访的户"), url_for("visits.due")),
        HubRow(_("心愿墙"), _("发布和认领微心愿"), url_for("wishes.start")),
        HubRow(_("心愿待办"), _("待确认点亮的、本网格的微心愿"), url_for("wishes.mine")),
        HubRow(_("履职排行"), _("网格员履职积分"), url_for("visits.duty")),
    ]


def _settings_rows() -> list[HubRow]:
    rows = []
    for village in policy.nodes_in_scope(current_user, policy.Permission.MANAGE_GRID_WORK, NodeKind.VILLAGE):
        for title, endpoint in ((_("%(village)s诉求设置", village=village.name), "reports.settings"),
                                (_("%(village)s走访设置", village=village.name), "visits.settings")):
            rows.append(HubRow(title, "", url_for(endpoint, village_id=village.id)))
    for village in policy.nodes_in_scope(current_user, policy.Permission.MANAGE_POINTS, NodeKind.VILLAGE):
        for title, endpoint in ((_("%(village)s积分公示表", village=village.name), "publicity.table"),
                                (_("%(village)s积分清零", village=village.name), "expiry.expiry"),
                                (_("%(village)s公示和清零设置", village=village.name), "expiry.settings")):
            rows.append(HubRow(title, "", url_for(endpoint, village_id=village.id)))
    if policy.holds(current_user, policy.Permission.DECIDE_APPEALS):
        rows.append(HubRow(_("公示异议"), "", url_for("publicity.objections")))
    return rows


@bp.get("/grid-work")
@login_required
def grid_work():
    """网格: where a grid's worker, its leader and the admins start their grid work."""
    if not policy.holds(current_user, policy.Permission.GRID_WORK):
        raise DomainError("grid_work_only", status=403)
    return render_template("messages/grid_work.html", work=_work_rows(), settings=_settings_rows())
