"""站内消息: what the people involved are told in the app, and how far each reader has read."""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..errors import register_messages
from ..extensions import db
from ..timeutil import utcnow


class Message(db.Model):
    """One notice to one account. The text is written for that reader: nothing in it lies beyond their scope."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))  # what it is about: report, wish, visit, claim, appeal
    text: Mapped[str] = mapped_column(String(200))
    link: Mapped[str] = mapped_column(String(200), default="")  # a path in the app, where the reader acts or reads
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class InboxMark(db.Model):
    """How far a villager has read their household's points: entries posted after points_seen_at count as unread.
    Points are read from the ledger itself, so posting them writes no message."""

    __tablename__ = "inbox_marks"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    points_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


KIND_LABELS = {
    "report": _l("诉求"),
    "wish": _l("心愿"),
    "visit": _l("走访"),
    "claim": _l("申报"),
    "appeal": _l("申诉"),
    "points": _l("积分"),  # an entry of the household's, read from the ledger
    "bar": _l("限制兑换"),
    "objection": _l("公示异议"),
}

register_messages({
    "message_text_invalid": _l("消息内容不能为空，且不超过 %(limit)s 字"),
    "grid_work_only": _l("网格工作只对网格员、网格长和村、镇管理员开放"),
})
