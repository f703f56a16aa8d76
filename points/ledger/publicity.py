"""积分公示表: a month's points of every household of a village or one of its grids, for the notice board (公示栏)
and its public page: earned and lost per rule category, the month's net and the balance at its end; and whether the
month is still running, in 公示 (taking objections) or 已公示."""
import enum
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from ..errors import DomainError, NotFound, register_messages
from ..extensions import db
from ..grids.models import GridNode, GridPath, NodeKind
from ..limits import MAX_ID
from ..people.models import Household, Resident
from ..people.privacy import mask_name
from ..periods import day_label, month_label, next_month, parse_month
from ..rules.models import CATEGORY_LABELS, RuleCategory
from ..timeutil import local_to_utc, local_today
from .lifecycle import in_publicity, publicity_ends, settings_of
from .models import LedgerEntry, PeriodTotal


class PublicityState(str, enum.Enum):
    RUNNING = "running"  # 本月还没结束
    OPEN = "open"  # 公示中: objections taken
    DONE = "done"  # 已公示


@dataclass(frozen=True)
class CategoryPoints:
    earned: int = 0
    lost: int = 0  # positive


@dataclass
class PublicityRow:
    """One household's line of the table: what a notice board may show (a masked head name, never a phone)."""

    household_id: int
    number: str  # 户号
    grid_id: int
    grid_name: str
    head: str  # masked: 张*明
    categories: dict[str, CategoryPoints] = field(default_factory=dict)  # RuleCategory value, or OTHER
    net: int = 0  # the month's points earned less lost (the shop and 清零 aside)
    balance: int = 0  # every entry dated up to the month's last day


OTHER = "other"  # points under no rule of the book (a manual award): earned and lost, in no category


@dataclass(frozen=True)
class Publicity:
    village: GridNode
    node: GridNode  # the village, or the grid the table is of
    first: date  # the month's first and last day
    last: date
    state: PublicityState
    ends: date  # the first day the month reads 已公示
    rows: list[PublicityRow]
    columns: list[str]  # the categories with any points this month, in the book's order (OTHER last)

    @property
    def month(self) -> str:
        return f"{self.first:%Y-%m}"

    @property
    def deadline(self) -> date:
        """The last day objections are taken."""
        return self.ends - timedelta(days=1)

    @property
    def label(self) -> str:
        return month_label(self.month)

    @property
    def title(self) -> str:
        """XX村 2026年11月 积分公示表 (with the grid's name after the village's, for a grid's)."""
        where = self.village.name if self.node.id == self.village.id else f"{self.village.name} {self.node.name}"
        return _("%(where)s %(month)s 积分公示表", where=where, month=self.label)

    @property
    def state_text(self) -> str:
        if self.state is PublicityState.RUNNING:
            return _("本月还没结束")
        if self.state is PublicityState.OPEN:
            return _("公示中（异议截止 %(day)s）", day=day_label(self.deadline))
        return _("已公示")

    def grids(self) -> list[tuple[str, list[PublicityRow]]]:
        """The rows grid by grid, in the table's order."""
        grouped: dict[int, tuple[str, list[PublicityRow]]] = {}
        for row in self.rows:
            grouped.setdefault(row.grid_id, (row.grid_name, []))[1].append(row)
        return list(grouped.values())


def column_label(column: str) -> str:
    return str(CATEGORY_LABELS[RuleCategory(column)]) if column != OTHER else _("其他")


def publicity_state(village_id: int, first: date, today: date) -> tuple[PublicityState, date]:
    """Where the month stands today, and the first day it reads 已公示."""
    settings = settings_of(village_id)
    ends = publicity_ends(settings, first)
    if today < next_month(first):
        return PublicityState.RUNNING, ends
    return (PublicityState.OPEN if in_publicity(settings, first, today) else PublicityState.DONE), ends


def past_month(text: str, today: date | None = None) -> date:
    """The first day of a month written 2026-11 that has begun by today. Raises DomainError("invalid_month" |
    "publicity_month_ahead")."""
    first, _last = parse_month(text)
    today = today or local_today()
    if first > today:
        raise DomainError("publicity_month_ahead", month=month_label(text))
    return first


def publicity_node(village_id: int, grid_id: int | None = None) -> tuple[GridNode, GridNode]:
    """The village and the node the table is of (the village, or any node under it). Raises NotFound."""
    village = db.session.get(GridNode, village_id)
    if village is None or village.kind is not NodeKind.VILLAGE:
        raise NotFound()
    if grid_id is None:
        return village, village
    node = db.session.get(GridNode, grid_id) if 1 <= grid_id <= MAX_ID else None
    if node is None or node.village_id != village.id:
        raise NotFound()
    return village, node


def publicity_table(village: GridNode, node: GridNode, first: date, today: date | None = None) -> Publicity:
    """The 积分公示表 of the month beginning on first, for the households on the register then under node: three
    grouped queries whatever their number (the households, their month's totals, their balances)."""
    today = today or local_today()
    last = next_month(first) - timedelta(days=1)
    state, ends = publicity_state(village.id, first, today)
    households = _on_register(village, node, first, last)
    rows = [PublicityRow(h_id, number, grid_id, grid_name, mask_name(head))
            for h_id, number, grid_id, grid_name, head in db.session.execute(
                select(Household.id, Household.number, GridNode.id, GridNode.name, Resident.name)
                .join(GridNode, GridNode.id == Household.grid_id)
                .outerjoin(Resident, Resident.id == Household.head_id)
                .where(Household.id.in_(households))
                .order_by(GridNode.code, GridNode.id, Household.number, Household.id))]
    by_id = {row.household_id: row for row in rows}
    columns = _add_totals(by_id, households, f"M{first:%Y-%m}")
    for household_id, balance in db.session.execute(
            select(LedgerEntry.household_id, func.sum(LedgerEntry.amount))
            .where(LedgerEntry.household_id.in_(households), LedgerEntry.occurred_on <= last)
            .group_by(LedgerEntry.household_id)):
        by_id[household_id].balance = int(balance)
    return Publicity(village, node, first, last, state, ends, rows, columns)


def _on_register(village: GridNode, node: GridNode, first: date, last: date):
    """The ids (a subquery) of the village's households under node that were on the register in the month: not
    closed before it began, and added before it ended or with points in it (a register imported later still holds
    the households that earned them)."""
    added_by = local_to_utc(datetime.combine(last + timedelta(days=1), datetime.min.time()))
    earned = select(PeriodTotal.household_id).where(PeriodTotal.period == f"M{first:%Y-%m}",
                                                    PeriodTotal.household_id == Household.id)
    return select(Household.id).where(
        Household.village_id == village.id,
        Household.grid_id.in_(select(GridPath.descendant_id).where(GridPath.ancestor_id == node.id)),
        or_(Household.created_at < added_by, earned.exists()),
        or_(Household.closed_on.is_(None), Household.closed_on >= first))


def _add_totals(by_id: dict[int, PublicityRow], households, period: str) -> list[str]:
    """Fill each row's points per category and its net from the month's totals; the columns with any points. A
    total counts a penalty's points in deducted and (negative) in total: earned = total + deducted."""
    overall: dict[int, CategoryPoints] = {}
    used = set()
    for household_id, category, total, deducted in db.session.execute(
            select(PeriodTotal.household_id, PeriodTotal.category, PeriodTotal.total, PeriodTotal.deducted)
            .where(PeriodTotal.period == period, PeriodTotal.resident_id == 0,
                   PeriodTotal.household_id.in_(households))):
        points = CategoryPoints(total + deducted, deducted)
        if category == "":
            overall[household_id] = points
            by_id[household_id].net = total
        elif points != CategoryPoints():
            by_id[household_id].categories[category] = points
            used.add(category)
    for household_id, points in overall.items():
        row = by_id[household_id]
        other = CategoryPoints(points.earned - sum(p.earned for p in row.categories.values()),
                               points.lost - sum(p.lost for p in row.categories.values()))
        if other != CategoryPoints():
            row.categories[OTHER] = other
            used.add(OTHER)
    return [c.value for c in RuleCategory if c.value in used] + ([OTHER] if OTHER in used else [])


def column_sums(publicity: Publicity) -> dict[str, CategoryPoints]:
    """The table's totals per column."""
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in publicity.rows:
        for column, points in row.categories.items():
            sums[column][0] += points.earned
            sums[column][1] += points.lost
    return {column: CategoryPoints(*sums[column]) for column in publicity.columns}


register_messages({
    "publicity_month_ahead": _l("%(month)s还没到，没有公示表"),
})
