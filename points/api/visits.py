"""/api/v1 走访 (敲门行动: who is due, visits logged with an optional photo) and the 履职 ranking of staff. Staff-only:
care tags and visit notes are read only by those doing grid work."""
from flask import Request, current_app, send_file, url_for
from marshmallow import Schema, fields, validate
from werkzeug.datastructures import CombinedMultiDict

from ..auth import policy
from ..errors import DomainError, NotFound
from ..extensions import db
from ..grids.models import GridNode
from ..leaderboards.duty import duty_ranking
from ..ledger.models import DutyRecord
from ..limits import MAX_ID
from ..people.models import CareTag
from ..periods import parse_month
from ..timeutil import local_today
from ..visits import queries, services
from ..visits.models import UNEARNED_LABELS, Unearned, Visit, VisitKind
from .auth import api_user, authenticate_request
from .blueprint import Blueprint, Parser
from .claims import Photo
from .schemas import IDEMPOTENCY_HEADER, ErrorSchema, PageArgs, Text, client_key, page_of, page_schema, utc

GRID_WORK = policy.Permission.GRID_WORK


class _JsonOrMultipartParser(Parser):
    """A visit is sent as JSON, or as multipart/form-data with its photo."""

    __location_map__ = dict(visit_body="load_visit_body", **Parser.__location_map__)

    def load_visit_body(self, req: Request, schema: Schema):
        if req.is_json:
            return self.load_json(req, schema)
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)


class _VisitBlueprint(Blueprint):
    ARGUMENTS_PARSER = _JsonOrMultipartParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING, "visit_body": "multipart/form-data"
    }


bp = _VisitBlueprint("api_visits", __name__, description="走访（敲门行动）与网格员履职")
bp.before_request(authenticate_request)


class VisitPhotoSchema(Schema):
    url = fields.String(required=True, metadata={"description": "The JPEG (EXIF removed), for staff in scope"})
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)


class VisitSchema(Schema):
    id = fields.Integer(required=True)
    household_id = fields.Integer(required=True)
    household_number = fields.String(required=True)
    grid_id = fields.Integer(required=True)
    village_id = fields.Integer(required=True)
    worker_id = fields.Integer(required=True)
    worker = fields.String(required=True, metadata={"description": "The worker's display name"})
    visited_on = fields.Date(required=True)
    kind = fields.Enum(VisitKind, by_value=True, required=True,
                       metadata={"description": "routine 例行走访, care 关爱走访, policy 政策宣传, other 其他"})
    note = fields.String(required=True, metadata={"description": "Staff-only"})
    photo = fields.Nested(VisitPhotoSchema, required=True, allow_none=True)
    points = fields.Integer(required=True, allow_none=True, metadata={"description": "履职 points it earned"})
    unearned = fields.Enum(Unearned, by_value=True, required=True, allow_none=True, metadata={
        "description": "Why it earned none: no_rule (no 网格员履职 rule set or in force), cap (its cap reached), "
        "repeat (the worker visited the household that day already), past_month (a day of an ended month)"})
    unearned_why = fields.String(required=True, allow_none=True,
                                 metadata={"description": "Why it earned none, in words (中文); null if it earned"})
    created_at = fields.DateTime(required=True)


class DueSchema(Schema):
    household_id = fields.Integer(required=True)
    household_number = fields.String(required=True)
    head = fields.String(required=True, allow_none=True, metadata={"description": "The head's name (staff-only)"})
    grid_id = fields.Integer(required=True)
    grid_name = fields.String(required=True)
    care_tags = fields.List(fields.Enum(CareTag, by_value=True), required=True, metadata={"description": "Staff-only"})
    last_visit = fields.Date(required=True, allow_none=True)
    due_on = fields.Date(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["overdue", "soon"]),
                           metadata={"description": "overdue 已超期, soon 7天内到期"})
    overdue_days = fields.Integer(required=True, metadata={"description": "Days past due_on (0 or less: not yet)"})
    because = fields.Enum(CareTag, by_value=True, required=True, allow_none=True,
                          metadata={"description": "The care tag whose cadence is due; null: the 敲门 round"})


class DutyRowSchema(Schema):
    rank = fields.Integer(required=True)
    worker_id = fields.Integer(required=True)
    name = fields.String(required=True, metadata={"description": "Display name (staff-only)"})
    points = fields.Integer(required=True)
    visits = fields.Integer(required=True, metadata={
        "description": "Visits in the month, a household visited twice on one day counted once"})


VisitPage = page_schema(VisitSchema, "VisitPage")
DuePage = page_schema(DueSchema, "DuePage")
DutyPage = page_schema(DutyRowSchema, "DutyRankingPage")


class VisitForm(Schema):
    household_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
    visited_on = fields.Date(load_default=None,
                             metadata={"description": "Today or up to 30 days back; today if absent"})
    kind = fields.Enum(VisitKind, by_value=True, load_default=VisitKind.ROUTINE)
    note = Text(load_default="", metadata={"description": "At most 300 characters; staff-only"})
    photo = Photo(load_default=None, metadata={"description": "Optional, multipart only: JPEG, PNG or WebP"})


class VisitListArgs(PageArgs):
    mine = fields.Boolean(load_default=False, metadata={"description": "true: only the visits the user logged"})
    household_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


class DutyArgs(PageArgs):
    node = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID),
                          metadata={"description": "A village or a town"})
    month = fields.String(load_default=None, metadata={"description": "2026-12; this month if absent"})


def _grid_worker():
    user = api_user()
    if not policy.holds(user, GRID_WORK):
        raise DomainError("grid_work_only", status=403)
    return user


def visit_view(visit: Visit) -> dict:
    duty = db.session.get(DutyRecord, visit.duty_id) if visit.duty_id else None
    photo = {"url": url_for("api_visits.visit_photo", visit_id=visit.id), "width": visit.photo_width,
             "height": visit.photo_height} if visit.photo_filename else None
    return {"id": visit.id, "household_id": visit.household_id, "household_number": visit.household.number,
            "grid_id": visit.grid_id, "village_id": visit.village_id, "worker_id": visit.worker_id,
            "worker": visit.worker.display_name, "visited_on": visit.visited_on, "kind": visit.kind,
            "note": visit.note, "photo": photo, "points": duty.amount if duty else None, "unearned": visit.unearned,
            "unearned_why": str(UNEARNED_LABELS[visit.unearned]) if visit.unearned else None,
            "created_at": utc(visit.created_at)}


def due_view(row: queries.DueHousehold) -> dict:
    household = row.household
    return {"household_id": household.id, "household_number": household.number,
            "head": household.head.name if household.head else None, "grid_id": household.grid_id,
            "grid_name": household.grid.name, "care_tags": list(row.tags), "last_visit": row.last_visit,
            "due_on": row.due_on, "status": "overdue" if row.overdue else "soon", "overdue_days": row.overdue_days,
            "because": row.because}


@bp.get("/visits/due")
@bp.arguments(PageArgs, location="query")
@bp.response(200, DuePage)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="只有网格员、网格长和村、镇管理员可以走访")
def list_due(args):
    """待走访: the households of the user's grids whose visit is overdue (first) or due within 7 days, care-tagged
    households first in each."""
    due = queries.worker_due_list(_grid_worker(), local_today())
    return page_of([due_view(r) for r in due.overdue + due.soon], args)


@bp.get("/visits")
@bp.arguments(VisitListArgs, location="query")
@bp.response(200, VisitPage)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="只有网格员、网格长和村、镇管理员可以查看走访")
def list_visits(args):
    """Visits at the grids where the user does grid work (or only theirs: mine=true), newest first."""
    user = _grid_worker()
    if args["mine"]:
        page = queries.my_visits(user, args["page"], args["per_page"])
    else:
        page = queries.visits_in_scope(user, args["page"], args["per_page"], args.get("household_id"))
    return {"items": [visit_view(v) for v in page.items], "total": page.total}


@bp.post("/visits")
@bp.arguments(VisitForm, location="visit_body")
@bp.response(201, VisitSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER], requestBody={"content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/VisitForm"}}}})
@bp.alt_response(400, schema=ErrorSchema, description="日期、类型、说明或照片有误；该户已迁出")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="该户不在您负责的网格内，或是自己家")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该户")
@bp.alt_response(409, schema=ErrorSchema, description="该幂等键已用于另一次不同的走访（idempotency_key_reused）")
@bp.alt_response(413, schema=ErrorSchema, description="上传的文件太大")
def create_visit(args):
    """记走访: a JSON body, or multipart/form-data with an optional photo. It earns the village's 网格员履职 points
    within the rule's caps (points), or stands without them (unearned says why). The same Idempotency-Key again
    answers the visit logged the first time."""
    user = api_user()
    key = client_key()
    photo = args["photo"].read() if args.get("photo") is not None else None
    asked = services.VisitAsked(args["household_id"], args["visited_on"] or local_today(), args["kind"], args["note"],
                                photo)
    store = services.PhotoStore(current_app.config["UPLOAD_FOLDER"], current_app.config["PHOTO_MAX_BYTES"])
    visit = services.log_visit(user, asked, store, client_key=f"api:{key}" if key else None)
    return visit_view(visit)


@bp.get("/visits/<id:visit_id>")
@bp.response(200, VisitSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该走访记录")
def get_visit(visit_id: int):
    return visit_view(services.visible_visit(api_user(), visit_id))


@bp.get("/visits/<id:visit_id>/photo")
@bp.response(200, {"type": "string", "format": "binary"}, content_type="image/jpeg",
             description="The photo as stored: JPEG, without EXIF")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该照片")
def visit_photo(visit_id: int):
    visit = services.visible_visit(api_user(), visit_id)
    response = send_file(services.photo_path(visit, current_app.config["UPLOAD_FOLDER"]), mimetype="image/jpeg",
                         max_age=0)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


@bp.get("/duty-ranking")
@bp.arguments(DutyArgs, location="query")
@bp.response(200, DutyPage)
@bp.alt_response(400, schema=ErrorSchema, description="月份格式有误")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该村或镇")
def get_duty_ranking(args):
    """履职排行: per worker, the 网格员履职 points and visits of a month in a village or every village of a town, most
    points first. For the node's admins and the village's grid staff."""
    user = api_user()
    node = db.session.get(GridNode, args["node"])
    if node is None or node.kind.value not in ("village", "town"):
        raise NotFound()
    if not policy.can_see_duty_ranking(user, node):
        raise DomainError("forbidden", status=403)
    today = local_today()
    start, end = parse_month(args["month"] or f"{today.year:04d}-{today.month:02d}")
    rows = [vars(r) for r in duty_ranking(node.id, start, end)]
    return page_of(rows, args)
