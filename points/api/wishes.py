"""/api/v1 微心愿: the village's wall, posting a wish, adopting, giving back, fulfilling, withdrawing, and lighting it
with a photo (the adopter's household earns the wish's rule)."""
from flask import current_app
from marshmallow import Schema, fields, validate

from ..auth import policy
from ..auth.models import User
from ..errors import DomainError, NotFound
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..limits import MAX_ID
from ..people.privacy import mask_name
from ..wishes import queries, services
from ..wishes.models import Wish, WishStatus
from .auth import api_user, authenticate_request
from .claims import Photo, _MultipartBlueprint
from .schemas import IDEMPOTENCY_HEADER, ErrorSchema, PageArgs, Text, client_key, utc

bp = _MultipartBlueprint("api_wishes", __name__,
                         description="微心愿：网格员发布、村民或工作人员认领、完成，网格员拍照点亮，认领人家得积分")
bp.before_request(authenticate_request)


class WishOnWallSchema(Schema):
    id = fields.Integer(required=True)
    grid_id = fields.Integer(required=True)
    grid_name = fields.String(required=True)
    title = fields.String(required=True, metadata={"description": "The public wording: no name, no address"})
    status = fields.Enum(WishStatus, by_value=True, required=True)
    created_at = fields.DateTime(required=True)
    lit_at = fields.DateTime(required=True, allow_none=True)


class WishWallCountsSchema(Schema):
    open = fields.Integer(required=True, metadata={"description": "待认领"})
    adopted = fields.Integer(required=True, metadata={"description": "已认领 (fulfilled ones waiting to be lit too)"})
    lit = fields.Integer(required=True, metadata={"description": "已点亮"})


class WishWallSchema(Schema):
    items = fields.List(fields.Nested(WishOnWallSchema), required=True)
    total = fields.Integer(required=True)
    counts = fields.Nested(WishWallCountsSchema, required=True)


class WishSchema(WishOnWallSchema):
    village_id = fields.Integer(required=True)
    household_id = fields.Integer(required=True, allow_none=True, metadata={"description": "Staff of the grid only"})
    household_number = fields.String(required=True, allow_none=True, metadata={"description": "Staff only"})
    detail = fields.String(required=True, allow_none=True, metadata={"description": "Staff of the grid only"})
    rule_id = fields.Integer(required=True, allow_none=True, metadata={"description": "Staff and the adopter"})
    points = fields.Integer(required=True, allow_none=True,
                            metadata={"description": "What lighting it earns now (staff and the adopter)"})
    adopted_by_me = fields.Boolean(required=True)
    adopter = fields.String(required=True, allow_none=True,
                            metadata={"description": "Display name for staff; masked for the household; else null"})
    adopted_at = fields.DateTime(required=True, allow_none=True)
    fulfilled_at = fields.DateTime(required=True, allow_none=True)
    fulfil_note = fields.String(required=True, allow_none=True, metadata={"description": "Staff and the adopter"})
    entry_id = fields.Integer(required=True, allow_none=True, metadata={"description": "The entry lighting posted"})
    no_points = fields.String(required=True, allow_none=True,
                              metadata={"description": "Why lighting posted nothing: wish_not_resident, cap_exceeded…"})
    withdrawn_reason = fields.String(required=True, allow_none=True, metadata={"description": "Staff only"})
    photo = fields.Boolean(required=True, metadata={"description": "Whether a photo is there for this viewer"})


class WishArgs(Schema):
    household_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))
    title = Text(required=True, metadata={
        "description": "At most 40 characters; public: no name of the household, care tag, phone, address or 户号"})
    detail = Text(load_default="", metadata={"description": "At most 300 characters; staff-only"})
    rule_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID),
                             metadata={"description": "An in-force 村民互助 or 志愿服务 rule with positive points"})


class WishNoteArgs(Schema):
    note = Text(load_default="", metadata={"description": "Optional, at most 200 characters"})


class WishReasonArgs(Schema):
    reason = Text(load_default="", metadata={"description": "Required, at most 200 characters"})


class WishLightArgs(Schema):
    photo = Photo(load_default=None, metadata={"description": "Required: JPEG, PNG or WebP, the wish fulfilled"})


def _wall_view(wish: Wish) -> dict:
    return {"id": wish.id, "grid_id": wish.grid_id, "grid_name": wish.grid.name, "title": wish.title,
            "status": wish.status, "created_at": utc(wish.created_at), "lit_at": utc(wish.lit_at)}


def wish_view(wish: Wish, user: User) -> dict:
    staff, adopter = services.is_staff(user, wish), wish.adopter_id == user.id
    own = policy.own_household_id(user) == wish.household_id
    version = services.rule_version(wish) if staff or adopter else None
    name = wish.adopter.display_name if wish.adopter else None
    return {
        **_wall_view(wish),
        "village_id": wish.village_id,
        "household_id": wish.household_id if staff or own else None,
        "household_number": wish.household.number if staff or own else None,
        "detail": wish.detail if staff else None,
        "rule_id": wish.rule_id if staff or adopter else None,
        "points": version.points if version is not None else None,
        "adopted_by_me": adopter,
        "adopter": name if staff or adopter else (mask_name(name) if own and name else None),
        "adopted_at": utc(wish.adopted_at),
        "fulfilled_at": utc(wish.fulfilled_at),
        "fulfil_note": wish.fulfil_note if staff or adopter else None,
        "entry_id": wish.entry_id if staff or adopter else None,
        "no_points": (wish.no_points or None) if staff or adopter else None,
        "withdrawn_reason": wish.withdrawn_reason if staff else None,
        "photo": services.may_see_photo(user, wish) and wish.photo is not None,
    }


@bp.get("/villages/<id:village_id>/wishes")
@bp.arguments(PageArgs, location="query")
@bp.response(200, WishWallSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该村")
def wall(args, village_id: int):
    """心愿墙: the village's wishes with their public fields only (grid and title), open ones first, and the three
    counts. Any signed-in account may read it (the web page needs no login)."""
    api_user()
    village = db.session.get(GridNode, village_id)
    if village is None or village.kind is not NodeKind.VILLAGE:
        raise NotFound()
    page = queries.wall(village.id, args["page"], args["per_page"])
    return {"items": [_wall_view(w) for w in page.items], "total": page.total,
            "counts": queries.wall_counts(village.id)}


@bp.post("/wishes")
@bp.arguments(WishArgs)
@bp.response(201, WishSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema,
                 description="心愿、说明或细则有误；心愿写了这户人的姓名、关爱标签、电话、住址或户号（wish_title_*）")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不是该户网格的工作人员，或是自己家")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该户")
@bp.alt_response(409, schema=ErrorSchema, description="该户已迁出，或该幂等键已用于另一个不同的心愿")
def create_wish(args):
    """发布: a grid worker posts a wish of a household of their grid."""
    user = api_user()
    key = client_key()
    wish = services.post_wish(user, args["household_id"], args["title"], args["detail"], args["rule_id"],
                              client_key=f"api:{key}" if key else None)
    return wish_view(wish, user)


@bp.get("/wishes/<id:wish_id>")
@bp.response(200, WishSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该心愿")
def get_wish(wish_id: int):
    """A wish as the caller may see it: staff of its grid see its household and detail, others the public fields."""
    user = api_user()
    return wish_view(services.visible_wish(user, wish_id), user)


def _moved(move) -> dict:
    user = api_user()
    client_key()  # a malformed header is refused before anything changes
    return wish_view(move(user), user)


@bp.post("/wishes/<id:wish_id>/adopt")
@bp.response(200, WishSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema, description="幂等键格式有误")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema,
                 description="不是本村的村民或工作人员，或是自己家的、自己或家人发布的心愿（wish_own_adoption）")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该心愿")
@bp.alt_response(409, schema=ErrorSchema, description="已被别人认领（wish_taken），或现在不能认领")
def adopt(wish_id: int):
    """我来认领: one adopter at a time; of two at once exactly one wins, the other gets 409 wish_taken. Adopting
    one's own adoption again answers the same."""
    return _moved(lambda user: services.adopt_wish(user, wish_id))


@bp.post("/wishes/<id:wish_id>/give-back")
@bp.response(200, WishSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不是认领人")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该心愿")
@bp.alt_response(409, schema=ErrorSchema, description="不在认领中")
def give_back(wish_id: int):
    """退回: the adopter gives the wish back to the wall."""
    return _moved(lambda user: services.give_back(user, wish_id))


@bp.post("/wishes/<id:wish_id>/fulfil")
@bp.arguments(WishNoteArgs)
@bp.response(200, WishSchema)
@bp.alt_response(400, schema=ErrorSchema, description="说明太长")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不是认领人")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该心愿")
@bp.alt_response(409, schema=ErrorSchema, description="不在认领中")
def fulfil(args, wish_id: int):
    """已完成: the adopter says it is done; the grid's staff are told to light it. Saying so again answers the same."""
    return _moved(lambda user: services.fulfil(user, wish_id, args["note"]))


@bp.post("/wishes/<id:wish_id>/withdraw")
@bp.arguments(WishReasonArgs)
@bp.response(200, WishSchema)
@bp.alt_response(400, schema=ErrorSchema, description="请填写理由")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不是该心愿网格的工作人员")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该心愿")
@bp.alt_response(409, schema=ErrorSchema, description="只有待认领的心愿才能撤下")
def withdraw(args, wish_id: int):
    """撤下: staff of the wish's grid take an open wish off the wall, saying why."""
    return _moved(lambda user: services.withdraw(user, wish_id, args["reason"]))


@bp.post("/wishes/<id:wish_id>/confirm")
@bp.arguments(WishLightArgs, location="form_and_files")
@bp.response(200, WishSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema, description="没有照片（wish_photo_required），或照片不合格")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不是该心愿网格的工作人员，或是认领人或其家人")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该心愿")
@bp.alt_response(409, schema=ErrorSchema, description="认领人还没有说已完成，或已经点亮")
@bp.alt_response(413, schema=ErrorSchema, description="上传的文件太大")
def confirm(args, wish_id: int):
    """点亮: staff of the wish's grid confirm it with a photo; the adopter's household earns the rule's points once
    (none for an adopter who is not a villager of the village: no_points says why). Sent again with an
    Idempotency-Key, a wish this account lit answers the same and posts nothing."""
    user = api_user()
    retry = client_key() is not None
    store = services.PhotoStore(current_app.config["UPLOAD_FOLDER"], current_app.config["PHOTO_MAX_BYTES"])
    data = args["photo"].read() if args["photo"] is not None else b""
    if not data:
        raise DomainError("wish_photo_required")
    return wish_view(services.light(user, wish_id, data, store, retry=retry), user)
