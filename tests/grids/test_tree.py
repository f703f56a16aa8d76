"""The grid tree: any depth, closure rows kept in step, cheap subtree and ancestor queries; nodes added, renamed,
re-coded, moved and retired."""
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import delete, select

from points.audit.models import AuditEvent
from points.auth.models import Role, RoleAssignment
from points.errors import DomainError
from points.events.services import EventTerms, create_event
from points.extensions import db
from points.grids.models import GridNode, GridPath, NodeKind
from points.grids.queries import ancestors, grids_of_village, is_within, nest, subtree
from points.grids.services import change_node, create_node, retire_node
from points.hygiene.inspection import round_for
from points.hygiene.models import Assignment
from points.people.services import move_household
from points.periods import week_of
from points.timeutil import local_today

from .. import factories


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


# --------------------------------------------------------------------------------------------- kept by people


def test_codes_and_names_must_be_usable():
    for name, code, refusal_code in [("镇", "清溪", "invalid_node_code"), ("镇", "a b", "invalid_node_code"),
                                     ("镇", "-a", "invalid_node_code"), ("镇", "x" * 33, "invalid_node_code"),
                                     (" ", "ok", "node_name_required"), ("镇" * 65, "ok", "node_name_too_long")]:
        with pytest.raises(DomainError) as refusal:
            create_node(name, code, NodeKind.TOWN)
        assert refusal.value.code == refusal_code, (name, code)


def paths() -> set[tuple[int, int, int]]:
    return {(p.ancestor_id, p.descendant_id, p.distance) for p in db.session.scalars(select(GridPath))}


def rebuilt_paths() -> set[tuple[int, int, int]]:
    """The closure table as the parent links make it, walked from scratch."""
    parents = dict(db.session.execute(select(GridNode.id, GridNode.parent_id)).all())
    expected = set()
    for node in parents:
        ancestor, distance = node, 0
        while ancestor is not None:
            expected.add((ancestor, node, distance))
            ancestor, distance = parents[ancestor], distance + 1
    return expected


def test_a_grid_moves_with_everything_below_it():
    town, community, grid, second, micro, other = build_deep_tree()
    admin = factories.gen_user(Role.TOWN_ADMIN, town)
    household = factories.gen_household(micro)
    change_node(admin, second, "二级网格", "c1-g-2", other)
    assert paths() == rebuilt_paths()
    assert [n.name for n in ancestors(micro.id)] == ["大场镇", "社区", "另一网格", "二级网格", "微网格"]
    assert (second.depth, micro.depth) == (3, 4)
    assert {n.id for n in subtree(grid.id)} == {grid.id}
    assert is_within(household.grid_id, [other.id]) and not is_within(household.grid_id, [grid.id])
    change_node(admin, second, "二级网格", "c1-g-2", community)  # up a level
    assert paths() == rebuilt_paths() and (second.depth, micro.depth) == (2, 3)


def test_a_village_moves_to_another_town_with_its_grids():
    town, community, grid, second, micro, other = build_deep_tree()
    elsewhere = create_node("别的镇", "other-town", NodeKind.TOWN)
    change_node(None, community, "社区", "c1", elsewhere)
    assert paths() == rebuilt_paths()
    assert [n.name for n in ancestors(micro.id)][:2] == ["别的镇", "社区"] and micro.village_id == community.id


@pytest.mark.parametrize("target, code", [
    ("micro", "node_under_itself"), ("grid", "node_under_itself"), ("town", "invalid_parent"),
    ("other_village", "grid_leaves_village"),
])
def test_a_grid_cannot_move_into_itself_above_its_village_or_to_another_village(target, code):
    town, community, grid, second, micro, other = build_deep_tree()
    nodes = dict(micro=micro, grid=grid, town=town,
                 other_village=create_node("别的社区", "c2", NodeKind.VILLAGE, town))
    before = paths()
    with pytest.raises(DomainError) as refusal:
        change_node(None, grid, "一级网格", "c1-g", nodes[target])
    assert refusal.value.code == code
    assert paths() == before


def test_a_village_cannot_move_under_a_grid():
    town, community, grid, *_ = build_deep_tree()
    village = create_node("别的社区", "c2", NodeKind.VILLAGE, town)
    with pytest.raises(DomainError) as refusal:
        change_node(None, village, "别的社区", "c2", grid)
    assert refusal.value.code == "invalid_parent"


def test_renaming_and_recoding_are_audited_with_before_and_after():
    town, community, grid, *_ = build_deep_tree()
    admin = factories.gen_user(Role.TOWN_ADMIN, town)
    with pytest.raises(DomainError) as refusal:
        change_node(admin, grid, "一级网格", "c1-h", community)  # another node's code
    assert refusal.value.code == "code_taken" and refusal.value.status == 409
    change_node(admin, grid, "第一网格", "c1-g", community)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "node.changed")).one()
    assert (event.actor_id, event.before, event.after) == (admin.id, {"name": "一级网格"}, {"name": "第一网格"})


def test_a_node_is_retired_only_once_nothing_is_left_in_it(village):
    grid = village.grids[0]
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    household = factories.gen_household(grid)
    factories.gen_user(Role.GRID_LEADER, grid)
    round_ = round_for(village.village, week_of(local_today()))
    with pytest.raises(DomainError) as refusal:
        retire_node(admin, grid)
    assert refusal.value.code == "node_in_use" and refusal.value.status == 409
    assert "1 户" in refusal.value.message and "1 个角色分配" in refusal.value.message
    assert "1 轮未发布的卫生评比" in refusal.value.message
    move_household(household, village.grids[1])
    db.session.execute(delete(RoleAssignment).where(RoleAssignment.node_id == grid.id))
    db.session.execute(delete(Assignment).where(Assignment.round_id == round_.id))
    retire_node(admin, grid)
    assert grid.retired_at is not None
    assert grid not in subtree(village.village.id) and grid not in grids_of_village(village.village.id)
    with pytest.raises(DomainError) as refusal:
        create_node("新网格", "new-grid", NodeKind.GRID, grid)
    assert refusal.value.code == "parent_retired"
    with pytest.raises(DomainError) as refusal:
        retire_node(admin, grid)
    assert refusal.value.code == "node_retired"


def test_a_village_is_retired_after_its_grids_events_and_shop(village):
    admin = factories.gen_user(Role.TOWN_ADMIN, village.town)
    rule = factories.gen_rule(village.village, "参加活动", 5)
    factories.gen_shop(village.village)
    starts = datetime.combine(local_today() + timedelta(days=3), time(9))
    create_event(admin, village.village, EventTerms("清扫", "广场", starts, starts + timedelta(hours=2), rule.id))
    message = pytest.raises(DomainError, retire_node, admin, village.village).value.message
    assert all(part in message for part in ("3 个下级网格", "1 个未结束的活动", "1 个积分超市")), message
    with pytest.raises(DomainError) as refusal:
        retire_node(admin, village.town)
    assert refusal.value.code == "town_not_retired"
