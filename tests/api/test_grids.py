"""GET /api/v1/grids and /api/v1/grids/<id>: the grid tree within the caller's scope; POST and PATCH: admins keep the
nodes below theirs."""
import pytest

from points.auth.models import Role
from points.extensions import db

from .. import factories
from .conftest import error_of


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["total"] == len(body["items"])
    return [item["id"] for item in body["items"]]


def test_a_grid_leader_sees_only_their_grid(api, villages):
    village, _, _ = villages
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
        "retired": False,
    }


def test_a_village_admin_sees_the_village_and_its_grids(api, villages):
    village, neighbour, _ = villages
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    db.session.commit()

    assert ids(api.get("/api/v1/grids", admin)) == [village.village.id] + [g.id for g in village.grids]


def test_a_town_admin_sees_everything_under_the_town_parents_first(api, villages):
    village, neighbour, elsewhere = villages
    admin = factories.gen_user(Role.TOWN_ADMIN, village.town)
    db.session.commit()

    expected = (
        [village.town.id, village.village.id, neighbour.village.id]
        + [g.id for g in village.grids]
        + [g.id for g in neighbour.grids]
    )
    assert ids(api.get("/api/v1/grids", admin)) == expected


def test_a_user_with_two_assignments_sees_both(api, villages):
    village, neighbour, _ = villages
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    factories.auth_services.assign_role(None, worker, Role.GRID_WORKER, neighbour.grids[1])
    db.session.commit()

    assert sorted(ids(api.get("/api/v1/grids", worker))) == sorted([village.grids[0].id, neighbour.grids[1].id])


def test_a_villager_sees_no_grids(api, village):
    villager = factories.gen_villager(factories.gen_household(village.grids[0]))
    db.session.commit()

    assert ids(api.get("/api/v1/grids", villager)) == []


def test_the_grid_list_is_paged(api, villages):
    village, neighbour, _ = villages
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


def test_a_subtree_in_scope(api, villages):
    village, _, _ = villages
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
def test_a_subtree_outside_the_scope_is_a_403(api, villages, role, on, asks):
    village, neighbour, elsewhere = villages
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


def test_a_town_admin_builds_a_village_with_grids_and_micro_grids(api, village):
    admin = factories.gen_user(Role.TOWN_ADMIN, village.town)
    db.session.commit()
    made = api.post("/api/v1/grids", admin, json={"parent_id": village.town.id, "name": "清溪社区", "code": "qx"})
    assert made.status_code == 201, made.get_json()
    community = made.get_json()
    assert (community["kind"], community["depth"], community["retired"]) == ("village", 1, False)
    grid = api.post("/api/v1/grids", admin, json={"parent_id": community["id"], "name": "一网格", "code": "qx-1"})
    micro = api.post("/api/v1/grids", admin,
                     json={"parent_id": grid.get_json()["id"], "name": "1号楼", "code": "qx-1-1"})
    assert micro.status_code == 201 and micro.get_json()["depth"] == 3
    assert micro.get_json()["village_id"] == community["id"]
    assert len(ids(api.get(f"/api/v1/grids/{community['id']}", admin))) == 3


def test_a_node_is_renamed_recoded_moved_and_retired_by_patch(api, village):
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    db.session.commit()
    micro = api.post("/api/v1/grids", admin, json={"parent_id": village.grids[0].id, "name": "楼栋", "code": "ld"})
    node_id = micro.get_json()["id"]
    moved = api.request("PATCH", f"/api/v1/grids/{node_id}", admin,
                        json={"name": "二号楼栋", "code": "ld-2", "parent_id": village.grids[1].id})
    assert moved.status_code == 200, moved.get_json()
    assert {k: moved.get_json()[k] for k in ("name", "code", "parent_id")} == {
        "name": "二号楼栋", "code": "ld-2", "parent_id": village.grids[1].id}
    retired = api.request("PATCH", f"/api/v1/grids/{node_id}", admin, json={"retired": True})
    assert retired.status_code == 200 and retired.get_json()["retired"] is True
    assert node_id not in ids(api.get("/api/v1/grids", admin))
    error_of(api.request("PATCH", f"/api/v1/grids/{node_id}", admin, json={"name": "x"}), 404, "not_found")


@pytest.mark.parametrize("body, status, code, message", [
    ({"parent_id": "village", "name": "第1网格", "code": "taken"}, 409, "code_taken", "编码 taken 已被使用"),
    ({"parent_id": "village", "name": "网格", "code": "网格"}, 400, "invalid_node_code", "编码“网格”不可用"),
    ({"parent_id": 999999, "name": "网格", "code": "g"}, 400, "unknown_parent", "请选择上级"),
    ({"parent_id": "neighbour", "name": "网格", "code": "g"}, 403, "forbidden", "您没有权限"),
    ({"parent_id": "village", "name": "", "code": "g"}, 422, "validation_error", "提交的内容有误"),
])
def test_a_new_node_is_refused_in_chinese_and_nothing_is_written(api, villages, body, status, code, message):
    village, neighbour, _ = villages
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    db.session.commit()
    nodes = {"village": village.village.id, "neighbour": neighbour.village.id}
    village.grids[0].code = "taken"
    db.session.commit()
    before = ids(api.get("/api/v1/grids?per_page=100", admin))
    error = error_of(api.post("/api/v1/grids", admin, json={**body, "parent_id": nodes.get(body["parent_id"],
                                                                                           body["parent_id"])}),
                     status, code)
    assert error["message"].startswith(message), error
    assert ids(api.get("/api/v1/grids?per_page=100", admin)) == before


@pytest.mark.parametrize("body, status, code", [
    ({"parent_id": "self"}, 400, "node_under_itself"),
    ({"parent_id": "town"}, 403, "forbidden"),
    ({"retired": True, "name": "x"}, 400, "retire_alone"),
    ({"retired": True}, 409, "node_in_use"),
    ({}, 400, "nothing_to_change"),
    ({"retired": False}, 422, "validation_error"),
])
def test_a_change_is_refused_in_chinese(api, village, body, status, code):
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    factories.gen_household(village.grids[0])
    db.session.commit()
    nodes = {"self": village.grids[0].id, "town": village.town.id}
    if "parent_id" in body:
        body = {"parent_id": nodes[body["parent_id"]]}
    error = error_of(api.request("PATCH", f"/api/v1/grids/{village.grids[0].id}", admin, json=body), status, code)
    if code == "node_in_use":
        assert error["message"] == "第1网格 里还有 1 户，不能撤销：请先把它们调走或结束"


def test_a_leader_cannot_add_or_change_nodes(api, village):
    leader = factories.gen_user(Role.GRID_LEADER, village.grids[0])
    db.session.commit()
    error_of(api.post("/api/v1/grids", leader, json={"parent_id": village.grids[0].id, "name": "楼", "code": "l"}),
             403, "forbidden")
    error_of(api.request("PATCH", f"/api/v1/grids/{village.grids[0].id}", leader, json={"name": "x"}), 403, "forbidden")
