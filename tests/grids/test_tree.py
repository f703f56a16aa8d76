"""The grid tree: any depth, closure rows kept in step, cheap subtree and ancestor queries."""
import pytest

from points.errors import DomainError
from points.extensions import db
from points.grids.models import GridPath, NodeKind
from points.grids.queries import ancestors, is_within, nest, subtree
from points.grids.services import create_node


def build_deep_tree():
    """镇 → 社区 → 网格 → 网格 → 微网格 (the 大场 shape), plus a sibling branch."""
    town = create_node("大场镇", "dachang", NodeKind.TOWN)
    community = create_node("社区", "c1", NodeKind.VILLAGE, town)
    grid = create_node("一级网格", "c1-g", NodeKind.GRID, community)
    second = create_node("二级网格", "c1-g-2", NodeKind.GRID, grid)
    micro = create_node("微网格", "c1-g-2-m", NodeKind.GRID, second)
    other = create_node("另一网格", "c1-h", NodeKind.GRID, community)
    return town, community, grid, second, micro, other


def test_closure_has_a_row_per_ancestor_pair():
    town, community, grid, second, micro, other = build_deep_tree()
    assert db.session.query(GridPath).filter_by(descendant_id=micro.id).count() == 5
    assert [n.name for n in ancestors(micro.id)] == ["大场镇", "社区", "一级网格", "二级网格", "微网格"]
    assert micro.depth == 4 and micro.village_id == community.id


def test_subtree_holds_the_node_and_everything_below_only():
    town, community, grid, second, micro, other = build_deep_tree()
    assert {n.id for n in subtree(grid.id)} == {grid.id, second.id, micro.id}
    assert {n.id for n in subtree(community.id)} == {community.id, grid.id, second.id, micro.id, other.id}
    assert is_within(micro.id, [grid.id])
    assert not is_within(other.id, [grid.id])
    assert not is_within(micro.id, [])


def test_nest_builds_the_tree_for_display():
    town, community, *_ = build_deep_tree()
    [(root, children)] = nest(subtree(community.id))
    assert root.id == community.id
    assert [c.name for c, _ in children] == ["一级网格", "另一网格"]


@pytest.mark.parametrize(
    "kind, parent_kind",
    [(NodeKind.GRID, None), (NodeKind.TOWN, NodeKind.TOWN), (NodeKind.VILLAGE, NodeKind.VILLAGE)],
)
def test_a_node_only_hangs_where_its_kind_belongs(kind, parent_kind):
    parent = None
    if parent_kind is NodeKind.TOWN:
        parent = create_node("镇", "t", NodeKind.TOWN)
    elif parent_kind is NodeKind.VILLAGE:
        parent = create_node("村", "v", NodeKind.VILLAGE)
    with pytest.raises(DomainError) as refusal:
        create_node("x", "x", kind, parent)
    assert refusal.value.code == "invalid_parent"


def test_codes_are_unique():
    create_node("镇", "same", NodeKind.TOWN)
    with pytest.raises(DomainError) as refusal:
        create_node("镇2", "same", NodeKind.TOWN)
    assert refusal.value.code == "code_taken"
