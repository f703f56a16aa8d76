"""The only code that writes the audit log; every service that changes points, rules, roles or households calls
record() in its own transaction, so that a change and its record land (or roll back) together."""
from flask_babel import lazy_gettext as _l

from ..auth.models import User
from ..extensions import db
from .models import AuditEvent

ACTIONS = {
    "entry.posted": _l("记积分"),
    "entry.reversed": _l("冲正"),
    "rule.created": _l("新增细则"),
    "rule.revised": _l("修改细则"),
    "rules.imported": _l("导入细则"),
    "role.assigned": _l("分配角色"),
    "role.revoked": _l("撤销角色"),
    "account.created": _l("开设账号"),
    "account.enabled": _l("启用账号"),
    "account.disabled": _l("停用账号"),
    "household.created": _l("新增户"),
    "resident.added": _l("新增村民"),
    "households.imported": _l("导入花名册"),
    "claim.submitted": _l("提交申报"),
    "claim.approved": _l("通过申报"),
    "claim.rejected": _l("驳回申报"),
    "appeal.submitted": _l("提交申诉"),
    "appeal.upheld": _l("维持扣分"),
    "appeal.reversed": _l("撤销扣分"),
}


def record(
    actor: User | None,
    action: str,
    subject_type: str,
    subject_id: int | None,
    node_id: int | None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Add one event to the session (flushed with the change it describes)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    event = AuditEvent(
        actor_id=actor.id if actor is not None and getattr(actor, "id", None) else None,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        node_id=node_id,
        before=before,
        after=after,
    )
    db.session.add(event)
    return event
