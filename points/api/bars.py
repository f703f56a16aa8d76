"""/api/v1 bars on redeeming (限制兑换): a village admin bars a household from the shop until a date with a reason, or
lifts a bar early; the household reads its bars and may appeal one, once. The writes honour the Idempotency-Key
header: sent again with the key and the same body, they answer as the first time and change nothing."""
from marshmallow import Schema, fields, validate

from ..auth import policy
from ..claims.bar_appeals import STATUSES, appeal_bar, lift_bar, set_bar
from ..ledger import bars
from ..ledger.models import RedemptionBar
from ..timeutil import local_today
from .auth import api_user, authenticate_request
from .blueprint import Blueprint
from .schemas import IDEMPOTENCY_HEADER, ErrorSchema, PageArgs, Text, client_key, page_of, page_schema, utc

bp = Blueprint("api_bars", __name__, description="限制兑换：村管理员限制某户兑换并写明原因，或提前解除；该户可申诉")
bp.before_request(authenticate_request)


class BarArgs(Schema):
    starts_on = fields.Date(load_default=None, metadata={"description": "First day barred (local); today if absent"})
    ends_on = fields.Date(required=True, metadata={"description": "Last day barred (local), today or later"})
    reason = Text(required=True, metadata={"description": "Why, as the household will read it (1 to 200 characters)"})


class BarAppealArgs(Schema):
    text = Text(required=True, metadata={"description": "Why the bar is wrong (1 to 500 characters)"})


class BarLiftArgs(Schema):
    note = Text(load_default="", metadata={"description": "Optional, read by the household (up to 200 characters)"})


class BarSchema(Schema):
    id = fields.Integer(required=True)
    household_id = fields.Integer(required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True, metadata={"description": "The last day barred"})
    reason = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES),
                           metadata={"description": "in_force 生效中, upcoming 未开始, ended 已结束, lifted 已解除"})
    created_at = fields.DateTime(required=True)
    appeal = fields.String(required=True, allow_none=True, metadata={"description": "The household's 申诉, if any"})
    appealed_at = fields.DateTime(required=True, allow_none=True)
    lifted_at = fields.DateTime(required=True, allow_none=True)
    lift_note = fields.String(required=True, allow_none=True)


BarPage = page_schema(BarSchema, "BarPage")


def bar_view(found: RedemptionBar) -> dict:
    return {
        "id": found.id, "household_id": found.household_id, "starts_on": found.starts_on, "ends_on": found.ends_on,
        "reason": found.reason, "status": found.status_on(local_today()), "created_at": utc(found.created_at),
        "appeal": found.appeal or None, "appealed_at": utc(found.appealed_at), "lifted_at": utc(found.lifted_at),
        "lift_note": found.lift_note if found.lifted_at is not None else None,
    }


def _answers(*statuses: int, bad: str = ""):
    """The error answers an operation documents."""
    words = {400: bad or "请求有误", 401: "未登录", 403: "不在权限范围内，或是自己家的事", 404: "找不到",
             409: "已经处理过了"}

    def document(view):
        for status in statuses:
            view = bp.alt_response(status, schema=ErrorSchema, description=words[status])(view)
        return view

    return document


@bp.get("/households/<id:household_id>/bars")
@bp.arguments(PageArgs, location="query")
@bp.response(200, BarPage)
@_answers(401, 403, 404)
def list_bars(args, household_id: int):
    """The household's bars, newest first: for the household itself and staff who see it."""
    household = policy.visible_household(api_user(), household_id)
    return page_of([bar_view(b) for b in bars.bars_of(household.id)], args)


@bp.post("/households/<id:household_id>/bars")
@bp.arguments(BarArgs)
@bp.response(201, BarSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@_answers(400, 401, 403, 404, bad="结束日期早于开始日期或已经过去、超过 730 天、没写原因，或幂等键格式有误")
def set_household_bar(args, household_id: int):
    """限制兑换 from starts_on to ends_on, both included, with the reason; the household's other bars stand (it is
    barred while any covers the day). The household is told. Sent again with an Idempotency-Key and the same body,
    it answers the bar set the first time (while it stands) and changes nothing."""
    user = api_user()
    retry = client_key() is not None  # a malformed header is refused before anything changes
    household = policy.visible_household(user, household_id)
    found, _new = set_bar(user, household, args["starts_on"] or local_today(), args["ends_on"], args["reason"],
                          retry=retry)
    return bar_view(found)


@bp.get("/bars/<id:bar_id>")
@bp.response(200, BarSchema)
@_answers(401, 403, 404)
def get_bar(bar_id: int):
    return bar_view(bars.visible_bar(api_user(), bar_id))


@bp.post("/bars/<id:bar_id>/appeal")
@bp.arguments(BarAppealArgs)
@bp.response(200, BarSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@_answers(400, 401, 404, 409, bad="没写理由或超过 500 字，或幂等键格式有误")
def appeal(args, bar_id: int):
    """申诉: the household's villager contests a bar in force or to come, once; the village's admins are told. Sent
    again with an Idempotency-Key and the same text, it answers the same; otherwise a second appeal is a 409."""
    retry = client_key() is not None
    return bar_view(appeal_bar(api_user(), bar_id, args["text"], retry=retry))


@bp.post("/bars/<id:bar_id>/lift")
@bp.arguments(BarLiftArgs)
@bp.response(200, BarSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@_answers(400, 401, 403, 404, 409, bad="说明太长，或幂等键格式有误")
def lift(args, bar_id: int):
    """解除限制 today: the household may redeem again and is told. Sent again with an Idempotency-Key and the same
    note (by the same admin), it answers the same; otherwise a lifted bar is a 409."""
    retry = client_key() is not None
    return bar_view(lift_bar(api_user(), bar_id, args["note"], retry=retry))
