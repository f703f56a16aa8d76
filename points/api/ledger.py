"""/api/v1 entries: a household's entries, manual awards and penalties (one household or a batch), and 冲正.

Every POST here moves points and honours the Idempotency-Key header: a retry with the same key answers 201 with
the entries posted the first time and posts nothing.
"""
from marshmallow import Schema, fields, validate

from ..auth import policy
from ..errors import NotFound
from ..extensions import db
from ..ledger import services
from ..ledger.checks import MAX_NOTE
from ..ledger.models import EntrySource, LedgerEntry
from ..ledger.queries import household_entries
from ..limits import MAX_ID
from ..rules.models import RuleCategory
from .auth import api_user, authenticate_request
from .blueprint import Blueprint
from .schemas import (
    IDEMPOTENCY_HEADER,
    ErrorSchema,
    PageArgs,
    Text,
    commit_keyed,
    ledger_key,
    page_schema,
    utc,
)

bp = Blueprint("api_ledger", __name__, description="积分流水：加分、扣分、批量加分、冲正")
bp.before_request(authenticate_request)

MAX_BATCH = 1000  # households in one batch: a whole village at a meeting, with room to spare


class EntrySchema(Schema):
    id = fields.Integer(required=True)
    household_id = fields.Integer(required=True)
    resident_id = fields.Integer(required=True, allow_none=True, metadata={"description": "Who earned it, if one"})
    amount = fields.Integer(required=True, metadata={"description": "Signed: an award is positive, a penalty negative"})
    rule_id = fields.Integer(required=True, allow_none=True)
    rule_code = fields.String(required=True, allow_none=True)
    rule_name = fields.String(required=True, allow_none=True, metadata={"description": "As the version said it"})
    rule_version = fields.Integer(required=True, allow_none=True, metadata={"description": "The version posted under"})
    category = fields.Enum(RuleCategory, by_value=True, required=True, allow_none=True)
    source = fields.Enum(EntrySource, by_value=True, required=True)
    actor = fields.String(required=True, allow_none=True, metadata={"description": "Who posted it (display name)"})
    occurred_on = fields.Date(required=True, metadata={"description": "The local day the points belong to"})
    created_at = fields.DateTime(required=True, metadata={"description": "UTC, with its offset"})
    note = fields.String(required=True)
    reverses_id = fields.Integer(required=True, allow_none=True, metadata={"description": "The entry this undoes"})
    reversed_by_id = fields.Integer(required=True, allow_none=True, metadata={"description": "The entry undoing this"})


EntryPage = page_schema(EntrySchema, "EntryPage")


def _note(**kwargs) -> Text:
    return Text(load_default="", validate=validate.Length(max=MAX_NOTE), **kwargs)


def _row_id(**kwargs) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class AwardArgs(Schema):
    household_id = _row_id(required=True)
    rule_id = _row_id(required=True)
    quantity = fields.Integer(
        strict=True, load_default=1, metadata={"description": "Times, or hours for a rule counted per hour"}
    )
    resident_id = _row_id(load_default=None, allow_none=True, metadata={"description": "A member of the household"})
    note = _note()
    occurred_on = fields.Date(load_default=None, metadata={"description": "Not after today; today if absent"})


class BatchArgs(Schema):
    household_ids = fields.List(_row_id(), required=True, validate=validate.Length(max=MAX_BATCH))
    rule_id = _row_id(required=True)
    quantity = fields.Integer(strict=True, load_default=1)
    note = _note()
    occurred_on = fields.Date(load_default=None)


class ReversalArgs(Schema):
    note = _note(metadata={"description": "Why: the household will read it"})


def entry_view(entry: LedgerEntry) -> dict:
    version = entry.rule_version
    return {
        "id": entry.id,
        "household_id": entry.household_id,
        "resident_id": entry.resident_id,
        "amount": entry.amount,
        "rule_id": version.rule_id if version else None,
        "rule_code": version.rule.code if version else None,
        "rule_name": version.name if version else None,
        "rule_version": version.version if version else None,
        "category": entry.category,
        "source": entry.source,
        "actor": entry.actor.display_name if entry.actor else None,
        "occurred_on": entry.occurred_on,
        "created_at": utc(entry.created_at),
        "note": entry.note,
        "reverses_id": entry.reverses_id,
        "reversed_by_id": entry.reversed_by.id if entry.reversed_by else None,
    }


@bp.get("/households/<id:household_id>/entries")
@bp.arguments(PageArgs, location="query")
@bp.response(200, EntryPage)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该户")
def list_entries(args, household_id: int):
    """A household's entries, newest first."""
    household = policy.visible_household(api_user(), household_id)
    page = household_entries(household.id, args["page"], args["per_page"])
    return {"items": [entry_view(e) for e in page.items], "total": page.total}


@bp.get("/entries/<id:entry_id>")
@bp.response(200, EntrySchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该记录")
def get_entry(entry_id: int):
    """One entry, to anyone who may see its household."""
    entry = db.session.get(LedgerEntry, entry_id)
    if entry is None:
        raise NotFound()
    policy.visible_household(api_user(), entry.household_id)
    return entry_view(entry)


@bp.post("/entries")
@bp.arguments(AwardArgs)
@bp.response(201, EntrySchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema, description="细则、次数或日期不适用于这一户")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内，或您的角色不能使用该细则")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该户")
@bp.alt_response(409, schema=ErrorSchema, description="超过细则上限，或该幂等键已用于另一笔记录")
def create_entry(args):
    """加分或扣分: points × quantity under a rule of the household's village that the caller's role may apply."""
    user = api_user()
    key = ledger_key(user)
    household = policy.visible_household(user, args["household_id"])
    entry = commit_keyed(lambda: services.apply_rule(
        user, household.id, args["rule_id"], key, quantity=args["quantity"], resident_id=args["resident_id"],
        note=args["note"].strip(), occurred_on=args["occurred_on"],
    ))
    return entry_view(entry)


@bp.post("/entries/batch")
@bp.arguments(BatchArgs)
@bp.response(201, EntryPage)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(
    400, schema=ErrorSchema, description="有户不适用：error.details 列出每一户（household_id, message），一户也不记"
)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="有户不在权限范围内：error.details 列出每一户")
@bp.alt_response(404, schema=ErrorSchema, description="有户不存在：error.details 列出每一户")
@bp.alt_response(409, schema=ErrorSchema, description="有户超过细则上限：error.details 列出每一户；"
                                                      "或该幂等键已用于另一批"
                                                      "（idempotency_key_reused）")
def create_batch(args):
    """批量加分: one rule for many households, all or none. A refusal names every refused household."""
    user = api_user()
    key = ledger_key(user)
    entries = commit_keyed(lambda: services.apply_rule_to_many(
        user, args["household_ids"], args["rule_id"], key, quantity=args["quantity"], note=args["note"].strip(),
        occurred_on=args["occurred_on"],
    ))
    return {"items": [entry_view(e) for e in entries], "total": len(entries)}


@bp.post("/entries/<id:entry_id>/reversal")
@bp.arguments(ReversalArgs, required=False)
@bp.response(201, EntrySchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema, description="请求有误")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="没有冲正权限")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该记录")
@bp.alt_response(409, schema=ErrorSchema, description="已经冲正过，或这是冲正记录，或余额不足以冲正，或该幂等键已用于"
                                                      "另一次冲正（idempotency_key_reused）")
def reverse_entry(args, entry_id: int):
    """冲正: an entry of the opposite amount that points at this one. Each entry is reversed at most once."""
    user = api_user()
    key = ledger_key(user)
    reversal = commit_keyed(lambda: services.reverse_by_admin(user, entry_id, key, args["note"].strip()))
    return entry_view(reversal)
