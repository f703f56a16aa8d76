"""Read-only queries for household and resident pages."""

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..grids.models import GridPath
from ..grids.queries import subtree_ids
from ..limits import MAX_ID, MAX_PAGE
from ..paging import Page
from ..periods import Period
from .models import Household, HouseholdKind, Resident


def search_households(
    visible: ColumnElement[bool], q: str = "", grid_id: int | None = None, page: int = 1, per_page: int = 20
) -> Page:
    """Households the caller may see, filtered by a text (户号, address, a resident's name or phone) and a grid."""
    page = min(max(1, page), MAX_PAGE)
    if grid_id is not None and not 1 <= grid_id <= MAX_ID:
        return Page([], 0, page, per_page)
    where = [visible]
    if grid_id:
        where.append(Household.grid_id.in_(subtree_ids(grid_id)))
    q = q.replace("\x00", "").strip()  # PostgreSQL cannot compare text holding NUL
    if q:
        # autoescape: a typed % or _ is a character to find, not a wildcard.
        members = select(Resident.household_id).where(
            or_(Resident.name.contains(q, autoescape=True), Resident.phone.contains(q, autoescape=True))
        )
        where.append(
            or_(
                Household.number.contains(q, autoescape=True),
                Household.address.contains(q, autoescape=True),
                Household.id.in_(members),
            )
        )
    total = db.session.scalar(select(func.count()).select_from(Household).where(*where))
    items = db.session.scalars(
        select(Household)
        .where(*where)
        .options(selectinload(Household.head), selectinload(Household.grid))
        .order_by(Household.village_id, Household.number)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total, page, per_page)


def living_under(node_id: int) -> tuple[ColumnElement[bool], ...]:
    """WHERE conditions (on Resident joined with Household) keeping the residents who live, on the register, in the
    node's subtree."""
    return (Household.grid_id.in_(select(GridPath.descendant_id).where(GridPath.ancestor_id == node_id)),
            Household.closed_on.is_(None), Resident.left_on.is_(None))


def household_counts(node_ids: list[int]) -> dict[int, tuple[int, int]]:
    """For each node, (households, residents) in its subtree."""
    result = {}
    rows = db.session.execute(
        select(GridPath.ancestor_id, func.count(func.distinct(Household.id)), func.count(Resident.id))
        .join(Household, Household.grid_id == GridPath.descendant_id)
        .outerjoin(Resident, Resident.household_id == Household.id)
        .where(GridPath.ancestor_id.in_(node_ids))
        .group_by(GridPath.ancestor_id)
    )
    for node_id, households, residents in rows:
        result[node_id] = (households, residents)
    return result


def renter_count(node_id: int) -> int:
    """外来租住 households in a node's subtree."""
    return db.session.scalar(
        select(func.count())
        .select_from(Household)
        .where(Household.grid_id.in_(subtree_ids(node_id)), Household.kind == HouseholdKind.RENTER)
    )


def on_register(period: Period) -> ColumnElement[bool]:
    """The households a board of period lists: those on the register, and those that left it (整户迁出) after the
    period began."""
    if period.first is None:
        return Household.closed_on.is_(None)
    return or_(Household.closed_on.is_(None), Household.closed_on >= period.first)
