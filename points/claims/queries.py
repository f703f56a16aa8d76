"""Read-only queries on claims and appeals: a household's own, and the queues of reviewers and admins."""
from datetime import date

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..limits import MAX_PAGE
from ..paging import Page
from ..people.models import Household
from ..rules.models import RuleVersion
from ..rules.queries import rule_book
from .models import Appeal, AppealStatus, Claim, ClaimStatus


def claimable_rules(household: Household, day: date) -> list[RuleVersion]:
    """The rules in force on day that the household's villagers may claim themselves."""
    return [v for v in rule_book(household.village_id, day) if v.self_claimable and v.applies_to(household.kind)]


def under_appeal() -> Select:
    """The ids of ledger entries whose appeal is still pending: kept off the public 黑榜 and 晾晒 until decided."""
    return select(Appeal.entry_id).where(Appeal.status == AppealStatus.PENDING)


def _page(model, where: list, order, page: int, per_page: int, *options) -> Page:
    page = min(max(1, page), MAX_PAGE)
    total = db.session.scalar(select(func.count()).select_from(model).where(*where))
    items = db.session.scalars(
        select(model).where(*where).options(*options).order_by(*order).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total, page, per_page)


def household_claims(household_id: int, page: int = 1, per_page: int = 20) -> Page:
    """A household's claims, newest first."""
    return _page(Claim, [Claim.household_id == household_id], (Claim.created_at.desc(), Claim.id.desc()), page,
                 per_page, selectinload(Claim.rule_version), selectinload(Claim.photos))


def claims_in_scope(
    visible_households: ColumnElement[bool], status: ClaimStatus | None = ClaimStatus.PENDING, page: int = 1,
    per_page: int = 20,
) -> Page:
    """Claims of the households a WHERE clause on Household keeps (a reviewer's scope), oldest pending first."""
    where = [Claim.household_id.in_(select(Household.id).where(visible_households))]
    if status is not None:
        where.append(Claim.status == status)
    order = ((Claim.created_at, Claim.id) if status is ClaimStatus.PENDING
             else (Claim.created_at.desc(), Claim.id.desc()))
    return _page(Claim, where, order, page, per_page, selectinload(Claim.rule_version), selectinload(Claim.household),
                 selectinload(Claim.photos))


def appealed_entry_ids(entry_ids: list[int]) -> set[int]:
    """Which of these entries have been appealed (an entry is appealed once)."""
    return set(db.session.scalars(select(Appeal.entry_id).where(Appeal.entry_id.in_(entry_ids))))


def household_appeals(household_id: int, page: int = 1, per_page: int = 20) -> Page:
    return _page(Appeal, [Appeal.household_id == household_id], (Appeal.created_at.desc(), Appeal.id.desc()), page,
                 per_page, selectinload(Appeal.entry))


def appeals_in_scope(
    visible_households: ColumnElement[bool], status: AppealStatus | None = AppealStatus.PENDING, page: int = 1,
    per_page: int = 20,
) -> Page:
    """Appeals of the households a WHERE clause on Household keeps (an admin's scope), oldest pending first."""
    where = [Appeal.household_id.in_(select(Household.id).where(visible_households))]
    if status is not None:
        where.append(Appeal.status == status)
    order = ((Appeal.created_at, Appeal.id) if status is AppealStatus.PENDING
             else (Appeal.created_at.desc(), Appeal.id.desc()))
    return _page(Appeal, where, order, page, per_page, selectinload(Appeal.entry), selectinload(Appeal.household))
