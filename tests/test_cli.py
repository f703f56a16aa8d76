"""The command line: a real deployment starts with init-town, and the commands refuse to run where they would do
harm."""
from datetime import UTC, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth.models import Role, RoleAssignment, User
from points.extensions import db
from points.grids.models import GridNode, NodeKind
from points.messages.models import Message
from points.reports.models import Report

from . import factories
from .reports.helpers import T0, build_world, file_report

PASSWORD = "qingxi-2026"


def counts() -> tuple[int, int]:
    return (db.session.scalar(select(func.count()).select_from(GridNode)),
            db.session.scalar(select(func.count()).select_from(User)))


def test_init_town_makes_the_town_and_its_first_admin_who_can_log_in(runner, client, tmp_path):
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    result = runner.invoke(args=["init-town", "清溪镇", "--code", "qingxi", "--admin", "zhangsan",
                                 "--password-file", str(secret)])
    assert result.exit_code == 0, result.output
    assert "清溪镇" in result.output and "zhangsan" in result.output
    town = db.session.scalar(select(GridNode))
    assert (town.name, town.code, town.kind, town.parent_id) == ("清溪镇", "qingxi", NodeKind.TOWN, None)
    assignment = db.session.scalar(select(RoleAssignment))
    assert (assignment.user.username, assignment.role, assignment.node_id) == ("zhangsan", Role.TOWN_ADMIN, town.id)
    assert {e.action for e in db.session.scalars(select(AuditEvent))} == {"node.created", "role.assigned"}
    answer = client.post("/login", data={"username": "zhangsan", "password": PASSWORD})
    assert answer.status_code == 302
    assert "清溪镇" in client.get(answer.headers["Location"], follow_redirects=True).get_data(as_text=True)


def test_init_town_asks_for_the_password_twice(runner):
    result = runner.invoke(args=["init-town", "清溪镇", "--code", "qingxi", "--admin", "zhangsan"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert counts() == (1, 1)


def test_init_town_refuses_a_database_that_has_a_town_before_asking_anything(runner):
    village = factories.gen_village()
    db.session.commit()
    before = counts()
    result = runner.invoke(args=["init-town", "清溪镇", "--code", "qingxi", "--admin", "zhangsan"])
    assert result.exit_code != 0
    assert f"数据库里已有镇（街道）{village.town.name}" in result.output and "密码" not in result.output
    assert counts() == before


@pytest.mark.parametrize("args, password, message", [
    (["清溪镇", "--code", "qingxi", "--admin", "zhangsan"], "short", "密码至少需要 8 位"),
    (["清溪镇", "--code", "清溪", "--admin", "zhangsan"], PASSWORD, "编码“清溪”不可用"),
    (["清溪镇", "--code", "qing xi", "--admin", "zhangsan"], PASSWORD, "编码“qing xi”不可用"),
    (["  ", "--code", "qingxi", "--admin", "zhangsan"], PASSWORD, "请填写名称"),
    (["清溪镇", "--code", "qingxi", "--admin", " "], PASSWORD, "用户名不能为空"),
])
def test_init_town_refuses_bad_input_in_chinese_and_writes_nothing(runner, args, password, message):
    result = runner.invoke(args=["init-town", *args], input=f"{password}\n{password}\n")
    assert result.exit_code != 0 and message in result.output, result.output
    assert counts() == (0, 0)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_demo_refuses_a_database_with_real_data(runner):
    factories.gen_village()
    db.session.commit()
    result = runner.invoke(args=["demo"])
    assert result.exit_code != 0 and "演示村只能装进空数据库" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_sweep_escalates_an_overdue_report_once_and_reminds_once_a_day(runner, village, tmp_path):
    """flask --app points sweep, as cron runs it: past the village's 24 hours, an unaccepted report moves up to the
    village once however often the sweep runs; a second run the same day tells nobody again."""
    world = build_world(village, tmp_path)
    report = file_report(world, now=T0)
    with time_machine.travel(T0.replace(tzinfo=UTC) + timedelta(hours=25), tick=False):
        outputs = [runner.invoke(args=["sweep"]).output for _ in range(2)]
    assert outputs[0].startswith("民情诉求：1 条超期升级") and outputs[1].startswith("民情诉求：0 条超期升级")
    db.session.expire_all()
    assert (report.node_id, report.escalations) == (village.village.id, 1)
    told = db.session.scalar(select(func.count()).select_from(Message).where(Message.user_id == world["admin"].id))
    assert told == 1
    assert db.session.get(Report, report.id).status.value == "submitted"


def test_expire_clears_once_and_warns_once(runner, tmp_path):
    from points.ledger.models import EntrySource, ExpiryRun, LedgerEntry

    from .ledger.test_settings import BEFORE, ON_THE_DAY, build_scene

    with time_machine.travel(BEFORE, tick=False) as clock:
        scene = build_scene()
        first = runner.invoke(args=["expire"])
        assert first.exit_code == 0, first.output
        assert "清零提醒：今天新提醒 1 人" in first.output
        again = runner.invoke(args=["expire"])
        assert "清零提醒：今天新提醒 0 人" in again.output
        assert db.session.scalar(select(func.count(Message.id))) == 1
        clock.move_to(ON_THE_DAY)
        cleared = runner.invoke(args=["expire"])
        assert cleared.exit_code == 0, cleared.output
        assert f"{scene.village.village.name}：清零 2 户，共 150 分" in cleared.output
        twice = runner.invoke(args=["expire"])
        assert twice.exit_code == 0 and "清零 2 户" not in twice.output
    assert db.session.scalar(select(func.count(ExpiryRun.id))) == 1
    assert db.session.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.source == EntrySource.EXPIRY)) == 2
    assert db.session.scalar(select(ExpiryRun.actor_id)) is None
