"""超期升级: a report nobody accepted within the village's accept_hours, or nobody finished by its due time, moves one
level up the tree (a 楼栋's to its 网格, a 网格's to the village, never above), where its new staff are told. Run
by `flask --app points sweep` with the clock's now; tests pass their own. Flushes, never commits."""
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ..audit.services import record
from ..extensions import db
from ..grids.models import GridNode
from ..messages.services import tell_staff
from .models import Report, ReportStatus, ReportStep, StepKind
from .services import KIND, link
from .settings import settings_of

BATCH = 500


def _overdue(now: datetime, after_id: int) -> list[Report]:
    return list(db.session.scalars(
        select(Report).where(Report.status.in_((ReportStatus.SUBMITTED, ReportStatus.ACCEPTED)),
                             Report.deadline_at < now, Report.node_id != Report.village_id, Report.id > after_id)
        .order_by(Report.id).limit(BATCH)
    ))


def _next_deadline(report: Report, now: datetime) -> datetime:
    """How long the new level has: accept_hours to accept it; finish_days to finish an accepted one."""
    settings = settings_of(report.village_id)
    if report.status is ReportStatus.SUBMITTED:
        return now + timedelta(hours=settings.accept_hours)
    return now + timedelta(days=settings.finish_days)


def escalate(report: Report, now: datetime) -> bool:
    """Move one overdue report one level up, unless another sweep moved it in this window already."""
    parent_id = db.session.scalar(select(GridNode.parent_id).where(GridNode.id == report.node_id))
    if parent_id is None or report.node_id == report.village_id:
        return False
    old_node, old_deadline, status = report.node_id, report.deadline_at, report.status
    result = db.session.execute(
        update(Report).where(Report.id == report.id, Report.status == status, Report.node_id == old_node,
                             Report.deadline_at == old_deadline)
        .values(node_id=parent_id, landed_at=now, escalations=Report.escalations + 1,
                deadline_at=_next_deadline(report, now))
    )
    if result.rowcount != 1:
        return False
    db.session.expire(report)
    report.steps.append(ReportStep(kind=StepKind.ESCALATED, actor_id=None, created_at=now,
                                   note="超期未受理" if status is ReportStatus.SUBMITTED else "超期未办结"))
    db.session.flush()
    record(None, "report.escalated", "report", report.id, report.grid_id,
           before={"node": old_node, "escalations": report.escalations - 1},
           after={"node": parent_id, "escalations": report.escalations})
    tell_staff(parent_id, KIND, _l("有一条民情诉求（%(category)s）超期未办，已升级到您这里，请督办",
                                   category=report.category.name), link(report))
    return True


def sweep_reports(now: datetime) -> dict:
    """Escalate every overdue report once for this window. Returns {"checked": n, "escalated": m}."""
    checked = escalated = 0
    after_id = 0
    while True:
        batch = _overdue(now, after_id)
        if not batch:
            break
        for report in batch:
            checked += 1
            escalated += escalate(report, now)
        after_id = batch[-1].id
    return {"checked": checked, "escalated": escalated}
