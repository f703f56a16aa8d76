"""/api/v1/households, /households/<id> and /residents/<id>: scope, paging, search and masking; admins keep the
register."""
import pytest

from points.auth.models import Role
from points.extensions import db
from points.people.models import CareTag
from points.people.services import add_resident
from points.timeutil import local_today

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
        village.grids[1], "欧阳小明", phone="13600003333", id_number=factories.gen_id_number(),
        care_tags=[CareTag.DISABLED]
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
        "closed_on": None,
        "closure": None,
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
        "left_on": None,
        "departure": None,
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


# Keeping the register


def patch(api, path: str, user, **body):
    return api.request("PATCH", path, user, json=body)


def test_an_admin_adds_a_household_and_a_member_edits_them_and_records_who_left(api, people):
    admin, village = people["village_admin"], people["village"]
    made = api.post("/api/v1/households", admin, json={
        "grid_id": village.grids[1].id, "address": "瑶前村新街 1 号", "kind": "renter", "head_name": "王大山",
        "head_phone": "13700009999", "care_tags": ["empty_nest"]})
    assert made.status_code == 201, made.get_json()
    household = made.get_json()
    assert (household["kind"], household["closed_on"], household["care_tags"]) == ("renter", None, ["empty_nest"])
    child = api.post(f"/api/v1/households/{household['id']}/residents", admin,
                     json={"name": "王小山", "relation": "子女", "phone": None})
    assert child.status_code == 201 and child.get_json()["relation"] == "子女"
    edited = patch(api, f"/api/v1/households/{household['id']}", admin, address="瑶前村新街 2 号",
                   head_id=child.get_json()["id"], kind="registered")
    assert edited.status_code == 200
    assert {r["name"]: r["relation"] for r in edited.get_json()["residents"]} == {
        "王大山": "家庭成员", "王小山": "户主"}
    first_head = [r for r in edited.get_json()["residents"] if r["name"] == "王大山"][0]
    left = patch(api, f"/api/v1/residents/{first_head['id']}", admin, left_on=local_today().isoformat(),
                 departure="deceased")
    assert left.status_code == 200 and (left.get_json()["departure"], left.get_json()["left_on"]) == (
        "deceased", local_today().isoformat())



def test_a_new_households_care_tags_answer_as_they_read_back(api, people):
    """The answer to POST is built before the request's commit: the tags come in the order they are read later."""
    admin, village = people["village_admin"], people["village"]
    made = api.post("/api/v1/households", admin, json={
        "grid_id": village.grids[1].id, "address": "瑶前村新街 3 号", "kind": "registered", "head_name": "李四海",
        "care_tags": ["poor", "empty_nest", "disabled"]})
    assert made.status_code == 201, made.get_json()
    again = api.get(f"/api/v1/households/{made.get_json()['id']}", admin)
    assert made.get_json()["care_tags"] == again.get_json()["care_tags"] == ["disabled", "empty_nest", "poor"]

def test_a_household_is_closed_and_reopened_and_keeps_its_balance(api, people):
    admin, home = people["village_admin"], people["other"]
    factories.gen_points(home, 30)
    db.session.commit()
    closed = patch(api, f"/api/v1/households/{home.id}", admin, closed_on=local_today().isoformat(),
                   closure="moved_out")
    assert closed.status_code == 200
    assert (closed.get_json()["closed_on"], closed.get_json()["closure"], closed.get_json()["balance"]) == (
        local_today().isoformat(), "moved_out", 30)
    listed_again = api.get(f"/api/v1/households?q={home.number}", admin).get_json()["items"]
    assert [h["closed_on"] for h in listed_again] == [local_today().isoformat()]  # still found, marked as left
    error_of(patch(api, f"/api/v1/households/{home.id}", admin, address="x"), 409, "household_closed")
    reopened = patch(api, f"/api/v1/households/{home.id}", admin, closed_on=None)
    assert reopened.status_code == 200 and reopened.get_json()["closed_on"] is None


@pytest.mark.parametrize("who, path, body, status, code", [
    ("village_admin", "home", {"closed_on": "2999-01-01"}, 400, "day_in_future"),
    ("village_admin", "home", {"closed_on": "2026-01-01", "address": "x"}, 400, "close_alone"),
    ("village_admin", "home", {"closure": "moved_out"}, 400, "closure_without_day"),
    ("village_admin", "home", {}, 400, "nothing_to_change"),
    ("village_admin", "home", {"head_id": "far_head"}, 400, "head_not_member"),
    ("village_admin", "far", {"address": "x"}, 403, "forbidden"),
    ("leader", "home", {"address": "x"}, 403, "forbidden"),
    ("villager", "home", {"address": "x"}, 403, "forbidden"),
    ("village_admin", "head", {"left_on": "2026-01-01"}, 400, "head_cannot_leave"),
    ("village_admin", "spouse", {"departure": "deceased"}, 400, "departure_without_day"),
    ("village_admin", "spouse", {"phone": "12345"}, 400, "invalid_phone"),
    ("village_admin", "spouse", {"relation": "户主"}, 400, "relation_invalid"),
])
def test_a_change_to_the_register_is_refused_in_chinese(api, people, who, path, body, status, code):
    paths = {"home": f"/api/v1/households/{people['home'].id}", "far": f"/api/v1/households/{people['far'].id}",
             "head": f"/api/v1/residents/{people['home'].head_id}",
             "spouse": f"/api/v1/residents/{people['spouse'].id}"}
    if body.get("head_id") == "far_head":
        body = {"head_id": people["far"].head_id}
    error = error_of(patch(api, paths[path], people[who], **body), status, code)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"]), error


def test_an_admin_living_in_the_household_cannot_keep_its_entry(api, people):
    own = factories.auth_services.create_user("own-admin", factories.PASSWORD, resident=people["spouse"])
    factories.auth_services.assign_role(None, own, Role.VILLAGE_ADMIN, people["village"].village)
    db.session.commit()
    error_of(patch(api, f"/api/v1/households/{people['home'].id}", own, closed_on=local_today().isoformat()),
             403, "own_household")
