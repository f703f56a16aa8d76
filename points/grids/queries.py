"""Read-only queries on the grid tree."""
from sqlalchemy import Select, select

from ..errors import DomainError, NotFound
from ..extensions import db
from .models import GridNode, GridPath, NodeKind


def subtree_ids(node_id: int) -> Select:
    """A subquery of the ids of node_id and everything below it."""
    return select(GridPath.descendant_id).where(GridPath.ancestor_id == node_id)


def is_within(node_id: int, scope_ids: list[int]) -> bool:
    """True when node_id is one of scope_ids or below one of them."""
    if node_id in scope_ids:  # staff at their own node, the commonest case: no query
        return True
    if not scope_ids:
        return False
    return (
        db.session.scalar(
            select(GridPath.ancestor_id)
            .where(GridPath.descendant_id == node_id, GridPath.ancestor_id.in_(scope_ids))
            .limit(1)
        )
        is not None
    )


def ancestors(node_id: int) -> list[GridNode]:
    """The path from the root down to node_id, inclusive."""
    return list(
        db.session.scalars(
            select(GridNode)
            .join(GridPath, GridPath.ancestor_id == GridNode.id)
            .where(GridPath.descendant_id == node_id)
            .order_by(GridPath.distance.desc())
        )
    )


def subtree(node_id: int) -> list[GridNode]:
    """node_id and all below it that is in use (not retired), by depth and then in order of creation."""
    return list(
        db.session.scalars(
            select(GridNode)
            .join(GridPath, GridPath.descendant_id == GridNode.id)
            .where(GridPath.ancestor_id == node_id, GridNode.retired_at.is_(None))
            .order_by(GridNode.depth, GridNode.id)
        )
    )


def children(node_id: int) -> list[GridNode]:
    """The nodes right below node_id that are in use, in order of creation."""
    return list(db.session.scalars(
        select(GridNode).where(GridNode.parent_id == node_id, GridNode.retired_at.is_(None)).order_by(GridNode.id)))


def get_node(node_id: int) -> GridNode:
    node = db.session.get(GridNode, node_id)
    if node is None:
        raise NotFound()
    return node


def village_by_code(code: str) -> GridNode:
    """The village with this code. Raises DomainError("unknown_village")."""
    node = db.session.scalar(select(GridNode).where(GridNode.code == code, GridNode.kind == NodeKind.VILLAGE))
    if node is None:
        raise DomainError("unknown_village", status=404, village_code=code)
    return node


def grids_of_village(village_id: int) -> list[GridNode]:
    """Every grid node of a village (any level) in use, by depth then creation."""
    return list(
        db.session.scalars(
            select(GridNode)
            .where(GridNode.village_id == village_id, GridNode.kind == NodeKind.GRID, GridNode.retired_at.is_(None))
            .order_by(GridNode.depth, GridNode.id)
        )
    )


def nest(nodes: list[GridNode]) -> list[tuple[GridNode, list]]:
    """Turn a subtree list (parents first) into [(node, children)] for templates and the API."""
    children: dict[int | None, list[GridNode]] = {}
    ids = {n.id for n in nodes}
    for node in nodes:
        children.setdefault(node.parent_id if node.parent_id in ids else None, []).append(node)

    def build(parent_id):
        return [(n, build(n.id)) for n in children.get(parent_id, [])]

    return build(None)
