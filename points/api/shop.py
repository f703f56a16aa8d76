"""/api/v1 积分超市: shops, their products and stock, redemptions at the counter and their voids.

POST /api/v1/redemptions honours the Idempotency-Key header: the same key (per account) with the same basket answers
201 with the first redemption and redeems nothing; with another basket it is a 409. Voiding is idempotent by itself
(a second void changes nothing and answers the same); its key is checked and otherwise not needed.

Creating a product, 进货 (restock) and 盘点调整 (stock-correction) honour the key the same way: a retry makes, adds
or corrects nothing more and answers with the product as it is now.
"""
from datetime import date, datetime, time, timedelta

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import func, or_, select

from ..auth import policy
from ..auth.models import User
from ..errors import DomainError, Forbidden, NotFound
from ..extensions import db
from ..ledger.models import LedgerEntry
from ..limits import MAX_ID
from ..people.models import Household
from ..shop import queries, services
from ..shop.models import Product, Redemption, Shop
from ..timeutil import local_to_utc
from .auth import api_user, authenticate_request
from .blueprint import Blueprint
from .schemas import (
    IDEMPOTENCY_HEADER,
    ErrorSchema,
    PageArgs,
    Text,
    answered,
    client_key,
    commit_keyed,
    page_schema,
    utc,
)

bp = Blueprint("api_shop", __name__, description="积分超市：商品与库存、兑换、作废")
bp.before_request(authenticate_request)

RUN_SHOP = policy.Permission.RUN_SHOP


def _row_id(strict: bool = True, **kwargs) -> fields.Integer:
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


# Shapes


class ShopSchema(Schema):
    id = fields.Integer(required=True)
    village_id = fields.Integer(required=True)
    name = fields.String(required=True)
    runs = fields.Boolean(required=True,
                          metadata={"description": "Whether the caller runs its counter (店员, 村管理员)"})


class ProductSchema(Schema):
    id = fields.Integer(required=True)
    shop_id = fields.Integer(required=True)
    name = fields.String(required=True)
    unit = fields.String(required=True, metadata={"description": "瓶, 袋, 块 …"})
    price = fields.Integer(required=True, metadata={"description": "Points per unit"})
    active = fields.Boolean(required=True, metadata={"description": "On offer; villagers see only these"})
    available = fields.Boolean(required=True, metadata={"description": "On offer and in stock"})
    stock = fields.Integer(required=True, allow_none=True,
                           metadata={"description": "On the shelf; null to those who do not run the shop"})
    created_at = fields.DateTime(required=True)


class LineSchema(Schema):
    product_id = fields.Integer(required=True)
    name = fields.String(required=True, metadata={"description": "The product's name when it was redeemed"})
    unit = fields.String(required=True)
    price = fields.Integer(required=True, metadata={"description": "Points per unit when it was redeemed"})
    quantity = fields.Integer(required=True)


class RedemptionSchema(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True, metadata={"description": "兑换单号, as on the receipt: DH00000042"})
    shop_id = fields.Integer(required=True)
    household_id = fields.Integer(required=True)
    household_number = fields.String(required=True, metadata={"description": "户号"})
    card_id = fields.Integer(required=True, allow_none=True, metadata={"description": "The card shown, if one was"})
    total = fields.Integer(required=True, metadata={"description": "Points debited"})
    lines = fields.List(fields.Nested(LineSchema), required=True)
    entry_id = fields.Integer(required=True, allow_none=True, metadata={"description": "The ledger's debit"})
    created_at = fields.DateTime(required=True)
    voided_at = fields.DateTime(required=True, allow_none=True, metadata={"description": "null: not voided"})
    void_reason = fields.String(required=True, allow_none=True)
    void_entry_id = fields.Integer(required=True, allow_none=True,
                                   metadata={"description": "The ledger's reversal of the debit"})


class RedemptionDetailSchema(RedemptionSchema):
    balance_after = fields.Integer(
        required=True,
        metadata={"description": "The household's balance right after this debit (not now): a retry answers the same"},
    )


ShopPage = page_schema(ShopSchema, "ShopPage")
ProductPage = page_schema(ProductSchema, "ProductPage")
RedemptionPage = page_schema(RedemptionSchema, "RedemptionPage")


# Requests


class ProductCreateArgs(Schema):
    name = Text(required=True, metadata={"description": "Up to 60 characters"})
    unit = Text(required=True, metadata={"description": "Up to 10 characters: 瓶, 袋, 块 …"})
    price = fields.Integer(strict=True, required=True, metadata={"description": f"1 to {services.MAX_PRICE} points"})
    stock = fields.Integer(strict=True, load_default=0, validate=validate.Range(min=0, max=services.MAX_STOCK),
                           metadata={"description": "On the shelf at first (a restock 初始库存)"})
    active = fields.Boolean(load_default=True)


class ProductPatchArgs(Schema):
    """Fields left out keep their value. Stock changes only by restock and stock-correction."""

    name = Text()
    unit = Text()
    price = fields.Integer(strict=True)
    active = fields.Boolean()


class RestockArgs(Schema):
    quantity = fields.Integer(strict=True, required=True, metadata={"description": f"1 to {services.MAX_STOCK}"})
    reason = Text(load_default="", metadata={"description": "Up to 100 characters"})


class CorrectionArgs(Schema):
    counted = fields.Integer(strict=True, required=True,
                             metadata={"description": f"What the shelf holds: 0 to {services.MAX_STOCK}"})
    reason = Text(load_default="", metadata={"description": "Required: why the books were wrong (up to 100)"})


class LineArgs(Schema):
    product_id = _row_id(required=True)
    quantity = fields.Integer(strict=True, required=True,
                              metadata={"description": f"1 to {services.MAX_QUANTITY} of one product"})


class RedemptionArgs(Schema):
    shop_id = _row_id(required=True)
    household_id = _row_id(metadata={"description": "The household; or send card instead"})
    card = Text(validate=validate.Length(min=1, max=200),
                metadata={"description": "The text of the 户卡's QR, as scanned"})
    lines = fields.List(fields.Nested(LineArgs), required=True,
                        metadata={"description": f"1 to {services.MAX_LINES} lines; one product's lines are added up"})

    @validates_schema
    def _one_household(self, data, **kwargs):
        if ("household_id" in data) == ("card" in data):
            raise ValidationError("Send either household_id or card.")


class VoidArgs(Schema):
    reason = Text(load_default="", metadata={"description": "Required: why (up to 100 characters)"})


class ProductListArgs(PageArgs):
    active = fields.Boolean(metadata={"description": "Only products on offer (true) or off it (false); villagers see "
                                                    "only those on offer"})


def _plausible_day(day: date) -> None:
    """Keeps the day's span in UTC inside what a datetime holds."""
    if not date(2000, 1, 1) <= day <= date(9999, 12, 30):
        raise ValidationError("Not a plausible day.")


class RedemptionListArgs(PageArgs):
    shop_id = _row_id(strict=False)
    household_id = _row_id(strict=False)
    day = fields.Date(validate=_plausible_day, metadata={"description": "One local (Asia/Shanghai) day"})


# Views


def shop_view(user: User, shop: Shop) -> dict:
    return {"id": shop.id, "village_id": shop.village_id, "name": shop.name, "runs": _runs(user, shop.village_id)}


def product_view(product: Product, staff: bool) -> dict:
    return {
        "id": product.id,
        "shop_id": product.shop_id,
        "name": product.name,
        "unit": product.unit,
        "price": product.price,
        "active": product.active,
        "available": product.active and product.stock > 0,
        "stock": product.stock if staff else None,
        "created_at": utc(product.created_at),
    }


def redemption_view(redemption: Redemption) -> dict:
    return {
        "id": redemption.id,
        "number": redemption.number,
        "shop_id": redemption.shop_id,
        "household_id": redemption.household_id,
        "household_number": redemption.household.number,
        "card_id": redemption.card_id,
        "total": redemption.total,
        "lines": [{"product_id": line.product_id, "name": line.name, "unit": line.unit, "price": line.price,
                   "quantity": line.quantity} for line in redemption.lines],
        "entry_id": redemption.entry_id,
        "created_at": utc(redemption.created_at),
        "voided_at": utc(redemption.voided_at),
        "void_reason": redemption.void_reason,
        "void_entry_id": redemption.void_entry_id,
    }


def redemption_detail(redemption: Redemption, balance_after: int | None = None) -> dict:
    """balance_after: where the caller has just redeemed and knows it. Else it is read from the entries up to the
    debit: a household's entries are posted one at a time under its lock, so their ids follow the order they were
    posted in, and this number never changes afterwards."""
    if balance_after is None:
        balance_after = db.session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0))
            .where(LedgerEntry.household_id == redemption.household_id, LedgerEntry.id <= redemption.entry_id))
    return {**redemption_view(redemption), "balance_after": balance_after}


# Lookups and rights


def _runs(user: User, village_id: int) -> bool:
    return policy.can(user, RUN_SHOP, village_id)


def _villager_of(user: User, village_id: int) -> bool:
    own = policy.own_household_id(user)
    return own is not None and db.session.get(Household, own).village_id == village_id


def _product(product_id: int) -> Product:
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound()
    return product


def _day_span(day: date) -> tuple[datetime, datetime]:
    return local_to_utc(datetime.combine(day, time())), local_to_utc(datetime.combine(day + timedelta(days=1), time()))


# Shops and products


@bp.get("/shops")
@bp.arguments(PageArgs, location="query")
@bp.response(200, ShopPage)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
def list_shops(args):
    """Shops the caller runs, and those of a villager's own village."""
    user = api_user()
    conditions = [policy.node_filter(user, RUN_SHOP, Shop.village_id)]
    own = policy.own_household_id(user)
    if own is not None:
        conditions.append(Shop.village_id == db.session.get(Household, own).village_id)
    where = or_(*conditions)
    total = db.session.scalar(select(func.count()).select_from(Shop).where(where))
    shops = db.session.scalars(select(Shop).where(where).order_by(Shop.id)
                               .offset((args["page"] - 1) * args["per_page"]).limit(args["per_page"]))
    return {"items": [shop_view(user, s) for s in shops], "total": total}


@bp.get("/shops/<id:shop_id>/products")
@bp.arguments(ProductListArgs, location="query")
@bp.response(200, ProductPage)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不是本村的村民或店员")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该超市")
def list_products(args, shop_id: int):
    """The shop's products by name: all of them with their stock to those who run it (店员, 村管理员); those on offer,
    without the stock, to the village's villagers."""
    user = api_user()
    shop = services.shop_of(shop_id)
    staff = _runs(user, shop.village_id)
    if not staff and not _villager_of(user, shop.village_id):
        raise Forbidden()
    where = [Product.shop_id == shop.id]
    if not staff:
        where.append(Product.active.is_(True))
    elif args.get("active") is not None:
        where.append(Product.active == args["active"])
    total = db.session.scalar(select(func.count()).select_from(Product).where(*where))
    products = db.session.scalars(select(Product).where(*where).order_by(Product.active.desc(), Product.name,
                                                                          Product.id)
                                  .offset((args["page"] - 1) * args["per_page"]).limit(args["per_page"]))
    return {"items": [product_view(p, staff) for p in products], "total": total}


@bp.post("/shops/<id:shop_id>/products")
@bp.arguments(ProductCreateArgs)
@bp.response(201, ProductSchema, description="Made now, or a retry with the same Idempotency-Key")
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(409, schema=ErrorSchema, description="该幂等键已用于另一件商品（idempotency_key_reused）")
@bp.alt_response(400, schema=ErrorSchema, description="名称、单位或兑换积分有误")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="只有本村的店员和村管理员可以上架商品")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该超市")
def create_product(args, shop_id: int):
    """上架商品: a product with its price in points and its first stock. A retry with the same Idempotency-Key answers
    201 with the product made the first time; the same key with another product is a 409."""
    user = api_user()
    key = client_key()
    shop = services.shop_of(shop_id)
    terms = services.ProductTerms(args["name"], args["unit"], args["price"], args["active"])
    product = commit_keyed(lambda: services.create_product(user, shop, terms, stock=args["stock"],
                                                           client_key=f"api:{key}" if key else None))
    return product_view(product, True)


@bp.get("/products/<id:product_id>")
@bp.response(200, ProductSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不是本村的村民或店员")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该商品（村民看不到已下架的商品）")
def get_product(product_id: int):
    """A product: with its stock to those who run the shop; to villagers of the village only while on offer."""
    user = api_user()
    product = _product(product_id)
    village_id = product.shop.village_id
    if _runs(user, village_id):
        return product_view(product, True)
    if not _villager_of(user, village_id):
        raise Forbidden()
    if not product.active:
        raise NotFound()
    return product_view(product, False)


@bp.patch("/products/<id:product_id>")
@bp.arguments(ProductPatchArgs)
@bp.response(200, ProductSchema)
@bp.alt_response(400, schema=ErrorSchema, description="名称、单位或兑换积分有误，或没有要修改的内容")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="只有本村的店员和村管理员可以修改商品")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该商品")
def update_product(args, product_id: int):
    """修改商品 or 下架 (active: false): the fields sent replace the product's; the others keep their value."""
    user = api_user()
    product = _product(product_id)
    if not args:
        raise DomainError("nothing_to_change")
    current = {"name": product.name, "unit": product.unit, "price": product.price, "active": product.active}
    merged = {**current, **args}
    terms = services.ProductTerms(merged["name"], merged["unit"], merged["price"], merged["active"])
    product = services.update_product(user, product, terms)
    return product_view(product, True)


@bp.post("/products/<id:product_id>/restock")
@bp.arguments(RestockArgs)
@bp.response(200, ProductSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(409, schema=ErrorSchema, description="该幂等键已用于另一次进货（idempotency_key_reused）")
@bp.alt_response(400, schema=ErrorSchema, description="进货数量或理由有误（invalid_restock, reason_too_long）")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="只有本村的店员和村管理员可以进货")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该商品")
def restock_product(args, product_id: int):
    """进货: quantity more on the shelf, recorded with who and why. A retry with the same Idempotency-Key adds nothing
    more and answers with the product as it is now; the same key with another restock is a 409."""
    user = api_user()
    key = client_key()
    product = _product(product_id)
    commit_keyed(lambda: services.restock(user, product, args["quantity"], args["reason"],
                                          client_key=f"api:{key}" if key else None))
    db.session.refresh(product)
    return product_view(product, True)


@bp.post("/products/<id:product_id>/stock-correction")
@bp.arguments(CorrectionArgs)
@bp.response(200, ProductSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(409, schema=ErrorSchema, description="该幂等键已用于另一次盘点（idempotency_key_reused）")
@bp.alt_response(400, schema=ErrorSchema,
                 description="盘点数量或理由有误（invalid_stock, reason_required, reason_too_long）")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="只有本村的店员和村管理员可以盘点")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该商品")
def correct_stock(args, product_id: int):
    """盘点调整: the shelf holds counted; the difference is recorded with its reason. A retry with the same
    Idempotency-Key corrects nothing more, even after redemptions meanwhile."""
    user = api_user()
    key = client_key()
    product = _product(product_id)
    commit_keyed(lambda: services.correct_stock(user, product, args["counted"], args["reason"],
                                                client_key=f"api:{key}" if key else None))
    db.session.refresh(product)
    return product_view(product, True)


# Redemptions


@bp.post("/redemptions")
@bp.arguments(RedemptionArgs)
@bp.response(201, RedemptionDetailSchema, description="Redeemed now, or a retry with the same Idempotency-Key")
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema,
                 description="户卡无效（invalid_card）、别村户卡（card_other_village）、没有选商品（empty_basket）、数量有误"
                             "（basket_quantity, too_many_lines）、本超市没有该商品（unknown_product）、商品已下架"
                             "（product_inactive），或幂等键格式有误（invalid_idempotency_header）")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="只有本村的店员和村管理员可以兑换")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该超市，或本村没有该户")
@bp.alt_response(409, schema=ErrorSchema, description="积分不足（insufficient_balance）、"
                                                      "库存不足（insufficient_stock）、"
                                                      "户卡已作废（card_revoked），或该幂等键已用于另一笔不同的兑换"
                                                      "（idempotency_key_reused）")
def create_redemption(args):
    """兑换: a household's basket (by the 户卡 scanned, or by household_id), all or nothing: the household is debited
    and each product's stock taken. A retry with the same Idempotency-Key and basket answers 201 with the first
    redemption (as it is now) and redeems nothing; the same key with another basket is a 409."""
    user = api_user()
    key = client_key()  # a malformed header is refused before anything changes
    key = f"api:{key}" if key else None  # the pages use their own keys: an API key never meets one
    lines = [(line["product_id"], line["quantity"]) for line in args["lines"]]
    shop, shelf = services.counter(args["shop_id"], [product_id for product_id, _quantity in lines])
    # A twin request with the key waits in redeem() until the first has committed, and then finds it; the key with
    # another basket (or household) is refused there (409).
    done = services.redeem(user, shop, lines, card=args.get("card"), household_id=args.get("household_id"),
                           client_key=key, shelf=shelf)
    # Before the commit, which would make every row read again.
    return answered(redemption_detail(done.redemption, done.balance_after), 201)


@bp.get("/redemptions")
@bp.arguments(RedemptionListArgs, location="query")
@bp.response(200, RedemptionPage)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
def list_redemptions(args):
    """Redemptions, newest first: those of the shops the caller runs, and a villager's own household's."""
    user = api_user()
    conditions = [Redemption.shop_id.in_(select(Shop.id).where(policy.node_filter(user, RUN_SHOP, Shop.village_id)))]
    own = policy.own_household_id(user)
    if own is not None:
        conditions.append(Redemption.household_id == own)
    where = [or_(*conditions)]
    if args.get("shop_id") is not None:
        where.append(Redemption.shop_id == args["shop_id"])
    if args.get("household_id") is not None:
        where.append(Redemption.household_id == args["household_id"])
    if args.get("day") is not None:
        start, end = _day_span(args["day"])
        where += [Redemption.created_at >= start, Redemption.created_at < end]
    total = db.session.scalar(select(func.count()).select_from(Redemption).where(*where))
    redemptions = db.session.scalars(select(Redemption).where(*where).order_by(Redemption.id.desc())
                                     .offset((args["page"] - 1) * args["per_page"]).limit(args["per_page"]))
    return {"items": [redemption_view(r) for r in redemptions], "total": total}


@bp.get("/redemptions/<id:redemption_id>")
@bp.response(200, RedemptionDetailSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该兑换记录")
def get_redemption(redemption_id: int):
    """A redemption, to those who run its shop and to the household's own villagers."""
    return redemption_detail(queries.visible_redemption(api_user(), redemption_id))


@bp.post("/redemptions/<id:redemption_id>/void")
@bp.arguments(VoidArgs, required=False)
@bp.response(200, RedemptionDetailSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema, description="请填写理由（reason_required），或理由太长（reason_too_long）")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="店员只能作废当天的兑换；更早的由村管理员作废")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该兑换记录")
def void_redemption(args, redemption_id: int):
    """作废: the debit is reversed and the stock returned, once. Voiding again (with the same Idempotency-Key or not)
    changes nothing and answers the same, with the first void's reason."""
    user = api_user()
    client_key()  # a malformed header is refused before anything changes
    redemption = queries.visible_redemption(user, redemption_id)
    redemption = services.void(user, redemption, args["reason"])
    return redemption_detail(redemption)
