"""超期升级 with a moving clock: one level up per window, never above the village, twice is once."""
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth.models import Role
from points.extensions import db
from points.grids.models import NodeKind
from points.grids.services import create_node
from points.messages.models import Message
from points.people.models import Household
from points.reports import services
from points.reports.models import Report, StepKind
from points.reports.sweep import sweep_reports

from .. import factories
from .helpers import T0, file_report


def steps(report, kind=StepKind.ESCALATED) -> int:
    return sum(1 for s in report.steps if s.kind is kind)


def test_nothing_moves_before_the_deadline(world):
    report = file_report(world)
    assert sweep_reports(T0 + timedelta(hours=23, minutes=59)) == {"checked": 0, "escalated": 0}
    assert report.node_id == world["grid"].id


def test_an_unaccepted_report_moves_to_the_village_once(world):
    report = file_report(world)
    later = T0 + timedelta(hours=25)
    assert sweep_reports(later)["escalated"] == 1
    assert sweep_reports(later)["escalated"] == 0  # twice is once
    db.session.commit()
    db.session.expire_all()
    report = db.session.get(Report, report.id)
    assert (report.node_id, report.landed_at, report.escalations) == (world["village"].village.id, later, 1)
    assert steps(report) == 1 and report.steps[-1].actor_id is None
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "report.escalated")) == 1
    admin_told = db.session.scalars(select(Message.link).where(Message.user_id == world["admin"].id)).all()
    assert admin_told == [f"/reports/{report.id}"]
    # At the village it stays, however late.
    assert sweep_reports(later + timedelta(days=30))["escalated"] == 0
    assert report.node_id == world["village"].village.id
    # The grid's staff still accept it.
    services.accept_report(world["worker"], report.id, now=later + timedelta(days=30))


def test_a_report_in_a_building_moves_up_one_level_per_window(world):
    building = create_node("1号楼", "b1-" + world["grid"].code, NodeKind.GRID, world["grid"])
    home = factories.gen_household(building)
    villager = factories.gen_villager(home)
    factories.gen_user(Role.GRID_WORKER, building)
    db.session.commit()
    report = file_report(world, user=villager)
    assert report.node_id == building.id
    first = T0 + timedelta(hours=25)
    sweep_reports(first)
    assert report.node_id == world["grid"].id
    assert sweep_reports(first + timedelta(hours=23))["escalated"] == 0  # the grid's own 24 hours
    sweep_reports(first + timedelta(hours=25))
    assert report.node_id == world["village"].village.id and report.escalations == 2


def test_an_accepted_report_not_finished_by_its_due_time_moves_up(world):
    report = file_report(world)
    services.accept_report(world["worker"], report.id, now=T0 + timedelta(hours=2))
    db.session.commit()
    assert sweep_reports(T0 + timedelta(days=3, hours=1))["escalated"] == 0
    late = T0 + timedelta(days=3, hours=3)
    assert sweep_reports(late)["escalated"] == 1
    assert report.node_id == world["village"].village.id and steps(report) == 1
    assert report.steps[-1].note == "超期未办结"


def test_finished_and_rejected_reports_never_move(world):
    done = file_report(world)
    services.accept_report(world["worker"], done.id, now=T0)
    services.finish_report(world["worker"], done.id, "已处理", [], world["store"], now=T0 + timedelta(hours=1))
    rejected = file_report(world, text="另一件")
    services.reject_report(world["worker"], rejected.id, "不属实")
    assert sweep_reports(T0 + timedelta(days=30))["escalated"] == 0


def test_two_sweeps_at_once_escalate_once(app, world):
    ids = [file_report(world, text=f"第{i}件").id for i in range(3)]
    later = T0 + timedelta(hours=30)

    def sweep(_):
        with app.app_context():
            counts = sweep_reports(later)
            db.session.commit()
            return counts["escalated"]

    with ThreadPoolExecutor(2) as pool:
        escalated = list(pool.map(sweep, range(2)))
    assert sum(escalated) == 3
    db.session.expire_all()
    for report_id in ids:
        report = db.session.get(Report, report_id)
        assert report.escalations == 1 and steps(report) == 1
    assert db.session.scalar(select(func.count()).select_from(Household)) >= 1


def test_a_report_moved_up_for_waiting_stays_overdue_until_accepted_then_its_due_time_counts(world):
    from sqlalchemy import true

    from points.reports.queries import staff_reports

    report = file_report(world)
    sweep_reports(T0 + timedelta(hours=25))
    later = T0 + timedelta(hours=26)
    assert report.is_overdue(later) and staff_reports(true(), "overdue", 0, later).total == 1
    services.accept_report(world["worker"], report.id, now=later)
    assert not report.is_overdue(later) and staff_reports(true(), "overdue", 0, later).total == 0
    past_due = later + timedelta(days=3, minutes=1)
    assert report.is_overdue(past_due) and staff_reports(true(), "overdue", 0, past_due).total == 1
