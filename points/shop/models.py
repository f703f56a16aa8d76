"""积分超市: a village's shops, their products and stock movements, and redemptions with their lines."""
import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.labels import register_words
from ..auth.models import User
from ..extensions import db, value_enum
from ..grids.models import GridNode
from ..ledger.models import LedgerEntry, LedgerSettings
from ..people.models import Household
from ..timeutil import utcnow


class Shop(db.Model):
    """A village's 积分超市 (or 共享驿站)."""

    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    low_stock: Mapped[int] = mapped_column(default=5)  # a product at or below this many is reported as running out

    village: Mapped[GridNode] = relationship()
    # The village's 公示 settings, loaded with the shop (a redemption asks if points wait for 公示); None: defaults.
    ledger_settings: Mapped[LedgerSettings | None] = relationship(
        primaryjoin="foreign(Shop.village_id) == LedgerSettings.village_id", lazy="joined", viewonly=True)


class Product(db.Model):
    """What a shop offers: a price in points per unit, and the stock on the shelf (never below zero). client_key is
    the Idempotency-Key it was created under, per account."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        UniqueConstraint("created_by_id", "client_key", name="uq_products_creator_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    unit: Mapped[str] = mapped_column(String(10))  # 瓶, 袋, 块 …
    price: Mapped[int]
    stock: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    photo: Mapped[str | None] = mapped_column(String(80))  # a stored JPEG's file name
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    client_key: Mapped[str | None] = mapped_column(String(100))
    fingerprint: Mapped[str | None] = mapped_column(String(64))

    shop: Mapped[Shop] = relationship()


class StockChange(str, enum.Enum):
    RESTOCK = "restock"  # 进货
    CORRECTION = "correction"  # 盘点调整
    REDEMPTION = "redemption"  # 兑换
    VOID = "void"  # 作废兑换，退回库存


CHANGE_LABELS = {StockChange.RESTOCK: _l("进货"), StockChange.CORRECTION: _l("盘点调整"),
                 StockChange.REDEMPTION: _l("兑换"), StockChange.VOID: _l("作废退回")}


class StockMovement(db.Model):
    """Every change of a product's stock, with who, when and why: stock == the sum of a product's movements. A
    restock sent with an Idempotency-Key keeps it (client_key, per account)."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint("quantity != 0", name="quantity_not_zero"),
        UniqueConstraint("actor_id", "client_key", name="uq_stock_movements_actor_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[int]  # signed
    kind: Mapped[StockChange] = mapped_column(value_enum(StockChange, "stock_change", 12))
    reason: Mapped[str] = mapped_column(String(100), default="")
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemptions.id", ondelete="RESTRICT"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    client_key: Mapped[str | None] = mapped_column(String(100))
    fingerprint: Mapped[str | None] = mapped_column(String(64))

    product: Mapped[Product] = relationship()
    actor: Mapped[User | None] = relationship()


class Redemption(db.Model):
    """One basket redeemed at the counter: one debit in the ledger, one stock movement per line. A void reverses the
    debit and returns the stock. client_key is the Idempotency-Key the clerk's page or client sent, per account."""

    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("clerk_id", "client_key", name="uq_redemptions_clerk_key"),
        CheckConstraint("total > 0", name="total_positive"),
        Index("ix_redemptions_shop_created", "shop_id", "created_at"),
        Index("ix_redemptions_household_created", "household_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="RESTRICT"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    card_id: Mapped[int | None] = mapped_column(ForeignKey("household_cards.id", ondelete="RESTRICT"))
    total: Mapped[int]
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id", ondelete="RESTRICT"))
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    client_key: Mapped[str | None] = mapped_column(String(100))
    fingerprint: Mapped[str] = mapped_column(String(64))  # of what was asked, to tell a retry from another basket
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    voided_at: Mapped[datetime | None]
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    void_reason: Mapped[str | None] = mapped_column(String(100))
    void_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id", ondelete="RESTRICT"))

    shop: Mapped[Shop] = relationship()
    household: Mapped[Household] = relationship()
    entry: Mapped[LedgerEntry | None] = relationship(foreign_keys=[entry_id])
    clerk: Mapped[User | None] = relationship(foreign_keys=[clerk_id])
    voided_by: Mapped[User | None] = relationship(foreign_keys=[voided_by_id])
    lines: Mapped[list["RedemptionLine"]] = relationship(back_populates="redemption", order_by="RedemptionLine.id")

    @property
    def number(self) -> str:
        """兑换单号, as printed on the receipt."""
        return f"DH{self.id:08d}"


class RedemptionLine(db.Model):
    __tablename__ = "redemption_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    redemption_id: Mapped[int] = mapped_column(ForeignKey("redemptions.id", ondelete="RESTRICT"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(60))  # the product's name and unit price when it was redeemed
    unit: Mapped[str] = mapped_column(String(10))
    price: Mapped[int]
    quantity: Mapped[int]

    redemption: Mapped[Redemption] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()


register_words(
    actions={
        "shop.created": _l("开设积分超市"),
        "product.created": _l("新增商品"),
        "product.updated": _l("修改商品"),
        "stock.restock": _l("进货"),
        "stock.correction": _l("盘点调整"),
        "redemption.made": _l("积分兑换"),
        "redemption.voided": _l("作废兑换"),
    },
    fields={
        "quantity": _l("数量"),
        "price": _l("价格（积分）"),
        "stock": _l("库存"),
        "total": _l("合计积分"),
        "lines": _l("商品"),
    },
)
