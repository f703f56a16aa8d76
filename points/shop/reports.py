"""The shop's reports: a span of days' redemptions, points and products sold, the stock left, and the redemptions
themselves for the page and the workbook."""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from ..auth import policy
from ..auth.models import User
from ..extensions import db
from ..people.models import Household
from ..timeutil import local_to_utc
from .models import Product, Redemption, RedemptionLine, Shop


@dataclass
class ProductSales:
    product_id: int
    name: str
    quantity: int
    points: int


@dataclass
class ShopReport:
    shop: Shop
    first: date
    last: date
    redemptions: int = 0
    points: int = 0
    voided: int = 0
    top: list[ProductSales] = field(default_factory=list)
    products: list[Product] = field(default_factory=list)  # every product, with the stock left
    low: list[Product] = field(default_factory=list)  # on offer and at or below the shop's low-stock level


def _utc_span(first: date, last: date) -> tuple[datetime, datetime]:
    return local_to_utc(datetime.combine(first, time())), local_to_utc(datetime.combine(last + timedelta(1), time()))


def report(actor: User, shop: Shop, first: date, last: date) -> ShopReport:
    """The shop's days first … last (local): redemptions and points taken (voided ones aside), the products by
    quantity redeemed, and the stock left now. Raises Forbidden."""
    policy.require(actor, policy.Permission.RUN_SHOP, shop.village_id)
    start, end = _utc_span(first, last)
    in_span = (Redemption.shop_id == shop.id, Redemption.created_at >= start, Redemption.created_at < end)
    counted = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Redemption.total), 0))
        .where(*in_span, Redemption.voided_at.is_(None))).one()
    voided = db.session.scalar(select(func.count()).where(*in_span, Redemption.voided_at.is_not(None)))
    sold = db.session.execute(
        select(RedemptionLine.product_id, func.sum(RedemptionLine.quantity),
               func.sum(RedemptionLine.quantity * RedemptionLine.price))
        .join(Redemption, RedemptionLine.redemption_id == Redemption.id)
        .where(*in_span, Redemption.voided_at.is_(None))
        .group_by(RedemptionLine.product_id)).all()
    products = db.session.scalars(select(Product).where(Product.shop_id == shop.id)
                                  .order_by(Product.active.desc(), Product.name, Product.id)).all()
    names = {p.id: p.name for p in products}
    top = sorted((ProductSales(product_id, names[product_id], quantity, points)
                  for product_id, quantity, points in sold), key=lambda s: (-s.quantity, -s.points, s.name))
    return ShopReport(shop, first, last, redemptions=counted[0], points=counted[1], voided=voided, top=top,
                      products=products, low=[p for p in products if p.active and p.stock <= shop.low_stock])


def redemptions_of(shop: Shop, first: date, last: date, household_id: int | None = None,
                   limit: int = 200) -> list[Redemption]:
    """The shop's redemptions of the days first … last, newest first (a household's only, given one), with what
    the report and its workbook print of each loaded in a few queries rather than a few per row."""
    start, end = _utc_span(first, last)
    query = select(Redemption).options(
        joinedload(Redemption.household).joinedload(Household.head), joinedload(Redemption.clerk),
        selectinload(Redemption.lines)).where(Redemption.shop_id == shop.id, Redemption.created_at >= start,
                                     Redemption.created_at < end)
    if household_id is not None:
        query = query.where(Redemption.household_id == household_id)
    return db.session.scalars(query.order_by(Redemption.id.desc()).limit(limit)).all()
