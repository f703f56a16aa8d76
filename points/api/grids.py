"""/api/v1/grids: the grid nodes within the caller's scope; admins add, change and retire the nodes below theirs."""
from marshmallow import Schema, fields, validate

from ..auth import policy, tree
from ..errors import DomainError
from ..grids.queries import get_node, subtree
from ..grids.schemas import GridNodeSchema
from ..grids.services import NAME_LIMIT
from ..limits import MAX_ID
from .auth import api_user, authenticate_request
from .blueprint import Blueprint
from .schemas import ErrorSchema, PageArgs, Text, page_of, page_schema

bp = Blueprint("api_grids", __name__, description="网格：镇、村、网格树")
bp.before_request(authenticate_request)
GridPage = page_schema(GridNodeSchema, "GridPage")


class NodeArgs(Schema):
    """新增: a village under a town, a grid under a village or a grid."""

    parent_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))
    name = Text(required=True, validate=validate.Length(min=1, max=NAME_LIMIT))
    code = Text(required=True, validate=validate.Length(min=1, max=32),
                metadata={"description": "Letters, digits, - and _; unique in the whole deployment"})


class NodePatchArgs(Schema):
    """What is sent changes; retired: true retires the node (it cannot be undone)."""

    name = Text(validate=validate.Length(min=1, max=NAME_LIMIT))
    code = Text(validate=validate.Length(min=1, max=32))
    parent_id = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID),
                               metadata={"description": "Move under it"})
    retired = fields.Boolean(validate=validate.Equal(True), metadata={"description": "true: 撤销, only on its own"})

@bp.get("/grids")
@bp.arguments(PageArgs, location="query")
@bp.response(200, GridPage)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
def list_grids(args):
    """Every node the caller may see, parents before children."""
    return page_of(policy.nodes_in_scope(api_user(), policy.Permission.VIEW_GRIDS), args)

@bp.get("/grids/<id:node_id>")
@bp.arguments(PageArgs, location="query")
@bp.response(200, GridPage)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该网格")
def grid_subtree(args, node_id: int):
    """A node and everything below it, parents before children."""
    node = get_node(node_id)
    policy.require(api_user(), policy.Permission.VIEW_GRIDS, node.id)
    return page_of(subtree(node.id), args)

@bp.post("/grids")
@bp.arguments(NodeArgs)
@bp.response(201, GridNodeSchema)
@bp.alt_response(400, schema=ErrorSchema, description="名称或编码不合要求，或上级不对")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="上级不在您管理的范围内")
@bp.alt_response(409, schema=ErrorSchema, description="编码已被使用")
def create_grid(args):
    """新增: a village or community under a town (town admins), a grid of the next level under a village or grid."""
    node = tree.add_node(api_user(), args["parent_id"], args["name"], args["code"])
    return node

@bp.patch("/grids/<id:node_id>")
@bp.arguments(NodePatchArgs)
@bp.response(200, GridNodeSchema)
@bp.alt_response(400, schema=ErrorSchema, description="名称、编码或新的上级不合要求")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="该节点或新的上级不在您管理的范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该节点")
@bp.alt_response(409, schema=ErrorSchema, description="编码已被使用，或要撤销的节点里还有户、人员、活动或评比")
def change_grid(args, node_id: int):
    """Rename, re-code or move a node below the caller's own (with everything under it); or retire it
    ({"retired": true}, on its own: it cannot be undone)."""
    user = api_user()
    if args.get("retired"):
        if set(args) != {"retired"}:
            raise DomainError("retire_alone")
        node = tree.retire_node(user, node_id)
    elif not args:
        raise DomainError("nothing_to_change")
    else:
        node = tree.change_node(user, node_id, args.get("name"), args.get("code"), args.get("parent_id"))
    return node
