"""走访 (敲门行动): visits logged by grid workers, the village's settings (the 网格员履职 rule a visit earns under, the
敲门 round for every household) and how often each care tag must be visited; the reminders the sweep sent."""
import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.labels import register_words
from ..auth.models import User
from ..errors import register_messages
from ..extensions import db, value_enum
from ..grids.models import GridNode
from ..people.models import CareTag, Household
from ..timeutil import utcnow


class VisitKind(str, enum.Enum):
    ROUTINE = "routine"  # 例行走访
    CARE = "care"  # 关爱走访
    POLICY = "policy"  # 政策宣传
    OTHER = "other"  # 其他


VISIT_KIND_LABELS = {VisitKind.ROUTINE: _l("例行走访"), VisitKind.CARE: _l("关爱走访"),
                     VisitKind.POLICY: _l("政策宣传"), VisitKind.OTHER: _l("其他")}


class Unearned(str, enum.Enum):
    """Why a visit earned no 履职 points (it stands all the same)."""

    NO_RULE = "no_rule"  # the village has set no 网格员履职 rule for visits, or it is not in force
    CAP = "cap"  # the rule's cap is reached
    REPEAT = "repeat"  # the worker visited the household that day already: one visit a day earns
    PAST_MONTH = "past_month"  # logged for a day of an ended month: that month's points are closed


UNEARNED_LABELS = {Unearned.NO_RULE: _l("村里还没有设置走访的履职积分细则"),
                   Unearned.CAP: _l("本期走访积分已达到细则上限"),
                   Unearned.REPEAT: _l("当天已走访过这一户，同一户每天只计一次履职积分"),
                   Unearned.PAST_MONTH: _l("走访日期不在本月，补记以前月份的走访不计履职积分")}


class Visit(db.Model):
    """One visit of a worker to a household. Never updated nor deleted (its points, if any, are in DutyRecord)."""

    __tablename__ = "visits"
    __table_args__ = (
        # A retried submission (the same Idempotency-Key from the same account) makes one visit.
        UniqueConstraint("worker_id", "client_key", name="uq_visits_worker_client_key"),
        Index("ix_visits_household_day", "household_id", "visited_on"),
        Index("ix_visits_worker_day", "worker_id", "visited_on"),
        Index("ix_visits_village_day", "village_id", "visited_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    visited_on: Mapped[date]
    kind: Mapped[VisitKind] = mapped_column(value_enum(VisitKind, "visit_kind", 16))
    note: Mapped[str] = mapped_column(String(300), default="")  # staff-only
    # The one optional photo: a random name under UPLOAD_FOLDER, re-encoded as JPEG without EXIF.
    photo_filename: Mapped[str | None] = mapped_column(String(64))
    photo_width: Mapped[int | None]
    photo_height: Mapped[int | None]
    duty_id: Mapped[int | None] = mapped_column(ForeignKey("duty_records.id", ondelete="RESTRICT"))
    unearned: Mapped[Unearned | None] = mapped_column(value_enum(Unearned, "visit_unearned", 16))
    client_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    household: Mapped[Household] = relationship()
    grid: Mapped[GridNode] = relationship(foreign_keys=[grid_id])
    worker: Mapped[User] = relationship()


class VisitSettings(db.Model):
    """A village's 走访 settings: the 网格员履职 rule each visit earns under, and the 敲门行动 round (every open
    household visited once per knock_days; 0: no round). since: the day the settings were first saved, from which a
    household never visited is counted."""

    __tablename__ = "visit_settings"

    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="CASCADE"), primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("rules.id", ondelete="SET NULL"))
    knock_days: Mapped[int] = mapped_column(default=30)
    since: Mapped[date]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class VisitCadence(db.Model):
    """How often a household with a care tag must be visited in a village (空巢老人 every 14 days). since: the day the
    cadence was set, from which a household never visited is counted."""

    __tablename__ = "visit_cadences"

    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[CareTag] = mapped_column(value_enum(CareTag, "visit_cadence_tag", 24), primary_key=True)
    days: Mapped[int]
    since: Mapped[date]


class VisitReminder(db.Model):
    """The sweep told a grid's staff of its overdue visits on a local day: once per grid and day."""

    __tablename__ = "visit_reminders"
    __table_args__ = (UniqueConstraint("grid_id", "day", name="uq_visit_reminders_grid_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="CASCADE"))
    day: Mapped[date]
    overdue: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


register_words(
    actions={
        "visit.logged": _l("记录走访"),
        "visit.settings_saved": _l("修改走访设置"),
    },
    fields={
        "visited_on": _l("走访日期"),
        "visit_kind": _l("走访类型"),
        "knock_days": _l("敲门行动周期（天）"),
        "cadences": _l("关爱走访周期（天）"),
        "duty_rule": _l("履职积分细则"),
    },
    values=(VISIT_KIND_LABELS,),
)

register_messages({
    "visit_outside_grid": _l("该户不在您负责的网格内，不能记录走访"),
    "visit_own_household": _l("不能给自己家记录走访，请由其他网格员走访"),
    "visit_day_invalid": _l("走访日期不能晚于今天，也不能早于 %(days)d 天前"),
    "visit_kind_invalid": _l("请选择走访类型"),
    "visit_note_too_long": _l("走访情况不能超过 %(limit)d 个字"),
    "visit_household_closed": _l("该户已整户迁出，不能再记录走访"),
    "visit_rule_invalid": _l("请选择本村“网格员履职”类别的积分细则"),
    "visit_days_invalid": _l("走访周期应在 0 到 %(limit)d 天之间（0 表示不要求）"),
    "visit_photo_too_many": _l("每次走访只能上传 1 张照片"),
})
