"""The demo's month of 民情诉求: every state, settings set, and running the demo again changes nothing."""
import pytest
from sqlalchemy import func, select

from points.extensions import db
from points.grids.models import GridNode
from points.reports.models import Feedback, Report, ReportSettings, ReportStatus, StepKind
from points.reports.sample import sample_reports

from ..conftest import empty_database


@pytest.fixture(scope="module")
def demo(app):
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["demo"])
        assert result.exit_code == 0, result.output
        yield
        empty_database()


@pytest.fixture(autouse=True)
def _context(app, demo):
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()


def test_the_demo_has_reports_in_every_state_and_again_changes_nothing():
    village = db.session.scalar(select(GridNode).where(GridNode.code == "yaoqian"))
    reports = list(db.session.scalars(select(Report).where(Report.village_id == village.id)))
    assert len(reports) == 15
    statuses = {r.status for r in reports}
    assert statuses == {ReportStatus.SUBMITTED, ReportStatus.ACCEPTED, ReportStatus.FINISHED, ReportStatus.CLOSED,
                        ReportStatus.REJECTED}
    assert any(r.escalations for r in reports)
    assert any(r.feedback is Feedback.UNSATISFIED and r.status is ReportStatus.ACCEPTED for r in reports)
    assert any(r.submitted_by.username == "worker1" for r in reports)
    assert len({r.grid_id for r in reports}) == 3
    assert any(r.reward_entry_id for r in reports)
    assert any(s.kind is StepKind.ESCALATED for r in reports for s in r.steps)
    settings = db.session.get(ReportSettings, village.id)
    assert settings.reward_rule_id and settings.duty_rule_id
    sample_reports(village)
    assert db.session.scalar(select(func.count()).select_from(Report)) == 15
