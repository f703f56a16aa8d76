"""GET /api/v1/grids: the grid nodes within the caller's scope."""
from flask_smorest import Blueprint
from sqlalchemy import select

from ..auth import policy
from ..extensions import db
from ..grids.models import GridNode
from ..grids.queries import get_node, subtree
from ..grids.schemas import GridNodeSchema
from .auth import api_user, authenticate_request
from .schemas import ErrorSchema, PageArgs, page_of, page_schema

bp = Blueprint("api_grids", __name__, description="网格：镇、村、网格树")
bp.before_request(authenticate_request)
GridPage = page_schema(GridNodeSchema, "GridPage")


@bp.get("/grids")
@bp.arguments(PageArgs, location="query")
@bp.response(200, GridPage)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
def list_grids(args):
    """Every node the caller may see, parents before children."""
    condition = policy.node_filter(api_user(), policy.Permission.VIEW_GRIDS, GridNode.id)
    items = db.session.scalars(select(GridNode).where(condition).order_by(GridNode.depth, GridNode.id)).all()
    return page_of(list(items), args)


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
