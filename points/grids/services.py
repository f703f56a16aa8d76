"""Writes to the grid tree. Each keeps the closure table in step with the parent links."""
import re
from collections.abc import Callable

from flask_babel import gettext as _
from sqlalchemy import Select, delete, func, insert, select, true, update
from sqlalchemy.orm import aliased

from ..audit.services import Actor, record
from ..errors import DomainError
from ..extensions import db
from ..timeutil import utcnow
from .models import GridNode, GridPath, NodeKind
from .queries import subtree_ids

# Which kinds of node may hang under which.
ALLOWED_PARENTS = {
    NodeKind.TOWN: {None},
    NodeKind.VILLAGE: {NodeKind.TOWN, None},
    NodeKind.GRID: {NodeKind.VILLAGE, NodeKind.GRID},
}


# A node's code is typed on command lines and in workbooks: letters, digits, - and _.
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
NAME_LIMIT = 64


def create_town(name: str, code: str) -> GridNode:
    """The town (镇/街道) of a new deployment, the root of its tree: only into a database that has none.

    Raises DomainError("town_exists" | …create_node's)."""
    existing = db.session.scalar(select(GridNode).where(GridNode.kind == NodeKind.TOWN).order_by(GridNode.id).limit(1))
    if existing is not None:
        raise DomainError("town_exists", town=existing.name, town_code=existing.code)
    town = create_node(name, code, NodeKind.TOWN)
    record(None, "node.created", "grid_node", town.id, town.id, after={"name": town.name, "code": town.code})
    return town


def create_node(name: str, code: str, kind: NodeKind, parent: GridNode | None = None) -> GridNode:
    """Add a node under parent (None for a root).

    Raises DomainError("node_name_required" | "node_name_too_long" | "invalid_node_code" | "invalid_parent" |
    "parent_retired" | "code_taken")."""
    name, code = _valid_name(name), _valid_code(code)
    if (parent.kind if parent else None) not in ALLOWED_PARENTS[kind]:
        raise DomainError("invalid_parent")
    if parent is not None and parent.retired_at is not None:
        raise DomainError("parent_retired", node=parent.name)
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
    if kind is NodeKind.VILLAGE and parent is not None:
        for _order, start in sorted(village_starters, key=lambda s: s[0]):
            start(node, parent)
    return node


# What a new village starts with from its town's template, registered by each domain that keeps one (the rule book,
# the hygiene checklist and settings): given the new village and its town, copy what the town keeps. Run in order.
VillageStarter = Callable[[GridNode, GridNode], None]
village_starters: list[tuple[int, VillageStarter]] = []


def starts_villages(order: int) -> Callable[[VillageStarter], VillageStarter]:
    def register(start: VillageStarter) -> VillageStarter:
        village_starters.append((order, start))
        return start
    return register


def _valid_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError("node_name_required")
    if len(name) > NAME_LIMIT:
        raise DomainError("node_name_too_long", limit=NAME_LIMIT)
    return name


def _valid_code(code: str, node: GridNode | None = None) -> str:
    """A code in the form the command line and workbooks can carry, and no other node's."""
    code = (code or "").strip()
    if not CODE.fullmatch(code):
        raise DomainError("invalid_node_code", node_code=code)
    taken = select(GridNode.id).where(GridNode.code == code)
    if db.session.scalar(taken if node is None else taken.where(GridNode.id != node.id)):
        raise DomainError("code_taken", status=409, node_code=code)
    return code


def child_kind(parent: GridNode) -> NodeKind:
    """What hangs under a node: villages and communities under a town, grids (any level) under the rest."""
    return NodeKind.VILLAGE if parent.kind is NodeKind.TOWN else NodeKind.GRID


def add_node(actor: Actor, parent: GridNode, name: str, code: str) -> GridNode:
    """新增: a village or community under a town, a grid of the next level under a village or a grid; audited.
    Raises what create_node raises."""
    node = create_node(name, code, child_kind(parent), parent)
    record(actor, "node.created", "grid_node", node.id, node.id,
           after={"name": node.name, "code": node.code, "parent": parent.name})
    return node


def change_node(actor: Actor, node: GridNode, name: str, code: str, parent: GridNode) -> GridNode:
    """Rename, re-code or move a node (with all below it) under another parent; audited with before and after.
    A grid stays in its village: its households, rounds and events belong to it.

    Raises DomainError("node_under_itself" | "invalid_parent" | "grid_leaves_village" | "parent_retired" | the name's
    and code's)."""
    name, code = _valid_name(name), _valid_code(code, node)
    before = {"name": node.name, "code": node.code, "parent": node.parent.name if node.parent else None}
    if parent.id != node.parent_id:
        _move(node, parent)
    node.name, node.code = name, code
    db.session.flush()
    after = {"name": node.name, "code": node.code, "parent": parent.name}
    if after != before:
        record(actor, "node.changed", "grid_node", node.id, node.id,
               before={k: v for k, v in before.items() if after[k] != v},
               after={k: v for k, v in after.items() if before[k] != v})
    return node


def _move(node: GridNode, parent: GridNode) -> None:
    """The closure table's paths from node's old ancestors to its subtree give way to paths from the new ones."""
    if node.parent_id is None or parent.kind not in ALLOWED_PARENTS[node.kind]:
        raise DomainError("invalid_parent")
    if db.session.scalar(select(GridPath.ancestor_id).where(GridPath.ancestor_id == node.id,
                                                            GridPath.descendant_id == parent.id)) is not None:
        raise DomainError("node_under_itself")
    if parent.retired_at is not None:
        raise DomainError("parent_retired", node=parent.name)
    if node.kind is NodeKind.GRID and parent.village_id != node.village_id:
        raise DomainError("grid_leaves_village")
    below = subtree_ids(node.id)
    db.session.execute(delete(GridPath).where(
        GridPath.descendant_id.in_(below),
        GridPath.ancestor_id.in_(select(GridPath.ancestor_id).where(GridPath.descendant_id == node.id,
                                                                     GridPath.distance > 0))))
    above, within = aliased(GridPath), aliased(GridPath)  # every new ancestor with every node of the subtree
    db.session.execute(insert(GridPath).from_select(
        ["ancestor_id", "descendant_id", "distance"],
        select(above.ancestor_id, within.descendant_id, above.distance + within.distance + 1)
        .select_from(above).join(within, true())
        .where(above.descendant_id == parent.id, within.ancestor_id == node.id)))
    db.session.execute(update(GridNode).where(GridNode.id.in_(below))
                       .values(depth=GridNode.depth + (parent.depth + 1 - node.depth))
                       .execution_options(synchronize_session="fetch"))
    node.parent_id = parent.id
    db.session.flush()
    db.session.expire(node, ["parent"])


# What stops a node from being retired, registered by each domain that keeps something on nodes (households, staff,
# events, rounds, a shop): given the ids of a subtree, the things still there, as words with their numbers.
RetirementCheck = Callable[[Select], list[str]]
retirement_checks: list[RetirementCheck] = []


def blocks_retirement(check: RetirementCheck) -> RetirementCheck:
    retirement_checks.append(check)
    return check


def retirement_refusal(node: GridNode) -> DomainError | None:
    """Why node cannot be retired now (DomainError "node_retired" | "town_not_retired" | "node_in_use": the nodes below
    it in use and what each domain keeps there), or None."""
    if node.retired_at is not None:
        return DomainError("node_retired", status=409, node=node.name)
    if node.parent_id is None:
        return DomainError("town_not_retired")
    below = db.session.scalar(select(func.count()).select_from(GridNode).where(
        GridNode.id.in_(subtree_ids(node.id)), GridNode.id != node.id, GridNode.retired_at.is_(None)))
    left = ([_("%(n)d 个下级网格", n=below)] if below else []) + \
        [thing for check in retirement_checks for thing in check(subtree_ids(node.id))]
    return DomainError("node_in_use", status=409, node=node.name, left="、".join(left)) if left else None


def retire_node(actor: Actor, node: GridNode) -> GridNode:
    """撤销: the node leaves every list and choice, kept for the history that names it; only when nothing is left in it.
    Cannot be undone. Raises retirement_refusal's DomainError."""
    refusal = retirement_refusal(node)
    if refusal is not None:
        raise refusal
    node.retired_at = utcnow()
    db.session.flush()
    record(actor, "node.retired", "grid_node", node.id, node.id, before={"name": node.name, "code": node.code})
    return node
