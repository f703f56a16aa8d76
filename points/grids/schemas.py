"""Marshmallow shapes of grid nodes."""
from marshmallow import Schema, fields

from .models import NodeKind


class GridNodeSchema(Schema):
    id = fields.Integer(required=True)
    parent_id = fields.Integer(allow_none=True)
    kind = fields.Enum(NodeKind, by_value=True, required=True)
    name = fields.String(required=True)
    code = fields.String(required=True)
    depth = fields.Integer(required=True)
    village_id = fields.Integer(allow_none=True)
    retired = fields.Function(lambda node: node.retired_at is not None, dump_only=True,
                              metadata={"description": "撤销: a retired node is in no list", "type": "boolean"})

