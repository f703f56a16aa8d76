"""flask --app points verify: a clean ledger and shop pass; every kind of drift between a cache and the rows it sums
is reported by id, with exit status 1."""
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import select, text

from points.auth import services as auth_services
from points.auth.models import Role
from points.extensions import db
from points.ledger.duty import award_duty, reverse_duty
from points.ledger.models import EntrySource, PeriodTotal
from points.ledger.services import apply_rule, post_entry, reverse_entry
from points.people.models import Household
from points.rules.models import RuleCategory, RuleUnit
from points.shop import services as shop_services
from points.shop.models import Product

from . import factories


@dataclass
class Activity:
    households: list[Household]
    product: Product


def build_activity(village) -> Activity:
    """Awards, penalties (one reversed), volunteer hours by a resident, points under no rule, on days around two new
    years (2021-01-03 is in ISO week 2020-W53, 2025-12-29 in 2026-W01), and a redemption, one voided; committed."""
    leader = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    since = date(2020, 1, 1)
    award = factories.gen_rule(village.village, "庭院整洁", 5, effective_from=since)
    penalty = factories.gen_rule(village.village, "乱堆乱放", -10, RuleCategory.VILLAGE_RULES, effective_from=since)
    volunteer = factories.gen_rule(village.village, "志愿服务", 3, RuleCategory.VOLUNTEERING, unit=RuleUnit.HOUR,
                                   effective_from=since)
    households = [factories.gen_household(grid) for grid in village.grids]
    first, second, third = households
    for day in (date(2021, 1, 3), date(2025, 12, 29), date(2026, 1, 1), date(2026, 11, 2)):
        apply_rule(leader, first.id, award.id, factories.unique("a-"), occurred_on=day)
        apply_rule(leader, second.id, volunteer.id, factories.unique("v-"), quantity=2, resident_id=second.head.id,
                   occurred_on=day)
    fined = apply_rule(leader, third.id, penalty.id, factories.unique("p-"), occurred_on=date(2026, 3, 31))
    apply_rule(leader, third.id, penalty.id, factories.unique("p-"), resident_id=third.head.id,
               occurred_on=date(2026, 4, 1))
    reverse_entry(fined.id, factories.unique("r-"), leader, "误扣")
    post_entry(third.id, 200, EntrySource.MANUAL, factories.unique("gift-"), occurred_on=date(2026, 5, 4))
    shop = factories.gen_shop(village.village)
    product = factories.gen_product(shop, stock=10)
    clerk = factories.gen_user(Role.SHOP_CLERK, village.village)
    shop_services.redeem(clerk, shop, [(product.id, 3)], household_id=third.id)
    voided = shop_services.redeem(clerk, shop, [(product.id, 2)], household_id=third.id).redemption
    shop_services.void(clerk, voided, "扫错了")
    db.session.commit()
    return Activity(households, product)


@pytest.fixture
def activity(village) -> Activity:
    return build_activity(village)


def test_a_clean_database_verifies(runner, activity):
    result = runner.invoke(args=["verify"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("核对通过：3 户余额、")
    assert len(result.output.splitlines()) == 1


def test_an_empty_database_verifies(runner):
    assert runner.invoke(args=["verify"]).exit_code == 0


def _total_key(household: Household, period: str = "ALL", resident_id: int = 0, category: str = "") -> dict:
    return dict(household_id=household.id, period=period, resident_id=resident_id, category=category)


CORRUPTIONS = {
    "balance changed": ("UPDATE household_balances SET balance = balance + 1 WHERE household_id = :household_id",
                        "户余额与积分明细不符"),
    "balance row gone": ("DELETE FROM household_balances WHERE household_id = :household_id", "无余额记录"),
    "total changed": ("UPDATE period_totals SET total = total - 5 WHERE household_id = :household_id "
                      "AND period = :period AND resident_id = :resident_id AND category = :category", "存为"),
    "deducted changed": ("UPDATE period_totals SET deducted = deducted + 10 WHERE household_id = :household_id "
                         "AND period = :period AND resident_id = :resident_id AND category = :category", "存为"),
    "hours changed": ("UPDATE period_totals SET hours = 0 WHERE household_id = :household_id "
                      "AND period = :period AND resident_id = :resident_id AND category = :category", "存为"),
    "total row missing": ("DELETE FROM period_totals WHERE household_id = :household_id AND period = :period "
                          "AND resident_id = :resident_id AND category = :category", "缺少这一行"),
    "total row extra": ("INSERT INTO period_totals (period, household_id, resident_id, category, total, entries, "
                        "deducted, hours) VALUES ('W2019-01', :household_id, 0, '', 5, 1, 0, 0)", "没有明细对应这一行"),
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_each_kind_of_ledger_corruption_is_reported(runner, activity, corruption):
    statement, words = CORRUPTIONS[corruption]
    household = activity.households[1]  # the volunteer: hours and a resident's totals
    key = _total_key(household, "W2020-53", household.head.id, "volunteering")
    assert db.session.scalar(select(PeriodTotal.hours).filter_by(**key)) == 2
    db.session.execute(text(statement), key)
    db.session.commit()

    result = runner.invoke(args=["verify"])

    assert result.exit_code == 1
    assert words in result.output
    assert f"户 id {household.id}" in result.output and "共 1 处" in result.output
    assert "核对未通过" in result.output
    assert household.head.name not in result.output  # ids only


def test_a_stale_deduction_of_a_reversed_penalty_is_reported(runner, activity):
    """The reversed penalty gave its 10 points back in March's totals: a total that still counts them is wrong."""
    household = activity.households[2]
    db.session.execute(text("UPDATE period_totals SET deducted = 20 WHERE household_id = :household_id "
                            "AND period = 'Q2026-1' AND resident_id = 0 AND category = ''"),
                       _total_key(household))
    db.session.commit()

    result = runner.invoke(args=["verify"])

    assert result.exit_code == 1
    assert f"户 id {household.id}，Q2026-1，居民 id 0，类别 (全部)：存为 合计 0、2 条、扣分 20" in result.output


def test_a_changed_stock_is_reported(runner, activity):
    db.session.execute(text("UPDATE products SET stock = stock + 4 WHERE id = :id"), {"id": activity.product.id})
    db.session.commit()

    result = runner.invoke(args=["verify"])

    assert result.exit_code == 1
    assert (f"商品库存与出入库记录不符：\n  商品 id {activity.product.id}：库存 11，出入库合计 7\n  共 1 处"
            in result.output)
    assert "户余额" not in result.output and "期间合计" not in result.output


def test_many_mismatches_are_counted_and_a_few_shown(runner, village):
    households = [factories.gen_household(village.grids[0]) for _ in range(8)]
    for household in households:
        factories.gen_points(household, 10)
    db.session.commit()
    db.session.execute(text("UPDATE household_balances SET balance = 0"))
    db.session.commit()

    result = runner.invoke(args=["verify"])

    assert result.exit_code == 1
    assert "共 8 处" in result.output
    assert result.output.count("明细合计 10") == 5


def test_a_duty_entry_without_its_record_or_with_other_points_is_reported(runner, village):
    """A worker's 履职 points in their household are the household's side of a 履职记录: the two must agree."""
    rule = factories.gen_rule(village.village, "入户走访", 2, RuleCategory.GRID_DUTY)
    household = factories.gen_household(village.grids[0])
    worker = auth_services.create_user("resident-worker", factories.PASSWORD, resident=household.head)
    award_duty(worker, village.village.id, rule.id, "visit:1", date(2026, 11, 2))
    award_duty(worker, village.village.id, rule.id, "visit:2", date(2026, 11, 3))
    reverse_duty("visit:2", None, "记错了")
    db.session.commit()
    assert runner.invoke(args=["verify"]).exit_code == 0

    db.session.execute(text("UPDATE duty_records SET amount = 3 WHERE idempotency_key = 'visit:1'"))
    db.session.execute(text("DELETE FROM duty_records WHERE idempotency_key = 'visit:2:reversed'"))
    db.session.commit()
    result = runner.invoke(args=["verify"])

    assert result.exit_code == 1
    assert "网格员履职积分与履职记录不符：" in result.output and "共 2 处" in result.output
    assert "2 分，履职记录 3 分" in result.output and "-2 分，没有履职记录" in result.output
