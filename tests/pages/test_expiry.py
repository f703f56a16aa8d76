"""The pages of 公示和清零设置 and 积分清零: as the village admin, and refused in Chinese to anybody else; running and
undoing a 清零 through its confirmation, which names the households and points."""
import pytest
import time_machine
from sqlalchemy import func, select

from points.extensions import db
from points.ledger import lifecycle
from points.ledger.models import EntrySource, ExpiryMode, ExpiryRun, HouseholdBalance, LedgerEntry

from ..ledger.test_settings import BEFORE, ON_THE_DAY, SET_UP, build_scene


@pytest.fixture
def clock():
    with time_machine.travel(BEFORE, tick=False) as traveller:
        yield traveller


def balance(household) -> int:
    db.session.expire_all()
    return db.session.scalar(select(HouseholdBalance.balance).where(HouseholdBalance.household_id == household.id))


def text(response) -> str:
    return response.get_data(as_text=True)


def test_the_admin_reads_and_saves_the_settings(client, login, clock):
    scene = build_scene(reset=False)
    clock.move_to(SET_UP)
    login(scene.admin)
    page = text(client.get(f"/villages/{scene.village.village.id}/points-settings"))
    for words in ("公示异议天数", "积分公示结束后才能兑换", "不清零", "每年清零", "到期作废", "保留比例", "最多保留"):
        assert words in page
    response = client.post(f"/villages/{scene.village.village.id}/points-settings", data={
        "objection_days": "5", "spend_after_publicity": "1", "expiry": "reset", "reset_on": "2027-01-10",
        "carry_percent": "10", "carry_cap": "", "expiry_months": "24"}, follow_redirects=True)
    assert "公示和清零设置已保存" in text(response)
    settings = lifecycle.settings_of(scene.village.village.id)
    assert (settings.objection_days, settings.spend_after_publicity, settings.expiry, settings.carry_percent,
            settings.carry_cap) == (5, True, ExpiryMode.RESET, 10, None)


def test_a_reset_day_in_the_past_is_refused_beside_the_form(client, login, clock):
    scene = build_scene(reset=False)
    login(scene.admin)
    response = client.post(f"/villages/{scene.village.village.id}/points-settings", data={
        "objection_days": "7", "spend_after_publicity": "0", "expiry": "reset", "reset_on": "2026-12-01",
        "carry_percent": "0", "carry_cap": "", "expiry_months": "24"})
    assert response.status_code == 422
    assert "清零日期 2026年12月1日 已经过去了：新的清零日期要在今天以后" in text(response)
    assert lifecycle.settings_of(scene.village.village.id).expiry is ExpiryMode.NONE


def test_a_reset_day_less_than_a_month_ahead_is_refused_beside_the_form(client, login, clock):
    scene = build_scene(reset=False)
    login(scene.admin)
    response = client.post(f"/villages/{scene.village.village.id}/points-settings", data={
        "objection_days": "7", "spend_after_publicity": "0", "expiry": "reset", "reset_on": "2027-01-10",
        "carry_percent": "0", "carry_cap": "", "expiry_months": "24"})
    assert response.status_code == 422
    assert "清零日期最早只能定在 2027年1月20日：要提前一个月告诉各户，让他们先去兑换" in text(response)
    assert lifecycle.settings_of(scene.village.village.id).expiry is ExpiryMode.NONE


@pytest.mark.parametrize("who", ["worker", "villager"])
@pytest.mark.parametrize("path", ["points-settings", "expiry"])
def test_others_are_refused_in_chinese(client, login, clock, who, path):
    scene = build_scene()
    login(getattr(scene, who))
    response = client.get(f"/villages/{scene.village.village.id}/{path}")
    assert response.status_code == 403
    assert "您没有权限执行此操作" in text(response)
    response = client.post(f"/villages/{scene.village.village.id}/expiry", data={"confirmed": "1"})
    assert response.status_code == 403 and "您没有权限" in text(response)


def test_the_expiry_page_shows_the_next_clearing_before_it_is_due(client, login, clock):
    scene = build_scene()
    login(scene.admin)
    page = text(client.get(f"/villages/{scene.village.village.id}/expiry"))
    assert "下一次清零：2027年1月10日" in page
    assert "将清零 2 户，共 150 分，截止日期 2027年1月10日" in page
    assert "执行清零" not in page
    response = client.post(f"/villages/{scene.village.village.id}/expiry", follow_redirects=True)
    assert "还没到清零日期（2027年1月10日），不能提前清零" in text(response)
    assert db.session.scalar(select(func.count(ExpiryRun.id))) == 0


def test_run_through_the_confirmation_then_undo_it(client, login, clock):
    scene = build_scene()
    village_id = scene.village.village.id
    login(scene.admin)
    clock.move_to(ON_THE_DAY)
    page = text(client.get(f"/villages/{village_id}/expiry"))
    assert "将清零 2 户，共 150 分，截止日期 2027年1月10日" in page and "执行清零" in page
    asked = text(client.post(f"/villages/{village_id}/expiry"))
    assert "将清零 2 户，共 150 分" in asked
    assert f"户号 {scene.home.number} 张*明：120 分" in asked and f"户号 {scene.other.number} 李*：30 分" in asked
    assert "确认清零 150 分" in asked
    assert balance(scene.home) == 120  # asking wrote nothing
    done = text(client.post(f"/villages/{village_id}/expiry", data={"confirmed": "1"}, follow_redirects=True))
    assert "已清零 2 户，共 150 分" in done and "这一期已在 2027年1月10日 09:00 清零：2 户，共 150 分" in done
    assert (balance(scene.home), balance(scene.other)) == (0, 0)
    again = text(client.post(f"/villages/{village_id}/expiry", data={"confirmed": "1"}, follow_redirects=True))
    assert "这一期已经清零过了（2027年1月10日 09:00），不会重复清零" in again
    assert db.session.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.source == EntrySource.EXPIRY)) == 2

    run = db.session.scalar(select(ExpiryRun))
    asked = text(client.post(f"/expiry-runs/{run.id}/undo"))
    assert "将撤销 2027年1月10日 09:00 的积分清零：退回 2 户，共 150 分" in asked
    assert f"户号 {scene.home.number} 张*明：120 分" in asked and "确认撤销，退回 150 分" in asked
    undone = text(client.post(f"/expiry-runs/{run.id}/undo", data={"confirmed": "1"}, follow_redirects=True))
    assert "已撤销这次清零，积分已退回各户" in undone and "已于 2027年1月10日 09:00 撤销" in undone
    assert (balance(scene.home), balance(scene.other)) == (120, 30)
    twice = text(client.post(f"/expiry-runs/{run.id}/undo", data={"confirmed": "1"}, follow_redirects=True))
    assert "这次清零已经撤销过了" in twice
    assert balance(scene.home) == 120


def test_a_village_without_clearing_says_so(client, login, clock):
    scene = build_scene(reset=False)
    login(scene.admin)
    page = text(client.get(f"/villages/{scene.village.village.id}/expiry"))
    assert "本村积分不清零" in page and "还没有清零过" in page
    response = client.post(f"/villages/{scene.village.village.id}/expiry", follow_redirects=True)
    assert "本村没有设置积分清零" in text(response)


def test_undoing_a_run_of_another_village_is_refused(client, login, clock):
    scene = build_scene()
    clock.move_to(ON_THE_DAY)
    run, _made = lifecycle.run_expiry(None, scene.village.village)
    db.session.commit()
    outsider = build_scene(reset=False).admin
    login(outsider)
    response = client.post(f"/expiry-runs/{run.id}/undo", data={"confirmed": "1"})
    assert response.status_code == 403 and "您没有权限" in text(response)
    assert db.session.get(ExpiryRun, run.id).undone_at is None
