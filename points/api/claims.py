"""/api/v1 claims (积分申报: a villager asks for points with photos, a grid worker decides) and appeals (申诉: a
villager contests a deduction, the village admin decides)."""
from flask import Request, current_app, send_file, url_for
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict, FileStorage

from ..auth import policy
from ..auth.models import User
from ..claims import services
from ..claims.models import Appeal, AppealStatus, Claim, ClaimStatus
from ..claims.queries import appeals_in_scope, claims_in_scope
from ..limits import MAX_ID
from .auth import api_user, authenticate_request
from .blueprint import Blueprint, Parser
from .schemas import (
    IDEMPOTENCY_HEADER,
    ErrorSchema,
    PageArgs,
    Text,
    client_key,
    page_schema,
    utc,
)


class _MultipartParser(Parser):
    """Reads a multipart/form-data body whole: its text fields and its files through one schema."""

    __location_map__ = dict(form_and_files="load_form_and_files", **Parser.__location_map__)

    def load_form_and_files(self, req: Request, schema: Schema) -> MultiDictProxy:
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)


class _MultipartBlueprint(Blueprint):
    """flask-smorest documents one request body per operation: a claim's fields and photos are one multipart body."""

    ARGUMENTS_PARSER = _MultipartParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING, "form_and_files": "multipart/form-data"
    }


bp = _MultipartBlueprint("api_claims", __name__,
                         description="积分申报与申诉：村民申报、网格员审核；扣分申诉、村管理员处理")
bp.before_request(authenticate_request)


class Photo(Upload):
    """An uploaded file (the photo service decides whether it is an image)."""

    default_error_messages = {"invalid": "Not a file."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, FileStorage):
            raise self.make_error("invalid")
        return value


class PhotoSchema(Schema):
    position = fields.Integer(required=True, metadata={"description": "1, 2, 3 in the order uploaded"})
    url = fields.String(required=True, metadata={"description": "The JPEG (EXIF removed), for a signed-in user"})
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)


class ClaimSchema(Schema):
    id = fields.Integer(required=True)
    household_id = fields.Integer(required=True)
    resident_id = fields.Integer(required=True, allow_none=True)
    claimant = fields.String(required=True, allow_none=True, metadata={"description": "Display name"})
    rule_id = fields.Integer(required=True)
    rule_code = fields.String(required=True)
    rule_name = fields.String(required=True)
    rule_version = fields.Integer(required=True, metadata={"description": "The version in force on occurred_on"})
    quantity = fields.Integer(required=True)
    amount = fields.Integer(required=True, metadata={"description": "The points approval posts: points × quantity"})
    occurred_on = fields.Date(required=True)
    note = fields.String(required=True)
    status = fields.Enum(ClaimStatus, by_value=True, required=True)
    reviewer = fields.String(required=True, allow_none=True, metadata={"description": "Display name"})
    reviewed_at = fields.DateTime(required=True, allow_none=True)
    reason = fields.String(required=True, metadata={"description": "Why it was rejected"})
    entry_id = fields.Integer(required=True, allow_none=True, metadata={"description": "The entry approval posted"})
    created_at = fields.DateTime(required=True)
    photos = fields.List(fields.Nested(PhotoSchema), required=True)


class AppealSchema(Schema):
    id = fields.Integer(required=True)
    entry_id = fields.Integer(required=True, metadata={"description": "The deduction appealed"})
    household_id = fields.Integer(required=True)
    amount = fields.Integer(required=True, metadata={"description": "The deduction's amount (negative)"})
    appellant = fields.String(required=True, allow_none=True, metadata={"description": "Display name"})
    reason = fields.String(required=True)
    status = fields.Enum(AppealStatus, by_value=True, required=True)
    decided_by = fields.String(required=True, allow_none=True, metadata={"description": "Display name"})
    decided_at = fields.DateTime(required=True, allow_none=True)
    decision_note = fields.String(required=True)
    reversal_id = fields.Integer(required=True, allow_none=True, metadata={"description": "The entry that undid it"})
    created_at = fields.DateTime(required=True)


ClaimPage = page_schema(ClaimSchema, "ClaimPage")
AppealPage = page_schema(AppealSchema, "AppealPage")


class ClaimForm(Schema):
    rule_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
    quantity = fields.Integer(load_default=1, metadata={"description": "Times, or hours for a rule counted per hour"})
    occurred_on = fields.Date(load_default=None, metadata={"description": "Today or a recent day; today if absent"})
    note = Text(load_default="")
    photos = fields.List(Photo(), load_default=list, metadata={"description": "JPEG, PNG or WebP; at most 3"})


class ClaimListArgs(PageArgs):
    status = fields.Enum(ClaimStatus, by_value=True, metadata={"description": "Absent: every status"})


class RejectArgs(Schema):
    reason = Text(load_default="", metadata={"description": "Required: the villager will read it"})


class AppealArgs(Schema):
    entry_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))
    reason = Text(load_default="")


class AppealListArgs(PageArgs):
    status = fields.Enum(AppealStatus, by_value=True, metadata={"description": "Absent: every status"})


class DecisionArgs(Schema):
    reverse = fields.Boolean(required=True, metadata={"description": "true: 撤销 the deduction; false: 维持 it"})
    note = Text(load_default="")


def _name(user: User | None) -> str | None:
    return user.display_name if user else None


def claim_view(claim: Claim) -> dict:
    version = claim.rule_version
    return {
        "id": claim.id,
        "household_id": claim.household_id,
        "resident_id": claim.resident_id,
        "claimant": _name(claim.claimant),
        "rule_id": claim.rule_id,
        "rule_code": claim.rule.code,
        "rule_name": version.name,
        "rule_version": version.version,
        "quantity": claim.quantity,
        "amount": version.points * claim.quantity,
        "occurred_on": claim.occurred_on,
        "note": claim.note,
        "status": claim.status,
        "reviewer": _name(claim.reviewer),
        "reviewed_at": utc(claim.reviewed_at),
        "reason": claim.reason,
        "entry_id": claim.entry_id,
        "created_at": utc(claim.created_at),
        "photos": [
            {"position": p.position, "url": url_for("api_claims.claim_photo", claim_id=claim.id, position=p.position),
             "width": p.width, "height": p.height}
            for p in claim.photos
        ],
    }


def appeal_view(appeal: Appeal) -> dict:
    return {
        "id": appeal.id,
        "entry_id": appeal.entry_id,
        "household_id": appeal.household_id,
        "amount": appeal.entry.amount,
        "appellant": _name(appeal.appellant),
        "reason": appeal.reason,
        "status": appeal.status,
        "decided_by": _name(appeal.decided_by),
        "decided_at": utc(appeal.decided_at),
        "decision_note": appeal.decision_note,
        "reversal_id": appeal.reversal_id,
        "created_at": utc(appeal.created_at),
    }


# Claims


@bp.get("/claims")
@bp.arguments(ClaimListArgs, location="query")
@bp.response(200, ClaimPage)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
def list_claims(args):
    """A villager's household's claims, and a reviewer's claims in scope; ?status=pending is the review queue,
    oldest first (other lists newest first)."""
    user = api_user()
    page = claims_in_scope(
        policy.household_filter(user, policy.Permission.REVIEW_CLAIMS), args.get("status"), args["page"],
        args["per_page"]
    )
    return {"items": [claim_view(c) for c in page.items], "total": page.total}


@bp.post("/claims")
@bp.arguments(ClaimForm, location="form_and_files")
@bp.response(201, ClaimSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema, description="细则不能申报、照片不合格、日期或次数有误")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="只有村民账号才能申报")
@bp.alt_response(409, schema=ErrorSchema, description="该幂等键已用于另一次不同的申报（idempotency_key_reused）")
@bp.alt_response(413, schema=ErrorSchema, description="上传的文件太大")
def create_claim(args):
    """申报: a villager asks for points for their household under a self-claimable rule, with 0 to 3 photos."""
    user = api_user()
    key = client_key()
    claim = services.submit_claim(
        user, args["rule_id"], [photo.read() for photo in args["photos"]],
        services.PhotoStore(current_app.config["UPLOAD_FOLDER"], current_app.config["PHOTO_MAX_BYTES"]),
        quantity=args["quantity"], occurred_on=args["occurred_on"], note=args["note"],
        # The pages use "web:…" keys: an API key never meets one.
        client_key=f"api:{key}" if key else None,
    )
    return claim_view(claim)


@bp.get("/claims/<id:claim_id>")
@bp.response(200, ClaimSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该申报")
def get_claim(claim_id: int):
    return claim_view(services.visible_claim(api_user(), claim_id))


@bp.get("/claims/<id:claim_id>/photos/<int:position>")
@bp.response(200, {"type": "string", "format": "binary"}, content_type="image/jpeg",
             description="The photo as stored: JPEG, without EXIF")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该照片")
def claim_photo(claim_id: int, position: int):
    claim = services.visible_claim(api_user(), claim_id)
    response = send_file(services.photo_path(claim, position, current_app.config["UPLOAD_FOLDER"]),
                         mimetype="image/jpeg", max_age=0)
    response.headers["Cache-Control"] = "private, max-age=86400"  # a household's photo, never in a shared cache
    return response


@bp.post("/claims/<id:claim_id>/approve")
@bp.response(200, ClaimSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema, description="幂等键格式有误（invalid_idempotency_header）")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在审核范围内，或是自己提交的申报")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该申报")
@bp.alt_response(409, schema=ErrorSchema, description="已被驳回，或超过细则上限")
def approve_claim(claim_id: int):
    """通过: the claim's points post. Approving an approved claim again (with the same Idempotency-Key or not) answers
    the same and posts nothing."""
    client_key()  # a malformed header is refused before anything changes
    claim = services.approve_claim(api_user(), claim_id)
    return claim_view(claim)


@bp.post("/claims/<id:claim_id>/reject")
@bp.arguments(RejectArgs)
@bp.response(200, ClaimSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema, description="请填写理由")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在审核范围内，或是自己提交的申报")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该申报")
@bp.alt_response(409, schema=ErrorSchema, description="已经处理过了")
def reject_claim(args, claim_id: int):
    """驳回 with a reason the villager will read. Sent again with an Idempotency-Key and the same reason, it answers
    the same and changes nothing; otherwise a decided claim is a 409."""
    retry = client_key() is not None  # a malformed header is refused before anything changes
    claim = services.reject_claim(api_user(), claim_id, args["reason"], retry=retry)
    return claim_view(claim)


# Appeals


@bp.get("/appeals")
@bp.arguments(AppealListArgs, location="query")
@bp.response(200, AppealPage)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
def list_appeals(args):
    """A villager's household's appeals, and an admin's appeals in scope; ?status=pending is the queue, oldest
    first (other lists newest first)."""
    user = api_user()
    page = appeals_in_scope(
        policy.household_filter(user, policy.Permission.DECIDE_APPEALS), args.get("status"), args["page"],
        args["per_page"]
    )
    return {"items": [appeal_view(a) for a in page.items], "total": page.total}


@bp.post("/appeals")
@bp.arguments(AppealArgs)
@bp.response(201, AppealSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema, description="不是扣分记录，或理由有误")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="只有村民账号才能申诉")
@bp.alt_response(404, schema=ErrorSchema, description="找不到本户的这笔记录")
@bp.alt_response(409, schema=ErrorSchema, description="已经申诉过，或已经冲正，或该幂等键已用于另一次不同的申诉"
                                                      "（idempotency_key_reused）")
def create_appeal(args):
    """申诉: a villager contests a deduction from their household."""
    key = client_key()
    appeal = services.submit_appeal(api_user(), args["entry_id"], args["reason"], f"api:{key}" if key else None)
    return appeal_view(appeal)


@bp.get("/appeals/<id:appeal_id>")
@bp.response(200, AppealSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该申诉")
def get_appeal(appeal_id: int):
    return appeal_view(services.visible_appeal(api_user(), appeal_id))


@bp.post("/appeals/<id:appeal_id>/decision")
@bp.arguments(DecisionArgs)
@bp.response(200, AppealSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema, description="说明太长")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该申诉")
@bp.alt_response(409, schema=ErrorSchema, description="已经处理过了")
def decide_appeal(args, appeal_id: int):
    """维持 the deduction (reverse false) or 撤销 it (reverse true: a reversal entry restores the points). Sent again
    with an Idempotency-Key, the same decision and note, it answers the same and posts nothing; otherwise a decided
    appeal is a 409."""
    retry = client_key() is not None  # a malformed header is refused before anything changes
    appeal = services.decide_appeal(api_user(), appeal_id, args["reverse"], args["note"], retry=retry)
    return appeal_view(appeal)
