"""Read-only queries on the ledger: a household's entries and balance, and its rank in its grid."""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..auth import policy
from ..auth.models import User
from ..extensions import db
from ..limits import MAX_PAGE
from ..people.models import Household
from ..people.queries import Page
from ..rules.models import RuleVersion
from ..rules.queries import rule_book
from .models import HouseholdBalance, LedgerEntry, PeriodTotal


def balance_of(household_id: int) -> int:
    return db.session.scalar(
        select(HouseholdBalance.balance).where(HouseholdBalance.household_id == household_id)
    ) or 0


def rules_actor_may_apply(actor: User, household: Household, day: date) -> list[RuleVersion]:
    """The rules in force on day that actor's roles may apply to this household (its kind's rule book)."""
    roles = policy.roles_over(actor, household.grid_id)
    if not roles:
        return []
    return [v for v in rule_book(household.village_id, day) if v.role_set & roles and v.applies_to(household.kind)]


def balances_of(household_ids: list[int]) -> dict[int, int]:
    """The balances of many households in one query (a household without entries has no row: 0)."""
    rows = db.session.execute(
        select(HouseholdBalance.household_id, HouseholdBalance.balance).where(
            HouseholdBalance.household_id.in_(household_ids)
        )
    )
    return {household_id: balance for household_id, balance in rows}


def household_entries(household_id: int, page: int = 1, per_page: int = 20) -> Page:
    """A household's entries, newest first, with their rule, actor and reversal loaded."""
    page = min(max(1, page), MAX_PAGE)
    where = LedgerEntry.household_id == household_id
    total = db.session.scalar(select(func.count()).select_from(LedgerEntry).where(where))
    items = db.session.scalars(
        select(LedgerEntry)
        .where(where)
        .options(selectinload(LedgerEntry.rule_version).selectinload(RuleVersion.rule),
                 selectinload(LedgerEntry.actor), selectinload(LedgerEntry.reversed_by))
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total, page, per_page)


@dataclass(frozen=True)
class GridRank:
    rank: int  # 1 is the best; households with equal totals share a rank
    households: int
    total: int


def rank_in_grid(household: Household, period: str) -> GridRank:
    """The household's place among the households of its grid by their total in period ('M2026-11' …).
    Households without entries count with 0."""
    totals = (
        select(PeriodTotal.household_id, PeriodTotal.total)
        .where(PeriodTotal.period == period, PeriodTotal.resident_id == 0, PeriodTotal.category == "")
        .subquery()
    )
    own = db.session.scalar(select(totals.c.total).where(totals.c.household_id == household.id)) or 0
    score = func.coalesce(totals.c.total, 0)
    grid = select(Household.id).outerjoin(totals, totals.c.household_id == Household.id).where(
        Household.grid_id == household.grid_id
    )
    ahead = db.session.scalar(select(func.count()).select_from(grid.where(score > own).subquery()))
    size = db.session.scalar(select(func.count()).select_from(grid.subquery()))
    return GridRank(ahead + 1, size, own)
