"""The figures of the admins' 数据看板 for a grid subtree: points awarded, lost and redeemed per week, points by
category and participation per month, read from the ledger's period totals and a bounded window of redemptions
(never from a scan of the ledger).

Points belong to the week and month of the day they were recorded for (the entry's local day); a redemption to the
week of its local date. Households are counted as they are now: a household moved to another grid counts in its
new grid for every period.
"""
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from fractions import Fraction

from sqlalchemy import and_, case, func, literal_column, or_, select

from ..extensions import db
from ..grids.models import GridNode, GridPath
from ..grids.queries import subtree_ids
from ..leaderboards.queries import GridPlace, grid_board
from ..ledger.models import PeriodTotal
from ..people.models import Household
from ..periods import Period, PeriodKind, period_of
from ..rules.models import CATEGORY_LABELS, RuleCategory
from ..shop.models import Redemption, Shop
from ..timeutil import local_to_utc

WEEKS = 12  # the weekly chart's window: a quarter, which an index walk over the period keys serves cheaply
MONTHS = 6  # the participation chart's window


def weeks_ending(last: Period, count: int = WEEKS) -> list[Period]:
    """The count ISO weeks up to and including last, oldest first."""
    weeks = [period_of(PeriodKind.WEEK, last.first)]
    while len(weeks) < count:
        weeks.insert(0, weeks[0].previous())
    return weeks


def months_ending(last: Period, count: int = MONTHS) -> list[Period]:
    """The count months up to and including last, oldest first."""
    months = [period_of(PeriodKind.MONTH, last.first)]
    while len(months) < count:
        months.insert(0, months[0].previous())
    return months


def _household_totals(scope: GridNode, periods: list[Period], *columns):
    """A select of columns over the whole-household totals (all residents) of scope's households in periods."""
    return (select(*columns)
            .join(Household, Household.id == PeriodTotal.household_id)
            .join(GridPath, and_(GridPath.descendant_id == Household.grid_id, GridPath.ancestor_id == scope.id))
            .where(PeriodTotal.period.in_([p.key for p in periods]), PeriodTotal.resident_id == 0))


# ---------------------------------------------------------------------------------------------------------- weeks


@dataclass(frozen=True)
class WeekFigures:
    """One week of the scope: points awarded (发放) and lost to penalties (扣减), and redeemed at the shop (兑换)."""

    period: Period
    awarded: int  # the entries' points before penalties: awards less awards reversed
    deducted: int  # points lost to penalties, less penalties reversed (a positive number)
    redemptions: int  # redemptions not voided
    redeemed: int  # their points

    @property
    def net(self) -> int:
        """净得分: what the week added to the households' standing (the leaderboards' total)."""
        return self.awarded - self.deducted


def weekly_figures(scope: GridNode, last_week: Period, count: int = WEEKS) -> list[WeekFigures]:
    """The count weeks up to last_week, oldest first, every week listed (a quiet week with zeros)."""
    weeks = weeks_ending(last_week, count)
    points = weekly_points(scope, weeks)
    shop = weekly_redemptions(scope, weeks)
    return [WeekFigures(week, *points.get(week.key, (0, 0)), *shop.get(week.key, (0, 0))) for week in weeks]


def weekly_points(scope: GridNode, weeks: list[Period]) -> dict[str, tuple[int, int]]:
    """Each week's key → (points awarded, points deducted) in scope. PeriodTotal.total is awards less penalties
    (shopping is not in it) and deducted the penalties, so the awards are their sum."""
    rows = db.session.execute(
        _household_totals(scope, weeks, PeriodTotal.period, func.sum(PeriodTotal.total + PeriodTotal.deducted),
                          func.sum(PeriodTotal.deducted))
        .where(PeriodTotal.category == "")
        .group_by(PeriodTotal.period))
    return {period: (int(awarded or 0), int(deducted or 0)) for period, awarded, deducted in rows}


def weekly_redemptions(scope: GridNode, weeks: list[Period]) -> dict[str, tuple[int, int]]:
    """Each week's key → (redemptions, points redeemed) by scope's households, voided ones left out.

    Weeks are local (Asia/Shanghai, no daylight saving), so each starts at a fixed UTC moment: a redemption's week
    is found by comparing its stored UTC time with the weeks' bounds, the same SQL on SQLite and PostgreSQL. Only
    the window's redemptions of the shops of scope's villages are read (their index is on shop and time).
    """
    starts = [local_to_utc(datetime.combine(week.first, time())) for week in weeks]
    end = local_to_utc(datetime.combine(weeks[-1].last + timedelta(days=1), time()))
    week_of = case(*[(Redemption.created_at < start, index - 1) for index, start in enumerate(starts[1:], start=1)],
                   else_=len(weeks) - 1).label("week")
    villages = subtree_ids(scope.id)
    shops = select(Shop.id).where(or_(Shop.village_id.in_(villages), Shop.village_id == scope.village_id))
    rows = db.session.execute(
        select(week_of, func.count(Redemption.id), func.sum(Redemption.total))
        .join(Household, Household.id == Redemption.household_id)
        .join(GridPath, and_(GridPath.descendant_id == Household.grid_id, GridPath.ancestor_id == scope.id))
        .where(Redemption.shop_id.in_(shops), Redemption.created_at >= starts[0], Redemption.created_at < end,
               Redemption.voided_at.is_(None))
        .group_by(literal_column("week")))
    return {weeks[index].key: (int(count), int(points or 0)) for index, count, points in rows}


# ----------------------------------------------------------------------------------------------------- categories


@dataclass(frozen=True)
class CategoryFigures:
    """One category's points in a month; category None: entries under no rule and of no category (未分类)."""

    category: RuleCategory | None
    awarded: int
    deducted: int
    entries: int

    @property
    def net(self) -> int:
        return self.awarded - self.deducted


def category_figures(scope: GridNode, month: Period) -> list[CategoryFigures]:
    """Every category in the rule book's order (a category without points with zeros, so that charts keep their
    axis), then 未分类 if some points carry no category: the whole-household totals less the categories' sum."""
    rows = db.session.execute(
        _household_totals(scope, [month], PeriodTotal.category, func.sum(PeriodTotal.total + PeriodTotal.deducted),
                          func.sum(PeriodTotal.deducted), func.sum(PeriodTotal.entries))
        .group_by(PeriodTotal.category))
    sums = {category: (int(awarded or 0), int(deducted or 0), int(entries or 0))
            for category, awarded, deducted, entries in rows}
    figures = [CategoryFigures(category, *sums.get(category.value, (0, 0, 0))) for category in CATEGORY_LABELS]
    overall = sums.get("", (0, 0, 0))
    rest = tuple(whole - sum(getattr(f, name) for f in figures)
                 for whole, name in zip(overall, ("awarded", "deducted", "entries")))
    if any(rest):
        figures.append(CategoryFigures(None, *rest))
    return figures


# -------------------------------------------------------------------------------------------------- participation


@dataclass(frozen=True)
class Participation:
    """参与率: of the scope's households, how many had any entry (an award, a penalty or a reversal; shopping is
    not activity) in the month."""

    period: Period
    households: int
    active: int

    @property
    def share(self) -> Fraction:
        return Fraction(self.active, self.households) if self.households else Fraction(0)

    @property
    def percent(self) -> float:
        """The share in per cent, to one decimal place."""
        return round(float(self.share * 100), 1)


def household_count(scope: GridNode) -> int:
    """The households living in scope's subtree now."""
    return db.session.scalar(select(func.count(Household.id)).where(Household.grid_id.in_(subtree_ids(scope.id))))


def participation(scope: GridNode, last_month: Period, count: int = MONTHS) -> list[Participation]:
    """The count months up to last_month, oldest first. A household is active in a month when it has a
    whole-household total for it with at least one entry (a total may be 0: an award and its reversal)."""
    months = months_ending(last_month, count)
    active = dict(db.session.execute(
        _household_totals(scope, months, PeriodTotal.period, func.count(PeriodTotal.household_id))
        .where(PeriodTotal.category == "", PeriodTotal.entries > 0)
        .group_by(PeriodTotal.period)).all())
    households = household_count(scope)
    return [Participation(month, households, int(active.get(month.key, 0))) for month in months]


# ---------------------------------------------------------------------------------------------------------- grids


def grid_comparison(scope: GridNode, month: Period) -> list[GridPlace]:
    """网格对比: the leaderboards' grid ranking of the month, by average points per household."""
    return grid_board(scope, month)
