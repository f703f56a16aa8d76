"""/api/v1 leaderboards (排行榜, 红黑榜): households, residents, grids or villages of a grid subtree, ranked over a
period.

Names are masked (张*明) and no phone or ID number is sent: the same boards hang on the village TV, so any caller with
a token may read any scope (a villager the town's, a clerk another village's). The API asks only for a token, as every
resource but tokens does; there is no policy check.

Ranks are standard competition ranks (1, 2, 2, 4); households or residents tied at the last place are listed too, so
a board may hold a few more items than limit. A board is a top, not a list to page through: it takes limit (at most
100), not page and per_page, and answers no total.
"""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..errors import DomainError
from ..grids.models import GridNode, NodeKind
from ..grids.queries import get_node
from ..leaderboards import queries
from ..leaderboards.queries import GridOrder, ResidentOrder
from ..limits import MAX_ID
from ..periods import Period, PeriodKind, parse_period, period_of
from ..rules.models import RuleCategory
from ..timeutil import local_today
from .auth import api_user, authenticate_request
from .blueprint import Blueprint
from .schemas import ErrorSchema, Text


class _Blueprint(Blueprint):
    """Adds the three shapes of a board's items to the document, which names them in a oneOf that marshmallow cannot
    say."""

    def register_views_in_doc(self, api, app, spec, *, name, parameters):
        for component, schema in PLACES.items():
            if component not in spec.components.schemas:
                spec.components.schema(component, schema=schema)
        super().register_views_in_doc(api, app, spec, name=name, parameters=parameters)


bp = _Blueprint("api_leaderboards", __name__, description="排行榜：户、村民（志愿服务）、网格的红榜与黑榜")
bp.before_request(authenticate_request)

SUBJECTS = ("household", "resident", "grid", "village")
ORDERS = {"resident": [o.value for o in ResidentOrder], "grid": [o.value for o in GridOrder],
          "village": [o.value for o in GridOrder]}
ALL_CATEGORIES = "all"
CATEGORY_VALUES = [c.value for c in RuleCategory]


# Shapes


class LeaderboardScopeSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.Enum(NodeKind, by_value=True, required=True, metadata={"description": "town, village or grid"})


class LeaderboardPeriodSchema(Schema):
    text = fields.String(required=True, metadata={"description": "As the period parameter writes it: month:2026-11"})
    label = fields.String(required=True, metadata={"description": "For people, in the request's language: 2026年11月"})
    first = fields.Date(required=True, allow_none=True, metadata={"description": "Its first day; null for all time"})
    last = fields.Date(required=True, allow_none=True, metadata={"description": "Its last day; null for all time"})


class HouseholdPlaceSchema(Schema):
    rank = fields.Integer(required=True, metadata={"description": "1, 2, 2, 4: equal figures share a place"})
    household_id = fields.Integer(required=True)
    number = fields.String(required=True, metadata={"description": "户号"})
    name = fields.String(required=True, metadata={"description": "The head's name, masked: 张*明"})
    grid = fields.String(required=True, metadata={"description": "The name of the household's grid"})
    total = fields.Integer(required=True, metadata={"description": "Points earned less points lost in the period "
                                                                   "(shopping leaves it alone)"})
    deducted = fields.Integer(required=True, allow_none=True, metadata={
        "description": "Points lost to penalties in the period, what the 黑榜 ranks by; null on the 红榜 (a village "
                       "that lists no 黑榜 names nobody's penalties)"})


class ResidentPlaceSchema(Schema):
    rank = fields.Integer(required=True, metadata={"description": "1, 2, 2, 4: equal figures share a place"})
    resident_id = fields.Integer(required=True)
    name = fields.String(required=True, metadata={"description": "Masked: 张*明"})
    number = fields.String(required=True, metadata={"description": "The household's 户号"})
    grid = fields.String(required=True, metadata={"description": "The name of the household's grid"})
    points = fields.Integer(required=True, metadata={"description": "Points earned less points lost in the period"})
    hours = fields.Integer(required=True, metadata={"description": "Volunteer hours in the period"})


class GridPlaceSchema(Schema):
    rank = fields.Integer(required=True, metadata={"description": "By the exact average (or total); 1, 2, 2, 4"})
    grid_id = fields.Integer(required=True)
    name = fields.String(required=True)
    village = fields.String(required=True, allow_none=True, metadata={"description": "The name of its village"})
    households = fields.Integer(required=True, metadata={"description": "Households living in the grid now"})
    active = fields.Integer(required=True, metadata={"description": "Households with any points in the period"})
    total = fields.Integer(required=True, metadata={"description": "The sum of its households' totals"})
    average = fields.Float(required=True, metadata={"description": "Total per household (those without points count "
                                                                   "0), rounded to one decimal for display"})


class VillagePlaceSchema(Schema):
    rank = fields.Integer(required=True, metadata={"description": "By the exact average (or total); 1, 2, 2, 4"})
    village_id = fields.Integer(required=True)
    name = fields.String(required=True)
    households = fields.Integer(required=True, metadata={"description": "Households on the register in the period"})
    active = fields.Integer(required=True, metadata={"description": "Households with any entry in the period"})
    total = fields.Integer(required=True, metadata={"description": "The sum of its households' totals"})
    average = fields.Float(required=True, metadata={"description": "Total per household (those without points count "
                                                                   "0), rounded to one decimal for display"})


# The items of each subject's board, by their name in the document.
PLACES = {"HouseholdPlace": HouseholdPlaceSchema, "ResidentPlace": ResidentPlaceSchema, "GridPlace": GridPlaceSchema,
          "VillagePlace": VillagePlaceSchema}


class OwnPlaceSchema(Schema):
    rank = fields.Integer(required=True, allow_none=True,
                          metadata={"description": "Among the scope's households; null: no points in the period"})
    households = fields.Integer(required=True, metadata={"description": "How many households the scope holds"})
    total = fields.Integer(required=True, metadata={"description": "The household's total in the period"})


class LeaderboardSchema(Schema):
    subject = fields.String(required=True, validate=validate.OneOf(SUBJECTS))
    board = fields.String(required=True, validate=validate.OneOf(("red", "black")),
                          metadata={"description": "red: 红榜 (most points); black: 黑榜 (most points lost)"})
    order = fields.String(required=True, allow_none=True,
                          metadata={"description": "points or hours (residents), average or total (grids, villages); "
                                                   "null for households"})
    scope = fields.Nested(LeaderboardScopeSchema, required=True)
    period = fields.Nested(LeaderboardPeriodSchema, required=True)
    category = fields.String(required=True, allow_none=True, metadata={
        "enum": [*CATEGORY_VALUES, None], "description": "null: every category"})
    items = fields.List(
        fields.Raw(metadata={"oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in PLACES]}),
        required=True, metadata={"description": "Best first, ties at the last place included; HouseholdPlace, "
                                                "ResidentPlace, GridPlace or VillagePlace by the subject"})
    own = fields.Nested(OwnPlaceSchema, required=True, allow_none=True, metadata={
        "description": "A villager's own household on the households' 红榜 of all categories of a village or a grid, "
                       "when it lives inside "
                       "the scope; null otherwise"})


# Requests


class LeaderboardArgs(Schema):
    subject = fields.String(load_default="household", validate=validate.OneOf(SUBJECTS))
    scope = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID),
                           metadata={"description": "A grid node's id: a town, a village or a grid (and its subtree)"})
    period = Text(metadata={"description": "week:2026-W47, month:2026-11, quarter:2026-Q4, year:2026 or all; "
                                           "absent: this month (Asia/Shanghai)"})
    category = Text(metadata={
        "enum": ["", ALL_CATEGORIES, *CATEGORY_VALUES],
        "description": "One category of the rule book; all: every category; absent or empty: every category for "
                       "households and grids, volunteering (志愿服务) for residents"})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=queries.MAX_LIMIT),
                           metadata={"description": "Places listed (ties at the last place come too); on a 黑榜 no "
                                                    "more than the village lists"})
    board = fields.String(load_default="red", validate=validate.OneOf(("red", "black")),
                          metadata={"description": "Households only. black: the 黑榜 of points lost to penalties, "
                                                   "for a village or grid whose village lists one"})
    order = fields.String(validate=validate.OneOf(ORDERS["resident"] + ORDERS["grid"]), metadata={
        "description": "Residents: points (default) or hours; grids and villages: average (default, per "
                       "household) or total"})

    @validates_schema
    def _fits_the_subject(self, data, **kwargs):
        subject = data.get("subject", "household")
        if data.get("order") is not None and data["order"] not in ORDERS.get(subject, []):
            raise ValidationError(f"Not an order of the {subject} board.", "order")
        if data.get("board") == "black" and subject != "household":
            raise ValidationError("Only households have a black board.", "board")


# Reading the request


def _period(text: str | None) -> Period:
    """The period asked for, or this month. Raises DomainError("invalid_period")."""
    if text is None:
        return period_of(PeriodKind.MONTH, local_today())
    return parse_period(text)


def _category(text: str | None, subject: str) -> RuleCategory | None:
    """Raises DomainError("invalid_category")."""
    if text == ALL_CATEGORIES:
        return None
    if not text:
        return RuleCategory.VOLUNTEERING if subject == "resident" else None
    return queries.parse_category(text)


def _black_limit(scope: GridNode, limit: int) -> int:
    """How many a 黑榜 of scope lists: no more than its village's setting. A town has none: each village decides
    whether to name its households. Raises DomainError("black_board_per_village" | "black_board_off")."""
    if scope.village_id is None:
        raise DomainError("black_board_per_village", status=409)
    black_count = queries.board_settings(scope.village_id).black_count
    if black_count == 0:
        raise DomainError("black_board_off", status=409)
    return min(limit, black_count)


# Views


def _households(scope, period, category, args) -> list[dict]:
    worst = args["board"] == "black"
    limit = _black_limit(scope, args["limit"]) if worst else args["limit"]
    return [{"rank": p.rank, "household_id": p.household_id, "number": p.number, "name": p.name, "grid": p.grid,
             "total": p.total, "deducted": p.deducted if worst else None}
            for p in queries.household_board(scope, period, limit=limit, category=category, worst=worst)]


def _residents(scope, period, category, order, args) -> list[dict]:
    return [{"rank": p.rank, "resident_id": p.resident_id, "name": p.name, "number": p.number, "grid": p.grid,
             "points": p.total, "hours": p.hours}
            for p in queries.resident_board(scope, period, limit=args["limit"], category=category,
                                            order=ResidentOrder(order))]


def _grids(scope, period, category, order, args) -> list[dict]:
    return [{"rank": p.rank, "grid_id": p.grid_id, "name": p.name, "village": p.village, "households": p.households,
             "active": p.active, "total": p.total, "average": float(round(p.average, 1))}
            for p in queries.grid_board(scope, period, category=category, order=GridOrder(order))
            if p.rank <= args["limit"]]


def _villages(scope, period, category, order, args) -> list[dict]:
    return [{"rank": p.rank, "village_id": p.village_id, "name": p.name, "households": p.households,
             "active": p.active, "total": p.total, "average": float(round(p.average, 1))}
            for p in queries.village_board(scope, period, category=category, order=GridOrder(order))
            if p.rank <= args["limit"]]


@bp.get("/leaderboards")
@bp.arguments(LeaderboardArgs, location="query")
@bp.response(200, LeaderboardSchema)
@bp.alt_response(400, schema=ErrorSchema, description="时段有误（invalid_period），"
                                                      "或没有这个积分类别（invalid_category）")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该网格（scope）")
@bp.alt_response(409, schema=ErrorSchema, description="该村没有设置黑榜（black_board_off），镇一级没有黑榜"
                                                      "（black_board_per_village）")
def leaderboard(args):
    """排行榜 of a scope (a town, a village or a grid, with everything below it) over a period.

    subject=household: households by their total (红榜), or with board=black by points lost to penalties (黑榜, only
    where the village lists one, and no longer than it sets). subject=resident: residents by points or hours, in
    志愿服务 unless another category is asked for. subject=grid: grids by the average total of their households (a
    household without points counts 0, so big grids do not win by size), or by the sum. subject=village: the
    villages in use of a town (or the village itself) the same way, a town's villages compared (none under a grid).
    A villager's own household's place in the scope comes in own.
    """
    user = api_user()
    subject = args["subject"]
    scope = get_node(args["scope"])
    period = _period(args.get("period"))
    category = _category(args.get("category"), subject)
    order = args.get("order") or (ORDERS[subject][0] if subject in ORDERS else None)
    if subject == "household":
        items = _households(scope, period, category, args)
    elif subject == "resident":
        items = _residents(scope, period, category, order, args)
    elif subject == "village":
        items = _villages(scope, period, category, order, args)
    else:
        items = _grids(scope, period, category, order, args)
    red = (subject, args["board"]) == ("household", "red")
    mine = queries.own_place(user, scope, period, category) if red else None
    return {
        "subject": subject,
        "board": args["board"],
        "order": order,
        "scope": {"id": scope.id, "name": scope.name, "kind": scope.kind},
        "period": {"text": period.text, "label": period.label, "first": period.first, "last": period.last},
        "category": category.value if category else None,
        "items": items,
        "own": {"rank": mine[1].rank, "households": mine[1].households, "total": mine[1].total} if mine else None,
    }
