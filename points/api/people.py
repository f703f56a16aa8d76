"""GET /api/v1/households and /api/v1/residents, within the caller's scope and disclosure."""
from flask_smorest import Blueprint
from marshmallow import fields, validate

from ..auth import policy
from ..ledger.queries import balance_of, balances_of
from ..limits import MAX_ID
from ..people.queries import search_households
from ..people.schemas import HouseholdDetailSchema, HouseholdSchema, ResidentSchema, household_view, resident_view
from .auth import api_user, authenticate_request
from .schemas import ErrorSchema, PageArgs, Text, page_schema

bp = Blueprint("api_people", __name__, description="户与村民：个人信息按权限脱敏")
bp.before_request(authenticate_request)
HouseholdPage = page_schema(HouseholdSchema, "HouseholdPage")


class HouseholdArgs(PageArgs):
    grid_id = fields.Integer(
        validate=validate.Range(min=1, max=MAX_ID), metadata={"description": "Only households in this node's subtree"}
    )
    q = Text(
        load_default="",
        validate=validate.Length(max=100),
        metadata={"description": "户号, address, or a resident's name or phone"},
    )


@bp.get("/households")
@bp.arguments(HouseholdArgs, location="query")
@bp.response(200, HouseholdPage)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
def list_households(args):
    page = search_households(
        policy.household_filter(api_user()), args["q"], args.get("grid_id"), args["page"], args["per_page"]
    )
    balances = balances_of([h.id for h in page.items])
    return {"items": [household_view(h, balances.get(h.id, 0)) for h in page.items], "total": page.total}


@bp.get("/households/<id:household_id>")
@bp.response(200, HouseholdDetailSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该户")
def get_household(household_id: int):
    household = policy.visible_household(api_user(), household_id)
    show = policy.disclosure(api_user(), household)
    data = household_view(household, balance_of(household.id))
    data["residents"] = [resident_view(r, True, show.phones, show.id_numbers) for r in household.residents]
    if show.care_tags:
        data["care_tags"] = [t.tag for t in household.care_tags]
    return data


@bp.get("/residents/<id:resident_id>")
@bp.response(200, ResidentSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该村民")
def get_resident(resident_id: int):
    resident = policy.visible_resident(api_user(), resident_id)
    household = resident.household
    show = policy.disclosure(api_user(), household)
    return resident_view(resident, True, show.phones, show.id_numbers)
