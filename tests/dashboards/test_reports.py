"""The 民情诉求 section of the 数据看板: open and overdue per grid, median hours to 办结, the share 满意."""
from datetime import date, timedelta

import pytest

from points.dashboards.reports import report_figures
from points.extensions import db
from points.periods import PeriodKind, period_of
from points.reports import services

from ..reports.helpers import T0, build_world, file_report

NOVEMBER = period_of(PeriodKind.MONTH, date(2026, 11, 15))


@pytest.fixture
def world(village, tmp_path):
    return build_world(village, tmp_path)


def _month_of_reports(world):
    fast = file_report(world, now=T0)
    services.accept_report(world["worker"], fast.id, now=T0 + timedelta(hours=1))
    services.finish_report(world["worker"], fast.id, "好了", [], world["store"], now=T0 + timedelta(hours=10))
    services.give_feedback(world["villager"], fast.id, True, now=T0 + timedelta(hours=11))
    slow = file_report(world, text="第二件", now=T0)
    services.accept_report(world["worker"], slow.id, now=T0 + timedelta(hours=1))
    services.finish_report(world["worker"], slow.id, "好了", [], world["store"], now=T0 + timedelta(hours=30))
    services.give_feedback(world["villager"], slow.id, False, "没修好", now=T0 + timedelta(hours=31))
    file_report(world, text="第三件", now=T0 + timedelta(days=1))  # waiting, overdue by T0 + 3 days
    db.session.commit()


def test_figures_of_a_village(world):
    _month_of_reports(world)
    figures = report_figures(world["village"].village, NOVEMBER, T0 + timedelta(days=3))
    first = figures.grids[0]
    assert (first.name, first.open, first.overdue) == (world["grid"].name, 2, 1)  # the reopened one is not late
    assert [g.open for g in figures.grids[1:]] == [0, 0]
    assert (figures.made, figures.finished, figures.median_hours) == (3, 1, 10.0)  # the reopened one unfinished
    assert (figures.answered, figures.satisfied, figures.satisfaction) == (2, 1, 50.0)
    october = period_of(PeriodKind.MONTH, date(2026, 10, 1))
    quiet = report_figures(world["village"].village, october, T0)
    assert (quiet.made, quiet.median_hours, quiet.satisfaction) == (0, None, None)


def test_a_town_names_each_grid_with_its_village(world):
    figures = report_figures(world["village"].town, NOVEMBER, T0)
    assert figures.grids[0].name == f"{world['village'].village.name} {world['grid'].name}"


def test_the_dashboard_page_shows_the_section(world, client, login):
    _month_of_reports(world)
    login(world["admin"])
    page = client.get(f"/dashboards?node={world['village'].village.id}&month=2026-11").get_data(as_text=True)
    assert 'id="reports"' in page and "满意率" in page and "50.0%" in page and "10.0 小时" in page
