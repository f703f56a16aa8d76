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
from ..people.models import Household
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
        """A deduction a household may appeal (申诉): points lost, neither a reversal, nor spending at the shop, nor a
        清零."""
        return self.amount < 0 and self.source not in (EntrySource.REVERSAL, EntrySource.REDEMPTION, EntrySource.EXPIRY)

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
    # The household's latest bar on redeeming (in force, to come or past; None: never barred): read with the lock that
    # every redemption takes anyway, so that checking it costs no statement unless there is one.
    bar_id: Mapped[int | None] = mapped_column(ForeignKey("redemption_bars.id", ondelete="RESTRICT"))


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


class GridPeriodTotal(db.Model):
    """The overall period totals (resident_id 0) of a grid's households added up: what the grid and village boards
    read, a few hundred rows for a town whose households' totals are tens of thousands. Written with the period
    totals' transaction at its commit (ledger.totals), moved when a household moves to another grid, taken off (and
    back) when it leaves the register (and is reopened).

    grid_id: the grid the households are in now, not the one they were in when the points were earned.
    active: how many of the grid's households on the register in the period have a total in it and the category. A
    grid that a move or a closure left without any has no row: the rows are exactly the totals of the households on
    the register in each period (people.queries.on_register) grouped by their grids.
    Keys as PeriodTotal's: category '' means all of them.
    """

    __tablename__ = "grid_period_totals"

    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"), primary_key=True)
    category: Mapped[str] = mapped_column(String(24), primary_key=True, default="")
    total: Mapped[int] = mapped_column(default=0)
    active: Mapped[int] = mapped_column(default=0)


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


class ExpiryMode(str, enum.Enum):
    NONE = "none"  # points never expire (the default)
    RESET = "reset"  # 每年清零 on a day of the year, keeping a share or up to a cap
    ROLLING = "rolling"  # points expire a number of months after the month they were earned in


EXPIRY_MODE_LABELS = {ExpiryMode.NONE: _l("不清零"), ExpiryMode.RESET: _l("每年清零"),
                      ExpiryMode.ROLLING: _l("到期作废")}


class LedgerSettings(db.Model):
    """A village's 公示 and expiry of points (a village without a row has the defaults)."""

    __tablename__ = "ledger_settings"
    __table_args__ = (
        CheckConstraint("objection_days BETWEEN 0 AND 28", name="objection_days_in_range"),
        CheckConstraint("carry_percent BETWEEN 0 AND 100 AND (carry_cap IS NULL OR carry_cap >= 0)",
                        name="carry_in_range"),
        CheckConstraint("expiry_months BETWEEN 1 AND 120", name="expiry_months_in_range"),
    )

    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"), primary_key=True)
    # A month's 公示 opens on the first of the next month and lasts this many days: objections are taken until then.
    objection_days: Mapped[int] = mapped_column(default=7)
    # A change of the days applies to the months not over when it was made (from objection_days_since, a month's first
    # day); the months before keep the days they were published with (objection_days_before).
    objection_days_since: Mapped[date | None]
    objection_days_before: Mapped[int | None]
    # Points count at the counter only once their month's 公示 has ended (False: at once).
    spend_after_publicity: Mapped[bool] = mapped_column(default=False)
    expiry: Mapped[ExpiryMode] = mapped_column(value_enum(ExpiryMode, "expiry_mode", 8), default=ExpiryMode.NONE)
    # RESET: the first day the points are cleared on, then the same day every year (a day of 1–28: every year has it).
    reset_on: Mapped[date | None]
    carry_percent: Mapped[int] = mapped_column(default=0)  # RESET: the share of the points cleared that is kept…
    carry_cap: Mapped[int | None]  # …up to this many (None: no cap)
    expiry_months: Mapped[int] = mapped_column(default=24)  # ROLLING: months after the month a point was earned in
    # No clearing falls before this day: a month after 清零 was turned on or its day or months changed, so that every
    # household is told a month ahead.
    expiry_from: Mapped[date | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ExpiryRun(db.Model):
    """One 清零 of a village for one period (period: its day, '2027-01-10', for a yearly reset; 'M2027-03' for a monthly
    expiry):
    made once, whoever runs it and however often. Its entries are keyed by the run's period and household."""

    __tablename__ = "expiry_runs"
    __table_args__ = (UniqueConstraint("village_id", "period", name="uq_expiry_runs_village_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    period: Mapped[str] = mapped_column(String(10))
    # Points dated before this day expire (less what is kept).
    cutoff: Mapped[date]
    households: Mapped[int] = mapped_column(default=0)
    points: Mapped[int] = mapped_column(default=0)  # cleared, a positive number
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[datetime | None]
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    undone_by: Mapped[User | None] = relationship(foreign_keys=[undone_by_id])


class RedemptionBar(db.Model):
    """A household barred from redeeming at the shop from starts_on to ends_on (both included), with the reason: a
    penalty of the rule book (赌博, 违建 …), set by an admin or by a penalty under a rule that bars (entry_id; the
    penalty's reversal lifts it). Lifted early by an admin, on the household's appeal or not."""

    __tablename__ = "redemption_bars"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="bar_ends_after_start"),
        UniqueConstraint("entry_id", name="uq_redemption_bars_entry_id"),
        Index("ix_redemption_bars_household", "household_id", "starts_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    reason: Mapped[str] = mapped_column(String(200))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The household's appeal (申诉), once.
    appeal: Mapped[str] = mapped_column(String(500), default="")
    appealed_at: Mapped[datetime | None]
    lifted_at: Mapped[datetime | None]
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lift_note: Mapped[str] = mapped_column(String(200), default="")

    household: Mapped[Household] = relationship()
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    lifted_by: Mapped[User | None] = relationship(foreign_keys=[lifted_by_id])

    def status_on(self, day: date) -> str:
        """in_force 生效中, upcoming 未开始, ended 已结束 or lifted 已解除 (early, by an admin)."""
        if self.lifted_at is not None:
            return "lifted"
        if self.ends_on < day:
            return "ended"
        return "upcoming" if self.starts_on > day else "in_force"

    def in_force(self, day: date) -> bool:
        return self.status_on(day) == "in_force"


register_words(
    actions={
        "duty.earned": _l("履职积分"),
        "duty.reversed": _l("撤销履职积分"),
        "entry.posted": _l("记积分"),
        "entry.reversed": _l("冲正"),
        "ledger_settings.updated": _l("修改公示和清零设置"),
        "expiry.run": _l("积分清零"),
        "expiry.undone": _l("撤销积分清零"),
        "bar.set": _l("限制兑换"),
        "bar.appealed": _l("对限制兑换申诉"),
        "bar.lifted": _l("解除限制兑换"),
    },
    fields={
        "balance": _l("余额"),
        "amount": _l("积分"),
        "source": _l("来源"),
        "rule": _l("细则"),
        "reverses": _l("冲正的记录"),
        "posted": _l("记分笔数"),
        "reversed": _l("冲正笔数"),
        "objection_days": _l("公示异议天数"),
        "spend_after_publicity": _l("公示结束后才能兑换"),
        "expiry": _l("清零方式"),
        "reset_on": _l("清零日期"),
        "carry_percent": _l("保留比例"),
        "carry_cap": _l("最多保留"),
        "expiry_months": _l("有效月数"),
        "starts_on": _l("开始日期"),
        "ends_on": _l("结束日期"),
        "appeal": _l("申诉"),
    },
    values=(SOURCE_LABELS, EXPIRY_MODE_LABELS),
)
register_messages({
    "duty_reversed_with_record": _l("网格员履职积分只能随它的诉求一起撤销，不能单独冲正"),
    "points_pending": _l("可用积分只有 %(available)d 分（另有 %(pending)d 分还在公示期，公示结束后才能用），"
                         "这次需要 %(needed)d 分"),
    "redemption_barred": _l("这户被限制兑换到 %(until)s：%(reason)s"),
    "own_bar": _l("不能限制或解除自己家的兑换，请村里其他管理员处理"),
    "bar_ends_before_start": _l("限制的结束日期不能早于开始日期"),
    "bar_ends_in_past": _l("限制的结束日期已经过去了，请选今天或以后的日期"),
    "bar_too_long": _l("一次最多限制兑换 %(most)d 天"),
    "bar_starts_too_late": _l("限制的开始日期最晚只能在 %(most)d 天以后"),
    "bar_reason_required": _l("请写明限制兑换的原因（最多 200 字）"),
    "bar_already_lifted": _l("这项限制已经解除了"),
    "bar_already_appealed": _l("这项限制已经申诉过了，请等村里处理"),
    "bar_not_in_force": _l("这项限制已经结束，不用再申诉"),
    "appeal_reason_required": _l("请写明申诉理由（最多 500 字）"),
    "expiry_off": _l("本村没有设置积分清零"),
    "expiry_not_due": _l("还没到清零日期（%(day)s），不能提前清零"),
    "expiry_already_run": _l("这一期已经清零过了（%(when)s），不会重复清零"),
    "expiry_already_undone": _l("这次清零已经撤销过了"),
    "reset_day_in_past": _l("清零日期 %(day)s 已经过去了：新的清零日期要在今天以后"),
    "reset_day_too_soon": _l("清零日期最早只能定在 %(day)s：要提前一个月告诉各户，让他们先去兑换"),
    "invalid_ledger_settings": _l("公示和清零设置不对：%(what)s"),
})
