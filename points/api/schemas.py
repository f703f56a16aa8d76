"""Shapes shared by every API resource: ids, paging arguments, text fields and the error body."""
from marshmallow import Schema, fields, validate

from ..limits import MAX_PAGE


class Text(fields.String):
    """A string without NUL characters, which PostgreSQL can neither store nor compare."""

    default_error_messages = {"nul": "May not contain NUL characters."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise self.make_error("nul")
        return text


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


def page_of(items: list, args: dict) -> dict:
    """{"items", "total"} of one page of a list that is small enough to be read whole."""
    start = (args["page"] - 1) * args["per_page"]
    return {"items": items[start : start + args["per_page"]], "total": len(items)}


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
