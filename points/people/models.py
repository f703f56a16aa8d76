"""Households (户), residents (村民) and household cards (户卡)."""
import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.labels import register_words
from ..extensions import db, value_enum
from ..grids.models import GridNode
from ..timeutil import utcnow


class HouseholdKind(str, enum.Enum):
    """Selects the rule book: 户籍村民 or 外来租住人员."""

    REGISTERED = "registered"
    RENTER = "renter"


# Shown to people, translated when rendered: {{ KIND_LABELS[household.kind] }} in a template.
KIND_LABELS = {HouseholdKind.REGISTERED: _l("户籍"), HouseholdKind.RENTER: _l("外来租住")}


class CareTag(str, enum.Enum):
    """Staff-only tags of households that get home visits (the seeds' "red heart" households)."""

    LOW_INCOME = "low_income"  # 低保
    POOR = "poor"  # 贫困
    DISABLED = "disabled"  # 残疾
    EMPTY_NEST = "empty_nest"  # 空巢老人
    LEFT_BEHIND_CHILD = "left_behind_child"  # 留守儿童


class Closure(str, enum.Enum):
    """Why a household left the register: it keeps its ledger and balance, and earns, redeems and ranks no more."""

    MOVED_OUT = "moved_out"  # 整户迁出
    RENTER_LEFT = "renter_left"  # 租户搬离
    OTHER = "other"  # 其他


class Departure(str, enum.Enum):
    """Why a resident left the household: they keep their history and the entries that name them."""

    MOVED_OUT = "moved_out"  # 迁出
    DECEASED = "deceased"  # 死亡
    MARRIED_OUT = "married_out"  # 婚嫁迁出
    OTHER = "other"  # 其他


class Household(db.Model):
    __tablename__ = "households"
    __table_args__ = (
        UniqueConstraint("village_id", "number", name="uq_households_village_number"),
        # With the day it left: a board counts the households on the register per grid from the index alone.
        Index("ix_households_grid", "grid_id", "closed_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    # 户号: unique within the village, printed on the household card.
    number: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(200))
    kind: Mapped[HouseholdKind] = mapped_column(value_enum(HouseholdKind, "household_kind", 16))
    head_id: Mapped[int | None] = mapped_column(
        ForeignKey("residents.id", use_alter=True, name="fk_households_head_id_residents", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # 整户迁出: the day it left (local), and why; None while it is on the register.
    closed_on: Mapped[date | None]
    closure: Mapped[Closure | None] = mapped_column(value_enum(Closure, "household_closure", 16))

    grid: Mapped[GridNode] = relationship(foreign_keys=[grid_id])
    village: Mapped[GridNode] = relationship(foreign_keys=[village_id])
    residents: Mapped[list["Resident"]] = relationship(
        back_populates="household", foreign_keys="Resident.household_id", order_by="Resident.id"
    )
    head: Mapped["Resident | None"] = relationship(foreign_keys=[head_id], post_update=True)
    care_tags: Mapped[list["HouseholdCareTag"]] = relationship(
        cascade="all, delete-orphan", order_by="HouseholdCareTag.tag"
    )


class HouseholdCareTag(db.Model):
    __tablename__ = "household_care_tags"

    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[CareTag] = mapped_column(
        value_enum(CareTag, "care_tag", 24), primary_key=True
    )


class Resident(db.Model):
    __tablename__ = "residents"
    __table_args__ = (
        UniqueConstraint("id_number", name="uq_residents_id_number"),
        CheckConstraint("length(name) > 0", name="name_not_empty"),
        Index("ix_residents_household", "household_id"),
        Index("ix_residents_name", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(50))
    # 与户主关系: 户主, 配偶, 子女 …
    relation: Mapped[str] = mapped_column(String(20), default="户主")
    phone: Mapped[str | None] = mapped_column(String(20))
    # 身份证号: optional, 18 characters, unique across the system.
    id_number: Mapped[str | None] = mapped_column(String(18))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # 迁出, 死亡, 婚嫁迁出: the day they left the household (local), and why; None while they live in it.
    left_on: Mapped[date | None]
    departure: Mapped[Departure | None] = mapped_column(value_enum(Departure, "resident_departure", 16))

    household: Mapped[Household] = relationship(back_populates="residents", foreign_keys=[household_id])


class HouseholdCard(db.Model):
    """户卡: a printed household card. Its QR holds only the signed code; reissuing revokes the card before. The
    cards are written by auth/cards.py and read by people/cards.py."""

    __tablename__ = "household_cards"
    __table_args__ = (
        UniqueConstraint("code", name="uq_household_cards_code"),
        UniqueConstraint("household_id", "serial", name="uq_household_cards_household_serial"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"), index=True)
    serial: Mapped[int]  # 1 for the first card, 2 for its replacement …, printed on the card
    code: Mapped[str] = mapped_column(String(16))  # random, opaque
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]

    household: Mapped[Household] = relationship()


register_words(
    actions={
        "household.created": _l("新增户"),
        "household.updated": _l("修改户信息"),
        "household.closed": _l("整户迁出"),
        "household.reopened": _l("恢复户"),
        "resident.updated": _l("修改村民信息"),
        "resident.left": _l("村民迁出"),
        "resident.added": _l("新增村民"),
        "households.imported": _l("导入花名册"),
        "households.exported": _l("导出花名册"),
        "household.moved": _l("调整所在网格"),
        "card.issued": _l("发放户卡"),
    },
    fields={
        "resident": _l("村民"),
        "address": _l("地址"),
        "phone": _l("手机号"),
        "id_number": _l("身份证号"),
        "care_tags": _l("关爱标签"),
        "closure": _l("迁出原因"),
        "closed_on": _l("迁出日期"),
        "departure": _l("离开原因"),
        "left_on": _l("离开日期"),
        "head": _l("户主"),
        "relation": _l("关系"),
        "serial": _l("卡序号"),
    },
    values=(KIND_LABELS,),
)
