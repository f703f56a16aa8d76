"""Marshmallow shapes of grid nodes."""
from marshmallow import Schema, fields, validate

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


class NodeArgs(Schema):
    """新增: a village under a town, a grid under a village or a grid."""

    parent_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    code = fields.String(required=True, validate=validate.Length(min=1, max=32),
                         metadata={"description": "Letters, digits, - and _; unique in the whole deployment"})


class NodePatchArgs(Schema):
    """What is sent changes; retired: true retires the node (it cannot be undone)."""

    name = fields.String(validate=validate.Length(min=1, max=64))
    code = fields.String(validate=validate.Length(min=1, max=32))
    parent_id = fields.Integer(strict=True, validate=validate.Range(min=1), metadata={"description": "Move under it"})
    retired = fields.Boolean(validate=validate.Equal(True), metadata={"description": "true: 撤销, only on its own"})
