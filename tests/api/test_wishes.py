"""/api/v1 微心愿: the wall, posting with an Idempotency-Key, adopting, giving back, fulfilling, withdrawing, and
lighting with a photo; every answer checked against the OpenAPI document."""
import io

import pytest
from sqlalchemy import func, select

from points.auth.models import Role
from points.extensions import db
from points.ledger.models import LedgerEntry
from points.ledger.queries import balance_of
from points.people.models import CareTag
from points.rules.models import RuleCategory
from points.wishes.models import Wish

from .. import factories
from .conftest import error_of


@pytest.fixture
def world(village):
    grid = village.grids[0]
    elder = factories.gen_household(grid, "王秀英", care_tags=[CareTag.LEFT_BEHIND_CHILD])
    helper_home = factories.gen_household(grid, "李建国")
    world = dict(
        village=village, elder=elder, helper_home=helper_home,
        elder_account=factories.gen_villager(elder),
        helper=factories.gen_villager(helper_home),
        neighbour=factories.gen_villager(factories.gen_household(village.grids[1], "赵六")),
        worker=factories.gen_user(Role.GRID_WORKER, grid),
        other_worker=factories.gen_user(Role.GRID_WORKER, village.grids[1]),
        aid=factories.gen_rule(village.village, "邻里互助", 5, category=RuleCategory.MUTUAL_AID),
        yard=factories.gen_rule(village.village, "庭院整洁", 5),
    )
    db.session.commit()
    return world


def post_wish(api, world, key="k-1", **values):
    body = dict(household_id=world["elder"].id, title="想装一个楼梯扶手", detail="住二楼", rule_id=world["aid"].id)
    body.update(values)
    return api.post("/api/v1/wishes", world["worker"], json=body, headers={"Idempotency-Key": key} if key else {})


def photo_body():
    return dict(data={"photo": (io.BytesIO(factories.gen_photo()), "done.jpg")}, content_type="multipart/form-data")


def test_a_wish_through_the_api(api, world):
    response = post_wish(api, world)
    assert response.status_code == 201
    wish = response.get_json()
    assert (wish["household_number"], wish["detail"], wish["points"]) == (world["elder"].number, "住二楼", 5)
    assert post_wish(api, world).get_json()["id"] == wish["id"]  # the same key: the same wish
    error_of(post_wish(api, world, title="别的"), 409, "idempotency_key_reused")
    wish_id = wish["id"]

    public = api.get(f"/api/v1/wishes/{wish_id}", world["neighbour"]).get_json()
    assert (public["household_id"], public["household_number"], public["detail"], public["adopter"]) == (
        None, None, None, None)
    assert public["title"] == "想装一个楼梯扶手"

    adopted = api.post(f"/api/v1/wishes/{wish_id}/adopt", world["helper"])
    assert adopted.status_code == 200 and adopted.get_json()["status"] == "adopted"
    assert adopted.get_json()["adopted_by_me"] is True
    error_of(api.post(f"/api/v1/wishes/{wish_id}/adopt", world["neighbour"]), 409, "wish_taken")
    own = api.get(f"/api/v1/wishes/{wish_id}", world["elder_account"]).get_json()
    assert own["adopter"] == "李*国"
    error_of(api.post(f"/api/v1/wishes/{wish_id}/fulfil", world["neighbour"], json={}), 403, "wish_not_adopter")
    fulfilled = api.post(f"/api/v1/wishes/{wish_id}/fulfil", world["helper"], json={"note": "装好了"})
    assert fulfilled.get_json()["status"] == "fulfilled"

    error_of(api.post(f"/api/v1/wishes/{wish_id}/confirm", world["other_worker"], **photo_body()), 403, "forbidden")
    error_of(api.post(f"/api/v1/wishes/{wish_id}/confirm", world["worker"], data={},
                      content_type="multipart/form-data"), 400, "wish_photo_required")
    headers = {"Idempotency-Key": "light-1"}
    lit = api.post(f"/api/v1/wishes/{wish_id}/confirm", world["worker"], headers=headers, **photo_body())
    assert lit.status_code == 200, lit.get_json()
    assert lit.get_json()["status"] == "lit" and lit.get_json()["entry_id"] and lit.get_json()["photo"]
    again = api.post(f"/api/v1/wishes/{wish_id}/confirm", world["worker"], headers=headers, **photo_body())
    assert again.status_code == 200 and again.get_json()["entry_id"] == lit.get_json()["entry_id"]
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    assert balance_of(world["helper_home"].id) == 5


def test_the_wall_has_public_fields_and_counts(api, world):
    wish_id = post_wish(api, world).get_json()["id"]
    post_wish(api, world, key="k-2", title="想学用智能手机")
    api.post(f"/api/v1/wishes/{wish_id}/adopt", world["helper"])
    wall = api.get(f"/api/v1/villages/{world['village'].village.id}/wishes", world["neighbour"]).get_json()
    assert wall["counts"] == {"open": 1, "adopted": 1, "lit": 0}
    assert wall["total"] == 2
    assert set(wall["items"][0]) == {"id", "grid_id", "grid_name", "title", "status", "created_at", "lit_at"}
    assert wall["items"][0]["status"] == "open"  # the open ones first
    error_of(api.get("/api/v1/villages/999999/wishes", world["neighbour"]), 404, "not_found")
    error_of(api.get(f"/api/v1/villages/{world['village'].village.id}/wishes"), 401, "login_required")


def test_posting_refusals(api, world):
    error_of(post_wish(api, world, rule_id=world["yard"].id), 400, "wish_rule_invalid")
    error_of(post_wish(api, world, title="愿" * 41), 400, "wish_title_too_long")
    error_of(api.post("/api/v1/wishes", world["other_worker"],
                      json=dict(household_id=world["elder"].id, title="心愿", rule_id=world["aid"].id)),
             403, "forbidden")
    error_of(api.post("/api/v1/wishes", world["helper"],
                      json=dict(household_id=world["elder"].id, title="心愿", rule_id=world["aid"].id)),
             403, "forbidden")
    error_of(post_wish(api, world, household_id=999999), 404, "not_found")
    assert db.session.scalar(select(func.count()).select_from(Wish)) == 0


def test_give_back_and_withdraw(api, world):
    wish_id = post_wish(api, world).get_json()["id"]
    api.post(f"/api/v1/wishes/{wish_id}/adopt", world["helper"])
    error_of(api.post(f"/api/v1/wishes/{wish_id}/withdraw", world["worker"], json={"reason": "已解决"}), 409,
             "wish_not_withdrawable")
    back = api.post(f"/api/v1/wishes/{wish_id}/give-back", world["helper"])
    assert back.status_code == 200 and back.get_json()["status"] == "open"
    error_of(api.post(f"/api/v1/wishes/{wish_id}/give-back", world["helper"]), 403, "wish_not_adopter")
    error_of(api.post(f"/api/v1/wishes/{wish_id}/withdraw", world["worker"], json={}), 400, "wish_reason_required")
    error_of(api.post(f"/api/v1/wishes/{wish_id}/withdraw", world["other_worker"], json={"reason": "x"}), 403,
             "forbidden")
    gone = api.post(f"/api/v1/wishes/{wish_id}/withdraw", world["worker"], json={"reason": "已解决"})
    assert gone.get_json()["status"] == "withdrawn" and gone.get_json()["withdrawn_reason"] == "已解决"
    error_of(api.get(f"/api/v1/wishes/{wish_id}", world["helper"]), 404, "not_found")


def test_the_poster_may_not_adopt_and_a_title_may_not_tell_who(api, world):
    wish_id = post_wish(api, world).json["id"]
    error_of(api.post(f"/api/v1/wishes/{wish_id}/adopt", world["worker"]), 403, "wish_own_adoption")
    assert api.post(f"/api/v1/wishes/{wish_id}/adopt", world["other_worker"]).status_code == 200
    for title, code in (("王秀英（空巢老人）想装扶手", "wish_title_name"), ("秀英想装扶手", "wish_title_name"),
                        ("留守儿童想要书包", "wish_title_care_tag"), ("想装扶手13900001111", "wish_title_phone"),
                        (f"{world['elder'].address}想装扶手", "wish_title_address")):
        error_of(post_wish(api, world, key=None, title=title), 400, code)

