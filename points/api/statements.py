"""/api/v1 statements: a household's 积分对账单 over a range of local days."""
from datetime import date

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields

from ..auth import policy
from ..ledger.statements import MAX_YEARS, household_statement, parse_range
from ..timeutil import local_today
from .auth import api_user, authenticate_request
from .blueprint import Blueprint
from .ledger import EntrySchema, entry_view
from .schemas import ErrorSchema, Text

bp = Blueprint("api_statements", __name__, description="积分对账单")
bp.before_request(authenticate_request)


class StatementArgs(Schema):
    start = Text(data_key="from", load_default="",
                 metadata={"description": "First local day, YYYY-MM-DD; 1 January of this year if absent"})
    end = Text(data_key="to", load_default="", metadata={"description": "Last local day, YYYY-MM-DD; today if absent"})


class StatementLineSchema(EntrySchema):
    balance = fields.Integer(required=True, metadata={"description": "The running balance after this entry"})
    # actor: the name for staff in scope; 工作人员 for the household's own villagers


class StatementSchema(Schema):
    household_id = fields.Integer(required=True)
    start = fields.Date(required=True, data_key="from")
    end = fields.Date(required=True, data_key="to")
    opening = fields.Integer(required=True, metadata={"description": "The sum of the entries before from"})
    closing = fields.Integer(required=True, metadata={"description": "opening + the sum of the entries"})
    earned = fields.Integer(required=True, metadata={"description": "Points gained, the shop aside"})
    lost = fields.Integer(required=True, metadata={"description": "Points lost, the shop aside (positive)"})
    spent = fields.Integer(required=True, metadata={"description": "Points spent at the shop, less voids (positive)"})
    entries = fields.List(fields.Nested(StatementLineSchema), required=True,
                          metadata={"description": "Oldest first, by occurred_on"})


@bp.get("/households/<id:household_id>/statement")
@bp.arguments(StatementArgs, location="query")
@bp.response(200, StatementSchema)
@bp.alt_response(400, schema=ErrorSchema, description=f"日期格式不对、结束早于开始，或超过 {MAX_YEARS} 年")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该户")
def get_statement(args, household_id: int):
    """积分对账单: the balance before from, every entry from..to (local days, by the day the points belong to,
    occurred_on) with the running balance after it, and the closing balance. At most 10 years."""
    user = api_user()
    household = policy.visible_household(user, household_id)
    staff = policy.can(user, policy.Permission.VIEW_HOUSEHOLDS, household.grid_id)
    today = local_today()
    start, end = parse_range(args["start"], args["end"], (date(today.year, 1, 1), today))
    found = household_statement(household, start, end)
    return {
        "household_id": household.id, "start": found.start, "end": found.end, "opening": found.opening,
        "closing": found.closing, "earned": found.earned, "lost": found.lost, "spent": found.spent,
        "entries": [_line(line, staff) for line in found.lines],
    }


def _line(line, staff: bool) -> dict:
    """An entry with its running balance; villagers read 工作人员 for who recorded it, staff in scope the name."""
    view = {**entry_view(line.entry), "balance": line.balance}
    if not staff and view["actor"] is not None:
        view["actor"] = str(_l("工作人员"))
    return view
