"""The 民情诉求 section of the 数据看板: per grid of the scope, the reports open now and those overdue; for the reports
made in the month, the median hours from report to 办结 and the share of 回访 that were 满意."""
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from statistics import median

from sqlalchemy import case, func, select

from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..grids.queries import subtree_ids
from ..periods import Period
from ..reports.models import OPEN_STATUSES, Feedback, Report
from ..reports.queries import overdue_clause
from ..timeutil import local_to_utc


@dataclass(frozen=True)
class GridReports:
    name: str
    open: int
    overdue: int


@dataclass(frozen=True)
class ReportFigures:
    grids: list[GridReports]
    made: int  # reports made in the month
    finished: int  # of those, finished (办结, whatever came after)
    median_hours: float | None  # from report to 办结
    answered: int  # 回访 given
    satisfied: int

    @property
    def open(self) -> int:
        return sum(g.open for g in self.grids)

    @property
    def overdue(self) -> int:
        return sum(g.overdue for g in self.grids)

    @property
    def satisfaction(self) -> float | None:
        """满意率 in per cent, to one decimal place; None before any 回访."""
        return round(100 * self.satisfied / self.answered, 1) if self.answered else None


def _grid_rows(scope: GridNode, now: datetime) -> list[GridReports]:
    waiting = Report.status.in_(OPEN_STATUSES)
    late = overdue_clause(now)
    counts = {grid_id: (int(o or 0), int(d or 0)) for grid_id, o, d in db.session.execute(
        select(Report.grid_id, func.sum(case((waiting, 1), else_=0)), func.sum(case((late, 1), else_=0)))
        .where(Report.grid_id.in_(subtree_ids(scope.id)), waiting).group_by(Report.grid_id))}
    grids = db.session.scalars(select(GridNode).where(GridNode.id.in_(subtree_ids(scope.id)),
                                                      GridNode.kind == NodeKind.GRID)
                               .order_by(GridNode.village_id, GridNode.depth, GridNode.id)).all()
    town = scope.kind is NodeKind.TOWN
    villages = {v.id: v.name for v in db.session.scalars(
        select(GridNode).where(GridNode.id.in_({g.village_id for g in grids})))} if town else {}
    return [GridReports(f"{villages.get(g.village_id, '')} {g.name}".strip() if town else g.name,
                        *counts.get(g.id, (0, 0)))
            for g in grids if g.retired_at is None or g.id in counts]


def report_figures(scope: GridNode, month: Period, now: datetime) -> ReportFigures:
    """The section's figures: open and overdue now, per grid; made, finished, median hours and 满意 in month."""
    start = local_to_utc(datetime.combine(month.first, time()))
    end = local_to_utc(datetime.combine(month.last + timedelta(days=1), time()))
    rows = db.session.execute(
        select(Report.created_at, Report.finished_at, Report.feedback)
        .where(Report.grid_id.in_(subtree_ids(scope.id)), Report.created_at >= start, Report.created_at < end)
    ).all()
    hours = [(finished - created).total_seconds() / 3600 for created, finished, _ in rows if finished is not None]
    answered = [feedback for _, _, feedback in rows if feedback is not None]
    return ReportFigures(
        grids=_grid_rows(scope, now), made=len(rows), finished=len(hours),
        median_hours=round(median(hours), 1) if hours else None, answered=len(answered),
        satisfied=sum(1 for f in answered if f is Feedback.SATISFIED))
