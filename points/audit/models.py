"""One row per change. Rows are only ever added."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_node_time", "node_id", "created_at"),
        Index("ix_audit_events_subject", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None: the command line or the system (a published round, the demo).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # 'entry.posted', 'rule.revised', 'role.assigned', 'household.created' … (services.ACTIONS)
    action: Mapped[str] = mapped_column(String(40), index=True)
    subject_type: Mapped[str] = mapped_column(String(24))
    subject_id: Mapped[int | None]
    # The grid node the change belongs to (a household's grid, a rule's village, a role's node): who may read
    # the event follows from it.
    node_id: Mapped[int | None] = mapped_column(ForeignKey("grid_nodes.id", ondelete="SET NULL"))
    # Never phone or ID numbers: names, numbers, points and settings only.
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)

    actor = relationship("User")  # auth.models.User, which is above the log: named, not imported
