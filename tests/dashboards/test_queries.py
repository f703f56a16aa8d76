"""The 数据看板's figures, each checked against points posted by hand: awarded, deducted and redeemed per week (at the
edges of local weeks, voids and other villages left out), points by category with 未分类, participation (a
household whose award was reversed still took part) and the grids compared."""
from datetime import date, datetime

import pytest

from points.auth.models import Role
from points.dashboards import queries
from points.extensions import db
from points.ledger.models import EntrySource
from points.ledger.services import apply_rule, post_entry, reverse_entry
from points.periods import parse_period
from points.rules.models import RuleCategory, RuleUnit
from points.shop import services as shop
from points.timeutil import local_to_utc

from .. import factories

W47 = parse_period("week:2026-W47")  # 2026-11-16 … 2026-11-22
NOVEMBER = parse_period("month:2026-11")


class Scene:
    """瑶前村 of three grids and a neighbouring village in the same town, with points posted in October and November
    2026 and redemptions around the turn of W46 to W47 (local time).

    grid 1: 张家 +20 人居环境 (W45), +10 志愿服务 and −3 村规民约 (W46), 5 redeemed (W46) and 12 (W47);
            李家 +5 人居环境 reversed (W47), +6 志愿服务 (W47), a voided redemption of 4 (W47).
    grid 2: 王家 +8 under no rule (W43, October), +7 under no rule (W45).
    grid 3: 赵家, nothing.
    the neighbours: +100 (W45) and 30 redeemed (W47), none of it in 瑶前村's figures.
    """

    def __init__(self):
        self.village = factories.gen_village()
        village = self.village.village
        grid1, grid2, grid3 = self.village.grids
        self.admin = factories.gen_user(Role.VILLAGE_ADMIN, village)
        self.zhang = factories.gen_household(grid1, head_name="张大山")
        self.li = factories.gen_household(grid1, head_name="李小红")
        self.wang = factories.gen_household(grid2, head_name="王五")
        self.zhao = factories.gen_household(grid3, head_name="赵六")
        hygiene = factories.gen_rule(village, "门前三包", 5, RuleCategory.HYGIENE)
        volunteering = factories.gen_rule(village, "志愿服务", 1, RuleCategory.VOLUNTEERING, unit=RuleUnit.HOUR)
        littering = factories.gen_rule(village, "乱扔垃圾", -3, RuleCategory.VILLAGE_RULES)

        def rule(household, rule, day, quantity=1):
            return apply_rule(self.admin, household.id, rule.id, factories.unique("k"), quantity=quantity,
                              occurred_on=day)

        rule(self.zhang, hygiene, date(2026, 11, 3), 4)  # +20
        rule(self.zhang, volunteering, date(2026, 11, 10), 10)  # +10
        rule(self.zhang, littering, date(2026, 11, 11))  # −3
        mistake = rule(self.li, hygiene, date(2026, 11, 17))  # +5 …
        reverse_entry(mistake.id, factories.unique("undo"), self.admin)  # … undone
        rule(self.li, volunteering, date(2026, 11, 18), 6)  # +6
        post_entry(self.wang.id, 8, EntrySource.MANUAL, factories.unique("k"), occurred_on=date(2026, 10, 20))
        post_entry(self.wang.id, 7, EntrySource.MANUAL, factories.unique("k"), occurred_on=date(2026, 11, 4))

        self.shop = factories.gen_shop(village)
        self.soap = factories.gen_product(self.shop, "肥皂", price=1, stock=100)
        self.clerk = factories.gen_user(Role.SHOP_CLERK, village)
        # Sunday 15 November 23:30 in 瑶前村 is W46; Monday 16 November 00:30 is W47.
        self.redeem(self.zhang, 5, datetime(2026, 11, 15, 23, 30))
        self.redeem(self.zhang, 12, datetime(2026, 11, 16, 0, 30))
        voided = self.redeem(self.li, 4, datetime(2026, 11, 18, 9, 0))
        shop.void(self.admin, voided, "点错了")
        self.redeem(self.zhang, 1, datetime(2026, 8, 20, 9, 0))  # W34: before the twelve weeks up to W47

        neighbours = factories.gen_village(town=self.village.town)
        self.neighbour = factories.gen_household(neighbours.grids[0])
        post_entry(self.neighbour.id, 100, EntrySource.MANUAL, factories.unique("k"), occurred_on=date(2026, 11, 5))
        their_shop = factories.gen_shop(neighbours.village)
        their_soap = factories.gen_product(their_shop, "肥皂", price=1, stock=100)
        redeemed = shop.redeem(factories.gen_user(Role.SHOP_CLERK, neighbours.village), their_shop,
                               [(their_soap.id, 30)], household_id=self.neighbour.id).redemption
        redeemed.created_at = local_to_utc(datetime(2026, 11, 17, 10, 0))
        db.session.flush()

    def redeem(self, household, points: int, local_time: datetime):
        redemption = shop.redeem(self.clerk, self.shop, [(self.soap.id, points)], household_id=household.id).redemption
        redemption.created_at = local_to_utc(local_time)
        db.session.flush()
        return redemption


@pytest.fixture
def scene():
    return Scene()


def _week(figures, text):
    return next(f for f in figures if f.period.text == text)


def test_each_week_shows_points_awarded_deducted_and_redeemed_in_the_village(scene):
    weeks = queries.weekly_figures(scene.village.village, W47)
    assert [w.period.text for w in weeks] == [f"week:2026-W{n}" for n in range(36, 48)]
    figures = {w.period.text[-3:]: (w.awarded, w.deducted, w.redemptions, w.redeemed) for w in weeks}
    assert figures == {
        **{f"W{n}": (0, 0, 0, 0) for n in range(36, 48)},
        "W43": (8, 0, 0, 0),
        "W45": (20 + 7, 0, 0, 0),
        "W46": (10, 3, 1, 5),  # the −3 is a deduction, not less awarded; Sunday 23:30's redemption
        "W47": (6, 0, 1, 12),  # the reversed +5 counts for nothing; Monday 00:30's redemption; the void left out
    }
    assert _week(weeks, "week:2026-W46").net == 7


def test_a_grid_counts_its_own_households_and_a_town_all_of_its_villages(scene):
    grid1, grid2, _grid3 = scene.village.grids
    first = {w.period.text[-3:]: (w.awarded, w.deducted, w.redeemed) for w in queries.weekly_figures(grid1, W47)}
    assert (first["W43"], first["W45"], first["W46"], first["W47"]) == ((0, 0, 0), (20, 0, 0), (10, 3, 5), (6, 0, 12))
    second = {w.period.text[-3:]: (w.awarded, w.redeemed) for w in queries.weekly_figures(grid2, W47)}
    assert (second["W43"], second["W45"], second["W46"], second["W47"]) == ((8, 0), (7, 0), (0, 0), (0, 0))
    town = {w.period.text[-3:]: (w.awarded, w.redemptions, w.redeemed)
            for w in queries.weekly_figures(scene.village.town, W47)}
    assert town["W45"] == (127, 0, 0) and town["W47"] == (6, 2, 12 + 30)


def test_the_window_ends_at_the_chosen_week(scene):
    weeks = queries.weekly_figures(scene.village.village, parse_period("week:2026-W46"), count=3)
    assert [(w.period.text, w.awarded, w.redeemed) for w in weeks] == [
        ("week:2026-W44", 0, 0), ("week:2026-W45", 27, 0), ("week:2026-W46", 10, 5)]
    old = queries.weekly_figures(scene.village.village, parse_period("week:2026-W35"), count=2)
    assert [(w.period.text, w.redemptions, w.redeemed) for w in old] == [
        ("week:2026-W34", 1, 1), ("week:2026-W35", 0, 0)]


def test_weeks_across_the_new_year_are_iso_weeks():
    weeks = queries.weeks_ending(parse_period("week:2027-W02"), 4)
    assert [w.key for w in weeks] == ["W2026-51", "W2026-52", "W2026-53", "W2027-01", "W2027-02"][1:]
    assert weeks[0].first == date(2026, 12, 21) and weeks[-1].last == date(2027, 1, 17)


def test_the_month_by_category_with_points_under_no_rule_as_unclassified(scene):
    figures = queries.category_figures(scene.village.village, NOVEMBER)
    rows = [(f.category, f.awarded, f.deducted, f.net, f.entries) for f in figures]
    assert rows == [
        (RuleCategory.HYGIENE, 20, 0, 20, 3),  # 张家's 20; 李家's 5 and its reversal (two entries, nothing left)
        (RuleCategory.VOLUNTEERING, 16, 0, 16, 2),
        (RuleCategory.VILLAGE_RULES, 0, 3, -3, 1),
        (RuleCategory.MUTUAL_AID, 0, 0, 0, 0),
        (RuleCategory.PUBLICITY, 0, 0, 0, 0),
        (RuleCategory.GRID_DUTY, 0, 0, 0, 0),
        (None, 7, 0, 7, 1),
    ]
    october = queries.category_figures(scene.village.village, parse_period("month:2026-10"))
    assert [(f.category, f.awarded) for f in october if f.awarded] == [(None, 8)]
    grid2 = queries.category_figures(scene.village.grids[1], NOVEMBER)
    assert [(f.category, f.awarded) for f in grid2 if f.awarded or f.entries] == [(None, 7)]


def test_no_unclassified_row_when_every_point_has_a_category(scene):
    figures = queries.category_figures(scene.village.grids[0], NOVEMBER)
    assert len(figures) == 6 and all(f.category is not None for f in figures)
    assert sum(f.awarded for f in figures) == 20 + 10 + 6


def test_participation_counts_households_with_any_entry_in_the_month(scene):
    months = queries.participation(scene.village.village, NOVEMBER)
    assert [(m.period.key, m.households, m.active, m.percent) for m in months] == [
        ("M2026-06", 4, 0, 0.0), ("M2026-07", 4, 0, 0.0), ("M2026-08", 4, 0, 0.0), ("M2026-09", 4, 0, 0.0),
        ("M2026-10", 4, 1, 25.0), ("M2026-11", 4, 3, 75.0)]  # 李家 took part, though its points came to 0
    grid1 = queries.participation(scene.village.grids[0], NOVEMBER, count=1)
    assert [(m.households, m.active, m.percent) for m in grid1] == [(2, 2, 100.0)]
    town = queries.participation(scene.village.town, NOVEMBER, count=1)
    assert [(m.households, m.active) for m in town] == [(5, 4)]
    assert round(town[0].percent, 1) == 80.0


def test_a_third_is_shown_to_one_decimal(village):
    households = [factories.gen_household(village.grids[0]) for _ in range(3)]
    post_entry(households[0].id, 1, EntrySource.MANUAL, "one", occurred_on=date(2026, 11, 2))
    (month,) = queries.participation(village.village, NOVEMBER, count=1)
    assert (month.active, month.households, month.percent) == (1, 3, 33.3)


def test_an_empty_scope_has_zeros_everywhere(village):
    assert all((w.awarded, w.deducted, w.redeemed) == (0, 0, 0)
               for w in queries.weekly_figures(village.village, W47))
    assert all(f.entries == 0 for f in queries.category_figures(village.village, NOVEMBER))
    assert [(m.households, m.percent) for m in queries.participation(village.village, NOVEMBER, 1)] == [(0, 0.0)]
    assert queries.grid_comparison(village.village, NOVEMBER) == []


def test_grids_compared_by_average_points_per_household(scene):
    places = queries.grid_comparison(scene.village.village, NOVEMBER)
    grid1, grid2, grid3 = scene.village.grids
    assert [(p.rank, p.grid_id, p.households, p.active, p.total, float(p.average)) for p in places] == [
        (1, grid1.id, 2, 2, 20 + 10 - 3 + 6, 16.5), (2, grid2.id, 1, 1, 7, 7.0), (3, grid3.id, 1, 0, 0, 0.0)]

