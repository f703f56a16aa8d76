"""Writes to the grid tree. Each keeps the closure table in step with the parent links."""
from sqlalchemy import select

from ..errors import DomainError
from ..extensions import db
from .models import GridNode, GridPath, NodeKind

# Which kinds of node may hang under which.
ALLOWED_PARENTS = {
    NodeKind.TOWN: {None},
    NodeKind.VILLAGE: {NodeKind.TOWN, None},
    NodeKind.GRID: {NodeKind.VILLAGE, NodeKind.GRID},
}


def create_node(name: str, code: str, kind: NodeKind, parent: GridNode | None = None) -> GridNode:
    """Add a node under parent (None for a root). Raises DomainError("invalid_parent" | "code_taken")."""
    if (parent.kind if parent else None) not in ALLOWED_PARENTS[kind]:
        raise DomainError("invalid_parent")
    if db.session.scalar(select(GridNode.id).where(GridNode.code == code)):
        raise DomainError("code_taken", node_code=code)
    node = GridNode(
        name=name,
        code=code,
        kind=kind,
        parent_id=parent.id if parent else None,
        depth=parent.depth + 1 if parent else 0,
    )
    db.session.add(node)
    db.session.flush()
    if kind is NodeKind.VILLAGE:
        node.village_id = node.id
    elif kind is NodeKind.GRID:
        node.village_id = parent.village_id
    ancestors = (
        db.session.execute(select(GridPath.ancestor_id, GridPath.distance).where(GridPath.descendant_id == parent.id))
        if parent
        else []
    )
    db.session.add_all(
        [GridPath(ancestor_id=node.id, descendant_id=node.id, distance=0)]
        + [GridPath(ancestor_id=a, descendant_id=node.id, distance=d + 1) for a, d in ancestors]
    )
    db.session.flush()
    return node
