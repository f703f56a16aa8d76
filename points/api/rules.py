"""GET /api/v1/rules: a village's rule book (积分细则) as it stands on a day, and one rule with every version."""
from marshmallow import Schema, fields, validate

from ..auth import policy
from ..auth.models import Role, User
from ..errors import Forbidden, NotFound
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..limits import MAX_ID
from ..rules.models import Rule, RuleCategory, RuleUnit, RuleVersion
from ..rules.queries import rule_book, version_in_force
from ..timeutil import local_today
from .auth import api_user, authenticate_request
from .blueprint import Blueprint
from .schemas import ErrorSchema, PageArgs, page_of, page_schema

bp = Blueprint("api_rules", __name__, description="积分细则：按日期生效的加分、扣分规则")
bp.before_request(authenticate_request)


class RuleVersionSchema(Schema):
    """What one version of a rule says, and when it holds."""

    version = fields.Integer(required=True, metadata={"description": "1 for the first; an edit makes the next"})
    name = fields.String(required=True)
    category = fields.Enum(RuleCategory, by_value=True, required=True)
    points = fields.Integer(
        required=True, metadata={"description": "Signed: an award is positive, a penalty negative; per unit"}
    )
    unit = fields.Enum(RuleUnit, by_value=True, required=True, metadata={"description": "Per occurrence or per hour"})
    for_registered = fields.Boolean(required=True, metadata={"description": "Applies to 户籍村民 households"})
    for_renters = fields.Boolean(required=True, metadata={"description": "Applies to 外来租住 households"})
    cap_day = fields.Integer(required=True, allow_none=True, metadata={"description": "Most points a day; null: none"})
    cap_week = fields.Integer(required=True, allow_none=True, metadata={"description": "Per ISO week"})
    cap_month = fields.Integer(required=True, allow_none=True)
    cap_year = fields.Integer(required=True, allow_none=True)
    evidence_required = fields.Boolean(required=True, metadata={"description": "A claim needs a photo"})
    self_claimable = fields.Boolean(required=True, metadata={"description": "Villagers may claim it themselves"})
    bars_days = fields.Integer(required=True, metadata={
        "description": "限制兑换: a penalty under this version also bars the household from redeeming for this many "
                       "days, counted from the penalty's day (reversing the penalty lifts the bar); 0: none. "
                       "At most 730, and only on a penalty"})
    roles = fields.List(fields.Enum(Role, by_value=True), required=True, metadata={"description": "Who may apply it"})
    effective_from = fields.Date(required=True)
    effective_until = fields.Date(
        required=True, allow_none=True, metadata={"description": "The first day it no longer holds; null: open-ended"}
    )


class RuleSchema(RuleVersionSchema):
    id = fields.Integer(required=True)
    village_id = fields.Integer(required=True)
    code = fields.String(required=True, metadata={"description": "Unique within the village, kept across versions"})


class RuleDetailSchema(RuleSchema):
    versions = fields.List(
        fields.Nested(RuleVersionSchema), required=True, metadata={"description": "Every version, oldest first"}
    )


RulePage = page_schema(RuleSchema, "RulePage")


class RuleBookArgs(PageArgs):
    village_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
    on = fields.Date(metadata={"description": "The day the rule book is read for; today (Asia/Shanghai) if absent"})


def version_view(version: RuleVersion) -> dict:
    return {
        "version": version.version,
        "name": version.name,
        "category": version.category,
        "points": version.points,
        "unit": version.unit,
        "for_registered": version.for_registered,
        "for_renters": version.for_renters,
        "cap_day": version.cap_day,
        "cap_week": version.cap_week,
        "cap_month": version.cap_month,
        "cap_year": version.cap_year,
        "evidence_required": version.evidence_required,
        "self_claimable": version.self_claimable,
        "bars_days": version.bars_days,
        "roles": sorted(version.role_set),
        "effective_from": version.effective_from,
        "effective_until": version.effective_until,
    }


def rule_view(rule: Rule, version: RuleVersion) -> dict:
    """A rule with the terms of one of its versions."""
    return {"id": rule.id, "village_id": rule.village_id, "code": rule.code, **version_view(version)}


def _readable_village(user: User, village_id: int) -> GridNode:
    """A village whose rule book user may read: staff who see any node of it or above it, and its villagers.
    Raises NotFound or Forbidden."""
    village = db.session.get(GridNode, village_id)
    if village is None or village.kind is not NodeKind.VILLAGE:
        raise NotFound()
    if not policy.can_see_village(user, village.id):
        raise Forbidden()
    return village


@bp.get("/rules")
@bp.arguments(RuleBookArgs, location="query")
@bp.response(200, RulePage)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该村")
def list_rules(args):
    """The rules of a village in force on a day, by category and code."""
    village = _readable_village(api_user(), args["village_id"])
    versions = rule_book(village.id, args.get("on") or local_today())
    return page_of([rule_view(v.rule, v) for v in versions], args)


@bp.get("/rules/<id:rule_id>")
@bp.response(200, RuleDetailSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该细则")
def get_rule(rule_id: int):
    """A rule with every version; its top-level terms are those in force today, or its latest version's if none is."""
    rule = db.session.get(Rule, rule_id)
    if rule is None:
        raise NotFound()
    _readable_village(api_user(), rule.village_id)
    current = version_in_force(rule.id, local_today()) or rule.versions[-1]
    return {**rule_view(rule, current), "versions": [version_view(v) for v in rule.versions]}
