"""民情诉求 (随手拍): a villager's report of a problem with photos, its steps from 提交 to 回访, the village's
categories of reports, and its deadlines and rules."""
import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.labels import register_words
from ..auth.models import User
from ..errors import register_messages
from ..extensions import db, value_enum
from ..grids.models import GridNode
from ..people.models import Household
from ..timeutil import utcnow


class ReportStatus(str, enum.Enum):
    SUBMITTED = "submitted"  # 待受理
    ACCEPTED = "accepted"  # 已受理 (and reopened after a 不满意)
    FINISHED = "finished"  # 已办结, waiting for the reporter's 回访
    CLOSED = "closed"  # 已回访: 满意
    REJECTED = "rejected"  # 不予受理
    VOIDED = "voided"  # 已撤销: found invalid after it was accepted


REPORT_STATUS_LABELS = {
    ReportStatus.SUBMITTED: _l("待受理"), ReportStatus.ACCEPTED: _l("已受理"), ReportStatus.FINISHED: _l("已办结"),
    ReportStatus.CLOSED: _l("已回访"), ReportStatus.REJECTED: _l("不予受理"), ReportStatus.VOIDED: _l("已撤销"),
}
OPEN_STATUSES = (ReportStatus.SUBMITTED, ReportStatus.ACCEPTED)
DONE_STATUSES = (ReportStatus.FINISHED, ReportStatus.CLOSED)


class Feedback(str, enum.Enum):
    SATISFIED = "satisfied"
    UNSATISFIED = "unsatisfied"


FEEDBACK_LABELS = {Feedback.SATISFIED: _l("满意"), Feedback.UNSATISFIED: _l("不满意")}


class StepKind(str, enum.Enum):
    SUBMITTED = "submitted"  # 提交
    ACCEPTED = "accepted"  # 受理
    PROGRESS = "progress"  # 处置
    FINISHED = "finished"  # 办结
    FEEDBACK = "feedback"  # 回访
    ESCALATED = "escalated"  # 升级
    REJECTED = "rejected"  # 不予受理
    VOIDED = "voided"  # 撤销


STEP_LABELS = {
    StepKind.SUBMITTED: _l("提交"), StepKind.ACCEPTED: _l("受理"), StepKind.PROGRESS: _l("处置"),
    StepKind.FINISHED: _l("办结"), StepKind.FEEDBACK: _l("回访"), StepKind.ESCALATED: _l("升级"),
    StepKind.REJECTED: _l("不予受理"), StepKind.VOIDED: _l("撤销"),
}

DEFAULT_CATEGORIES = ("路灯", "道路", "环境卫生", "邻里纠纷", "安全隐患", "其他")


class ReportCategory(db.Model):
    """A kind of report a village offers (路灯, 道路 …); a retired one stays for the reports that name it."""

    __tablename__ = "report_categories"
    __table_args__ = (UniqueConstraint("village_id", "name", name="uq_report_categories_village_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(default=0)
    retired_at: Mapped[datetime | None]


class ReportSettings(db.Model):
    """A village's deadlines and the rules a report's points follow (the defaults while it has no row)."""

    __tablename__ = "report_settings"
    __table_args__ = (
        CheckConstraint("accept_hours > 0", name="accept_hours_positive"),
        CheckConstraint("finish_days > 0", name="finish_days_positive"),
    )

    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="CASCADE"), primary_key=True)
    accept_hours: Mapped[int] = mapped_column(default=24)
    finish_days: Mapped[int] = mapped_column(default=3)
    reward_rule_id: Mapped[int | None] = mapped_column(ForeignKey("rules.id", ondelete="SET NULL"))
    duty_rule_id: Mapped[int | None] = mapped_column(ForeignKey("rules.id", ondelete="SET NULL"))


class Report(db.Model):
    """民情诉求: where it sits (node_id: its grid, or a node above after escalation), who filed it for which
    household, and how far it has gone."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("submitted_by_id", "client_key", name="uq_reports_submitter_client_key"),
        Index("ix_reports_status_deadline", "status", "deadline_at"),
        Index("ix_reports_grid_status", "grid_id", "status"),
        Index("ix_reports_household", "household_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    node_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    category_id: Mapped[int] = mapped_column(ForeignKey("report_categories.id", ondelete="RESTRICT"))
    text: Mapped[str] = mapped_column(String(500), default="")
    place: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[ReportStatus] = mapped_column(value_enum(ReportStatus, "report_status", 16),
                                                 default=ReportStatus.SUBMITTED)
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(200), default="")  # why it was rejected or voided
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    landed_at: Mapped[datetime] = mapped_column(default=utcnow)  # when it arrived at node_id
    accepted_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]  # accepted_at (or the 不满意) + finish_days
    # When it moves up next if nobody acts: landed_at + accept_hours while submitted, the later of due_at and
    # landed_at + finish_days while accepted; None once it no longer waits for the staff.
    deadline_at: Mapped[datetime | None]
    escalations: Mapped[int] = mapped_column(default=0)
    feedback: Mapped[Feedback | None] = mapped_column(value_enum(Feedback, "report_feedback", 16))
    reward_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id", ondelete="RESTRICT"))
    client_key: Mapped[str | None] = mapped_column(String(100))

    household: Mapped[Household] = relationship()
    category: Mapped[ReportCategory] = relationship()
    grid: Mapped[GridNode] = relationship(foreign_keys=[grid_id])
    node: Mapped[GridNode] = relationship(foreign_keys=[node_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    handler: Mapped[User | None] = relationship(foreign_keys=[handler_id])
    photos: Mapped[list["ReportPhoto"]] = relationship(
        back_populates="report", cascade="all, delete-orphan", order_by="ReportPhoto.position")
    steps: Mapped[list["ReportStep"]] = relationship(
        back_populates="report", cascade="all, delete-orphan", order_by="(ReportStep.created_at, ReportStep.id)")

    def is_overdue(self, now: datetime) -> bool:
        """超期 (as queries.overdue_clause): not accepted in time (its deadline passed, or it moved up for it), or
        accepted and not finished by its due time."""
        if self.status is ReportStatus.SUBMITTED:
            return self.escalations > 0 or (self.deadline_at is not None and self.deadline_at < now)
        return self.status is ReportStatus.ACCEPTED and self.due_at is not None and self.due_at < now

    @property
    def title(self) -> str:
        """What the reporter reads it as: its category, and its place when given."""
        return f"{self.category.name} · {self.place}" if self.place else self.category.name


class ReportPhoto(db.Model):
    """A reporter's photo, stored as claims' are: re-encoded JPEG, no EXIF, a random name."""

    __tablename__ = "report_photos"
    __table_args__ = (UniqueConstraint("report_id", "position", name="uq_report_photos_report_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    position: Mapped[int]
    filename: Mapped[str] = mapped_column(String(64))
    width: Mapped[int]
    height: Mapped[int]
    size: Mapped[int]

    report: Mapped[Report] = relationship(back_populates="photos")


class ReportStep(db.Model):
    """One line of a report's timeline."""

    __tablename__ = "report_steps"
    __table_args__ = (
        Index("ix_report_steps_report", "report_id", "created_at"),
        # A resent 处置 (the same Idempotency-Key from the same account) records one step.
        UniqueConstraint("actor_id", "client_key", name="uq_report_steps_actor_client_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    kind: Mapped[StepKind] = mapped_column(value_enum(StepKind, "report_step_kind", 16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(200), default="")
    client_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    report: Mapped[Report] = relationship(back_populates="steps")
    actor: Mapped[User | None] = relationship()
    photos: Mapped[list["ReportStepPhoto"]] = relationship(
        back_populates="step", cascade="all, delete-orphan", order_by="ReportStepPhoto.position")


class ReportStepPhoto(db.Model):
    """A handler's photo of a 处置 or 办结 step."""

    __tablename__ = "report_step_photos"
    __table_args__ = (UniqueConstraint("step_id", "position", name="uq_report_step_photos_step_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("report_steps.id", ondelete="CASCADE"))
    position: Mapped[int]
    filename: Mapped[str] = mapped_column(String(64))
    width: Mapped[int]
    height: Mapped[int]
    size: Mapped[int]

    step: Mapped[ReportStep] = relationship(back_populates="photos")


register_words(
    actions={
        "report.submitted": _l("提交民情诉求"),
        "report.accepted": _l("受理民情诉求"),
        "report.rejected": _l("不予受理民情诉求"),
        "report.progress": _l("记录处置情况"),
        "report.finished": _l("办结民情诉求"),
        "report.feedback": _l("回访评价"),
        "report.escalated": _l("民情诉求超期升级"),
        "report.voided": _l("撤销民情诉求"),
        "report.settings": _l("修改民情诉求设置"),
        "report.categories": _l("修改诉求类别"),
    },
    fields={
        "category": _l("类别"),
        "accept_hours": _l("受理时限（小时）"),
        "finish_days": _l("办结时限（天）"),
        "reward_rule": _l("反映人积分细则"),
        "duty_rule": _l("网格员履职细则"),
        "feedback": _l("评价"),
        "escalations": _l("升级次数"),
    },
    values=(REPORT_STATUS_LABELS, FEEDBACK_LABELS),
)

register_messages({
    "report_empty": _l("请写一句话说明问题，或拍一张照片"),
    "report_text_too_long": _l("内容不能超过 %(limit)d 个字"),
    "report_place_too_long": _l("地点不能超过 %(limit)d 个字"),
    "report_note_too_long": _l("说明不能超过 %(limit)d 个字"),
    "report_category_invalid": _l("请选择问题类别"),
    "report_household_unknown": _l("找不到这个户号，或不在您负责的网格内"),
    "report_not_for_staff": _l("工作人员代报时请填写户号"),
    "own_report": _l("不能处理自己家或自己提交的民情诉求，请由其他工作人员处理"),
    "report_already_handled": _l("这条民情诉求已经被处理过了，请刷新后查看"),
    "report_reason_required": _l("请填写理由"),
    "report_note_required": _l("请填写处置情况"),
    "report_not_yours": _l("只有反映人可以评价"),
    "report_feedback_by_household": _l("这户有村民账号，请由村民本人评价"),
    "report_village_required": _l("请先选择替哪个村反映"),
    "report_setting_out_of_range": _l("时限应在 %(low)d 到 %(high)d 之间"),
    "report_rule_invalid": _l("请选择现行有效、积分为正的对应类别细则"),
    "report_category_name_invalid": _l("类别名称为 1 到 %(limit)d 个字，且不能重复"),
    "report_category_last": _l("至少保留一个在用的类别"),
})
