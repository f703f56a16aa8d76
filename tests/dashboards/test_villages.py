"""各村对比 of a town's 数据看板: each village's households, points per household, participation, hygiene average,
redemptions and open 诉求 in November 2026, checked against a computation from scratch over what the test posted;
retired villages and other towns left out; and a statement count that does not grow with the villages."""
from datetime import date, datetime
from fractions import Fraction

import pytest

from points.auth.models import Role
from points.dashboards.villages import village_comparison
from points.dashboards.workbook import VILLAGE_HEADERS, village_workbook
from points.extensions import db
from points.hygiene.models import MonthlyResult, MonthlySummary
from points.ledger.models import EntrySource
from points.ledger.services import apply_rule, post_entry, reverse_entry
from points.periods import parse_period
from points.reports.models import Report, ReportStatus
from points.reports.settings import ensure_categories
from points.rules.models import RuleCategory
from points.shop import services as shop
from points.timeutil import local_to_utc, utcnow

from .. import factories

NOVEMBER = parse_period("month:2026-11")


def _report(household, status: ReportStatus) -> Report:
    now = utcnow()
    category = ensure_categories(household.village_id)[0]
    report = Report(village_id=household.village_id, grid_id=household.grid_id, node_id=household.grid_id,
                    household_id=household.id, category_id=category.id, text="路灯坏了", status=status,
                    landed_at=now, created_at=now, deadline_at=now)
    db.session.add(report)
    db.session.flush()
    return report


def _hygiene_month(village, month: str, totals: dict) -> None:
    """A published 每月汇总 of the village: household → its monthly total (as publish_month writes them)."""
    summary = MonthlySummary(village_id=village.id, month=month)
    db.session.add(summary)
    db.session.flush()
    for rank, (household, total) in enumerate(totals.items(), start=1):
        db.session.add(MonthlyResult(summary_id=summary.id, household_id=household.id, grid_id=household.grid_id,
                                     total=total, weeks=4, rank=rank))
    db.session.flush()


class Town:
    """A town of two villages in use and a retired one, and a village of another town.

    东村 (two grids): 甲 +20 and −3 (a penalty), 乙 +6 reversed (took part, 0 points), 丙 nothing; 甲 redeems 5 in
        November, 4 voided, and 2 in October; hygiene month published for 甲 380 and 乙 390; reports: one
        submitted, one accepted, one finished.
    西村 (one grid): 丁 +10 in November and +50 in October; 戊 nothing; no hygiene month; a rejected report.
    旧村 (retired) and 外村 (another town) with points, neither in the rows.
    """

    def __init__(self):
        east = factories.gen_village(grids=2, name="东村")
        self.town = east.town
        west = factories.gen_village(grids=1, town=self.town, name="西村")
        old = factories.gen_village(grids=1, town=self.town, name="旧村")
        other = factories.gen_village(grids=1, name="外村")
        self.east, self.west = east.village, west.village
        self.admin = factories.gen_user(Role.VILLAGE_ADMIN, east.village)
        self.jia = factories.gen_household(east.grids[0], head_name="甲大山")
        self.yi = factories.gen_household(east.grids[1], head_name="乙小红")
        self.bing = factories.gen_household(east.grids[1], head_name="丙五")
        self.ding = factories.gen_household(west.grids[0], head_name="丁六")
        self.wu = factories.gen_household(west.grids[0], head_name="戊七")
        self.posted = []  # (household, amount, day) of every award and penalty, for the computation from scratch

        def award(household, amount, day):
            post_entry(household.id, amount, EntrySource.MANUAL, factories.unique("k"), occurred_on=day)
            self.posted.append((household, amount, day))

        award(self.jia, 20, date(2026, 11, 3))
        littering = factories.gen_rule(east.village, "乱扔垃圾", -3, RuleCategory.VILLAGE_RULES)
        apply_rule(self.admin, self.jia.id, littering.id, factories.unique("k"), occurred_on=date(2026, 11, 11))
        self.posted.append((self.jia, -3, date(2026, 11, 11)))
        mistake = post_entry(self.yi.id, 6, EntrySource.MANUAL, factories.unique("k"),
                             occurred_on=date(2026, 11, 5))
        reverse_entry(mistake.id, factories.unique("undo"), self.admin)
        self.posted += [(self.yi, 6, date(2026, 11, 5)), (self.yi, -6, date(2026, 11, 5))]
        award(self.ding, 10, date(2026, 11, 20))
        award(self.ding, 50, date(2026, 10, 20))
        old_household = factories.gen_household(old.grids[0])
        post_entry(old_household.id, 99, EntrySource.MANUAL, factories.unique("k"), occurred_on=date(2026, 11, 2))
        old.village.retired_at = utcnow()
        post_entry(factories.gen_household(other.grids[0]).id, 77, EntrySource.MANUAL, factories.unique("k"),
                   occurred_on=date(2026, 11, 2))

        self.shop = factories.gen_shop(east.village)
        soap = factories.gen_product(self.shop, "肥皂", price=1, stock=100)
        clerk = factories.gen_user(Role.SHOP_CLERK, east.village)
        self.redemptions = []  # (household, points, local moment, voided)
        for points, moment, voided in ((5, datetime(2026, 11, 20, 9, 0), False),
                                       (4, datetime(2026, 11, 21, 9, 0), True),
                                       (2, datetime(2026, 10, 31, 23, 30), False)):
            redemption = shop.redeem(clerk, self.shop, [(soap.id, points)], household_id=self.jia.id).redemption
            redemption.created_at = local_to_utc(moment)
            if voided:
                shop.void(self.admin, redemption, "点错了")
            self.redemptions.append((self.jia, points, moment, voided))
        db.session.flush()

        _hygiene_month(self.east, "2026-11", {self.jia: 380, self.yi: 390})
        _hygiene_month(self.east, "2026-10", {self.jia: 100})  # another month: not this one's average
        self.reports = [(self.jia, ReportStatus.SUBMITTED), (self.yi, ReportStatus.ACCEPTED),
                        (self.bing, ReportStatus.FINISHED), (self.ding, ReportStatus.REJECTED)]
        for household, status in self.reports:
            _report(household, status)
        db.session.flush()

    def from_scratch(self, village) -> dict:
        """The row's figures computed from what the test posted."""
        households = [h for h in (self.jia, self.yi, self.bing, self.ding, self.wu) if h.village_id == village.id]
        month = [(h, amount) for h, amount, day in self.posted
                 if h in households and (day.year, day.month) == (2026, 11)]
        total = sum(amount for _h, amount in month)
        redeemed = sum(points for h, points, moment, voided in self.redemptions
                       if h in households and not voided and (moment.year, moment.month) == (2026, 11))
        return dict(households=len(households), active=len({h.id for h, _amount in month}), total=total,
                    per_household=Fraction(total, len(households)), redeemed=redeemed,
                    open_reports=sum(1 for h, status in self.reports
                                     if h in households and status in (ReportStatus.SUBMITTED, ReportStatus.ACCEPTED)))


@pytest.fixture
def town():
    scene = Town()
    db.session.commit()
    return scene


def _figures(row) -> dict:
    return dict(households=row.households, active=row.active, total=row.total, per_household=row.per_household,
                redeemed=row.redeemed, open_reports=row.open_reports)


def test_each_village_against_a_computation_from_scratch(town):
    found = village_comparison(town.town, NOVEMBER)
    assert [(r.rank, r.name) for r in found.villages] == [(1, "东村"), (2, "西村")]  # 17/3 = 5.7 over 10/2 = 5
    east, west = found.villages
    assert _figures(east) == town.from_scratch(town.east)
    assert _figures(west) == town.from_scratch(town.west)
    assert (east.households, east.active, east.total, east.redemptions, east.redeemed, east.open_reports) == \
        (3, 2, 17, 1, 5, 2)
    assert (east.participation, east.hygiene) == (66.7, 385.0)
    assert (west.households, west.active, west.total, west.redeemed, west.open_reports) == (2, 1, 10, 0, 0)
    assert (west.participation, west.hygiene) == (50.0, None)  # no published hygiene month: —


def test_the_town_row_sums_the_villages(town):
    found = village_comparison(town.town, NOVEMBER)
    total = found.town
    assert (total.village_id, total.rank, total.name) == (None, None, town.town.name)
    assert (total.households, total.active, total.total, total.redeemed, total.open_reports) == (5, 3, 27, 5, 2)
    assert (total.per_household, total.participation, total.hygiene) == (Fraction(27, 5), 60.0, 385.0)


def test_another_month_reads_its_own_figures(town):
    october = village_comparison(town.town, parse_period("month:2026-10"))
    east, west = sorted(october.villages, key=lambda r: r.name != "东村")
    assert (west.total, west.rank, east.total, east.redeemed, east.hygiene) == (50, 1, 0, 2, 100.0)
    assert east.open_reports == 2  # open now, whatever the month


def test_a_town_without_villages_has_no_rows():
    retired = factories.gen_village()
    retired.village.retired_at = utcnow()
    empty = retired.town
    db.session.flush()
    assert village_comparison(empty, NOVEMBER).villages == []
    assert village_comparison(empty, NOVEMBER).town.households == 0


def test_the_workbook_has_its_headers_and_the_town_row(town):
    import io

    import openpyxl
    book = openpyxl.load_workbook(io.BytesIO(village_workbook(village_comparison(town.town, NOVEMBER))))
    rows = [tuple(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    assert book.worksheets[0].title == "各村对比"
    assert rows[0] == VILLAGE_HEADERS
    assert rows[1] == ("2026-11", 1, "东村", 3, 2, 66.7, 17, 5.7, 385.0, 1, 5, 2)
    assert rows[2] == ("2026-11", 2, "西村", 2, 1, 50.0, 10, 5.0, "—", 0, 0, 0)
    assert rows[3] == ("2026-11", "合计", town.town.name, 5, 3, 60.0, 27, 5.4, 385.0, 1, 5, 2)


def test_the_statements_do_not_grow_with_the_villages(town, statements):
    assert town.town.name  # loaded before counting
    statements.clear()
    village_comparison(town.town, NOVEMBER)
    few = len(statements)
    for index in range(3):
        more = factories.gen_village(grids=2, town=town.town, name=f"新村{index}")
        household = factories.gen_household(more.grids[1])
        post_entry(household.id, 5, EntrySource.MANUAL, factories.unique("k"), occurred_on=date(2026, 11, 9))
        _report(household, ReportStatus.SUBMITTED)
        _hygiene_month(more.village, "2026-11", {household: 400})
    db.session.commit()
    assert town.town.name
    statements.clear()
    found = village_comparison(town.town, NOVEMBER)
    assert len(found.villages) == 5
    assert len(statements) == few <= 5, statements.summary()
