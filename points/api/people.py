"""/api/v1/households and /api/v1/residents, within the caller's scope and disclosure; admins keep the register
(花名册): households added, edited, closed (整户迁出) and reopened, residents added, edited and leaving."""
from marshmallow import Schema, fields, validate

from ..auth import policy, register
from ..errors import DomainError
from ..ledger.queries import balances_of
from ..ledger.standing import standing_of
from ..limits import MAX_ID
from ..people.models import CareTag, Closure, Departure, Household, HouseholdKind
from ..people.queries import search_households
from ..people.schemas import HouseholdDetailSchema, HouseholdSchema, ResidentSchema, household_view, resident_view
from .auth import api_user, authenticate_request
from .blueprint import Blueprint
from .schemas import ErrorSchema, PageArgs, Text, page_schema

bp = Blueprint("api_people", __name__, description="户与村民：个人信息按权限脱敏")
bp.before_request(authenticate_request)
HouseholdPage = page_schema(HouseholdSchema, "HouseholdPage")


class BarInForceSchema(Schema):
    id = fields.Integer(required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True, metadata={"description": "The last day barred"})
    reason = fields.String(required=True)


class HouseholdStandingSchema(HouseholdDetailSchema):
    available = fields.Integer(required=True, metadata={
        "description": "可用积分: what a redemption may spend now (the balance less the pending points)"})
    pending = fields.Integer(required=True, metadata={
        "description": "待公示积分: points of months still in 公示, where the village spends only after it; else 0"})
    bar = fields.Nested(BarInForceSchema, allow_none=True, required=True,
                        metadata={"description": "限制兑换 in force today, or null"})


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


def _phone(**kwargs) -> Text:
    return Text(allow_none=True, validate=validate.Length(max=20), **kwargs)


def _id_number(**kwargs) -> Text:
    return Text(allow_none=True, validate=validate.Length(max=30), **kwargs)


class NewHouseholdArgs(Schema):
    grid_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))
    address = Text(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.Enum(HouseholdKind, by_value=True, load_default=HouseholdKind.REGISTERED)
    head_name = Text(required=True, validate=validate.Length(min=1, max=50))
    head_phone = _phone(load_default=None)
    head_id_number = _id_number(load_default=None)
    care_tags = fields.List(fields.Enum(CareTag, by_value=True), load_default=list, validate=validate.Length(max=5))


class HouseholdPatchArgs(Schema):
    """Edit what is sent; or {"closed_on": day, "closure"} alone: 整户迁出; or {"closed_on": null} alone: 恢复."""

    address = Text(validate=validate.Length(min=1, max=200))
    kind = fields.Enum(HouseholdKind, by_value=True)
    care_tags = fields.List(fields.Enum(CareTag, by_value=True), validate=validate.Length(max=5))
    head_id = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID),
                             metadata={"description": "A member who becomes the head"})
    closed_on = fields.Date(allow_none=True,
                            metadata={"description": "整户迁出 on this day (not after today); null: 恢复"})
    closure = fields.Enum(Closure, by_value=True, metadata={"description": "Why it left (moved_out if not sent)"})


class NewResidentArgs(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=50))
    relation = Text(required=True, validate=validate.Length(min=1, max=20), metadata={"description": "与户主关系"})
    phone = _phone(load_default=None)
    id_number = _id_number(load_default=None)


class ResidentPatchArgs(Schema):
    """Edit what is sent (null clears a phone or an ID number); or {"left_on": day, "departure"} alone: the resident
    leaves the household (迁出, 死亡, 婚嫁迁出) and their villager account is disabled."""

    name = Text(validate=validate.Length(min=1, max=50))
    relation = Text(validate=validate.Length(min=1, max=20))
    phone = _phone()
    id_number = _id_number()
    left_on = fields.Date(metadata={"description": "The day they left (not after today)"})
    departure = fields.Enum(Departure, by_value=True, metadata={"description": "Why (moved_out if not sent)"})


def _household_detail(household: Household) -> dict:
    user = api_user()
    show = policy.disclosure(user, household)
    standing = standing_of(household)
    data = household_view(household, standing.balance)
    data.update(available=standing.available, pending=standing.pending, bar=standing.bar and {
        "id": standing.bar.id, "starts_on": standing.bar.starts_on, "ends_on": standing.bar.ends_on,
        "reason": standing.bar.reason})
    data["residents"] = [resident_view(r, True, show.phones, show.id_numbers) for r in household.residents]
    if show.care_tags:
        data["care_tags"] = [t.tag for t in household.care_tags]
    return data


def _resident(resident) -> dict:
    show = policy.disclosure(api_user(), resident.household)
    return resident_view(resident, True, show.phones, show.id_numbers)


def _alone(args: dict, *keys: str) -> None:
    """Closing or leaving is a request of its own, not mixed with edits."""
    if set(args) - set(keys):
        raise DomainError("close_alone")


@bp.get("/households/<id:household_id>")
@bp.response(200, HouseholdStandingSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该户")
def get_household(household_id: int):
    return _household_detail(policy.visible_household(api_user(), household_id))


@bp.get("/residents/<id:resident_id>")
@bp.response(200, ResidentSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该村民")
def get_resident(resident_id: int):
    return _resident(policy.visible_resident(api_user(), resident_id))


@bp.post("/households")
@bp.arguments(NewHouseholdArgs)
@bp.response(201, HouseholdStandingSchema)
@bp.alt_response(400, schema=ErrorSchema, description="网格、姓名、手机号或身份证号有误")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="网格不在您管理的范围内")
def create_household(args):
    """新增户 in a grid, with its head as the first resident; the next free 户号."""
    household = register.add_household(api_user(), args["grid_id"], args["address"], args["kind"], args["head_name"],
                                        args["head_phone"], args["head_id_number"], args["care_tags"])
    return _household_detail(household)


@bp.patch("/households/<id:household_id>")
@bp.arguments(HouseholdPatchArgs)
@bp.response(200, HouseholdStandingSchema)
@bp.alt_response(400, schema=ErrorSchema, description="内容有误，或迁出时同时修改了别的内容")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在您管理的范围内，或是您自己家")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该户")
@bp.alt_response(409, schema=ErrorSchema, description="这一户已迁出")
def change_household(args, household_id: int):
    """Edit a household on the register, or close it (整户迁出: its ledger and balance stay; it earns, redeems and
    ranks no more), or reopen it."""
    user = api_user()
    if "closure" in args and "closed_on" not in args:
        raise DomainError("closure_without_day")
    if "closed_on" in args:
        _alone(args, "closed_on", "closure")
        if args["closed_on"] is None:
            household = register.reopen_household(user, household_id)
        else:
            household = register.close_household(user, household_id, args.get("closure", Closure.MOVED_OUT),
                                                  args["closed_on"])
    elif not args:
        raise DomainError("nothing_to_change")
    else:
        household = register.update_household(user, household_id, **args)
    return _household_detail(household)


@bp.post("/households/<id:household_id>/residents")
@bp.arguments(NewResidentArgs)
@bp.response(201, ResidentSchema)
@bp.alt_response(400, schema=ErrorSchema, description="姓名、关系、手机号或身份证号有误")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在您管理的范围内，或是您自己家")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该户")
@bp.alt_response(409, schema=ErrorSchema, description="这一户已迁出")
def add_resident(args, household_id: int):
    """新增成员 of a household on the register (the head is chosen with PATCH /households/ID)."""
    resident = register.add_resident(api_user(), household_id, args["name"], args["relation"], args["phone"],
                                     args["id_number"])
    return _resident(resident)


@bp.patch("/residents/<id:resident_id>")
@bp.arguments(ResidentPatchArgs)
@bp.response(200, ResidentSchema)
@bp.alt_response(400, schema=ErrorSchema, description="内容有误；户主要先换人才能迁出")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在您管理的范围内，或是您自己家")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该村民")
@bp.alt_response(409, schema=ErrorSchema, description="已迁出")
def change_resident(args, resident_id: int):
    """Edit a resident, or record that they left the household (迁出, 死亡, 婚嫁迁出): they keep their history."""
    user = api_user()
    if "departure" in args and "left_on" not in args:
        raise DomainError("departure_without_day")
    if "left_on" in args:
        _alone(args, "left_on", "departure")
        resident = register.remove_resident(user, resident_id, args.get("departure", Departure.MOVED_OUT),
                                            args["left_on"])
    elif not args:
        raise DomainError("nothing_to_change")
    else:
        resident = register.update_resident(user, resident_id, **args)
    return _resident(resident)
