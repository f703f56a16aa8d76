"""Read-only queries on 微心愿: the village's wall and its counts, a user's adoptions, staff's lists."""
from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..limits import MAX_PAGE
from ..paging import Page
from .models import WALL_STATUSES, Wish, WishStatus

# The wall's three counts: a fulfilled wish waiting to be lit is still 已认领 to the public.
WALL_COUNTS = {
    "open": (WishStatus.OPEN,),
    "adopted": (WishStatus.ADOPTED, WishStatus.FULFILLED),
    "lit": (WishStatus.LIT,),
}


def _page(where: list, order, page: int, per_page: int) -> Page:
    page = min(max(1, page), MAX_PAGE)
    total = db.session.scalar(select(func.count()).select_from(Wish).where(*where))
    items = db.session.scalars(
        select(Wish).where(*where).options(selectinload(Wish.grid), selectinload(Wish.photos))
        .order_by(*order).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total, page, per_page)


def wall_counts(village_id: int) -> dict[str, int]:
    """{"open": n, "adopted": n, "lit": n} of the village's wall."""
    rows = dict(db.session.execute(
        select(Wish.status, func.count()).where(Wish.village_id == village_id).group_by(Wish.status)
    ).all())
    return {name: sum(rows.get(s, 0) for s in statuses) for name, statuses in WALL_COUNTS.items()}


def wall(village_id: int, page: int = 1, per_page: int = 20) -> Page:
    """The wishes on the village's wall: the open ones first, then the adopted, then the lit; newest first."""
    rank = case({WishStatus.OPEN: 0, WishStatus.ADOPTED: 1, WishStatus.FULFILLED: 1}, value=Wish.status, else_=2)
    return _page([Wish.village_id == village_id, Wish.status.in_(WALL_STATUSES)],
                 (rank, Wish.created_at.desc(), Wish.id.desc()), page, per_page)


def adopted_by(user_id: int, page: int = 1, per_page: int = 20) -> Page:
    """The wishes a user has adopted (and not given back), newest first."""
    return _page([Wish.adopter_id == user_id], (Wish.adopted_at.desc(), Wish.id.desc()), page, per_page)


def in_scope(grids: ColumnElement[bool], status: WishStatus | None = None, page: int = 1,
             per_page: int = 20) -> Page:
    """The wishes of the grids a WHERE clause on Wish.grid_id keeps (staff's scope), oldest first for one status."""
    where = [grids]
    if status is not None:
        where.append(Wish.status == status)
    order = (Wish.created_at, Wish.id) if status is not None else (Wish.created_at.desc(), Wish.id.desc())
    return _page(where, order, page, per_page)


def village_has_wishes(village_id: int) -> bool:
    return db.session.scalar(select(Wish.id).where(Wish.village_id == village_id).limit(1)) is not None
