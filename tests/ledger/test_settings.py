"""A village's 公示 and 清零 settings: who may change them, each refusal in Chinese, the audit of a change, and the
month's notice a clearing is given once it is turned on or moved."""
from dataclasses import dataclass
from datetime import date, datetime

import pytest
import time_machine
from sqlalchemy import select

from points.audit.models import AuditEvent
from points.auth.models import Role, User
from points.errors import DomainError, Forbidden
from points.extensions import db
from points.ledger import lifecycle
from points.ledger.models import ExpiryMode, LedgerSettings
from points.people.models import Household
from points.timeutil import LOCAL

from .. import factories

SET_UP = datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL)  # 清零 turned on: 40 days before its first day
BEFORE = datetime(2026, 12, 20, 10, 0, tzinfo=LOCAL)  # three weeks before the village's first 清零
RESET_DAY = date(2027, 1, 10)
ON_THE_DAY = datetime(2027, 1, 10, 9, 0, tzinfo=LOCAL)


@dataclass
class Scene:
    village: factories.Village
    admin: User
    worker: User
    villager: User
    home: Household  # 120 points, with a villager's account
    other: Household  # 30 points


def build_scene(reset: bool = True) -> Scene:
    """Built with the clock at BEFORE: a village clearing its points every 10 January from 2027 (when reset, set up
    at SET_UP, more than a month ahead), two households with points earned before it."""
    village = factories.gen_village()
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    home = factories.gen_household(village.grids[0], "张三明")
    other = factories.gen_household(village.grids[1], "李四")
    factories.gen_points(home, 120)
    factories.gen_points(other, 30)
    scene = Scene(village, admin, factories.gen_user(Role.GRID_WORKER, village.grids[0]),
                  factories.gen_villager(home), home, other)
    if reset:
        with time_machine.travel(SET_UP, tick=False):
            lifecycle.update_settings(admin, village.village, expiry=ExpiryMode.RESET, reset_on=RESET_DAY)
    db.session.commit()
    return scene


@pytest.fixture
def clock():
    with time_machine.travel(BEFORE, tick=False) as traveller:
        yield traveller


def refusal(scene: Scene, **fields) -> DomainError:
    with pytest.raises(DomainError) as caught:
        lifecycle.update_settings(scene.admin, scene.village.village, **fields)
    db.session.rollback()
    return caught.value


def test_the_first_change_makes_the_row_and_is_audited_with_before_and_after(clock):
    scene = build_scene(reset=False)
    assert db.session.get(LedgerSettings, scene.village.village.id) is None
    lifecycle.update_settings(scene.admin, scene.village.village, objection_days=5, spend_after_publicity=True)
    settings = db.session.get(LedgerSettings, scene.village.village.id)
    assert (settings.objection_days, settings.spend_after_publicity, settings.expiry) == (5, True, ExpiryMode.NONE)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "ledger_settings.updated"))
    assert event.before["objection_days"] == 7 and event.before["spend_after_publicity"] is False
    assert event.after["objection_days"] == 5 and event.after["spend_after_publicity"] is True
    assert event.actor_id == scene.admin.id and event.node_id == scene.village.village.id


def test_a_yearly_reset_is_kept_with_its_carry_over(clock):
    scene = build_scene(reset=False)
    clock.move_to(SET_UP)
    lifecycle.update_settings(scene.admin, scene.village.village, expiry="reset", reset_on=RESET_DAY,
                              carry_percent=20, carry_cap=50)
    settings = lifecycle.settings_of(scene.village.village.id)
    assert (settings.expiry, settings.reset_on, settings.carry_percent, settings.carry_cap) == (
        ExpiryMode.RESET, RESET_DAY, 20, 50)
    assert settings.expiry_from == date(2027, 1, 1)  # a month's notice from the day it was turned on


@pytest.mark.parametrize("percent, cap, kept", [(0, 50, (50, 30)), (50, 40, (40, 15)), (50, None, (60, 15)),
                                                (0, None, (0, 0))])
def test_a_reset_keeps_the_share_up_to_the_cap_or_the_cap_alone(clock, percent, cap, kept):
    scene = build_scene()
    lifecycle.update_settings(scene.admin, scene.village.village, carry_percent=percent, carry_cap=cap)
    clock.move_to(ON_THE_DAY)
    lost = lifecycle.preview(scene.village.village).lost
    assert (120 - lost.get(scene.home.id, 0), 30 - lost.get(scene.other.id, 0)) == kept


def test_a_reset_day_less_than_a_month_ahead_is_refused_in_chinese(clock):
    scene = build_scene(reset=False)
    error = refusal(scene, expiry="reset", reset_on=RESET_DAY)
    assert error.code == "reset_day_too_soon"
    assert error.message == "清零日期最早只能定在 2027年1月20日：要提前一个月告诉各户，让他们先去兑换"
    assert db.session.get(LedgerSettings, scene.village.village.id) is None
    lifecycle.update_settings(scene.admin, scene.village.village, expiry="reset", reset_on=date(2027, 1, 20))
    assert lifecycle.settings_of(scene.village.village.id).expiry_from == date(2027, 1, 20)


def test_moving_a_reset_day_closer_than_a_month_is_refused(clock):
    scene = build_scene()
    assert refusal(scene, reset_on=date(2027, 1, 15)).code == "reset_day_too_soon"
    assert lifecycle.settings_of(scene.village.village.id).reset_on == RESET_DAY


@pytest.mark.parametrize("fields, message", [
    ({"objection_days": 29}, "公示和清零设置不对：公示异议天数要在 0 到 28 天之间"),
    ({"objection_days": -1}, "公示和清零设置不对：公示异议天数要在 0 到 28 天之间"),
    ({"spend_after_publicity": "yes"}, "公示和清零设置不对：请选择积分是否要公示结束后才能兑换"),
    ({"expiry": "weekly"}, "公示和清零设置不对：清零方式只能选不清零、每年清零或到期作废"),
    ({"expiry": "reset"}, "公示和清零设置不对：每年清零要填写清零日期"),
    ({"expiry": "reset", "reset_on": date(2027, 1, 29)}, "清零日期只能选每月 1 日到 28 日（每年都有这一天）"),
    ({"expiry": "reset", "reset_on": date(2026, 12, 20)},
     "清零日期 2026年12月20日 已经过去了：新的清零日期要在今天以后"),
    ({"expiry": "reset", "reset_on": date(2026, 1, 10)}, "清零日期 2026年1月10日 已经过去了"),
    ({"reset_on": "2027-01-10", "expiry": "reset"}, "公示和清零设置不对：清零日期格式不对"),
    ({"carry_percent": 101}, "公示和清零设置不对：保留比例要在 0 到 100 之间"),
    ({"carry_cap": -1}, "最多保留的积分要在 0 到 1000000 之间（不限就留空）"),
    ({"expiry_months": 0}, "公示和清零设置不对：积分有效月数要在 1 到 120 之间"),
    ({"expiry_months": 121}, "积分有效月数要在 1 到 120 之间"),
    ({"expiry_months": True}, "积分有效月数要在 1 到 120 之间"),
])
def test_bad_settings_are_refused_in_chinese_and_change_nothing(clock, fields, message):
    scene = build_scene(reset=False)
    error = refusal(scene, **fields)
    assert message in error.message
    assert db.session.get(LedgerSettings, scene.village.village.id) is None


def test_a_reset_day_set_before_may_stay_when_it_has_passed(clock):
    scene = build_scene()
    with time_machine.travel(datetime(2027, 3, 1, 9, 0, tzinfo=LOCAL), tick=False):
        lifecycle.update_settings(scene.admin, scene.village.village, expiry="reset", reset_on=RESET_DAY,
                                  objection_days=3)
        settings = lifecycle.settings_of(scene.village.village.id)
        assert (settings.objection_days, settings.expiry_from) == (3, date(2027, 1, 1))  # the timing is unchanged
        moved = refusal(scene, reset_on=date(2027, 2, 1))
        assert moved.code == "reset_day_in_past"
        lifecycle.update_settings(scene.admin, scene.village.village, reset_on=date(2028, 1, 10))
        assert lifecycle.settings_of(scene.village.village.id).expiry_from == date(2027, 4, 1)


def test_switching_back_to_a_reset_whose_day_has_passed_is_refused(clock):
    scene = build_scene()
    lifecycle.update_settings(scene.admin, scene.village.village, expiry="rolling", expiry_months=12)
    with time_machine.travel(datetime(2027, 3, 1, 9, 0, tzinfo=LOCAL), tick=False):
        assert refusal(scene, expiry="reset").code == "reset_day_in_past"


ROLLING_ON = datetime(2027, 3, 5, 9, 0, tzinfo=LOCAL)


def rolling_scene(clock) -> Scene:
    """Points earned in January; on ROLLING_ON the village turns on expiry a month after the month points were earned
    in. 1 April would clear February's points but is within the month's notice (to 5 April): 1 May is the first."""
    clock.move_to(datetime(2027, 1, 20, 9, 0, tzinfo=LOCAL))
    scene = build_scene(reset=False)
    clock.move_to(ROLLING_ON)
    lifecycle.update_settings(scene.admin, scene.village.village, expiry="rolling", expiry_months=1)
    assert lifecycle.settings_of(scene.village.village.id).expiry_from == date(2027, 4, 5)
    return scene


def test_a_rolling_clearing_is_not_due_until_a_month_after_it_is_turned_on(clock):
    scene = rolling_scene(clock)
    for day in (ROLLING_ON, datetime(2027, 4, 1, 9, 0, tzinfo=LOCAL), datetime(2027, 4, 30, 9, 0, tzinfo=LOCAL)):
        clock.move_to(day)
        assert lifecycle.preview(scene.village.village).due is None
        with pytest.raises(DomainError):
            lifecycle.run_expiry(scene.admin, scene.village.village)
    clock.move_to(datetime(2027, 5, 1, 9, 0, tzinfo=LOCAL))
    run, made = lifecycle.run_expiry(scene.admin, scene.village.village)
    assert (made, run.period, run.cutoff, run.households, run.points) == (
        True, "M2027-05", date(2027, 4, 1), 2, 150)


def test_a_rolling_clearing_within_its_notice_names_its_first_day(clock):
    scene = rolling_scene(clock)
    assert lifecycle.preview(scene.village.village, upcoming=True).due.day == date(2027, 5, 1)
    with pytest.raises(DomainError) as early:
        lifecycle.run_expiry(scene.admin, scene.village.village)
    assert early.value.code == "expiry_not_due" and "2027年5月1日" in early.value.message


@pytest.mark.parametrize("who", ["worker", "villager"])
def test_only_the_village_admin_may_change_them(clock, who):
    scene = build_scene(reset=False)
    with pytest.raises(Forbidden):
        lifecycle.update_settings(getattr(scene, who), scene.village.village, objection_days=3)
    outsider = factories.gen_user(Role.VILLAGE_ADMIN, factories.gen_village().village)
    with pytest.raises(Forbidden):
        lifecycle.update_settings(outsider, scene.village.village, objection_days=3)


def test_a_field_the_mode_does_not_read_does_not_put_off_the_clearing(clock):
    scene = build_scene()
    lifecycle.update_settings(scene.admin, scene.village.village, expiry_months=6, carry_percent=10)
    assert lifecycle.settings_of(scene.village.village.id).expiry_from == date(2027, 1, 1)
    assert lifecycle.preview(scene.village.village, upcoming=True).due.day == RESET_DAY


def test_new_objection_days_apply_to_the_months_not_over(clock):
    scene = build_scene(reset=False)
    village = scene.village.village
    lifecycle.update_settings(scene.admin, village, objection_days=28)  # on 20 December
    settings = lifecycle.settings_of(village.id)
    # November was published on 8 December and stays so; December's 公示 takes the new days.
    assert lifecycle.publicity_ends(settings, date(2026, 11, 1)) == date(2026, 12, 8)
    assert lifecycle.publicity_ends(settings, date(2026, 12, 1)) == date(2027, 1, 29)
    lifecycle.update_settings(scene.admin, village, objection_days=3)  # a second change the same month
    assert lifecycle.publicity_ends(settings, date(2026, 11, 1)) == date(2026, 12, 8)
    assert lifecycle.publicity_ends(settings, date(2026, 12, 1)) == date(2027, 1, 4)


def test_a_publicity_on_is_not_cut_short_by_fewer_days(clock):
    scene = build_scene(reset=False)
    village = scene.village.village
    clock.move_to(datetime(2026, 12, 3, 10, 0, tzinfo=LOCAL))
    lifecycle.update_settings(scene.admin, village, objection_days=0)
    settings = lifecycle.settings_of(village.id)
    assert lifecycle.in_publicity(settings, date(2026, 11, 1), date(2026, 12, 5))
    assert lifecycle.publicity_ends(settings, date(2026, 12, 1)) == date(2027, 1, 1)
