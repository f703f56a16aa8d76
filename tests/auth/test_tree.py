"""Keeping the grid tree: town admins below their town, village admins inside their village, nobody else."""
import pytest

from points.auth import tree
from points.auth.models import Role
from points.errors import DomainError, Forbidden, NotFound

from .. import factories


def test_a_town_admin_adds_villages_and_grids_of_any_depth_below_the_town(villages):
    village, neighbour, elsewhere = villages
    admin = factories.gen_user(Role.TOWN_ADMIN, village.town)
    community = tree.add_node(admin, village.town.id, "新社区", "xinshequ")
    grid = tree.add_node(admin, community.id, "一网格", "xinshequ-1")
    micro = tree.add_node(admin, grid.id, "一号楼栋", "xinshequ-1-1")
    assert (community.kind.value, grid.kind.value, micro.kind.value) == ("village", "grid", "grid")
    assert micro.village_id == community.id and micro.depth == 3
    tree.change_node(admin, neighbour.grids[0].id, parent_id=neighbour.village.id, name="改名网格")
    with pytest.raises(Forbidden):
        tree.add_node(admin, elsewhere.village.id, "外镇网格", "waizhen")
    with pytest.raises(Forbidden):
        tree.change_node(admin, elsewhere.grids[0].id, name="外镇")
    with pytest.raises(Forbidden):  # the town itself is above every town admin's reach
        tree.change_node(admin, village.town.id, name="改名镇")
    with pytest.raises(Forbidden):  # a village moved out of the admin's town
        tree.change_node(admin, village.village.id, parent_id=elsewhere.town.id)


def test_a_village_admin_keeps_the_grids_inside_the_village_only(villages):
    village, neighbour, elsewhere = villages
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    micro = tree.add_node(admin, village.grids[0].id, "一号楼栋", "lou-1")
    tree.change_node(admin, micro.id, parent_id=village.grids[1].id)
    assert micro.parent_id == village.grids[1].id
    for attempt in (lambda: tree.add_node(admin, village.town.id, "新村", "xincun"),
                    lambda: tree.add_node(admin, neighbour.village.id, "邻村网格", "lincun"),
                    lambda: tree.change_node(admin, village.village.id, name="改名村"),
                    lambda: tree.change_node(admin, micro.id, parent_id=neighbour.grids[0].id),
                    lambda: tree.retire_node(admin, neighbour.grids[0].id)):
        with pytest.raises(Forbidden):
            attempt()


@pytest.mark.parametrize("role", [Role.GRID_LEADER, Role.GRID_WORKER, Role.SHOP_CLERK, Role.EVENT_ORGANIZER, None])
def test_staff_and_villagers_keep_no_part_of_the_tree(villages, role):
    village, _, _ = villages
    if role is None:
        user = factories.gen_villager(factories.gen_household(village.grids[0]))
    else:
        user = factories.gen_user(role, village.grids[0] if role in (Role.GRID_LEADER, Role.GRID_WORKER)
                                  else village.village)
    with pytest.raises(Forbidden):
        tree.add_node(user, village.grids[0].id, "微网格", "micro")
    with pytest.raises(Forbidden):
        tree.change_node(user, village.grids[0].id, name="改名")
    with pytest.raises(Forbidden):
        tree.retire_node(user, village.grids[0].id)


def test_unknown_or_retired_nodes_are_not_found(villages):
    village, _, _ = villages
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    empty = tree.add_node(admin, village.village.id, "空网格", "empty")
    tree.retire_node(admin, empty.id)
    for missing in (empty.id, 10**9):
        with pytest.raises(NotFound):
            tree.change_node(admin, missing, name="x")
    with pytest.raises(DomainError) as refusal:
        tree.add_node(admin, None, "无上级", "orphan")
    assert refusal.value.code == "unknown_parent"
