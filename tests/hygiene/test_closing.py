"""Periods close when they end: a week is published after it is over, or earlier only when its grids are fully
scored or by the village admin's audited 提前发布; a month after it is over and every week of it is published. Weeks
are named as people name them (12月第2周)."""
from datetime import date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from points.audit.models import AuditEvent
from points.errors import DomainError
from points.extensions import db
from points.hygiene import monthly, publishing
from points.periods import day_label, month_label, month_weeks_end, parse_week, week_label, week_of
from points.timeutil import LOCAL, local_today

from .helpers import balance, entry_count, gen_scene, last_month, score_all, weeks_of_month


def refused(code, call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code
    return caught.value


def this_week(scene):
    """The round of the week that holds today: never over."""
    return scene.round(week_of(local_today()))


def test_weeks_and_months_are_named_as_people_name_them():
    assert week_label(parse_week("2026-W50")) == "12月第2周（12.7–12.13）"
    assert week_label(parse_week("2026-W50"), dates=False) == "12月第2周"
    assert week_label(parse_week("2026-W49"), dates=False) == "12月第1周"  # Thursday 3 December
    assert week_label(parse_week("2026-W53"), year=True, dates=False) == "2026年12月第5周"
    assert week_label(parse_week("2027-W01"), year=True) == "2027年1月第1周（1.4–1.10）"
    assert month_label("2026-12") == "2026年12月"
    assert day_label(date(2026, 12, 13)) == "12月13日"


def test_a_week_not_over_is_refused_naming_its_end_and_the_unscored_households():
    scene = gen_scene(per_grid=4)
    round_ = this_week(scene)
    score_all(scene, round_, 0, [0, 1])  # two of four
    score_all(scene, round_, 2, [0, 1, 2])  # three of four
    error = refused("week_not_over", publishing.publish_round, scene.admin, round_)
    sunday = round_.monday + timedelta(days=6)
    grids = scene.village.grids
    assert error.status == 409
    assert error.message == (f"{week_label(round_.monday)}还没结束（{sunday.month}月{sunday.day}日结束），"
                             f"{grids[0].name}还有 2 户没有评分，{grids[2].name}还有 1 户没有评分："
                             "要提前发布请确认提前发布")
    refused("week_not_over", publishing.publish_round, scene.admin, round_, grids[0].id)
    assert entry_count() == 0 and all(a.published_at is None for a in round_.assignments)


def test_a_fully_scored_grid_is_published_before_the_week_is_over_by_its_inspector_too():
    scene = gen_scene(per_grid=4)
    round_ = this_week(scene)
    score_all(scene, round_, 0, [0, 1, 2, 3])
    score_all(scene, round_, 1, [0])
    inspector = scene.inspector_of(round_, 0)
    assert publishing.publish_round(inspector, round_, scene.village.grids[0].id).posted == 3
    # The inspector of a grid not fully scored may not choose 提前发布: that is the village admin's.
    error = refused("early_admin_only", publishing.publish_round, scene.inspector_of(round_, 1), round_,
                    scene.village.grids[1].id, early=True)
    assert error.status == 403 and "只有村管理员可以提前发布" in error.message


def test_the_admins_early_publication_is_audited_with_the_unscored_counts():
    scene = gen_scene(per_grid=4)
    round_ = this_week(scene)
    score_all(scene, round_, 0, [0, 1])
    score_all(scene, round_, 1, [0, 1, 2, 3])
    publication = publishing.publish_round(scene.admin, round_, early=True)
    assert publication.posted == 5 and [balance(h) for h in scene.households[0]] == [20, 20, 0, 0]
    entry = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "hygiene.published_early"))
    assert entry.after["early"] is True and entry.after["unscored_households"] == [
        f"{scene.village.grids[0].name} 2 户"]
    # Fully scored at the next publication: no override needed, none recorded.
    score_all(scene, round_, 0, [0, 1, 2, 3])
    publishing.publish_round(scene.admin, round_)
    assert db.session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1)) == "hygiene.published"


def test_a_week_over_is_published_whatever_is_scored():
    scene = gen_scene(per_grid=4)
    round_ = scene.round()  # last week
    score_all(scene, round_, 0, [0])
    assert publishing.publish_round(scene.admin, round_).posted == 1
    assert db.session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1)) == "hygiene.published"


def test_a_month_is_summed_up_only_after_it_ends_and_every_week_of_it_is_published():
    scene = gen_scene(per_grid=2)
    village = scene.village.village
    today = local_today()
    error = refused("month_not_over", monthly.publish_month, scene.admin, village, f"{today:%Y-%m}")
    assert error.status == 409 and error.message.startswith(f"{today.year}年{today.month}月的评比还没结束（")

    month = last_month()
    first, second = (scene.round(week) for week in weeks_of_month(month)[:2])
    score_all(scene, first, 0, [0, 1])
    score_all(scene, second, 0, [0])
    score_all(scene, second, 2, [1])
    publishing.publish_round(scene.admin, first)
    publishing.publish_round(scene.admin, second, scene.village.grids[0].id)
    error = refused("month_weeks_unpublished", monthly.publish_month, scene.admin, village, month)
    assert error.message == (f"{month_label(month)}还有周没有发布：{week_label(second.monday, dates=False)}"
                             f"（{scene.village.grids[2].name}）。请先发布这些周的评比，再汇总")
    assert entry_count() == 3  # the weeks' awards only
    publishing.publish_round(scene.admin, second, scene.village.grids[2].id)
    assert monthly.publish_month(scene.admin, village, month).month == month


@pytest.mark.parametrize("month, end", [("2026-12", date(2027, 1, 3)), ("2026-11", date(2026, 11, 30)),
                                        ("2026-04", date(2026, 5, 3)), ("2028-02", date(2028, 2, 29))])
def test_a_month_is_over_after_its_last_day_and_the_sunday_after_its_last_thursday(month, end):
    assert month_weeks_end(month) == end


def test_a_month_whose_last_week_runs_into_the_next_is_not_summed_up_before_that_week_ends():
    """The week of Thursday 31 December 2026 counts in December and ends on Sunday 3 January: a summary on New
    Year's Day would pay the 流动红旗 without it."""
    scene = gen_scene(per_grid=2)
    village = scene.village.village
    with time_machine.travel(datetime(2027, 1, 3, 23, 0, tzinfo=LOCAL), tick=False):
        error = refused("month_not_over", monthly.publish_month, scene.admin, village, "2026-12")
        assert error.message == "2026年12月的评比还没结束（1月3日结束），之后才能汇总"
    with time_machine.travel(datetime(2027, 1, 4, 0, 30, tzinfo=LOCAL), tick=False):
        assert monthly.month_refusal(village.id, "2026-12") is None
