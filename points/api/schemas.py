"""Shapes shared by every API resource: paging arguments and the error body."""
from marshmallow import Schema, fields, validate


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class ErrorBody(Schema):
    code = fields.String(required=True, metadata={"description": "A stable machine-readable code"})
    message = fields.String(required=True, metadata={"description": "For people, in the request's language"})
    details = fields.Raw()


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBody, required=True)


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """{"items": [...], "total": N} for one kind of item."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item_schema), required=True), "total": fields.Integer(required=True)},
        name=name,
    )
