"""flask --app points verify checks the grid totals against the overall period totals of the households on the
register in each period, added up by the grids they are in now: a clean ledger passes, with a household that left the
register too; every kind of drift is reported by grid and period, with exit status 1."""
from datetime import date

import pytest
from sqlalchemy import select, text

from points.extensions import db
from points.ledger.models import GridPeriodTotal
from points.people.models import Closure, Household
from points.people.services import close_household, reopen_household

from .test_verify import build_activity


@pytest.fixture
def activity(village):
    return build_activity(village)


def test_a_clean_database_verifies_its_grid_totals(runner, activity):
    result = runner.invoke(args=["verify"])

    assert result.exit_code == 0, result.output
    stored = len(db.session.scalars(select(GridPeriodTotal)).all())
    assert stored and f"{stored} 条网格合计与各户期间合计一致" in result.output


KEY = "grid_id = :grid_id AND period = 'M2026-11' AND category = ''"
CORRUPTIONS = {
    "total changed": (f"UPDATE grid_period_totals SET total = total + 3 WHERE {KEY}",
                      "M2026-11，类别 (全部)：存为 合计 8、1 户，应为 合计 5、1 户"),
    "active changed": (f"UPDATE grid_period_totals SET active = 2 WHERE {KEY}",
                       "M2026-11，类别 (全部)：存为 合计 5、2 户，应为 合计 5、1 户"),
    "row missing": (f"DELETE FROM grid_period_totals WHERE {KEY}",
                    "M2026-11，类别 (全部)：缺少这一行，应为 合计 5、1 户"),
    "row extra": ("INSERT INTO grid_period_totals (period, grid_id, category, total, active) "
                  "VALUES ('M2026-11', :grid_id, 'publicity', 0, 1)",
                  "M2026-11，类别 publicity：没有户的期间合计对应这一行（合计 0、1 户）"),
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_each_kind_of_grid_total_corruption_is_reported(runner, activity, corruption):
    statement, words = CORRUPTIONS[corruption]
    grid_id = activity.households[0].grid_id  # 5 points of November, and no other household in the grid
    db.session.execute(text(statement), {"grid_id": grid_id})
    db.session.commit()

    result = runner.invoke(args=["verify"])

    assert result.exit_code == 1
    assert "网格合计与各户期间合计不符：" in result.output and "共 1 处" in result.output
    assert f"网格 id {grid_id}，{words}" in result.output
    assert "户余额与积分明细不符" not in result.output and "期间合计与积分明细不符" not in result.output


def test_a_household_moved_behind_the_ledger_s_back_is_reported(runner, activity):
    """A grid changed by a bare UPDATE, not by move_household: its totals stayed with the grid it left."""
    household, neighbour = activity.households[:2]  # 20 points in all; 24 points in all
    left, joined = household.grid_id, neighbour.grid_id
    db.session.execute(text("UPDATE households SET grid_id = :grid_id WHERE id = :id"),
                       {"grid_id": joined, "id": household.id})
    db.session.commit()

    result = runner.invoke(args=["verify"])

    assert result.exit_code == 1
    assert f"网格 id {left}，ALL，类别 (全部)：没有户的期间合计对应这一行（合计 20、1 户）" in result.output
    assert f"网格 id {joined}，ALL，类别 (全部)：存为 合计 24、1 户，应为 合计 44、2 户" in result.output


def test_a_household_that_left_counts_only_in_the_periods_it_was_on_the_register_in(runner, activity):
    """整户迁出 on 1 January 2026 (a Thursday): its points of that week, month, quarter and year count in its grid's
    totals, those of November and of all time no more; grid totals that still count them are reported."""
    household = activity.households[0]  # 5 points on 2021-01-03, 2025-12-29, 2026-01-01 and 2026-11-02; alone
    grid_id = household.grid_id
    close_household(household, Closure.MOVED_OUT, date(2026, 1, 1))
    db.session.commit()
    kept = {(t.period, t.category) for t in db.session.scalars(select(GridPeriodTotal).where(
        GridPeriodTotal.grid_id == grid_id))}
    assert {("W2026-01", ""), ("M2026-01", ""), ("Q2026-1", ""), ("Y2026", "")} <= kept
    assert not {("M2026-11", ""), ("Q2026-4", ""), ("ALL", "")} & kept

    result = runner.invoke(args=["verify"])
    assert result.exit_code == 0, result.output

    db.session.execute(text("INSERT INTO grid_period_totals (period, grid_id, category, total, active) "
                            "VALUES ('M2026-11', :grid_id, '', 5, 1), ('ALL', :grid_id, '', 20, 1)"),
                       {"grid_id": grid_id})
    db.session.commit()
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 1
    assert "共 2 处" in result.output
    assert f"网格 id {grid_id}，M2026-11，类别 (全部)：没有户的期间合计对应这一行（合计 5、1 户）" in result.output
    assert f"网格 id {grid_id}，ALL，类别 (全部)：没有户的期间合计对应这一行（合计 20、1 户）" in result.output

    db.session.execute(text("DELETE FROM grid_period_totals WHERE grid_id = :grid_id "
                            "AND period IN ('M2026-11', 'ALL') AND category = ''"), {"grid_id": grid_id})
    reopen_household(db.session.get(Household, household.id))  # back: every period of it counts again
    db.session.commit()
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 0, result.output
