"""/api/v1 reports (民情诉求, 随手拍): a villager reports a problem with photos (or a worker for a household, 代报);
the grid's staff accept or reject it, note progress and finish it; the reporter answers 满意 or 不满意; an admin may
void it. And the public counts per grid of a village."""
import os

from flask import current_app, send_file, url_for
from marshmallow import Schema, fields, validate

from ..auth import policy
from ..errors import DomainError, Forbidden, NotFound
from ..extensions import db
from ..grids.models import NodeKind
from ..grids.queries import get_node
from ..limits import MAX_ID
from ..people.models import Household
from ..reports import queries, services
from ..reports import settings as village_settings
from ..reports.models import Feedback, Report, ReportStatus, StepKind
from ..timeutil import utcnow
from .auth import api_user, authenticate_request
from .claims import Photo, PhotoSchema, _MultipartBlueprint
from .schemas import IDEMPOTENCY_HEADER, ErrorSchema, PageArgs, Text, client_key, page_schema, utc

bp = _MultipartBlueprint("api_reports", __name__,
                         description="民情诉求（随手拍）：村民反映问题，网格员受理、处置、办结，村民回访评价")
bp.before_request(authenticate_request)


class StepSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.Enum(StepKind, by_value=True, required=True)
    actor = fields.String(required=True, allow_none=True,
                          metadata={"description": "Display name for staff; 网格员, 反映人 or 我 for the reporter"})
    note = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    photos = fields.List(fields.Nested(PhotoSchema), required=True)


class ReportSchema(Schema):
    id = fields.Integer(required=True)
    village_id = fields.Integer(required=True)
    grid_id = fields.Integer(required=True)
    grid_name = fields.String(required=True)
    node_id = fields.Integer(required=True, metadata={"description": "Where it sits now (moves up when overdue)"})
    household_id = fields.Integer(required=True)
    household_number = fields.String(required=True)
    category = fields.String(required=True)
    text = fields.String(required=True)
    place = fields.String(required=True)
    status = fields.Enum(ReportStatus, by_value=True, required=True)
    reason = fields.String(required=True, metadata={"description": "Why it was rejected or voided"})
    feedback = fields.Enum(Feedback, by_value=True, required=True, allow_none=True)
    handler = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    landed_at = fields.DateTime(required=True)
    accepted_at = fields.DateTime(required=True, allow_none=True)
    finished_at = fields.DateTime(required=True, allow_none=True)
    due_at = fields.DateTime(required=True, allow_none=True)
    overdue = fields.Boolean(required=True)
    escalations = fields.Integer(required=True)
    reward_entry_id = fields.Integer(required=True, allow_none=True)
    photos = fields.List(fields.Nested(PhotoSchema), required=True)
    steps = fields.List(fields.Nested(StepSchema), required=True)


ReportPage = page_schema(ReportSchema, "ReportPage")


class CategorySchema(Schema):
    id = fields.Integer(required=True, allow_none=True,
                        metadata={"description": "None until the village stores its categories (at its first "
                                                 "report): send the name"})
    name = fields.String(required=True, metadata={"description": "Unique in the village: what a report sends"})


class CategoryList(Schema):
    village_id = fields.Integer(required=True)
    items = fields.List(fields.Nested(CategorySchema), required=True)


class ReportForm(Schema):
    category = Text(load_default=None, validate=validate.Length(max=20),
                    metadata={"description": "The category's name (see /villages/{id}/report-categories); send it "
                                             "or category_id"})
    category_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_ID),
                                 metadata={"description": "The id of a stored category, instead of its name"})
    text = Text(load_default="", metadata={"description": "At most 500 characters; a photo or a text is needed"})
    place = Text(load_default="")
    household_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_ID),
                                  metadata={"description": "代报: a household of the worker's grid"})
    photos = fields.List(Photo(), load_default=list, metadata={"description": "JPEG, PNG or WebP; at most 3"})


class StepForm(Schema):
    note = Text(load_default="")
    photos = fields.List(Photo(), load_default=list, metadata={"description": "JPEG, PNG or WebP; at most 3"})


class ReportListArgs(PageArgs):
    status = fields.Enum(ReportStatus, by_value=True, metadata={"description": "Absent: every status"})


class ReasonArgs(Schema):
    reason = Text(load_default="", metadata={"description": "Required: the reporter will read it"})


class FeedbackArgs(Schema):
    satisfied = fields.Boolean(required=True)
    reason = Text(load_default="", metadata={"description": "Required when not satisfied"})


class GridCountSchema(Schema):
    grid_id = fields.Integer(required=True)
    name = fields.String(required=True)
    open = fields.Integer(required=True, metadata={"description": "待受理 and 已受理"})
    done = fields.Integer(required=True, metadata={"description": "已办结 and 已回访"})


class CountsSchema(Schema):
    village_id = fields.Integer(required=True)
    grids = fields.List(fields.Nested(GridCountSchema), required=True)


def _photos(rows, endpoint: str, **args) -> list[dict]:
    return [{"position": p.position, "url": url_for(endpoint, position=p.position, **args), "width": p.width,
             "height": p.height} for p in rows]


def report_view(report: Report) -> dict:
    user = api_user()
    staff = policy.can(user, policy.Permission.GRID_WORK, report.grid_id)

    def who(actor_id, actor) -> str | None:
        if actor_id is None:
            return None
        if staff or actor_id == user.id:
            return actor.display_name if actor else None
        reporter = actor_id == report.submitted_by_id or (
            actor and actor.resident and actor.resident.household_id == report.household_id)
        return "反映人" if reporter else "网格员"

    return {
        "id": report.id, "village_id": report.village_id, "grid_id": report.grid_id, "grid_name": report.grid.name,
        "node_id": report.node_id, "household_id": report.household_id,
        "household_number": report.household.number, "category": report.category.name, "text": report.text,
        "place": report.place, "status": report.status, "reason": report.reason, "feedback": report.feedback,
        "handler": who(report.handler_id, report.handler), "created_at": utc(report.created_at),
        "landed_at": utc(report.landed_at), "accepted_at": utc(report.accepted_at),
        "finished_at": utc(report.finished_at), "due_at": utc(report.due_at),
        "overdue": report.is_overdue(utcnow()),
        "escalations": report.escalations, "reward_entry_id": report.reward_entry_id,
        "photos": _photos(report.photos, "api_reports.report_photo", report_id=report.id),
        "steps": [{"id": s.id, "kind": s.kind, "actor": who(s.actor_id, s.actor), "note": s.note,
                   "created_at": utc(s.created_at),
                   "photos": _photos(s.photos, "api_reports.step_photo", report_id=report.id, step_id=s.id)}
                  for s in report.steps],
    }


def _store() -> services.PhotoStore:
    return services.PhotoStore(current_app.config["UPLOAD_FOLDER"], current_app.config["PHOTO_MAX_BYTES"])


ANSWERS = {
    401: "未登录", 403: "不在权限范围内，或是自己家、自己提交的诉求", 404: "找不到该诉求",
    409: "已经处理过了（report_already_handled）",
}


def _answers(*statuses: int, bad: str = ""):
    def wrap(view):
        for status in statuses:
            view = bp.alt_response(status, schema=ErrorSchema, description=bad if status == 400 else ANSWERS[status])(
                view)
        return view
    return wrap


@bp.get("/reports")
@bp.arguments(ReportListArgs, location="query")
@bp.response(200, ReportPage)
@_answers(401)
def list_reports(args):
    """A reporter's own reports and the staff's reports in scope, newest first."""
    user = api_user()
    page = queries.visible_reports(
        policy.node_filter(user, policy.Permission.GRID_WORK, Report.grid_id), policy.own_household_id(user),
        user.id, args.get("status"), args["page"], args["per_page"])
    return {"items": [report_view(r) for r in page.items], "total": page.total}


@bp.post("/reports")
@bp.arguments(ReportForm, location="form_and_files")
@bp.response(201, ReportSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(413, schema=ErrorSchema, description="上传的文件太大")
@_answers(400, 401, 403, 404, 409, bad="没有内容也没有照片、照片不合格、类别有误（category 与 category_id 只给一个）")
def create_report(args):
    """随手拍: a villager reports for their household; a worker for a household of their grid (household_id)."""
    user = api_user()
    key = client_key()
    if (args["category"] is None) == (args["category_id"] is None):
        raise DomainError("report_category_invalid")  # one of them, not both
    category = args["category_id"] if args["category_id"] is not None else args["category"].strip()
    report = services.submit_report(
        user, category, args["text"], [p.read() for p in args["photos"]], _store(), place=args["place"],
        household_id=args["household_id"], client_key=f"api:{key}" if key else None)
    return report_view(report)


@bp.get("/reports/<id:report_id>")
@bp.response(200, ReportSchema)
@_answers(401, 403, 404)
def get_report(report_id: int):
    return report_view(services.visible_report(api_user(), report_id))


def _jpeg(path: str):
    response = send_file(path, mimetype="image/jpeg", max_age=0)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def _path(rows, position: int) -> str:
    stored = next((p for p in rows if p.position == position), None)
    path = os.path.join(current_app.config["UPLOAD_FOLDER"], stored.filename) if stored is not None else None
    if path is None or not os.path.isfile(path):
        raise NotFound()
    return path


@bp.get("/reports/<id:report_id>/photos/<int:position>")
@bp.response(200, {"type": "string", "format": "binary"}, content_type="image/jpeg", description="JPEG, no EXIF")
@_answers(401, 403, 404)
def report_photo(report_id: int, position: int):
    return _jpeg(_path(services.visible_report(api_user(), report_id).photos, position))


@bp.get("/reports/<id:report_id>/steps/<id:step_id>/photos/<int:position>")
@bp.response(200, {"type": "string", "format": "binary"}, content_type="image/jpeg", description="JPEG, no EXIF")
@_answers(401, 403, 404)
def step_photo(report_id: int, step_id: int, position: int):
    report = services.visible_report(api_user(), report_id)
    step = next((s for s in report.steps if s.id == step_id), None)
    if step is None:
        raise NotFound()
    return _jpeg(_path(step.photos, position))


@bp.post("/reports/<id:report_id>/accept")
@bp.response(200, ReportSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@_answers(400, 401, 403, 404, 409, bad="幂等键格式有误")
def accept_report(report_id: int):
    """受理: the reporter's household earns the reward rule's points, once. Accepting again (by the same handler)
    answers the same and posts nothing; so does a retry with an Idempotency-Key after the report moved on."""
    retry = client_key() is not None
    return report_view(services.accept_report(api_user(), report_id, retry=retry))


@bp.post("/reports/<id:report_id>/reject")
@bp.arguments(ReasonArgs)
@bp.response(200, ReportSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@_answers(400, 401, 403, 404, 409, bad="请填写理由")
def reject_report(args, report_id: int):
    """不予受理 with a reason. Sent again with an Idempotency-Key and the same reason, it answers the same."""
    retry = client_key() is not None
    return report_view(services.reject_report(api_user(), report_id, args["reason"], retry=retry))


@bp.post("/reports/<id:report_id>/progress")
@bp.arguments(StepForm, location="form_and_files")
@bp.response(200, ReportSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(413, schema=ErrorSchema, description="上传的文件太大")
@_answers(400, 401, 403, 404, 409, bad="请填写处置情况、照片不合格")
def report_progress(args, report_id: int):
    """处置: a note of what was done so far, with up to 3 photos. Sent again with an Idempotency-Key and the same
    note, it answers the same and records nothing more."""
    user = api_user()
    key = client_key()
    services.add_progress(user, report_id, args["note"], [p.read() for p in args["photos"]], _store(),
                          client_key=f"api:{key}" if key else None)
    return report_view(services.visible_report(user, report_id))


@bp.post("/reports/<id:report_id>/finish")
@bp.arguments(StepForm, location="form_and_files")
@bp.response(200, ReportSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(413, schema=ErrorSchema, description="上传的文件太大")
@_answers(400, 401, 403, 404, 409, bad="请填写处置结果、照片不合格")
def finish_report(args, report_id: int):
    """办结: finished by its due time, the handler earns the duty rule's points, once. Sent again with an
    Idempotency-Key and the same note, it answers the same."""
    retry = client_key() is not None
    report = services.finish_report(api_user(), report_id, args["note"], [p.read() for p in args["photos"]],
                                    _store(), retry=retry)
    return report_view(report)


@bp.post("/reports/<id:report_id>/feedback")
@bp.arguments(FeedbackArgs)
@bp.response(200, ReportSchema)
@_answers(400, 401, 403, 404, 409, bad="不满意时请填写原因")
def report_feedback(args, report_id: int):
    """回访 by the reporter: satisfied closes it; not satisfied (with a reason) opens it again."""
    return report_view(services.give_feedback(api_user(), report_id, args["satisfied"], args["reason"]))


@bp.post("/reports/<id:report_id>/void")
@bp.arguments(ReasonArgs)
@bp.response(200, ReportSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@_answers(400, 401, 403, 404, 409, bad="请填写理由")
def void_report(args, report_id: int):
    """撤销 (an admin): the reporter's points and the handler's duty points are taken back. Sent again with an
    Idempotency-Key and the same reason, it answers the same and takes back nothing more."""
    user = api_user()
    if client_key() is not None:
        report = services.visible_report(user, report_id)
        if report.status is ReportStatus.VOIDED and report.reason == (args["reason"] or "").strip():
            policy.require(user, policy.Permission.MANAGE_GRID_WORK, report.grid_id)
            return report_view(report)
    return report_view(services.void_report(user, report_id, args["reason"]))


@bp.get("/villages/<id:village_id>/report-counts")
@bp.response(200, CountsSchema)
@_answers(401)
@bp.alt_response(404, schema=ErrorSchema, description="找不到该村")
def report_counts(village_id: int):
    """Per grid of the village, how many reports are open and how many done: numbers only, as public as the page
    /villages/{id}/reports/public (which needs no login); any signed-in account may read them."""
    village = get_node(village_id)
    if village.kind is not NodeKind.VILLAGE or village.retired_at is not None:
        raise NotFound()
    return {"village_id": village.id, "grids": [vars(c) for c in queries.public_counts(village.id)]}


def _may_list_categories(user, village_id: int) -> bool:
    """A signed-in account of the village (a villager of it, or staff inside it) or staff over it."""
    own = policy.own_household_id(user)
    if own is not None and db.session.get(Household, own).village_id == village_id:
        return True
    return any(n.village_id == village_id or n.id == village_id
               for n in policy.nodes_in_scope(user, policy.Permission.GRID_WORK))


@bp.get("/villages/<id:village_id>/report-categories")
@bp.response(200, CategoryList)
@_answers(401, 403)
@bp.alt_response(404, schema=ErrorSchema, description="找不到该村")
def report_categories(village_id: int):
    """The categories a report of the village may name, in their order: for its villagers and for the staff in
    scope (代报)."""
    user = api_user()
    village = get_node(village_id)
    if village.kind is not NodeKind.VILLAGE or village.retired_at is not None:
        raise NotFound()
    if not _may_list_categories(user, village.id):
        raise Forbidden()
    return {"village_id": village.id,
            "items": [{"id": c.id, "name": c.name} for c in village_settings.categories(village.id)]}
