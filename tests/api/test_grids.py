"""GET /api/v1/grids and /api/v1/grids/<id>: the grid tree within the caller's scope."""
import pytest

from points.auth.models import Role
from points.extensions import db

from .. import factories
from .conftest import error_of


@pytest.fixture
def town(village):
    """The village fixture's town with a second village, and a third village in another town."""
    neighbour = factories.gen_village(grids=2, town=village.town)
    elsewhere = factories.gen_village(grids=1)
    db.session.commit()
    return village, neighbour, elsewhere


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["total"] == len(body["items"])
    return [item["id"] for item in body["items"]]


def test_a_grid_leader_sees_only_their_grid(api, town):
    village, _, _ = town
    leader = factories.gen_user(Role.GRID_LEADER, village.grids[1])
    db.session.commit()

    response = api.get("/api/v1/grids", leader)

    assert ids(response) == [village.grids[1].id]
    [grid] = response.get_json()["items"]
    assert grid == {
        "id": village.grids[1].id,
        "parent_id": village.village.id,
        "kind": "grid",
        "name": "第2网格",
        "code": village.grids[1].code,
        "depth": 2,
        "village_id": village.village.id,
    }


def test_a_village_admin_sees_the_village_and_its_grids(api, town):
    village, neighbour, _ = town
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    db.session.commit()

    assert ids(api.get("/api/v1/grids", admin)) == [village.village.id] + [g.id for g in village.grids]


def test_a_town_admin_sees_everything_under_the_town_parents_first(api, town):
    village, neighbour, elsewhere = town
    admin = factories.gen_user(Role.TOWN_ADMIN, village.town)
    db.session.commit()

    expected = (
        [village.town.id, village.village.id, neighbour.village.id]
        + [g.id for g in village.grids]
        + [g.id for g in neighbour.grids]
    )
    assert ids(api.get("/api/v1/grids", admin)) == expected


def test_a_user_with_two_assignments_sees_both(api, town):
    village, neighbour, _ = town
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    factories.auth_services.assign_role(None, worker, Role.GRID_WORKER, neighbour.grids[1])
    db.session.commit()

    assert sorted(ids(api.get("/api/v1/grids", worker))) == sorted([village.grids[0].id, neighbour.grids[1].id])


def test_a_villager_sees_no_grids(api, village):
    villager = factories.gen_villager(factories.gen_household(village.grids[0]))
    db.session.commit()

    assert ids(api.get("/api/v1/grids", villager)) == []


def test_the_grid_list_is_paged(api, town):
    village, neighbour, _ = town
    admin = factories.gen_user(Role.TOWN_ADMIN, village.town)
    db.session.commit()
    everything = ids(api.get("/api/v1/grids?per_page=100", admin))
    assert len(everything) == 8

    first = api.get("/api/v1/grids?per_page=3", admin).get_json()
    second = api.get("/api/v1/grids?per_page=3&page=3", admin).get_json()

    assert first["total"] == second["total"] == 8
    assert [g["id"] for g in first["items"]] == everything[:3]
    assert [g["id"] for g in second["items"]] == everything[6:]
    error_of(api.get("/api/v1/grids?per_page=0", admin), 422, "validation_error")


def test_a_subtree_in_scope(api, town):
    village, _, _ = town
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    leader = factories.gen_user(Role.GRID_LEADER, village.grids[2])
    db.session.commit()

    assert ids(api.get(f"/api/v1/grids/{village.village.id}", admin)) == [village.village.id] + [
        g.id for g in village.grids
    ]
    assert ids(api.get(f"/api/v1/grids/{village.grids[2].id}", admin)) == [village.grids[2].id]
    assert ids(api.get(f"/api/v1/grids/{village.grids[2].id}", leader)) == [village.grids[2].id]


@pytest.mark.parametrize(
    "role, on, asks",
    [
        (Role.GRID_LEADER, "grid 0", "grid 1"),
        (Role.GRID_LEADER, "grid 0", "village"),
        (Role.GRID_LEADER, "grid 0", "town"),
        (Role.VILLAGE_ADMIN, "village", "town"),
        (Role.VILLAGE_ADMIN, "village", "neighbour"),
        (Role.VILLAGE_ADMIN, "village", "neighbour grid"),
        (Role.TOWN_ADMIN, "town", "elsewhere"),
    ],
)
def test_a_subtree_outside_the_scope_is_a_403(api, town, role, on, asks):
    village, neighbour, elsewhere = town
    nodes = {
        "grid 0": village.grids[0],
        "grid 1": village.grids[1],
        "village": village.village,
        "town": village.town,
        "neighbour": neighbour.village,
        "neighbour grid": neighbour.grids[0],
        "elsewhere": elsewhere.village,
    }
    user = factories.gen_user(role, nodes[on])
    db.session.commit()

    error = error_of(api.get(f"/api/v1/grids/{nodes[asks].id}", user), 403, "forbidden")
    assert error["message"] == "您没有权限执行此操作"


@pytest.mark.parametrize("node_id", ["999999", "2147483648", "99999999999999999999999", "0"])
def test_an_unknown_grid_is_a_404(api, village, node_id):
    admin = factories.gen_user(Role.TOWN_ADMIN, village.town)
    db.session.commit()

    error_of(api.get(f"/api/v1/grids/{node_id}", admin), 404, "not_found")
