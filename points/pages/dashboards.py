"""数据看板 for village and town admins: a grid subtree's points per week, by category, participation and the grids
compared, drawn by static/dashboards.js with the vendored ECharts, each chart's figures as .xlsx."""
import io
from dataclasses import dataclass

from flask import Blueprint, render_template, request, send_file
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..auth import policy
from ..dashboards import queries
from ..dashboards.reports import report_figures
from ..dashboards.villages import VillageComparison, village_comparison
from ..dashboards.workbook import (
    category_workbook,
    grid_workbook,
    participation_workbook,
    village_workbook,
    weekly_workbook,
)
from ..errors import Forbidden, NotFound
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..grids.queries import ancestors, children
from ..periods import Period, PeriodKind, parse_period, period_of, week_label
from ..rules.models import CATEGORY_LABELS
from ..timeutil import local_today, utcnow
from ..xlsx import XLSX

bp = Blueprint("dashboards", __name__)
VIEW = policy.Permission.VIEW_DASHBOARDS
MONTH_CHOICES = 24  # how far back the picker offers months
WEEK_CHOICES = 26  # and the weekly window's last week
CHARTS = ("weekly", "categories", "participation", "grids", "villages")
# Colours of app.css: green for points awarded, red for points lost, blue for points spent at the shop.
AWARDED, DEDUCTED, REDEEMED, AVERAGE = "#1b7f3b", "#c8161d", "#1a4f8b", "#b26a00"


@dataclass(frozen=True)
class Choice:
    """What the page shows: the scope, the month of the categories, participation and grids, and the last week of
    the weekly window."""

    node: GridNode
    month: Period
    week: Period


def _choice() -> Choice:
    """The request's ?node=&month=2026-11&week=2026-W47, each defaulting to the user's first scope and the current
    month and week. Raises Forbidden, NotFound, DomainError("invalid_period")."""
    raw = request.args.get("node")
    if raw:
        node = db.session.get(GridNode, int(raw)) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None
        if node is None:
            raise NotFound()
    else:
        scopes = policy.scope_ids(current_user, VIEW)
        if not scopes:
            raise Forbidden()
        node = db.session.get(GridNode, scopes[0])
    policy.require(current_user, VIEW, node.id)
    today = local_today()
    month = request.args.get("month")
    week = request.args.get("week")
    return Choice(node, parse_period(f"month:{month}") if month else period_of(PeriodKind.MONTH, today),
                  parse_period(f"week:{week}") if week else period_of(PeriodKind.WEEK, today))


def _args(choice: Choice) -> dict:
    return dict(node=choice.node.id, month=_value(choice.month), week=_value(choice.week))


def _value(period: Period) -> str:
    """The part of a period's text the picker sends: '2026-11', '2026-W47'."""
    return period.text.split(":", 1)[1]


def _recent(kind: PeriodKind, count: int, chosen: Period) -> list[Period]:
    """The picker's periods: the current one and count - 1 before it, newest first, with the chosen one if older."""
    periods = [period_of(kind, local_today())]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    if chosen not in periods:
        periods.append(chosen)
    return periods


@bp.get("/dashboards")
@login_required
def dashboard():
    """数据看板 of a town, village or grid."""
    choice = _choice()
    node = choice.node
    weeks = queries.weekly_figures(node, choice.week)
    categories = queries.category_figures(node, choice.month)
    months = queries.participation(node, choice.month)
    grids = queries.grid_comparison(node, choice.month)
    town = node.kind is NodeKind.TOWN
    villages = village_comparison(node, choice.month) if town else None
    trail = [a for a in ancestors(node.id) if policy.can(current_user, VIEW, a.id)]
    return render_template(
        "dashboards/dashboard.html", choice=choice, args=_args(choice), trail=trail, children=children(node.id),
        months_offered=_recent(PeriodKind.MONTH, MONTH_CHOICES, choice.month),
        weeks_offered=_recent(PeriodKind.WEEK, WEEK_CHOICES, choice.week), value=_value,
        weeks=weeks, categories=categories, participation=months, grids=grids,
        reports=report_figures(node, choice.month, utcnow()), this_month=months[-1], town=town, villages=villages,
        category_label=_category_label,
        charts=dict(weekly=_weekly_chart(weeks), categories=_category_chart(categories),
                    participation=_participation_chart(months), grids=_grid_chart(grids, node),
                    **(dict(villages=_village_chart(villages)) if villages else {})),
    )


@bp.get("/dashboards/<chart>.xlsx")
@login_required
def export(chart: str):
    """One chart's figures, as the page shows them, in a workbook of one sheet."""
    if chart not in CHARTS:
        raise NotFound()
    choice = _choice()
    node, month = choice.node, choice.month
    if chart == "weekly":
        data = weekly_workbook(queries.weekly_figures(node, choice.week))
        name = _("每周积分-%(node)s-截至%(week)s.xlsx", node=node.name, week=_value(choice.week))
    elif chart == "categories":
        data = category_workbook(month, queries.category_figures(node, month))
        name = _("分类积分-%(node)s-%(month)s.xlsx", node=node.name, month=_value(month))
    elif chart == "participation":
        data = participation_workbook(queries.participation(node, month))
        name = _("参与率-%(node)s-截至%(month)s.xlsx", node=node.name, month=_value(month))
    elif chart == "grids":
        data = grid_workbook(month, queries.grid_comparison(node, month))
        name = _("网格对比-%(node)s-%(month)s.xlsx", node=node.name, month=_value(month))
    else:
        if node.kind is not NodeKind.TOWN:
            raise NotFound()
        data = village_workbook(village_comparison(node, month))
        name = _("各村对比-%(node)s-%(month)s.xlsx", node=node.name, month=_value(month))
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True, download_name=name)


# ------------------------------------------------------------------------------------ what static/dashboards.js draws


def _category_label(figures: queries.CategoryFigures) -> str:
    return str(CATEGORY_LABELS[figures.category]) if figures.category else _("未分类")


def _weekly_chart(weeks: list[queries.WeekFigures]) -> dict:
    return dict(kind="bar", labels=[week_label(w.period.first, dates=False) for w in weeks],
                titles=[w.period.label for w in weeks],
                series=[dict(name=_("发放"), color=AWARDED, data=[w.awarded for w in weeks]),
                        dict(name=_("扣减"), color=DEDUCTED, data=[w.deducted for w in weeks]),
                        dict(name=_("兑换"), color=REDEEMED, data=[w.redeemed for w in weeks])])


def _category_chart(categories: list[queries.CategoryFigures]) -> dict:
    return dict(kind="bar", horizontal=True, labels=[_category_label(c) for c in categories],
                series=[dict(name=_("发放"), color=AWARDED, data=[c.awarded for c in categories]),
                        dict(name=_("扣减"), color=DEDUCTED, data=[c.deducted for c in categories])])


def _participation_chart(months: list[queries.Participation]) -> dict:
    return dict(kind="line", percent=True, labels=[_("%(month)d月", month=m.period.first.month) for m in months],
                titles=[m.period.label for m in months],
                series=[dict(name=_("参与率"), color=DEDUCTED, data=[m.percent for m in months])])


def _grid_chart(places, node: GridNode) -> dict:
    town = node.kind is NodeKind.TOWN  # grids of many villages share names (第1网格): the village says which
    return dict(kind="bar", horizontal=True,
                labels=[f"{p.village} {p.name}" if town and p.village else p.name for p in places],
                series=[dict(name=_("户均积分"), color=AVERAGE, data=[round(float(p.average), 1) for p in places])])



def _village_chart(comparison: VillageComparison) -> dict:
    rows = comparison.villages
    return dict(kind="bar", horizontal=True, labels=[r.name for r in rows],
                series=[dict(name=_("户均积分"), color=AVERAGE, data=[round(float(r.per_household), 1) for r in rows])])
