"""/api/v1 积分公示表 (a month's points of a village or grid, names masked) and 公示异议 (a villager objects while
the month's 公示 is on; the village's admins answer)."""
from datetime import timedelta

from marshmallow import Schema, fields, validate

from ..claims import objections as services
from ..claims.models import Objection, ObjectionStatus
from ..ledger.publicity import PublicityState, column_label, past_month, publicity_node, publicity_table
from ..limits import MAX_ID
from ..timeutil import local_today
from .auth import api_user, authenticate_request
from .blueprint import Blueprint
from .schemas import IDEMPOTENCY_HEADER, ErrorSchema, PageArgs, Text, client_key, page_schema, utc

bp = Blueprint("api_publicity", __name__, description="积分公示表和公示异议")
bp.before_request(authenticate_request)


class PublicityArgs(Schema):
    month = Text(load_default="", metadata={"description": "2026-11; last month if absent. Not after this month"})
    grid = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_ID),
                          metadata={"description": "A node under the village: its households only"})


class ColumnSchema(Schema):
    category = fields.String(required=True, metadata={"description": "A rule category, or other (under no rule)"})
    label = fields.String(required=True)


class PointsSchema(Schema):
    category = fields.String(required=True)
    earned = fields.Integer(required=True, metadata={"description": "Points gained in the category this month"})
    lost = fields.Integer(required=True, metadata={"description": "Points lost to penalties (positive)"})


class PublicityRowSchema(Schema):
    household_id = fields.Integer(required=True)
    number = fields.String(required=True, metadata={"description": "户号"})
    grid_id = fields.Integer(required=True)
    grid = fields.String(required=True, metadata={"description": "The grid's name"})
    head = fields.String(required=True, metadata={"description": "The head's name, masked: 张*明"})
    categories = fields.List(fields.Nested(PointsSchema), required=True,
                             metadata={"description": "Only the categories with points"})
    net = fields.Integer(required=True, metadata={"description": "Earned less lost this month, the shop aside"})
    balance = fields.Integer(required=True, metadata={"description": "Every entry dated up to the month's end"})


class PublicitySchema(Schema):
    village_id = fields.Integer(required=True)
    node_id = fields.Integer(required=True, metadata={"description": "The village, or the grid asked for"})
    title = fields.String(required=True)
    month = fields.String(required=True, metadata={"description": "2026-11"})
    state = fields.Enum(PublicityState, by_value=True, required=True,
                        metadata={"description": "running: the month is not over; open: in 公示, objections taken; "
                                                 "done: 已公示"})
    state_text = fields.String(required=True)
    objection_deadline = fields.Date(required=True, metadata={"description": "The last day objections are taken"})
    columns = fields.List(fields.Nested(ColumnSchema), required=True)
    rows = fields.List(fields.Nested(PublicityRowSchema), required=True,
                       metadata={"description": "Grid by grid, then by 户号"})


class ObjectionSchema(Schema):
    id = fields.Integer(required=True)
    village_id = fields.Integer(required=True)
    household_id = fields.Integer(required=True)
    number = fields.String(required=True, metadata={"description": "The household's 户号"})
    month = fields.String(required=True)
    reason = fields.String(required=True)
    status = fields.Enum(ObjectionStatus, by_value=True, required=True)
    decided_at = fields.DateTime(required=True, allow_none=True)
    decision_note = fields.String(required=True)
    created_at = fields.DateTime(required=True)


ObjectionPage = page_schema(ObjectionSchema, "ObjectionPage")


class ObjectionArgs(Schema):
    household_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))
    month = Text(required=True, metadata={"description": "2026-11: the month whose 公示 is on"})
    reason = Text(load_default="", metadata={"description": "Required, at most 500 characters"})


class ObjectionListArgs(PageArgs):
    status = fields.Enum(ObjectionStatus, by_value=True, metadata={"description": "Absent: every status"})


class ObjectionDecisionArgs(Schema):
    accept = fields.Boolean(required=True, metadata={
        "description": "true: 采纳更正 (correct the points by a reversal or an entry); false: 不予采纳"})
    note = Text(load_default="", metadata={"description": "At most 200 characters; the objector reads it"})


@bp.get("/villages/<id:village_id>/publicity")
@bp.arguments(PublicityArgs, location="query")
@bp.response(200, PublicitySchema)
@bp.alt_response(400, schema=ErrorSchema, description="月份格式不对，或还没到")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该村或该网格")
def get_publicity(args, village_id: int):
    """积分公示表 of a month: public (any account), names masked, no phones or ID numbers."""
    village, node = publicity_node(village_id, args["grid"])
    today = local_today()
    month = args["month"] or f"{today.replace(day=1) - timedelta(days=1):%Y-%m}"
    table = publicity_table(village, node, past_month(month, today), today)
    return {
        "village_id": village.id, "node_id": node.id, "title": table.title,
        "month": table.month, "state": table.state, "state_text": table.state_text,
        "objection_deadline": table.deadline,
        "columns": [{"category": c, "label": column_label(c)} for c in table.columns],
        "rows": [{"household_id": r.household_id, "number": r.number, "grid_id": r.grid_id, "grid": r.grid_name,
                  "head": r.head, "net": r.net, "balance": r.balance,
                  "categories": [{"category": c, "earned": p.earned, "lost": p.lost}
                                 for c, p in r.categories.items()]}
                 for r in table.rows],
    }


def objection_view(objection: Objection) -> dict:
    return {
        "id": objection.id, "village_id": objection.village_id, "household_id": objection.household_id,
        "number": objection.household.number, "month": objection.month, "reason": objection.reason,
        "status": objection.status, "decided_at": utc(objection.decided_at),
        "decision_note": objection.decision_note, "created_at": utc(objection.created_at),
    }


@bp.get("/objections")
@bp.arguments(ObjectionListArgs, location="query")
@bp.response(200, ObjectionPage)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
def list_objections(args):
    """An admin's objections in scope and those the account made: pending first (oldest first), then the newest."""
    page = services.objections_in_scope(api_user(), args.get("status"), args["page"], args["per_page"])
    return {"items": [objection_view(o) for o in page.items], "total": page.total}


@bp.post("/objections")
@bp.arguments(ObjectionArgs)
@bp.response(201, ObjectionSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema, description="不在公示期内，月份或理由有误")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="只有村民账号才能提出异议")
@bp.alt_response(404, schema=ErrorSchema, description="本村没有这一户")
@bp.alt_response(409, schema=ErrorSchema, description="该幂等键已用于另一次不同的异议（idempotency_key_reused）")
def create_objection(args):
    """公示异议: a villager objects to a household's points of a month (their own or a neighbour's of the same
    village) while its 公示 is on."""
    key = client_key()
    objection = services.submit_objection(api_user(), args["household_id"], args["month"], args["reason"],
                                          f"api:{key}" if key else None)
    return objection_view(objection)


@bp.get("/objections/<id:objection_id>")
@bp.response(200, ObjectionSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该异议")
def get_objection(objection_id: int):
    return objection_view(services.visible_objection(api_user(), objection_id))


@bp.post("/objections/<id:objection_id>/decision")
@bp.arguments(ObjectionDecisionArgs)
@bp.response(200, ObjectionSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema, description="说明太长")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内，或是自己家的、自己提出的异议")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该异议")
@bp.alt_response(409, schema=ErrorSchema, description="已经处理过了")
def decide_objection(args, objection_id: int):
    """采纳更正 or 不予采纳, once; the points are corrected apart, by a reversal or an entry. Sent again with an
    Idempotency-Key, the same answer and note, it answers the same; otherwise an answered objection is a 409."""
    retry = client_key() is not None
    objection = services.decide_objection(api_user(), objection_id, args["accept"], args["note"], retry=retry)
    return objection_view(objection)
