"""各村对比 of a town's 数据看板: per village in use, its households on the register, points per household and
participation in the month (the 村 board's figures, from the ledger's period totals), the average of its published
卫生评比 monthly totals, the points redeemed at the shop in the month and the 民情诉求 open now; with the town's row.

Set-based: five statements whatever the number of villages (the villages, then one grouped query for the points,
the hygiene month, the redemptions and the open reports)."""
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from fractions import Fraction

from sqlalchemy import func, select

from ..extensions import db
from ..grids.models import GridNode
from ..hygiene.models import MonthlyResult, MonthlySummary
from ..leaderboards.queries import VillagePlace, village_board
from ..people.models import Household
from ..periods import Period
from ..reports.models import OPEN_STATUSES, Report
from ..shop.models import Redemption, Shop
from ..timeutil import local_to_utc


@dataclass(frozen=True)
class VillageRow:
    """One village's figures of the month (village_id None: the town's row, the sum of the villages')."""

    village_id: int | None
    name: str
    rank: int | None
    households: int  # on the register
    active: int  # with any entry in the month
    total: int  # points earned less points lost in the month
    hygiene_sum: int  # the published monthly hygiene totals of the month, summed …
    hygiene_households: int  # … over this many households (0: no published month)
    redemptions: int  # not voided, in the month
    redeemed: int  # their points
    open_reports: int  # 民情诉求 submitted or accepted, now

    @property
    def per_household(self) -> Fraction:
        return Fraction(self.total, self.households) if self.households else Fraction(0)

    @property
    def participation(self) -> float:
        """参与率 in per cent, to one decimal place."""
        return round(100 * self.active / self.households, 1) if self.households else 0.0

    @property
    def hygiene(self) -> float | None:
        """The 卫生评比 average monthly total per household counted, to one decimal; None: none published."""
        return round(self.hygiene_sum / self.hygiene_households, 1) if self.hygiene_households else None


@dataclass(frozen=True)
class VillageComparison:
    month: Period
    villages: list[VillageRow]  # by points per household, best first
    town: VillageRow


def village_comparison(town: GridNode, month: Period) -> VillageComparison:
    """The section's rows for town (a town node) and month, the town's row summing them (its hygiene average is
    over all the households counted, its points per household over all its households)."""
    places = village_board(town, month)
    ids = [p.village_id for p in places]
    hygiene = _hygiene(ids, month) if ids else {}
    shop = _redemptions(ids, month) if ids else {}
    reports = _open_reports(ids) if ids else {}
    rows = [_row(p, hygiene, shop, reports) for p in places]
    total = VillageRow(None, town.name, None, *(sum(getattr(r, name) for r in rows) for name in (
        "households", "active", "total", "hygiene_sum", "hygiene_households", "redemptions", "redeemed",
        "open_reports")))
    return VillageComparison(month, rows, total)


def _row(place: VillagePlace, hygiene: dict, shop: dict, reports: dict) -> VillageRow:
    return VillageRow(place.village_id, place.name, place.rank, place.households, place.active, place.total,
                      *hygiene.get(place.village_id, (0, 0)), *shop.get(place.village_id, (0, 0)),
                      reports.get(place.village_id, 0))


def _hygiene(village_ids: list[int], month: Period) -> dict[int, tuple[int, int]]:
    """Village → (sum of the households' monthly totals, households) of its published 每月汇总 of month: the
    figures of which the hygiene pages average each grid's."""
    return {village_id: (int(total or 0), int(count)) for village_id, total, count in db.session.execute(
        select(MonthlySummary.village_id, func.sum(MonthlyResult.total), func.count(MonthlyResult.household_id))
        .join(MonthlyResult, MonthlyResult.summary_id == MonthlySummary.id)
        .where(MonthlySummary.village_id.in_(village_ids), MonthlySummary.month == month.key[1:])
        .group_by(MonthlySummary.village_id))}


def _redemptions(village_ids: list[int], month: Period) -> dict[int, tuple[int, int]]:
    """Village → (redemptions, points) of its households at its shops in month (local days), voided ones left
    out; as the weekly chart counts them."""
    start = local_to_utc(datetime.combine(month.first, time()))
    end = local_to_utc(datetime.combine(month.last + timedelta(days=1), time()))
    shops = select(Shop.id).where(Shop.village_id.in_(village_ids))
    return {village_id: (int(count), int(points or 0)) for village_id, count, points in db.session.execute(
        select(Household.village_id, func.count(Redemption.id), func.sum(Redemption.total))
        .join(Household, Household.id == Redemption.household_id)
        .where(Redemption.shop_id.in_(shops), Household.village_id.in_(village_ids),
               Redemption.created_at >= start, Redemption.created_at < end, Redemption.voided_at.is_(None))
        .group_by(Household.village_id))}


def _open_reports(village_ids: list[int]) -> dict[int, int]:
    """Village → its 民情诉求 open now (submitted or accepted), as the 民情诉求 section counts them per grid."""
    return {village_id: int(count) for village_id, count in db.session.execute(
        select(Report.village_id, func.count(Report.id))
        .where(Report.village_id.in_(village_ids), Report.status.in_(OPEN_STATUSES))
        .group_by(Report.village_id))}
