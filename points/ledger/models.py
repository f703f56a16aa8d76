"""Ledger entries, each household's cached balance, and per-period totals, all written by services.py alone."""
import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.labels import register_words
from ..auth.models import User
from ..errors import register_messages
from ..extensions import db, value_enum
from ..rules.models import RuleCategory, RuleVersion
from ..timeutil import utcnow


class EntrySource(str, enum.Enum):
    INSPECTION = "inspection"  # 卫生评比
    ATTENDANCE = "attendance"  # 志愿活动签到
    CLAIM = "claim"  # 积分申报
    MANUAL = "manual"  # 网格员加分、扣分
    REDEMPTION = "redemption"  # 积分超市兑换
    REVERSAL = "reversal"  # 冲正
    EXPIRY = "expiry"  # 过期
    REPORT = "report"  # 民情诉求: a report found valid
    WISH = "wish"  # 微心愿: a wish fulfilled
    DUTY = "duty"  # 网格员履职: a worker's duty, earned into the worker's own household


SOURCE_LABELS = {
    EntrySource.INSPECTION: _l("卫生评比"),
    EntrySource.ATTENDANCE: _l("志愿活动"),
    EntrySource.CLAIM: _l("积分申报"),
    EntrySource.MANUAL: _l("网格员记分"),
    EntrySource.REDEMPTION: _l("积分兑换"),
    EntrySource.REVERSAL: _l("冲正"),
    EntrySource.EXPIRY: _l("积分过期"),
    EntrySource.REPORT: _l("民情诉求"),
    EntrySource.WISH: _l("微心愿"),
    EntrySource.DUTY: _l("网格员履职"),
}


class LedgerEntry(db.Model):
    """One signed movement of a household's points. Never updated or deleted: a reversal undoes it."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_ledger_entries_idempotency_key"),
        # A reversal undoes exactly one entry, and an entry is undone at most once.
        UniqueConstraint("reverses_id", name="uq_ledger_entries_reverses_id"),
        CheckConstraint("amount != 0", name="amount_not_zero"),
        Index("ix_ledger_entries_household_time", "household_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    # Who earned it, where there is one person (volunteer rankings count residents).
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="RESTRICT"), index=True)
    amount: Mapped[int]
    rule_version_id: Mapped[int | None] = mapped_column(ForeignKey("rule_versions.id", ondelete="RESTRICT"))
    # The rule's category, kept on the entry so that totals per category need no join.
    category: Mapped[RuleCategory | None] = mapped_column(value_enum(RuleCategory, "rule_category", 24))
    source: Mapped[EntrySource] = mapped_column(value_enum(EntrySource, "entry_source", 16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The local (Asia/Shanghai) day the points belong to: it decides the week, month, quarter and year.
    occurred_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(String(200), default="")
    idempotency_key: Mapped[str] = mapped_column(String(100))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id", ondelete="RESTRICT"))
    # Volunteer hours the entry stands for (time at an event, or a per-hour rule's quantity); negative in a reversal.
    hours: Mapped[int] = mapped_column(default=0)

    rule_version: Mapped[RuleVersion | None] = relationship()
    actor: Mapped[User | None] = relationship()
    # The reversal that undid this entry, if any (reverses_id is unique, so there is at most one).
    reversed_by: Mapped["LedgerEntry | None"] = relationship(
        primaryjoin="LedgerEntry.id == foreign(LedgerEntry.reverses_id)", uselist=False, viewonly=True
    )

    @property
    def is_deduction(self) -> bool:
        """A deduction a household may appeal (申诉): points lost, neither a reversal nor spending at the shop."""
        return self.amount < 0 and self.source not in (EntrySource.REVERSAL, EntrySource.REDEMPTION)

    @property
    def reversible(self) -> bool:
        """冲正 may undo it: not a reversal, not undone already, not a redemption's debit (voided at the shop), not a
        worker's duty points (undone with their 履职记录)."""
        return self.reverses_id is None and self.reversed_by is None and \
            self.source not in (EntrySource.REDEMPTION, EntrySource.DUTY)


class BatchKey(db.Model):
    """What a batch (批量加分) asked under its idempotency key. Its entries are keyed per household, which tells a
    retry from a new batch only for the households both name: this row tells a resubmission from another batch sent
    under the same key."""

    __tablename__ = "batch_keys"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))


class HouseholdBalance(db.Model):
    """The cached sum of a household's entries; its row is also the lock that serializes postings to it."""

    __tablename__ = "household_balances"

    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"), primary_key=True)
    balance: Mapped[int] = mapped_column(default=0)


class PeriodTotal(db.Model):
    """The sum of a household's entries in one period, overall or for one resident and/or one category: what the
    leaderboards read.

    resident_id 0 and category '' mean "all": they are part of the key, so they cannot be NULL.
    period: 'W2026-47' (ISO week), 'M2026-11', 'Q2026-4', 'Y2026' or 'ALL'.
    deducted: the points lost to penalties (a positive number; a reversed penalty gives them back), for the 黑榜.
    """

    __tablename__ = "period_totals"
    __table_args__ = (
        Index("ix_period_totals_period_total", "period", "category", "resident_id", "total"),
        # The 黑榜's: penalties are few, so only the totals with some are indexed; the household orders the many
        # ties of a few round figures, so that a walk down the index stops at its limit.
        Index("ix_period_totals_deducted", "period", "category", "resident_id", "deducted", "household_id",
              sqlite_where=text("deducted > 0"), postgresql_where=text("deducted > 0")),
        # The residents' rankings: a resident's totals ordered within a period and category.
        Index("ix_period_totals_residents", "period", "category", "total", "resident_id",
              sqlite_where=text("resident_id > 0"), postgresql_where=text("resident_id > 0")),
    )

    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"), primary_key=True)
    resident_id: Mapped[int] = mapped_column(primary_key=True, default=0)
    category: Mapped[str] = mapped_column(String(24), primary_key=True, default="")
    total: Mapped[int] = mapped_column(default=0)
    entries: Mapped[int] = mapped_column(default=0)
    deducted: Mapped[int] = mapped_column(default=0)
    hours: Mapped[int] = mapped_column(default=0)


class DutyRecord(db.Model):
    """履职记录: points a grid worker earned for their duty (a report finished in time, a visit), under a 网格员履职
    rule, whether or not the worker lives in the village. A worker who is a resident earns them into their household
    too (entry: posted under the same rule, naming them as the earner); the 履职 ranking of staff reads these rows.
    Never updated or deleted: a negative row reverses one."""

    __tablename__ = "duty_records"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_duty_records_idempotency_key"),
        UniqueConstraint("reverses_id", name="uq_duty_records_reverses_id"),
        CheckConstraint("amount != 0", name="duty_amount_not_zero"),
        Index("ix_duty_records_worker_day", "worker_id", "occurred_on"),
        Index("ix_duty_records_village_day", "village_id", "occurred_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    rule_version_id: Mapped[int] = mapped_column(ForeignKey("rule_versions.id", ondelete="RESTRICT"))
    amount: Mapped[int]
    occurred_on: Mapped[date]
    note: Mapped[str] = mapped_column(String(200), default="")
    idempotency_key: Mapped[str] = mapped_column(String(100))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id", ondelete="RESTRICT"))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("duty_records.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    worker: Mapped[User] = relationship(foreign_keys=[worker_id])
    rule_version: Mapped[RuleVersion] = relationship()


register_words(
    actions={
        "duty.earned": _l("履职积分"),
        "duty.reversed": _l("撤销履职积分"),
        "entry.posted": _l("记积分"),
        "entry.reversed": _l("冲正"),
    },
    fields={
        "balance": _l("余额"),
        "amount": _l("积分"),
        "source": _l("来源"),
        "rule": _l("细则"),
        "reverses": _l("冲正的记录"),
        "posted": _l("记分笔数"),
        "reversed": _l("冲正笔数"),
    },
    values=(SOURCE_LABELS,),
)
register_messages({
    "duty_reversed_with_record": _l("网格员履职积分只能随它的诉求一起撤销，不能单独冲正"),
})
