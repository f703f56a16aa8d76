"""The village overview and the grid tree pages."""
from points.auth.models import Role
from points.extensions import db
from points.grids.models import NodeKind
from points.grids.services import create_node
from points.people.models import HouseholdKind
from points.people.services import add_resident

from .. import factories


def test_village_overview_counts_households_people_and_renters(client, login, village):
    household = factories.gen_household(village.grids[0])
    factories.gen_household(village.grids[1], kind=HouseholdKind.RENTER)
    add_resident(household, "李秀英", "配偶")
    login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
    db.session.commit()
    page = client.get(f"/grids/{village.village.id}").get_data(as_text=True)
    assert village.village.name in page
    for grid in village.grids:
        assert grid.name in page
    assert '<b>2</b>户' in page and '<b>3</b>人' in page and '<b>1</b>外来租住户' in page


def test_home_takes_staff_to_their_node_and_villagers_to_their_page(client, login, village):
    login(factories.gen_user(Role.GRID_LEADER, village.grids[2]))
    db.session.commit()
    assert client.get("/").headers["Location"].endswith(f"/grids/{village.grids[2].id}")
    login(factories.gen_villager(factories.gen_household(village.grids[0])))
    db.session.commit()
    assert client.get("/").headers["Location"].endswith("/my/points")


def test_tree_lists_every_level(client, login, village):
    create_node("一组微网格", "micro", NodeKind.GRID, village.grids[0])
    login(factories.gen_user(Role.TOWN_ADMIN, village.town))
    db.session.commit()
    page = client.get(f"/grids/{village.town.id}/tree").get_data(as_text=True)
    assert all(name in page for name in (village.town.name, village.village.name, "第1网格", "一组微网格"))
