"""Keeping the grid tree (网格树): what town and village admins may change about the nodes below them, for the pages,
the API and the tree workbook alike."""
from ..errors import DomainError, Forbidden, NotFound
from ..extensions import db
from ..grids import services
from ..grids.models import GridNode
from . import policy
from .models import User


def managed_node(actor: User, node_id: int) -> GridNode:
    """A node the actor may change. Raises NotFound, Forbidden."""
    node = db.session.get(GridNode, node_id)
    if node is None or node.retired_at is not None:
        raise NotFound()
    if not policy.can_manage_node(actor, node):
        raise Forbidden()
    return node


def _parent(actor: User, parent_id: int | None) -> GridNode:
    parent = db.session.get(GridNode, parent_id) if parent_id else None
    if parent is None:
        raise DomainError("unknown_parent")
    if not policy.can_add_node_under(actor, parent):
        raise Forbidden()
    return parent


def add_node(actor: User, parent_id: int | None, name: str, code: str) -> GridNode:
    """新增 a village (under a town) or a grid (under a village or grid) in the actor's scope.
    Raises Forbidden, DomainError("unknown_parent" | …grids.services.add_node's)."""
    return services.add_node(actor, _parent(actor, parent_id), name, code)


def change_node(actor: User, node_id: int, name: str | None = None, code: str | None = None,
                parent_id: int | None = None) -> GridNode:
    """Rename, re-code or move (under a node also in the actor's scope) a node below the actor's own; what is left
    out stays as it is. Raises NotFound, Forbidden, DomainError(…grids.services.change_node's)."""
    node = managed_node(actor, node_id)
    parent = node.parent if parent_id is None or parent_id == node.parent_id else _parent(actor, parent_id)
    return services.change_node(actor, node, node.name if name is None else name,
                                node.code if code is None else code, parent)


def retire_node(actor: User, node_id: int) -> GridNode:
    """撤销 a node below the actor's own, once nothing is left in it. Raises NotFound, Forbidden,
    DomainError(…grids.services.retire_node's)."""
    return services.retire_node(actor, managed_node(actor, node_id))
