"""积分超市: products and their stock, redemption at the counter, and voids (the shop's reports: reports.py).

A redemption is one transaction: the household's balance is locked, the basket's stock is taken by guarded UPDATEs
in product id order, then the household is debited through the ledger, which refuses to go below zero. A void
takes its locks in the same order (household, then products by id), so no two transactions wait in a circle. Any
refusal rolls the whole of it back. The clerk's Idempotency-Key is unique per account: a retried basket finds the
first one and answers with it. Functions flush and never commit.
"""
import functools
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import Select, and_, bindparam, func, insert, select, update
from sqlalchemy.orm.attributes import set_committed_value

from ..audit.services import record, together
from ..auth import policy
from ..auth.models import User
from ..errors import DomainError, Forbidden, NotFound
from ..extensions import add_unless_taken, attach, connection, db, fetch, fetch_all
from ..grids.models import GridNode, NodeKind
from ..grids.services import blocks_retirement
from ..ledger.lifecycle import pending_since
from ..ledger.locks import hold
from ..ledger.models import EntrySource, LedgerSettings
from ..ledger.services import post_entry, reverse_entry
from ..limits import MAX_ID
from ..people.cards import card_of_household, household_of_card
from ..people.models import Household, HouseholdCard
from ..timeutil import local_today, utc_to_local, utcnow
from .models import Product, Redemption, RedemptionLine, Shop, StockChange, StockMovement
from .queries import households_numbered

RUN_SHOP = policy.Permission.RUN_SHOP
MAX_PRICE = 100_000
MAX_STOCK = 100_000  # on a shelf, or in one restock
MAX_QUANTITY = 99  # of one product in one basket
MAX_LINES = 30
MAX_REASON = 100


# ---------------------------------------------------------------------------------------------------- products


@dataclass(frozen=True)
class ProductTerms:
    name: str
    unit: str
    price: int
    active: bool = True


def create_shop(actor: User, village: GridNode, name: str, low_stock: int = 5) -> Shop:
    """Raises Forbidden, DomainError("shop_name_required")."""
    policy.require(actor, policy.Permission.MANAGE_SHOP, village.id)
    if village.kind is not NodeKind.VILLAGE:
        raise NotFound()
    name = (name or "").strip()
    if not name or len(name) > 60:
        raise DomainError("shop_name_required")
    shop = Shop(village_id=village.id, name=name, low_stock=low_stock)
    db.session.add(shop)
    db.session.flush()
    record(actor, "shop.created", "shop", shop.id, village.id, after={"name": name})
    return shop


def _check_terms(terms: ProductTerms) -> ProductTerms:
    name, unit = (terms.name or "").strip(), (terms.unit or "").strip()
    if not name or len(name) > 60:
        raise DomainError("product_name_required")
    if not unit or len(unit) > 10:
        raise DomainError("product_unit_required")
    if not _whole(terms.price) or not 1 <= terms.price <= MAX_PRICE:
        raise DomainError("invalid_price", limit=MAX_PRICE)
    return ProductTerms(name, unit, terms.price, bool(terms.active))


def _whole(number) -> bool:
    return isinstance(number, int) and not isinstance(number, bool)


def _row_id(number) -> bool:
    return _whole(number) and 1 <= number <= MAX_ID


def create_product(actor: User, shop: Shop, terms: ProductTerms, stock: int = 0,
                   client_key: str | None = None) -> Product:
    """A new product, with its first stock as a restock. Under a client_key used before (by this account) for the
    same product, the product made then. Raises Forbidden, DomainError (product terms | "invalid_stock"
    | "idempotency_key_reused")."""
    policy.require(actor, RUN_SHOP, shop.village_id)
    terms = _check_terms(terms)
    if not _whole(stock) or not 0 <= stock <= MAX_STOCK:
        raise DomainError("invalid_stock", limit=MAX_STOCK)
    fingerprint = _fingerprint("product", shop.id, terms.name, terms.unit, terms.price, terms.active, stock)
    if client_key:
        earlier = db.session.scalar(select(Product).where(Product.created_by_id == actor.id,
                                                          Product.client_key == client_key))
        if earlier is not None:
            return _same(earlier, fingerprint)
    product = Product(shop_id=shop.id, name=terms.name, unit=terms.unit, price=terms.price, active=terms.active,
                      stock=0, created_by_id=actor.id, client_key=client_key or None, fingerprint=fingerprint)
    db.session.add(product)
    db.session.flush()
    record(actor, "product.created", "product", product.id, shop.village_id,
           after={"name": product.name, "price": product.price, "unit": product.unit})
    if stock:
        _move_stock(actor, product, stock, StockChange.RESTOCK, "初始库存")
    return product


def _fingerprint(*asked) -> str:
    """A digest of what a request asked for, kept with its key to tell a retry from another request."""
    return hashlib.sha256(json.dumps(asked, ensure_ascii=False, default=str).encode()).hexdigest()


def _same(earlier, fingerprint: str):
    """What was made under a key before, if it was asked for the same. Raises DomainError("idempotency_key_reused")."""
    if earlier.fingerprint != fingerprint:
        raise DomainError("idempotency_key_reused", status=409)
    return earlier


def update_product(actor: User, product: Product, terms: ProductTerms) -> Product:
    """Name, unit, price and whether it is on offer; the stock changes only by movements. Raises Forbidden,
    DomainError (product terms)."""
    policy.require(actor, RUN_SHOP, product.shop.village_id)
    terms = _check_terms(terms)
    before = {"name": product.name, "unit": product.unit, "price": product.price, "active": product.active}
    product.name, product.unit, product.price, product.active = terms.name, terms.unit, terms.price, terms.active
    db.session.flush()
    after = {"name": product.name, "unit": product.unit, "price": product.price, "active": product.active}
    if after != before:
        record(actor, "product.updated", "product", product.id, product.shop.village_id, before=before, after=after)
    return product


def set_photo(actor: User, product: Product, filename: str | None) -> Product:
    """The product's picture: the file name of a stored, cleaned JPEG (None: no picture). Raises Forbidden."""
    policy.require(actor, RUN_SHOP, product.shop.village_id)
    before, product.photo = product.photo, filename
    db.session.flush()
    record(actor, "product.updated", "product", product.id, product.shop.village_id, before={"photo": before},
           after={"photo": filename})
    return product


def restock(actor: User, product: Product, quantity: int, reason: str = "",
            client_key: str | None = None) -> StockMovement:
    """进货: quantity more on the shelf. Under a client_key used before (by this account) for the same restock, the
    movement made then, and nothing more. Raises Forbidden, DomainError("invalid_restock" | "reason_too_long"
    | "idempotency_key_reused")."""
    policy.require(actor, RUN_SHOP, product.shop.village_id)
    if not _whole(quantity) or not 1 <= quantity <= MAX_STOCK:
        raise DomainError("invalid_restock", limit=MAX_STOCK)
    fingerprint = _fingerprint("restock", product.id, quantity, (reason or "").strip())
    if client_key:
        earlier = _keyed_movement(actor, client_key)
        if earlier is not None:
            return _same(earlier, fingerprint)
    return _move_stock(actor, product, quantity, StockChange.RESTOCK, reason, client_key, fingerprint)


def correct_stock(actor: User, product: Product, counted: int, reason: str,
                  client_key: str | None = None) -> StockMovement | None:
    """盘点调整: the shelf holds counted, whatever the books said; the difference is a movement with its reason.
    None when they agree. The product is locked before its stock is read, so a redemption at the counter meanwhile
    is counted in. Under a client_key used before (by this account) for the same count, the movement made then.
    Raises Forbidden, DomainError("invalid_stock" | "reason_required" | "reason_too_long"
    | "idempotency_key_reused")."""
    policy.require(actor, RUN_SHOP, product.shop.village_id)
    if not _whole(counted) or not 0 <= counted <= MAX_STOCK:
        raise DomainError("invalid_stock", limit=MAX_STOCK)
    if not (reason or "").strip():
        raise DomainError("reason_required")
    fingerprint = _fingerprint("count", product.id, counted, reason.strip())
    if client_key:
        earlier = _keyed_movement(actor, client_key)
        if earlier is not None:
            return _same(earlier, fingerprint)
    # The write that locks the row (and, on SQLite, the database) before the stock is read.
    db.session.execute(update(Product).where(Product.id == product.id).values(stock=Product.stock))
    db.session.refresh(product, ["stock"])
    if counted == product.stock:
        return None
    return _move_stock(actor, product, counted - product.stock, StockChange.CORRECTION, reason, client_key,
                       fingerprint)


def _keyed_movement(actor: User, client_key: str) -> StockMovement | None:
    return db.session.scalar(select(StockMovement).where(StockMovement.actor_id == actor.id,
                                                         StockMovement.client_key == client_key))


def _move_stock(actor: User, product: Product, quantity: int, kind: StockChange, reason: str,
                client_key: str | None = None, fingerprint: str | None = None) -> StockMovement:
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise DomainError("reason_too_long", limit=MAX_REASON)
    # Relative to the row as it is now: a redemption at the counter meanwhile is not overwritten.
    db.session.execute(update(Product).where(Product.id == product.id).values(stock=Product.stock + quantity))
    db.session.refresh(product, ["stock"])
    movement = StockMovement(product_id=product.id, quantity=quantity, kind=kind, reason=reason,
                             actor_id=actor.id, client_key=client_key or None, fingerprint=fingerprint)
    db.session.add(movement)
    db.session.flush()
    record(actor, f"stock.{kind.value}", "product", product.id, product.shop.village_id,
           before={"stock": product.stock - quantity}, after={"stock": product.stock, "reason": reason})
    return movement


# ---------------------------------------------------------------------------------------------------- the counter


def shop_of(shop_id: int) -> Shop:
    """The shop with its village's 公示 settings (what a redemption asks of them). Raises NotFound."""
    return counter(shop_id, [])[0]


def counter(shop_id: int, product_ids: list[int]) -> tuple[Shop, dict[int, Product]]:
    """The shop with its village's 公示 settings, and those of product_ids that are its products (a basket's, for
    redeem()), by one statement of the tables whose rows attach() makes the session's objects: the counter's hot
    path. Raises NotFound."""
    # A basket redeem() refuses anyway (too many lines, an id that is none) is not read ahead.
    ids = sorted(set(product_ids)) if len(product_ids) <= MAX_LINES and all(map(_row_id, product_ids)) else []
    found = (connection().execute(_shop_statement(bool(ids)), {"id": shop_id, **({"products": ids} if ids else {})})
             .all() if _row_id(shop_id) else None)
    if not found:
        raise NotFound()
    row = found[0]._mapping
    shop = attach(Shop, {c.name: row[c] for c in _SHOPS.columns})
    set_committed_value(shop, "ledger_settings", attach(LedgerSettings, {c.name: row[c] for c in _SETTINGS.columns})
                        if row[_SETTINGS.c.village_id] is not None else None)
    shelf = {line._mapping[_PRODUCTS.c.id]: attach(Product, {c.name: line._mapping[c] for c in _PRODUCTS.columns})
             for line in (found if ids else ()) if line._mapping[_PRODUCTS.c.id] is not None}
    return shop, shelf


_SHOPS, _SETTINGS = Shop.__table__, LedgerSettings.__table__


@functools.cache
def _shop_statement(with_products: bool):
    statement = (select(_SHOPS, _SETTINGS).select_from(_SHOPS)
                 .outerjoin(_SETTINGS, _SETTINGS.c.village_id == _SHOPS.c.village_id)
                 .where(_SHOPS.c.id == bindparam("id")))
    if not with_products:
        return statement
    return statement.add_columns(_PRODUCTS).outerjoin(_PRODUCTS, and_(
        _PRODUCTS.c.shop_id == _SHOPS.c.id, _PRODUCTS.c.id.in_(bindparam("products", expanding=True))))


def customer(actor: User, shop: Shop, *, card: str | None = None, number: str | None = None,
             household_id: int | None = None) -> tuple[Household, HouseholdCard | None]:
    """The household at the counter, by its card (as scanned), its 户号 (leading zeros optional) or its id, and the
    card it showed.

    Raises Forbidden, NotFound, DomainError("invalid_card" | "card_revoked" | "card_other_village"
    | "unknown_household_number" | "ambiguous_household_number")."""
    policy.require(actor, RUN_SHOP, shop.village_id)
    shown = None
    if card:
        household = household_of_card(card)
        shown = card_of_household(household)
        if household.village_id != shop.village_id:
            raise DomainError("card_other_village")
    elif number:
        household = _numbered(shop.village_id, number.strip()[:20])
    else:
        household = fetch(Household, household_id) if _row_id(household_id) else None
        if household is None or household.village_id != shop.village_id:
            raise NotFound()
    policy.refuse_own_household(actor, household.id, "own_redemption")
    return household, shown


def _numbered(village_id: int, typed: str) -> Household:
    """Raises DomainError("unknown_household_number" | "ambiguous_household_number" with the 户号 it could mean)."""
    found = households_numbered(village_id, typed)
    if not found:
        raise DomainError("unknown_household_number", number=typed)
    if len(found) > 1:
        raise DomainError("ambiguous_household_number", number=typed, numbers="、".join(h.number for h in found))
    return found[0]


@dataclass
class Redeemed:
    redemption: Redemption
    already: bool  # the same basket, sent again under its key: nothing was redeemed this time
    balance_after: int | None = None  # the household's balance after a redemption made now (None for a repeat)


def redeem(actor: User, shop: Shop, lines: list[tuple[int, int]], *, card: str | None = None,
           household_id: int | None = None, client_key: str | None = None,
           shelf: dict[int, Product] | None = None) -> Redeemed:
    """兑换: the basket's (product id, quantity) lines for a household (by its card or id), all or nothing. shelf: the
    basket's products read with the shop (counter()); those not in it are read here.

    Raises Forbidden, NotFound, DomainError(customer()'s | "empty_basket" | "basket_quantity" | "too_many_lines"
    | "unknown_product" | "product_inactive" | "insufficient_stock" | "insufficient_balance"
    | "idempotency_key_reused")."""
    household, shown = customer(actor, shop, card=card, household_id=household_id)
    basket = _basket(lines)
    products = {p: shelf[p] for p in basket if shelf and p in shelf}
    products.update(fetch_all(Product, [p for p in basket if p not in products]))
    for product_id in basket:
        product = products.get(product_id)
        if product is None or product.shop_id != shop.id:
            raise DomainError("unknown_product")
    fingerprint = _fingerprint(shop.id, household.id, sorted(basket.items()))
    # The household first, then the stock, as a void does.
    balance = hold(household.id)
    redemption = add_unless_taken(Redemption, dict(
        shop_id=shop.id, household_id=household.id, card_id=shown.id if shown else None,
        total=sum(products[p].price * q for p, q in basket.items()), clerk_id=actor.id,
        client_key=client_key or None, fingerprint=fingerprint))
    if redemption is None:  # the key's redemption, made before (a twin's insert waits for the first's to end)
        return _replay(_by_key(actor, client_key), fingerprint)
    for product_id in basket:
        if not products[product_id].active:
            raise DomainError("product_inactive", name=products[product_id].name)
    for product_id, quantity in basket.items():
        _take_stock(products[product_id], quantity)
    # The lines, the movements, the debit and the two audit events by a statement each, not the session's unit of
    # work: this is the counter's hot path. The answer shows the household and the lines: the objects in hand (the
    # lines as written) spare it the queries.
    made = [dict(redemption_id=redemption.id, product_id=p, name=products[p].name, unit=products[p].unit,
                 price=products[p].price, quantity=q) for p, q in basket.items()]
    moved = [dict(product_id=p, quantity=-q, kind=StockChange.REDEMPTION, reason="", redemption_id=redemption.id,
                  actor_id=actor.id, created_at=redemption.created_at) for p, q in basket.items()]
    written = connection()
    written.execute(insert(RedemptionLine.__table__), made if len(made) > 1 else made[0])
    written.execute(insert(StockMovement.__table__), moved if len(moved) > 1 else moved[0])
    set_committed_value(redemption, "household", household)
    set_committed_value(redemption, "lines", [RedemptionLine(**line) for line in made])
    settings = shop.ledger_settings
    with together():
        entry = post_entry(household.id, -redemption.total, EntrySource.REDEMPTION, f"redemption:{redemption.id}",
                           actor=actor, note=f"{shop.name} {redemption.number}"[:200], new_key=True,
                           pending_since=pending_since(settings, local_today()) if settings is not None else None)
        written.execute(_DEBITED, dict(redemption=redemption.id, entry=entry.id))
        set_committed_value(redemption, "entry_id", entry.id)
        record(actor, "redemption.made", "redemption", redemption.id, household.grid_id,
               after={"household": household.number, "total": redemption.total,
                      "lines": {products[p].name: q for p, q in basket.items()}})
    return Redeemed(redemption, already=False, balance_after=balance - redemption.total)


_REDEMPTIONS = Redemption.__table__
_DEBITED = (update(_REDEMPTIONS).where(_REDEMPTIONS.c.id == bindparam("redemption"))
            .values(entry_id=bindparam("entry")))


def _basket(lines: list[tuple[int, int]]) -> dict[int, int]:
    """The lines merged per product, in product id order (the order stock is locked in)."""
    if not lines:
        raise DomainError("empty_basket")
    if len(lines) > MAX_LINES:
        raise DomainError("too_many_lines", limit=MAX_LINES)
    merged: dict[int, int] = defaultdict(int)
    for product_id, quantity in lines:
        if not _whole(product_id):
            raise DomainError("unknown_product")
        if not _whole(quantity) or quantity < 1:
            raise DomainError("basket_quantity", limit=MAX_QUANTITY)
        merged[product_id] += quantity
        if merged[product_id] > MAX_QUANTITY:
            raise DomainError("basket_quantity", limit=MAX_QUANTITY)
    return dict(sorted(merged.items()))


def _by_key(actor: User, client_key: str) -> Redemption | None:
    return db.session.scalar(select(Redemption).where(Redemption.clerk_id == actor.id,
                                                      Redemption.client_key == client_key))


def _replay(earlier: Redemption, fingerprint: str) -> Redeemed:
    return Redeemed(_same(earlier, fingerprint), already=True)


_PRODUCTS = Product.__table__
# The table's statement, not the entity's: the session would look for the product among its objects to update it.
_TAKE = (update(_PRODUCTS).where(_PRODUCTS.c.id == bindparam("product"), _PRODUCTS.c.active.is_(True),
                                 _PRODUCTS.c.stock >= bindparam("quantity"))
         .values(stock=_PRODUCTS.c.stock - bindparam("quantity")).returning(_PRODUCTS.c.stock))


def _take_stock(product: Product, quantity: int) -> None:
    left = connection().execute(_TAKE, dict(product=product.id, quantity=quantity)).scalar()
    if left is not None:
        set_committed_value(product, "stock", left)
        return
    db.session.refresh(product, ["stock", "active"])
    if not product.active:
        raise DomainError("product_inactive", name=product.name)
    raise DomainError("insufficient_stock", status=409, name=product.name, stock=product.stock, needed=quantity)


# ---------------------------------------------------------------------------------------------------- voids


def may_void(actor: User, redemption: Redemption) -> bool:
    """The clerk voids on the day of the redemption; later, only whoever may void any day (the village admin): as
    policy.may_void_redemption says, for the pages, the API and void alike."""
    return policy.may_void_redemption(actor, redemption.shop.village_id, utc_to_local(redemption.created_at).date(),
                                      utc_to_local(utcnow()).date())


def void(actor: User, redemption: Redemption, reason: str) -> Redemption:
    """作废: the debit is reversed and the stock returned, once; voiding again changes nothing.

    Raises Forbidden, DomainError("reason_required" | "reason_too_long")."""
    if not may_void(actor, redemption):
        raise Forbidden()
    policy.refuse_own_household(actor, redemption.household_id, "own_redemption")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("reason_required")
    if len(reason) > MAX_REASON:
        raise DomainError("reason_too_long", limit=MAX_REASON)
    voided = db.session.execute(update(Redemption).where(Redemption.id == redemption.id,
                                                         Redemption.voided_at.is_(None))
                                .values(voided_at=utcnow(), voided_by_id=actor.id, void_reason=reason))
    db.session.refresh(redemption)
    if voided.rowcount == 0:
        return redemption
    hold(redemption.household_id)  # the household before the stock, as at the counter
    for line in sorted(redemption.lines, key=lambda line: line.product_id):
        db.session.execute(update(Product).where(Product.id == line.product_id)
                           .values(stock=Product.stock + line.quantity))
        db.session.add(StockMovement(product_id=line.product_id, quantity=line.quantity, kind=StockChange.VOID,
                                     reason=reason, redemption_id=redemption.id, actor_id=actor.id))
    entry = reverse_entry(redemption.entry_id, f"redemption:{redemption.id}:void", actor, note=reason, voiding=True)
    redemption.void_entry_id = entry.id
    db.session.flush()
    record(actor, "redemption.voided", "redemption", redemption.id, redemption.household.grid_id,
           after={"household": redemption.household.number, "total": redemption.total, "reason": reason})
    return redemption


@blocks_retirement
def _shops_left(node_ids: Select) -> list[str]:
    """A village keeps its 积分超市 (and the points spent there) while it has one."""
    count = db.session.scalar(select(func.count()).select_from(Shop).where(Shop.village_id.in_(node_ids)))
    return [_("%(n)d 个积分超市", n=count)] if count else []
