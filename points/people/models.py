"""Households (户) and residents (村民)."""
import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db, value_enum
from ..timeutil import utcnow
from ..grids.models import GridNode


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

    household: Mapped[Household] = relationship(back_populates="residents", foreign_keys=[household_id])
