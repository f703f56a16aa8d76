"""GET /api/v1/households, /households/<id> and /residents/<id>: scope, paging, search and masking."""
import pytest

from points.auth.models import Role
from points.extensions import db
from points.people.models import CareTag
from points.people.services import add_resident

from .. import factories
from .conftest import error_of


@pytest.fixture
def people(village):
    """Two households in grid 1 (one with a spouse), one in grid 2, one in a neighbouring village, and staff."""
    neighbour = factories.gen_village(grids=1, town=village.town)
    home = factories.gen_household(
        village.grids[0], "张三明", phone="13812345678", id_number=factories.gen_id_number(), care_tags=[CareTag.POOR]
    )
    spouse = add_resident(home, "李小红", "配偶", "13900001111", factories.gen_id_number())
    other = factories.gen_household(village.grids[0], "王大山", phone="13700002222")
    across = factories.gen_household(
        village.grids[1], "欧阳小明", phone="13600003333", id_number=factories.gen_id_number(), care_tags=[CareTag.DISABLED]
    )
    far = factories.gen_household(neighbour.grids[0], "赵四", phone="13500004444")
    users = {
        "leader": factories.gen_user(Role.GRID_LEADER, village.grids[0]),
        "worker": factories.gen_user(Role.GRID_WORKER, village.grids[0]),
        "village_admin": factories.gen_user(Role.VILLAGE_ADMIN, village.village),
        "town_admin": factories.gen_user(Role.TOWN_ADMIN, village.town),
        "clerk": factories.gen_user(Role.SHOP_CLERK, village.village),
        "villager": factories.gen_villager(home),
    }
    db.session.commit()
    return dict(village=village, neighbour=neighbour, home=home, spouse=spouse, other=other, across=across, far=far,
                **users)


def listed(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"items", "total"}
    return [h["id"] for h in body["items"]]


# Lists


def test_the_household_list_shape_and_masking(api, people):
    home = people["home"]
    response = api.get("/api/v1/households", people["leader"])

    body = response.get_json()
    assert body["total"] == 2
    first = body["items"][0]
    assert first == {
        "id": home.id,
        "number": home.number,
        "village_id": people["village"].village.id,
        "grid_id": people["village"].grids[0].id,
        "address": home.address,
        "kind": "registered",
        "head_name": "张*明",
        "balance": 0,
    }
    text = response.get_data(as_text=True)
    for secret in ("张三明", "13812345678", "李小红", home.head.id_number, "poor"):
        assert secret not in text


@pytest.mark.parametrize(
    "who, expected",
    [
        ("leader", ["home", "other"]),
        ("worker", ["home", "other"]),
        ("village_admin", ["home", "other", "across"]),
        ("town_admin", ["home", "other", "across", "far"]),
        ("villager", ["home"]),
        ("clerk", []),
    ],
)
def test_each_caller_lists_only_the_households_in_scope(api, people, who, expected):
    assert listed(api.get("/api/v1/households?per_page=100", people[who])) == [people[h].id for h in expected]


def test_a_leader_never_sees_another_grids_households(api, people):
    leader, across = people["leader"], people["across"]
    for query in (
        f"grid_id={people['village'].grids[1].id}",
        f"grid_id={people['village'].village.id}",
        f"q={across.number}",
        "q=欧阳小明",
        "q=13600003333",
        f"q={across.address}",
    ):
        assert across.id not in listed(api.get(f"/api/v1/households?{query}", leader)), query


def test_a_villager_never_sees_another_household(api, people):
    villager = people["villager"]
    assert listed(api.get("/api/v1/households?q=王大山", villager)) == []
    assert listed(api.get(f"/api/v1/households?grid_id={people['village'].grids[0].id}", villager)) == [
        people["home"].id
    ]


def test_paging(api, people):
    grid = people["village"].grids[0]
    for n in range(23):
        factories.gen_household(grid, f"钱{n}号")
    db.session.commit()
    leader = people["leader"]

    everything = listed(api.get("/api/v1/households?per_page=100", leader))
    default = api.get("/api/v1/households", leader).get_json()
    pages = [api.get(f"/api/v1/households?per_page=10&page={p}", leader).get_json() for p in (1, 2, 3, 4)]

    assert len(everything) == 25
    assert default["total"] == 25 and [h["id"] for h in default["items"]] == everything[:20]
    assert [p["total"] for p in pages] == [25, 25, 25, 25]
    assert [len(p["items"]) for p in pages] == [10, 10, 5, 0]
    assert [h["id"] for p in pages for h in p["items"]] == everything


@pytest.mark.parametrize(
    "query, field",
    [
        ("per_page=0", "per_page"),
        ("per_page=1000", "per_page"),
        ("per_page=-1", "per_page"),
        ("per_page=ten", "per_page"),
        ("page=0", "page"),
        ("page=-3", "page"),
        ("page=1.5", "page"),
        ("page=99999999999999999999", "page"),
        ("grid_id=abc", "grid_id"),
        ("grid_id=99999999999999999999", "grid_id"),
        ("q=%00", "q"),
        ("q=" + "x" * 1000, "q"),
    ],
)
def test_bad_list_arguments_are_a_422_naming_the_field(api, people, query, field):
    error = error_of(api.get(f"/api/v1/households?{query}", people["leader"]), 422, "validation_error")
    assert field in error["details"][0]["query"]


def test_the_largest_allowed_arguments_are_answered(api, people):
    response = api.get("/api/v1/households?per_page=100&page=100000&grid_id=2147483647", people["town_admin"])
    assert response.get_json() == {"items": [], "total": 0}


def test_grid_id_filters_to_a_subtree(api, people):
    village, admin = people["village"], people["town_admin"]

    assert listed(api.get(f"/api/v1/households?grid_id={village.grids[1].id}", admin)) == [people["across"].id]
    assert listed(api.get(f"/api/v1/households?grid_id={village.village.id}", admin)) == [
        people["home"].id, people["other"].id, people["across"].id
    ]
    assert listed(api.get("/api/v1/households?grid_id=999999", admin)) == []


@pytest.mark.parametrize(
    "q, expected",
    [
        ("李小红", ["home"]),  # a resident who is not the head
        ("0002222", ["other"]),  # part of a phone number
        ("欧阳", ["across"]),
        ("无此人", []),
        ("", ["home", "other", "across"]),
    ],
)
def test_q_searches_names_and_phones(api, people, q, expected):
    assert listed(api.get(f"/api/v1/households?q={q}", people["village_admin"])) == [people[h].id for h in expected]


def test_q_searches_numbers_and_addresses(api, people):
    admin, across = people["village_admin"], people["across"]
    assert listed(api.get(f"/api/v1/households?q={across.address}", admin)) == [across.id]
    assert across.id in listed(api.get(f"/api/v1/households?q={across.number}", admin))


# Details


def resident(detail: dict, name: str) -> dict:
    return next(r for r in detail["residents"] if r["name"] == name)


def test_a_leader_sees_full_phones_masked_id_numbers_and_care_tags(api, people):
    home = people["home"]
    response = api.get(f"/api/v1/households/{home.id}", people["leader"])

    assert response.status_code == 200
    detail = response.get_json()
    assert detail["id"] == home.id and detail["head_name"] == "张*明"
    assert detail["care_tags"] == ["poor"]
    head = resident(detail, "张三明")
    assert head == {
        "id": home.head.id,
        "household_id": home.id,
        "name": "张三明",
        "relation": "户主",
        "phone": "13812345678",
        "id_number": home.head.id_number[:3] + "*" * 11 + home.head.id_number[-4:],
    }
    assert resident(detail, "李小红")["phone"] == "13900001111"


@pytest.mark.parametrize("who", ["village_admin", "town_admin"])
def test_admins_see_full_id_numbers(api, people, who):
    home = people["home"]
    detail = api.get(f"/api/v1/households/{home.id}", people[who]).get_json()

    assert resident(detail, "张三明")["id_number"] == home.head.id_number
    assert resident(detail, "李小红")["id_number"] == people["spouse"].id_number
    assert resident(detail, "张三明")["phone"] == "13812345678"
    assert detail["care_tags"] == ["poor"]


def test_a_villager_sees_their_own_household_without_care_tags(api, people):
    home = people["home"]
    response = api.get(f"/api/v1/households/{home.id}", people["villager"])

    assert response.status_code == 200
    detail = response.get_json()
    assert "care_tags" not in detail
    assert "poor" not in response.get_data(as_text=True)
    head = resident(detail, "张三明")
    assert head["phone"] == "13812345678"
    assert head["id_number"] != home.head.id_number and head["id_number"].startswith("350***")
    assert resident(detail, "李小红")["phone"] == "13900001111"


def test_a_household_without_phone_or_id_number(api, people):
    bare = factories.gen_household(people["village"].grids[0], "孙五", phone=None)
    db.session.commit()

    for who in ("leader", "village_admin"):
        [head] = api.get(f"/api/v1/households/{bare.id}", people[who]).get_json()["residents"]
        assert head["phone"] is None and head["id_number"] is None


@pytest.mark.parametrize(
    "who, household",
    [
        ("leader", "across"),
        ("leader", "far"),
        ("worker", "across"),
        ("village_admin", "far"),
        ("villager", "other"),
        ("clerk", "home"),
    ],
)
def test_a_household_outside_the_scope_is_a_403(api, people, who, household):
    error_of(api.get(f"/api/v1/households/{people[household].id}", people[who]), 403, "forbidden")
    resident_id = people[household].head.id
    error_of(api.get(f"/api/v1/residents/{resident_id}", people[who]), 403, "forbidden")


@pytest.mark.parametrize("kind", ["households", "residents"])
@pytest.mark.parametrize("item_id", ["999999", "2147483648", "99999999999999999999999", "0"])
def test_an_unknown_household_or_resident_is_a_404(api, people, kind, item_id):
    error_of(api.get(f"/api/v1/{kind}/{item_id}", people["town_admin"]), 404, "not_found")


# Residents


@pytest.mark.parametrize(
    "who, id_number_full", [("leader", False), ("worker", False), ("village_admin", True), ("villager", False)]
)
def test_a_resident_is_disclosed_like_on_the_household(api, people, who, id_number_full):
    spouse = people["spouse"]
    response = api.get(f"/api/v1/residents/{spouse.id}", people[who])

    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == spouse.id and body["household_id"] == people["home"].id
    assert body["name"] == "李小红" and body["relation"] == "配偶"
    assert body["phone"] == "13900001111"
    assert (body["id_number"] == spouse.id_number) is id_number_full
    assert body["id_number"][-4:] == spouse.id_number[-4:]
    assert "care_tags" not in body
