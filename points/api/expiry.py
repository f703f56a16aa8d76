"""/api/v1 公示 and 清零: a village's settings, its clearing due now and next, running it and undoing a run.

Running a clearing is once per village and period however often it is asked: the same Idempotency-Key again (or
another, or none) answers 201 with the period's one run and clears nothing more."""
from marshmallow import Schema, fields, validate

from ..auth import policy
from ..errors import DomainError, NotFound
from ..extensions import db
from ..grids.models import GridNode
from ..ledger import lifecycle
from ..ledger.models import ExpiryMode, ExpiryRun, LedgerSettings
from .auth import api_user, authenticate_request
from .blueprint import Blueprint
from .schemas import IDEMPOTENCY_HEADER, ErrorSchema, client_key, utc

bp = Blueprint("api_expiry", __name__, description="积分公示和清零")
bp.before_request(authenticate_request)

MODES = [m.value for m in ExpiryMode]


class SettingsSchema(Schema):
    objection_days = fields.Integer(required=True, metadata={"description": "公示异议天数, 0–28"})
    spend_after_publicity = fields.Boolean(required=True,
                                           metadata={"description": "Points are spendable only after their 公示"})
    expiry = fields.String(required=True, validate=validate.OneOf(MODES),
                           metadata={"description": "none 不清零, reset 每年清零, rolling 到期作废"})
    reset_on = fields.Date(required=True, allow_none=True,
                           metadata={"description": "reset: the first clearing day (day of month 1–28), then yearly"})
    carry_percent = fields.Integer(required=True, metadata={"description": "reset: the share kept, 0–100"})
    carry_cap = fields.Integer(required=True, allow_none=True,
                               metadata={"description": "reset: the most points kept (null: no cap)"})
    expiry_months = fields.Integer(required=True, metadata={"description": "rolling: months points stay valid, 1–120"})


class SettingsArgs(Schema):
    """Any of the settings; those left out keep their value."""

    objection_days = fields.Integer()
    spend_after_publicity = fields.Boolean()
    expiry = fields.String(validate=validate.OneOf(MODES))
    reset_on = fields.Date(allow_none=True, metadata={"description": "At least 31 days ahead when set or changed"})
    carry_percent = fields.Integer()
    carry_cap = fields.Integer(allow_none=True)
    expiry_months = fields.Integer()


class PreviewSchema(Schema):
    period = fields.String(required=True,
                           metadata={"description": "2027-01-10 (its day) for a yearly reset, M2027-03 a month's"})
    day = fields.Date(required=True, metadata={"description": "The day the clearing is due"})
    cutoff = fields.Date(required=True, metadata={"description": "Points dated before it are cleared"})
    households = fields.Integer(required=True, metadata={"description": "Households that would lose points"})
    points = fields.Integer(required=True, metadata={"description": "Points that would be cleared, in all"})
    run_id = fields.Integer(required=True, allow_none=True, metadata={"description": "The period's run, if made"})


class RunSchema(Schema):
    id = fields.Integer(required=True)
    village_id = fields.Integer(required=True)
    period = fields.String(required=True)
    cutoff = fields.Date(required=True)
    households = fields.Integer(required=True)
    points = fields.Integer(required=True, metadata={"description": "Points cleared, a positive number"})
    created_at = fields.DateTime(required=True)
    actor = fields.String(required=True, allow_none=True, metadata={"description": "null: the daily job"})
    undone_at = fields.DateTime(required=True, allow_none=True)


class ExpirySchema(Schema):
    due = fields.Nested(PreviewSchema, required=True, allow_none=True,
                        metadata={"description": "The clearing due today (null: none)"})
    upcoming = fields.Nested(PreviewSchema, required=True, allow_none=True,
                             metadata={"description": "The next clearing, as things stand (null: none)"})
    runs = fields.List(fields.Nested(RunSchema), required=True, metadata={"description": "Newest first"})


def settings_view(settings: LedgerSettings) -> dict:
    return {"objection_days": settings.objection_days, "spend_after_publicity": settings.spend_after_publicity,
            "expiry": ExpiryMode(settings.expiry).value, "reset_on": settings.reset_on,
            "carry_percent": settings.carry_percent, "carry_cap": settings.carry_cap,
            "expiry_months": settings.expiry_months}


def preview_view(found: lifecycle.Preview) -> dict | None:
    if found.due is None:
        return None
    return {"period": found.due.period, "day": found.due.day, "cutoff": found.due.cutoff,
            "households": found.run.households if found.run else found.households,
            "points": found.run.points if found.run else found.points,
            "run_id": found.run.id if found.run else None}


def run_view(run: ExpiryRun) -> dict:
    return {"id": run.id, "village_id": run.village_id, "period": run.period, "cutoff": run.cutoff,
            "households": run.households, "points": run.points, "created_at": utc(run.created_at),
            "actor": run.actor.display_name if run.actor else None, "undone_at": utc(run.undone_at)}


def _managed_village(village_id: int) -> GridNode:
    user = api_user()
    village = policy.visible_village(user, village_id)
    policy.require(user, policy.Permission.MANAGE_POINTS, village.id)
    return village


_REFUSED = "只有本村的村管理员可以查看和修改积分公示和清零"


@bp.get("/villages/<id:village_id>/points-settings")
@bp.response(200, SettingsSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description=_REFUSED)
@bp.alt_response(404, schema=ErrorSchema, description="找不到该村")
def get_settings(village_id: int):
    """公示和清零设置 of the village (the defaults where it never changed them)."""
    return settings_view(lifecycle.settings_of(_managed_village(village_id).id))


@bp.put("/villages/<id:village_id>/points-settings")
@bp.arguments(SettingsArgs)
@bp.response(200, SettingsSchema)
@bp.alt_response(400, schema=ErrorSchema, description="设置超出范围（invalid_ledger_settings），清零日期已经过去"
                                                      "（reset_day_in_past）或不到一个月（reset_day_too_soon）")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description=_REFUSED)
@bp.alt_response(404, schema=ErrorSchema, description="找不到该村")
def put_settings(args, village_id: int):
    """Change some of the settings; those left out keep their value. A yearly reset needs reset_on, a day of month
    1–28 after today whenever it is set or changed."""
    village = _managed_village(village_id)
    return settings_view(lifecycle.update_settings(api_user(), village, **args))


@bp.get("/villages/<id:village_id>/expiry")
@bp.response(200, ExpirySchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description=_REFUSED)
@bp.alt_response(404, schema=ErrorSchema, description="找不到该村")
def get_expiry(village_id: int):
    """积分清零: the clearing due today (what it would take, or its run), the next one, and the runs made."""
    village = _managed_village(village_id)
    return {"due": preview_view(lifecycle.preview(village)),
            "upcoming": preview_view(lifecycle.preview(village, upcoming=True)),
            "runs": [run_view(r) for r in lifecycle.runs_of(village.id)]}


@bp.post("/villages/<id:village_id>/expiry")
@bp.response(201, RunSchema, description="The period's run: made now, or made before (nothing is cleared again)")
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema, description="本村没有设置清零（expiry_off），或还没到清零日期"
                                                      "（expiry_not_due）；幂等键格式有误")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description=_REFUSED)
@bp.alt_response(404, schema=ErrorSchema, description="找不到该村")
def run_expiry(village_id: int):
    """执行清零 for the period due today, once: posts an `expiry` entry for each household losing points. Asked
    again, with the same Idempotency-Key or not, it answers the period's run and posts nothing."""
    village = _managed_village(village_id)
    client_key()  # a malformed header is refused like everywhere else
    run, _made = lifecycle.run_expiry(api_user(), village)
    return run_view(run)


@bp.post("/expiry-runs/<id:run_id>/undo")
@bp.response(201, RunSchema, description="Undone now, or undone before (nothing is given back twice)")
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema, description="幂等键格式有误")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description=_REFUSED)
@bp.alt_response(404, schema=ErrorSchema, description="找不到该清零记录")
def undo_expiry(run_id: int):
    """撤销清零: every household gets back what the run took from it; the period is not cleared again. Undoing it
    again (with the same Idempotency-Key or not) answers the undone run and gives back nothing more."""
    run = db.session.get(ExpiryRun, run_id)
    if run is None:
        raise NotFound()
    _managed_village(run.village_id)
    client_key()
    try:
        lifecycle.undo_expiry(api_user(), run)
    except DomainError as refusal:
        if refusal.code != "expiry_already_undone":
            raise
        db.session.rollback()
        run = db.session.get(ExpiryRun, run_id)
    return run_view(run)
