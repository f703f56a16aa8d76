"""The only code that writes the audit log; every service that changes points, rules, roles or households calls
record() in its own transaction, so that a change and its record land (or roll back) together."""
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import insert

from ..auth.models import User
from ..extensions import db
from .models import AuditEvent

ACTIONS = {
    "node.created": _l("新增网格"),
    "node.changed": _l("修改网格"),
    "node.retired": _l("撤销网格"),
    "grids.imported": _l("导入网格和工作人员"),
    "entry.posted": _l("记积分"),
    "entry.reversed": _l("冲正"),
    "rule.created": _l("新增细则"),
    "rule.revised": _l("修改细则"),
    "rules.imported": _l("导入细则"),
    "rules.from_template": _l("按镇模板建立细则"),
    "role.assigned": _l("分配角色"),
    "role.revoked": _l("撤销角色"),
    "account.created": _l("开设账号"),
    "accounts.opened": _l("批量开通村民账号"),
    "events.fence": _l("设置活动签到范围"),
    "account.activated": _l("村民激活账号"),
    "slip.reissued": _l("补发激活单"),
    "account.enabled": _l("启用账号"),
    "account.disabled": _l("停用账号"),
    "household.created": _l("新增户"),
    "household.updated": _l("修改户信息"),
    "household.closed": _l("整户迁出"),
    "household.reopened": _l("恢复户"),
    "resident.updated": _l("修改村民信息"),
    "resident.left": _l("村民迁出"),
    "resident.added": _l("新增村民"),
    "households.imported": _l("导入花名册"),
    "households.exported": _l("导出花名册"),
    "claim.submitted": _l("提交申报"),
    "claim.approved": _l("通过申报"),
    "claim.rejected": _l("驳回申报"),
    "appeal.submitted": _l("提交申诉"),
    "appeal.upheld": _l("维持扣分"),
    "appeal.reversed": _l("撤销扣分"),
    "household.moved": _l("调整所在网格"),
    "hygiene.settings": _l("修改评比设置"),
    "boards.settings": _l("修改红黑榜设置"),
    "hygiene.checklist": _l("修改检查项目"),
    "hygiene.assigned": _l("调整交叉检查"),
    "inspection.scored": _l("卫生评分"),
    "hygiene.published": _l("发布评比结果"),
    "hygiene.published_early": _l("提前发布评比结果（有户未评分）"),
    "event.created": _l("新建活动"),
    "event.updated": _l("修改活动"),
    "event.checked_in": _l("活动签到"),
    "event.checked_out": _l("活动签退"),
    "events.checkout_after": _l("设置签到后多久可签退"),
    "event.attendance_removed": _l("移除签到"),
    "event.closed": _l("结束活动"),
    "card.issued": _l("发放户卡"),
    "shop.created": _l("开设积分超市"),
    "product.created": _l("新增商品"),
    "product.updated": _l("修改商品"),
    "stock.restock": _l("进货"),
    "stock.correction": _l("盘点调整"),
    "redemption.made": _l("积分兑换"),
    "redemption.voided": _l("作废兑换"),
}

# What the keys of before/after mean, for the log page.
FIELD_LABELS = {
    "balance": _l("余额"),
    "amount": _l("积分"),
    "household": _l("户号"),
    "source": _l("来源"),
    "rule": _l("细则"),
    "reverses": _l("冲正的记录"),
    "note": _l("备注"),
    "code": _l("编码"),
    "parent": _l("上级"),
    "name": _l("名称"),
    "category": _l("类别"),
    "points": _l("分值"),
    "unit": _l("单位"),
    "version": _l("版本"),
    "roles": _l("可使用角色"),
    "effective_from": _l("生效日期"),
    "effective_until": _l("失效日期"),
    "username": _l("用户名"),
    "role": _l("角色"),
    "node": _l("范围"),
    "active": _l("启用"),
    "resident": _l("村民"),
    "number": _l("户号"),
    "address": _l("地址"),
    "phone": _l("手机号"),
    "id_number": _l("身份证号"),
    "care_tags": _l("关爱标签"),
    "closure": _l("迁出原因"),
    "closed_on": _l("迁出日期"),
    "departure": _l("离开原因"),
    "left_on": _l("离开日期"),
    "kind": _l("类型"),
    "head": _l("户主"),
    "relation": _l("关系"),
    "households": _l("户数"),
    "residents": _l("人数"),
    "changes": _l("变更处数"),
    "accounts": _l("账号数"),
    "min_age": _l("最低年龄"),
    "fence": _l("签到范围（米）"),
    "checkout_after": _l("签到后多久可签退（分钟）"),
    "early": _l("提前"),
    "located": _l("已定位"),
    "status": _l("状态"),
    "reason": _l("理由"),
    "entry": _l("积分记录"),
    "quantity": _l("数量"),
    "photos": _l("照片"),
    "for_registered": _l("适用户籍村民"),
    "for_renters": _l("适用外来租住人员"),
    "cap_day": _l("每日上限"),
    "cap_week": _l("每周上限"),
    "cap_month": _l("每月上限"),
    "cap_year": _l("每年上限"),
    "evidence_required": _l("需要照片"),
    "self_claimable": _l("村民可申报"),
    "created": _l("新增"),
    "revised": _l("修改"),
    "unchanged": _l("未变"),
    "revise_from": _l("修改生效日期"),
    "grid": _l("网格"),
    "full_score": _l("满分"),
    "model_count": _l("每网格示范户数"),
    "model_points": _l("示范户奖励"),
    "shame_count": _l("每网格晾晒户数"),
    "shame_max": _l("晾晒最多户数"),
    "shame_ties": _l("晾晒并列处理"),
    "unscored_households": _l("未评分户数"),
    "flag_points": _l("流动红旗奖励"),
    "ties": _l("并列处理"),
    "unscored": _l("未评分的户"),
    "penalty_rule": _l("晾晒扣分细则"),
    "items": _l("检查项目"),
    "assignment": _l("交叉检查"),
    "week": _l("周次"),
    "deductions": _l("扣分"),
    "period": _l("期间"),
    "grids": _l("网格数"),
    "posted": _l("记分笔数"),
    "reversed": _l("冲正笔数"),
    "title": _l("标题"),
    "place": _l("地点"),
    "starts_at": _l("开始时间"),
    "ends_at": _l("结束时间"),
    "capacity": _l("人数上限"),
    "mode": _l("签到方式"),
    "method": _l("签到途径"),
    "attendees": _l("参加人数"),
    "paid": _l("记分人数"),
    "serial": _l("卡序号"),
}


@dataclass(frozen=True)
class Change:
    """What one audit event says: record()'s arguments after the actor."""

    action: str
    subject_type: str
    subject_id: int | None
    node_id: int | None
    before: dict | None = None
    after: dict | None = None


def record(
    actor: User | None,
    action: str,
    subject_type: str,
    subject_id: int | None,
    node_id: int | None,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    """Write one event now, inside the caller's transaction (what the session holds unwritten goes first): an
    insert statement, which costs far less than the session's unit of work."""
    record_all(actor, [Change(action, subject_type, subject_id, node_id, before, after)])


def record_all(actor: User | None, changes: list[Change]) -> None:
    """Write many events by one actor at once (a publication's thousands of entries), in order, as one bulk insert
    executed now, inside the caller's transaction."""
    if changes:
        actor_id = _actor_id(actor)
        db.session.execute(insert(AuditEvent), [dict(actor_id=actor_id, **vars(_known(c))) for c in changes])


def _known(change: Change) -> Change:
    if change.action not in ACTIONS:
        raise ValueError(f"unknown audit action {change.action!r}")
    return change


def _actor_id(actor: User | None) -> int | None:
    return actor.id if actor is not None and getattr(actor, "id", None) else None
