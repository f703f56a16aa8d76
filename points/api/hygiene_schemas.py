"""Shapes of /api/v1 inspection-rounds and monthly-summaries (卫生评比): the answers, and the requests' arguments."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..hygiene.models import Outcome
from ..hygiene.village_settings import MAX_ITEMS
from ..limits import MAX_ID
from .schemas import PageArgs, Text, page_schema


def _row_id(**kwargs) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


# Shapes


class InspectionGridSchema(Schema):
    grid_id = fields.Integer(required=True, metadata={"description": "The grid inspected"})
    grid_name = fields.String(required=True)
    inspector_grid_id = fields.Integer(
        required=True, allow_none=True,
        metadata={"description": "交叉检查: the grid whose leaders and workers score it; null: the village committee"},
    )
    inspector_grid_name = fields.String(required=True, allow_none=True)
    scored = fields.Integer(required=True, metadata={"description": "Households with a score sheet this round"})
    households = fields.Integer(required=True, metadata={"description": "Households in the grid now"})
    published_at = fields.DateTime(
        required=True, allow_none=True, metadata={"description": "When its results were last published; null: not yet"}
    )


class InspectionRoundSchema(Schema):
    id = fields.Integer(required=True)
    village_id = fields.Integer(required=True)
    week = fields.String(required=True, metadata={"description": "ISO week, e.g. 2026-W47"})
    month = fields.String(required=True, metadata={"description": "The month it counts in (its Thursday's): 2026-11"})
    monday = fields.Date(required=True)
    grids = fields.List(fields.Nested(InspectionGridSchema), required=True, metadata={"description": "In grid order"})


class ScoreItemSchema(Schema):
    item_id = fields.Integer(required=True, metadata={"description": "A checklist item of the village"})
    name = fields.String(required=True)
    points = fields.Integer(required=True, metadata={"description": "Points deducted (positive)"})


class ScoreSheetSchema(Schema):
    household_id = fields.Integer(required=True)
    number = fields.String(required=True, metadata={"description": "户号"})
    head_name = fields.String(required=True, metadata={"description": "The head's name, masked: 张*明"})
    grid_id = fields.Integer(required=True, metadata={"description": "The grid it is (or was) inspected in"})
    scored = fields.Boolean(required=True, metadata={"description": "false: no sheet saved yet this round"})
    deductions = fields.Integer(required=True, metadata={"description": "Total points deducted"})
    items = fields.List(fields.Nested(ScoreItemSchema), required=True, metadata={"description": "Items deducted"})
    note = fields.String(required=True)
    revision = fields.Integer(
        required=True, metadata={"description": "Counts saves; 0: none yet. Send it back to save over this sheet"}
    )
    scored_at = fields.DateTime(required=True, allow_none=True)


class PublishedGridSchema(Schema):
    grid_id = fields.Integer(required=True)
    grid_name = fields.String(required=True)
    published_at = fields.DateTime(required=True, allow_none=True, metadata={"description": "null: no score sheet "
                                                                             "yet, so not published"})
    models = fields.List(fields.Integer(), required=True, metadata={"description": "卫生保洁示范户: household ids"})
    shamed = fields.List(fields.Integer(), required=True, metadata={
        "description": "Listed for 晾晒, the most deductions first: household ids (one whose penalty is under a "
                       "pending appeal is left off until the appeal is decided)"})
    unscored = fields.List(fields.Integer(), required=True,
                           metadata={"description": "Households without a score sheet: household ids"})


class PublicationSchema(Schema):
    id = fields.Integer(required=True)
    round_id = fields.Integer(required=True)
    period = fields.String(required=True, metadata={"description": "week:2026-W47, as leaderboards name it"})
    grid_id = fields.Integer(required=True, allow_none=True, metadata={"description": "null: every grid"})
    posted = fields.Integer(required=True, metadata={"description": "Entries posted (awards, penalties)"})
    reversed = fields.Integer(required=True, metadata={"description": "Entries a correction reversed"})
    created_at = fields.DateTime(required=True)
    grids = fields.List(fields.Nested(PublishedGridSchema), required=True,
                        metadata={"description": "The grids it published, as they stand now"})


class ResultItemSchema(Schema):
    name = fields.String(required=True, metadata={"description": "The checklist item"})
    points = fields.Integer(required=True, metadata={"description": "Points deducted"})


class ResultLineSchema(Schema):
    household_id = fields.Integer(required=True)
    number = fields.String(required=True, metadata={"description": "户号"})
    head_name = fields.String(required=True, metadata={"description": "Masked: 张*明"})
    rank = fields.Integer(required=True, allow_none=True, metadata={"description": "null: left out of the ranking"})
    deductions = fields.Integer(required=True)
    score = fields.Integer(required=True, metadata={"description": "The full score less deductions; 0 if left out"})
    scored = fields.Boolean(required=True)
    outcome = fields.Enum(Outcome, by_value=True, required=True, allow_none=True,
                          metadata={"description": "model: 卫生保洁示范户; shame: 晾晒; null: neither (or 晾晒 whose "
                                                   "penalty is under a pending appeal, until it is decided)"})
    items = fields.List(fields.Nested(ResultItemSchema), required=True)


class ResultGridSchema(Schema):
    grid_id = fields.Integer(required=True)
    grid_name = fields.String(required=True)
    inspector_grid_id = fields.Integer(required=True, allow_none=True)
    inspector_grid_name = fields.String(required=True, allow_none=True)
    published_at = fields.DateTime(required=True, allow_none=True)
    lines = fields.List(fields.Nested(ResultLineSchema), required=True,
                        metadata={"description": "Ranked first, then those left out; empty until published"})


class RoundResultsSchema(Schema):
    round_id = fields.Integer(required=True)
    village_id = fields.Integer(required=True)
    week = fields.String(required=True)
    month = fields.String(required=True)
    grids = fields.List(fields.Nested(ResultGridSchema), required=True)


class SummaryLineSchema(Schema):
    household_id = fields.Integer(required=True)
    number = fields.String(required=True, metadata={"description": "户号"})
    head_name = fields.String(required=True, metadata={"description": "Masked: 张*明"})
    total = fields.Integer(required=True, metadata={"description": "The sum of its published weekly scores"})
    weeks = fields.Integer(required=True, metadata={"description": "Published weeks that counted"})
    rank = fields.Integer(required=True, metadata={"description": "In its grid"})
    flag = fields.Boolean(required=True, metadata={"description": "Holds the 流动红旗 of the month"})


class SummaryGridSchema(Schema):
    grid_id = fields.Integer(required=True)
    grid_name = fields.String(required=True)
    average = fields.Float(required=True, metadata={"description": "Average monthly total per household counted"})
    rank = fields.Integer(required=True, metadata={"description": "Among the village's grids, by average"})
    households = fields.List(fields.Nested(SummaryLineSchema), required=True, metadata={"description": "By rank"})


class MonthlySummaryBriefSchema(Schema):
    id = fields.Integer(required=True)
    village_id = fields.Integer(required=True)
    month = fields.String(required=True, metadata={"description": "2026-11"})
    published_at = fields.DateTime(required=True, metadata={"description": "Last published"})


class MonthlySummarySchema(MonthlySummaryBriefSchema):
    grids = fields.List(fields.Nested(SummaryGridSchema), required=True, metadata={"description": "Best average first"})


InspectionRoundPage = page_schema(InspectionRoundSchema, "InspectionRoundPage")
ScoreSheetPage = page_schema(ScoreSheetSchema, "ScoreSheetPage")
MonthlySummaryPage = page_schema(MonthlySummaryBriefSchema, "MonthlySummaryPage")


# Requests


class VillageArgs(PageArgs):
    village_id = _row_id(required=True)


class RoundArgs(Schema):
    village_id = _row_id(required=True, strict=True)
    week = Text(required=True, metadata={"description": "ISO week, e.g. 2026-W47; not one still to come"})


class ScoreListArgs(PageArgs):
    grid_id = _row_id(metadata={"description": "One inspected grid; absent: every grid the caller may read"})


class SheetLineArgs(Schema):
    item_id = _row_id(required=True, strict=True)
    points = fields.Integer(required=True, strict=True,
                            metadata={"description": "Points deducted: 0 to the item's maximum"})


class ScoreSheetArgs(Schema):
    items = fields.List(fields.Nested(SheetLineArgs), required=True,
                        validate=validate.Length(max=MAX_ITEMS),
                        metadata={"description": "Items left out deduct nothing"})
    note = Text(load_default="")
    revision = fields.Integer(
        strict=True, load_default=None, allow_none=True, validate=validate.Range(min=0, max=MAX_ID),
        metadata={"description": "The sheet's revision last seen (0: no sheet yet); a sheet saved since is not "
                                 "overwritten (409). Absent: the last save wins"},
    )

    @validates_schema
    def _each_item_once(self, data, **kwargs):
        ids = [line["item_id"] for line in data.get("items", [])]
        if len(ids) != len(set(ids)):
            raise ValidationError("Each item at most once.", "items")


class PublishArgs(Schema):
    grid_id = _row_id(strict=True, load_default=None, allow_none=True,
                      metadata={"description": "One grid (its inspecting grid's leader may); absent: every grid "
                                               "(the village admin)"})
    early = fields.Boolean(
        load_default=False,
        metadata={"description": "提前发布: before the week is over, a grid is published only when every household "
                                 "in it is scored; true publishes it anyway (the village admin only), counting the "
                                 "unscored households as the village's setting says, and the audit log records the "
                                 "override with the unscored counts. Without it such a publication is refused (409 "
                                 "week_not_over, naming the grids and how many households are unscored)"},
    )


class SummaryArgs(Schema):
    village_id = _row_id(required=True, strict=True)
    month = Text(required=True, metadata={"description": "2026-11; not one still to come"})
