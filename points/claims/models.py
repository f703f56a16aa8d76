"""Claims with their photos, and appeals of deductions."""
import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.labels import register_words
from ..auth.models import User
from ..extensions import db, value_enum
from ..ledger.models import LedgerEntry
from ..people.models import Household, Resident
from ..rules.models import Rule, RuleVersion
from ..timeutil import utcnow


class ClaimStatus(str, enum.Enum):
    PENDING = "pending"  # 待审核
    APPROVED = "approved"  # 已通过
    REJECTED = "rejected"  # 已驳回


CLAIM_STATUS_LABELS = {ClaimStatus.PENDING: _l("待审核"), ClaimStatus.APPROVED: _l("已通过"),
                       ClaimStatus.REJECTED: _l("已驳回")}


class Claim(db.Model):
    """积分申报: a villager asks for points under a self-claimable rule; a grid worker decides."""

    __tablename__ = "claims"
    __table_args__ = (
        # A retried submission (the same Idempotency-Key from the same account) makes one claim.
        UniqueConstraint("claimant_id", "client_key", name="uq_claims_claimant_client_key"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_claims_status_household", "status", "household_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="RESTRICT"))
    claimant_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id", ondelete="RESTRICT"))
    # The version in force on occurred_on when the claim was made: what the villager was shown.
    rule_version_id: Mapped[int] = mapped_column(ForeignKey("rule_versions.id", ondelete="RESTRICT"))
    quantity: Mapped[int] = mapped_column(default=1)
    occurred_on: Mapped[date]
    note: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[ClaimStatus] = mapped_column(value_enum(ClaimStatus, "claim_status", 16),
                                                default=ClaimStatus.PENDING)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(String(200), default="")  # why it was rejected
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id", ondelete="RESTRICT"))
    client_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    household: Mapped[Household] = relationship()
    resident: Mapped[Resident | None] = relationship()
    claimant: Mapped[User | None] = relationship(foreign_keys=[claimant_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])
    rule: Mapped[Rule] = relationship()
    rule_version: Mapped[RuleVersion] = relationship()
    entry: Mapped[LedgerEntry | None] = relationship()
    photos: Mapped[list["ClaimPhoto"]] = relationship(
        back_populates="claim", cascade="all, delete-orphan", order_by="ClaimPhoto.position"
    )


class ClaimPhoto(db.Model):
    """A photo as stored: re-encoded as JPEG without EXIF, at most PHOTO_MAX_SIDE pixels on its long side."""

    __tablename__ = "claim_photos"
    __table_args__ = (UniqueConstraint("claim_id", "position", name="uq_claim_photos_claim_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"))
    position: Mapped[int]
    # A random name under UPLOAD_FOLDER: nothing about the household or the original file.
    filename: Mapped[str] = mapped_column(String(64))
    width: Mapped[int]
    height: Mapped[int]
    size: Mapped[int]

    claim: Mapped[Claim] = relationship(back_populates="photos")


class AppealStatus(str, enum.Enum):
    PENDING = "pending"  # 待处理
    UPHELD = "upheld"  # 维持扣分
    REVERSED = "reversed"  # 已撤销扣分


APPEAL_STATUS_LABELS = {
    AppealStatus.PENDING: _l("待处理"), AppealStatus.UPHELD: _l("维持扣分"), AppealStatus.REVERSED: _l("已撤销扣分")
}


class Appeal(db.Model):
    """申诉: a villager contests a deduction; the village admin upholds it or reverses it. One per entry."""

    __tablename__ = "appeals"
    __table_args__ = (
        UniqueConstraint("entry_id", name="uq_appeals_entry_id"),
        Index("ix_appeals_status_household", "status", "household_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id", ondelete="RESTRICT"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    appellant_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[AppealStatus] = mapped_column(
        value_enum(AppealStatus, "appeal_status", 16), default=AppealStatus.PENDING
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(String(200), default="")
    reversal_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id", ondelete="RESTRICT"))
    client_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    entry: Mapped[LedgerEntry] = relationship(foreign_keys=[entry_id])
    household: Mapped[Household] = relationship()
    appellant: Mapped[User | None] = relationship(foreign_keys=[appellant_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class ObjectionStatus(str, enum.Enum):
    PENDING = "pending"  # 待处理
    ACCEPTED = "accepted"  # 已核实更正: the points were corrected (by 冲正 or a new entry, on its own page)
    DISMISSED = "dismissed"  # 不予采纳


OBJECTION_STATUS_LABELS = {
    ObjectionStatus.PENDING: _l("待处理"), ObjectionStatus.ACCEPTED: _l("已核实更正"),
    ObjectionStatus.DISMISSED: _l("不予采纳"),
}


class Objection(db.Model):
    """异议: during a month's 公示, a villager of the village questions a household's points of that month, their own
    or a neighbour's; the village admin answers it."""

    __tablename__ = "objections"
    __table_args__ = (
        UniqueConstraint("objector_id", "client_key", name="uq_objections_objector_client_key"),
        Index("ix_objections_village_status", "village_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"), index=True)
    month: Mapped[str] = mapped_column(String(7))  # 2026-11
    objector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[ObjectionStatus] = mapped_column(
        value_enum(ObjectionStatus, "objection_status", 16), default=ObjectionStatus.PENDING
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(String(200), default="")
    client_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    household: Mapped[Household] = relationship()
    objector: Mapped[User | None] = relationship(foreign_keys=[objector_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


register_words(
    actions={
        "claim.submitted": _l("提交申报"),
        "claim.approved": _l("通过申报"),
        "claim.rejected": _l("驳回申报"),
        "appeal.submitted": _l("提交申诉"),
        "appeal.upheld": _l("维持扣分"),
        "appeal.reversed": _l("撤销扣分"),
        "objection.submitted": _l("提出公示异议"),
        "objection.accepted": _l("异议核实更正"),
        "objection.dismissed": _l("异议不予采纳"),
    },
    fields={
        "photos": _l("照片"),
    },
    values=(CLAIM_STATUS_LABELS, APPEAL_STATUS_LABELS, OBJECTION_STATUS_LABELS),
)
