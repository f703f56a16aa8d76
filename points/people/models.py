"""Households (户) and residents (村民)."""
import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db, value_enum
from ..grids.models import GridNode
from ..timeutil import utcnow


class HouseholdKind(str, enum.Enum):
    """Selects the rule book: 户籍村民 or 外来租住人员."""

    REGISTERED = "registered"
    RENTER = "renter"


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
        Index("ix_households_grid", "grid_id"),
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
