"""志愿活动: events with their check-in codes, the attendances and recurring series."""
import enum
from datetime import date, datetime, time

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.labels import register_words
from ..auth.models import User
from ..extensions import db, value_enum
from ..grids.models import GridNode
from ..ledger.models import LedgerEntry
from ..people.models import Household, Resident
from ..rules.models import Rule
from ..timeutil import utcnow


class CheckinMode(str, enum.Enum):
    IN = "in"  # 只签到
    IN_OUT = "in_out"  # 签到并签退


MODE_LABELS = {CheckinMode.IN: _l("只签到"), CheckinMode.IN_OUT: _l("签到并签退")}


class CheckinMethod(str, enum.Enum):
    SELF = "self"  # the villager scanned the event's code
    CARD = "card"  # staff scanned the household card
    MANUAL = "manual"  # staff picked the name


METHOD_LABELS = {CheckinMethod.SELF: _l("本人扫码"), CheckinMethod.CARD: _l("扫户卡"),
                 CheckinMethod.MANUAL: _l("工作人员登记")}


CHECKOUT_AFTER_MINUTES = 30  # a village without settings: 签退 is offered this long after check-in


class EventSettings(db.Model):
    """A village's settings of its events: how near the event's place a villager's own check-in must be made (the
    browser's location), None for anywhere (the default); how long after checking in 签退 is offered (before it, a
    check-out is confirmed first)."""

    __tablename__ = "event_settings"
    __table_args__ = (CheckConstraint("checkout_after_minutes > 0", name="checkout_after_positive"),)

    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="CASCADE"), primary_key=True)
    fence_meters: Mapped[int | None]
    checkout_after_minutes: Mapped[int] = mapped_column(default=CHECKOUT_AFTER_MINUTES,
                                                        server_default=str(CHECKOUT_AFTER_MINUTES))


class EventSeries(db.Model):
    """A recurring event (环境整治日): the nth weekday of every month (nth -1: the last), from a first month to a
    last."""

    __tablename__ = "event_series"
    __table_args__ = (
        CheckConstraint("nth BETWEEN -1 AND 4 AND nth != 0", name="nth_in_month"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_valid"),
        CheckConstraint("minutes > 0", name="minutes_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(60))
    place: Mapped[str] = mapped_column(String(100))
    capacity: Mapped[int | None]
    organizer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id", ondelete="RESTRICT"))
    mode: Mapped[CheckinMode] = mapped_column(value_enum(CheckinMode, "checkin_mode", 8))
    nth: Mapped[int]  # 1 … 4, or -1 for the last
    weekday: Mapped[int]  # 0 Monday … 6 Sunday
    start_time: Mapped[time]  # local (Asia/Shanghai)
    minutes: Mapped[int]
    first_month: Mapped[date]  # the first day of the first month
    last_month: Mapped[date]  # the first day of the last month


class Event(db.Model):
    """One 志愿活动 of a village (or of one of its grids): a time window, a rule for its points, a check-in mode."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
        CheckConstraint("attendees >= 0", name="attendees_not_negative"),
        UniqueConstraint("series_id", "starts_at", name="uq_events_series_start"),
        Index("ix_events_village_start", "village_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))  # None: all
    title: Mapped[str] = mapped_column(String(60))
    place: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime]  # naive UTC, as every time here
    ends_at: Mapped[datetime]
    capacity: Mapped[int | None]  # None: no limit
    organizer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id", ondelete="RESTRICT"))
    mode: Mapped[CheckinMode] = mapped_column(value_enum(CheckinMode, "checkin_mode", 8))
    series_id: Mapped[int | None] = mapped_column(ForeignKey("event_series.id", ondelete="SET NULL"))
    # Attendances not removed: kept here, and raised by a guarded UPDATE, so that capacity holds under concurrency.
    attendees: Mapped[int] = mapped_column(default=0)
    # Where it takes place (WGS-84, as a phone's browser gives it): with the village's fence, self check-in must be
    # near.
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    # Part of what the printed (static) code signs: a new one invalidates codes printed before.
    code_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    village: Mapped[GridNode] = relationship(foreign_keys=[village_id])
    grid: Mapped[GridNode | None] = relationship(foreign_keys=[grid_id])
    organizer: Mapped[User | None] = relationship(foreign_keys=[organizer_id])
    rule: Mapped[Rule] = relationship()


class Attendance(db.Model):
    """One person at one event: checked in (and out) once; removed by the organizer if wrong, before closing."""

    __tablename__ = "attendances"
    __table_args__ = (
        UniqueConstraint("event_id", "resident_id", name="uq_attendances_event_resident"),
        UniqueConstraint("recorded_by_id", "client_key", name="uq_attendances_recorder_client_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="RESTRICT"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="RESTRICT"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"), index=True)
    method: Mapped[CheckinMethod] = mapped_column(value_enum(CheckinMethod, "checkin_method", 8))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    checked_in_at: Mapped[datetime] = mapped_column(default=utcnow)
    checked_out_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # What closing the event did: the entry it posted, or why it posted none.
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id", ondelete="RESTRICT"))
    hours: Mapped[int | None]
    unpaid_reason: Mapped[str] = mapped_column(String(100), default="")
    # The Idempotency-Key of the check-in that made it (within recorded_by's account), and a digest of what that
    # request asked: a retry with the key answers this attendance, the key with another request is refused.
    client_key: Mapped[str | None] = mapped_column(String(100))
    request_digest: Mapped[str | None] = mapped_column(String(64))

    event: Mapped[Event] = relationship()
    resident: Mapped[Resident] = relationship()
    household: Mapped[Household] = relationship()
    entry: Mapped[LedgerEntry | None] = relationship()


register_words(
    actions={
        "events.fence": _l("设置活动签到范围"),
        "event.created": _l("新建活动"),
        "event.updated": _l("修改活动"),
        "event.checked_in": _l("活动签到"),
        "event.checked_out": _l("活动签退"),
        "events.checkout_after": _l("设置签到后多久可签退"),
        "event.attendance_removed": _l("移除签到"),
        "event.closed": _l("结束活动"),
    },
    fields={
        "fence": _l("签到范围（米）"),
        "checkout_after": _l("签到后多久可签退（分钟）"),
        "located": _l("已定位"),
        "title": _l("标题"),
        "place": _l("地点"),
        "starts_at": _l("开始时间"),
        "ends_at": _l("结束时间"),
        "capacity": _l("人数上限"),
        "mode": _l("签到方式"),
        "method": _l("签到途径"),
        "attendees": _l("参加人数"),
        "paid": _l("记分人数"),
    },
)
