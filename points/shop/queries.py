"""Read-only selects for the 积分超市's pages: a shop's products, a product's stock movements, a household's
redemptions, the shops a user starts from, the households a typed 户号 may mean, the balance a receipt prints, and
the check that every product's stock is the sum of its movements (flask --app points verify)."""
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, select

from ..auth import policy
from ..auth.models import User
from ..errors import Forbidden, NotFound
from ..extensions import db
from ..ledger.models import LedgerEntry
from ..people.models import Household
from .models import Product, Redemption, Shop, StockMovement


def shop_products(shop_id: int, active_only: bool = False) -> list[Product]:
    """The shop's products, those on offer first, by name."""
    query = select(Product).where(Product.shop_id == shop_id)
    if active_only:
        query = query.where(Product.active.is_(True))
    return list(db.session.scalars(query.order_by(Product.active.desc(), Product.name, Product.id)))


def product_movements(product_id: int, limit: int = 200) -> list[StockMovement]:
    """A product's stock movements, newest first."""
    return list(db.session.scalars(select(StockMovement).where(StockMovement.product_id == product_id)
                                   .order_by(StockMovement.id.desc()).limit(limit)))


def household_redemptions(household_id: int, limit: int = 100) -> list[Redemption]:
    """A household's redemptions at any shop, newest first."""
    return list(db.session.scalars(select(Redemption).where(Redemption.household_id == household_id)
                                   .order_by(Redemption.id.desc()).limit(limit)))


def first_shop_of_village(village_id: int) -> Shop | None:
    return db.session.scalar(select(Shop).where(Shop.village_id == village_id).order_by(Shop.id).limit(1))


def first_shop_run_by(user: User) -> Shop | None:
    """The first shop (by id) in a village where user runs the counter."""
    inside = policy.node_filter(user, policy.Permission.RUN_SHOP, Shop.village_id)
    return db.session.scalar(select(Shop).where(inside).order_by(Shop.id).limit(1))


def households_numbered(village_id: int, typed: str) -> list[Household]:
    """The village's household whose 户号 is typed exactly; failing that, when typed is all digits, those whose
    户号 has its numeric value ("1" or "01" for 0001), since clerks leave out the leading zeros. More than one
    (0001 and 001 in one village) is for the caller to refuse as ambiguous."""
    exact = db.session.scalar(select(Household).where(Household.village_id == village_id, Household.number == typed))
    if exact is not None or not (typed.isascii() and typed.isdigit()):
        return [exact] if exact is not None else []
    # A 户号 that is zeros and then typed's digits (without their own leading zeros) is all digits itself.
    return list(db.session.scalars(select(Household).where(Household.village_id == village_id,
                                                            func.ltrim(Household.number, "0") == typed.lstrip("0"))
                                   .order_by(Household.number)))


def balance_after(redemption: Redemption) -> int | None:
    """The household's balance right after the redemption's debit: the sum of its entries up to that one."""
    if redemption.entry_id is None:
        return None
    return db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0))
                             .where(LedgerEntry.household_id == redemption.household_id,
                                    LedgerEntry.id <= redemption.entry_id))


@dataclass(frozen=True)
class StockMismatch:
    """A product whose stock is not the sum of its movements (a new product's first stock is a restock too)."""

    product_id: int
    stock: int
    movements_sum: int


def stock_mismatches() -> Iterator[StockMismatch]:
    """Every product whose stock disagrees with its stock movements, by product id."""
    sums = (select(StockMovement.product_id, func.sum(StockMovement.quantity).label("quantity"))
            .group_by(StockMovement.product_id).subquery())
    moved = func.coalesce(sums.c.quantity, 0)
    rows = db.session.execute(select(Product.id, Product.stock, moved)
                              .outerjoin(sums, sums.c.product_id == Product.id)
                              .where(Product.stock != moved)
                              .order_by(Product.id))
    for product_id, stock, quantity in rows:
        yield StockMismatch(product_id, stock, int(quantity))


def product_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Product))


def visible_redemption(user: User, redemption_id: int) -> Redemption:
    """A redemption (its receipt), to whoever runs its shop and to its own household's villagers. Raises NotFound,
    Forbidden."""
    redemption = db.session.get(Redemption, redemption_id)
    if redemption is None:
        raise NotFound()
    if not (policy.can(user, policy.Permission.RUN_SHOP, redemption.shop.village_id)
            or redemption.household_id == policy.own_household_id(user)):
        raise Forbidden()
    return redemption
