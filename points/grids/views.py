"""Pages of the grid tree: a node's overview (the village overview for a village) and its whole tree."""
from flask import Blueprint, render_template
from flask_login import current_user, login_required

from ..auth import policy
from ..hygiene.queries import flag_holders
from ..people.queries import household_counts, renter_count
from .models import NodeKind
from .queries import ancestors, get_node, nest, subtree

bp = Blueprint("grids", __name__, url_prefix="/grids")


@bp.get("/<id:node_id>")
@login_required
def overview(node_id: int):
    node = get_node(node_id)
    policy.require(current_user, policy.Permission.VIEW_GRIDS, node.id)
    nodes = subtree(node.id)
    children = [n for n in nodes if n.parent_id == node.id]
    counts = household_counts([node.id] + [c.id for c in children])
    summary, holders = flag_holders(node.id) if node.kind is NodeKind.VILLAGE else (None, [])
    return render_template(
        "grids/overview.html",
        node=node,
        trail=[a for a in ancestors(node.id) if policy.can(current_user, policy.Permission.VIEW_GRIDS, a.id)],
        children=children,
        counts=counts,
        renters=renter_count(node.id),
        grid_count=sum(1 for n in nodes if n.kind is NodeKind.GRID and n.id != node.id),
        summary=summary,
        holders=holders,
    )


@bp.get("/<id:node_id>/tree")
@login_required
def tree(node_id: int):
    node = get_node(node_id)
    policy.require(current_user, policy.Permission.VIEW_GRIDS, node.id)
    nodes = subtree(node.id)
    return render_template(
        "grids/tree.html", node=node, tree=nest(nodes), counts=household_counts([n.id for n in nodes])
    )
