"""/api/v1 走访 and the 履职 ranking: every answer checked against the OpenAPI document."""
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from points.extensions import db
from points.timeutil import local_today
from points.visits.models import Visit

from .. import factories
from ..visits.helpers import build
from .conftest import error_of


@pytest.fixture
def world(village):
    return build(village)


def _body(world, household=None, **extra) -> dict:
    body = {"household_id": (household or world.plain).id, "visited_on": local_today().isoformat(), "kind": "routine",
            "note": "一切正常"}
    body.update(extra)
    return body


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Visit))


def test_a_visit_posted_as_json_earns_points_once_per_key(api, world):
    headers = {"Idempotency-Key": "visit-1"}
    first = api.post("/api/v1/visits", world.worker, json=_body(world), headers=headers)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert (body["points"], body["unearned"], body["kind"], body["photo"]) == (2, None, "routine", None)
    again = api.post("/api/v1/visits", world.worker, json=_body(world), headers=headers)
    assert again.status_code == 201 and again.get_json()["id"] == body["id"]
    assert _count() == 1
    error_of(api.post("/api/v1/visits", world.worker, json=_body(world, world.elder), headers=headers), 409,
             "idempotency_key_reused")
    fetched = api.get(f"/api/v1/visits/{body['id']}", world.worker).get_json()
    assert fetched == body
    error_of(api.get(f"/api/v1/visits/{body['id']}", world.other_worker), 403, "forbidden")


def test_a_visit_posted_as_multipart_with_a_photo(api, world):
    data = {**_body(world), "photo": (io.BytesIO(factories.gen_photo()), "p.jpg")}
    response = api.post("/api/v1/visits", world.worker, data=data, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    photo = response.get_json()["photo"]
    assert photo["width"] > 0
    image = api.get(photo["url"], world.worker)
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    bad = {**_body(world), "photo": (io.BytesIO(b"%PDF"), "p.jpg")}
    error_of(api.post("/api/v1/visits", world.worker, data=bad, content_type="multipart/form-data"), 400,
             "not_an_image")
    assert _count() == 1


def test_refusals(api, world):
    error_of(api.post("/api/v1/visits", world.worker, json=_body(world, world.across)), 403, "visit_outside_grid")
    error_of(api.post("/api/v1/visits", world.worker_at_home, json=_body(world, world.home)), 403,
             "visit_own_household")
    future = (local_today() + timedelta(days=1)).isoformat()
    error_of(api.post("/api/v1/visits", world.worker, json=_body(world, visited_on=future)), 400,
             "visit_day_invalid")
    error_of(api.post("/api/v1/visits", world.villager, json=_body(world)), 403, "forbidden")
    error_of(api.post("/api/v1/visits", json=_body(world)), 401, "login_required")
    assert api.post("/api/v1/visits", world.worker, json=_body(world, kind="party")).status_code == 422
    assert _count() == 0


def test_due_and_lists(api, world):
    due = api.get("/api/v1/visits/due", world.worker).get_json()
    assert due["total"] == 4 and due["items"][0]["household_id"] == world.elder.id
    assert due["items"][0]["care_tags"] == ["empty_nest"] and due["items"][0]["status"] == "overdue"
    assert len(api.get("/api/v1/visits/due?per_page=1", world.worker).get_json()["items"]) == 1
    error_of(api.get("/api/v1/visits/due", world.villager), 403, "grid_work_only")
    api.post("/api/v1/visits", world.worker, json=_body(world))
    api.post("/api/v1/visits", world.other_worker, json=_body(world, world.across))
    assert api.get("/api/v1/visits?mine=true", world.worker).get_json()["total"] == 1
    assert api.get("/api/v1/visits", world.admin).get_json()["total"] == 2
    assert api.get(f"/api/v1/visits?household_id={world.across.id}", world.worker).get_json()["total"] == 0


def test_the_duty_ranking(api, world):
    api.post("/api/v1/visits", world.worker, json=_body(world))
    month = local_today().strftime("%Y-%m")
    url = f"/api/v1/duty-ranking?node={world.village.village.id}&month={month}"
    for user in (world.admin, world.worker, world.other_worker):
        ranking = api.get(url, user).get_json()
        assert ranking["items"] == [{"rank": 1, "worker_id": world.worker.id, "name": world.worker.display_name,
                                     "points": 2, "visits": 1}]
    error_of(api.get(url, world.villager), 403, "forbidden")
    error_of(api.get(f"/api/v1/duty-ranking?node={world.grid.id}", world.admin), 404, "not_found")
    error_of(api.get(f"/api/v1/duty-ranking?node={world.village.village.id}&month=2026-13", world.admin), 400,
             "invalid_month")


def test_a_second_visit_the_same_day_earns_nothing_and_says_why(api, world):
    first = api.post("/api/v1/visits", world.worker, json=_body(world), headers={"Idempotency-Key": "v-1"})
    again = api.post("/api/v1/visits", world.worker, json=_body(world, kind="care"), headers={"Idempotency-Key": "v-2"})
    assert (first.get_json()["points"], first.get_json()["unearned"], first.get_json()["unearned_why"]) == (
        2, None, None)
    body = again.get_json()
    assert again.status_code == 201 and body["id"] != first.get_json()["id"]
    assert (body["points"], body["unearned"]) == (None, "repeat")
    assert body["unearned_why"] == "当天已走访过这一户，同一户每天只计一次履职积分"
    month = local_today().strftime("%Y-%m")
    ranking = api.get(f"/api/v1/duty-ranking?node={world.village.village.id}&month={month}", world.admin).get_json()
    assert [(r["points"], r["visits"]) for r in ranking["items"]] == [(2, 1)]


def test_a_visit_of_an_ended_month_earns_nothing_and_says_why(api, world, monkeypatch):
    monkeypatch.setattr("points.visits.services.local_today", lambda: date(2026, 6, 15))
    response = api.post("/api/v1/visits", world.worker, json=_body(world, visited_on="2026-05-31"))
    body = response.get_json()
    assert response.status_code == 201 and (body["points"], body["unearned"]) == (None, "past_month")
    assert body["unearned_why"] == "走访日期不在本月，补记以前月份的走访不计履职积分"


@pytest.mark.parametrize("query", ["page=99999999999999999999", "page=1000001", "page=0", "per_page=101",
                                   "household_id=99999999999999999999", "household_id=2147483648",
                                   "household_id=0"])
def test_absurd_list_arguments_are_a_422(api, world, query):
    error_of(api.get(f"/api/v1/visits?{query}", world.worker), 422, "validation_error")


@pytest.mark.parametrize("query", ["node=99999999999999999999", "node=2147483648", "node=0", "node=1&page=1000001"])
def test_absurd_ranking_arguments_are_a_422(api, world, query):
    error_of(api.get(f"/api/v1/duty-ranking?{query}", world.admin), 422, "validation_error")


def test_absurd_due_list_arguments_are_a_422(api, world):
    error_of(api.get("/api/v1/visits/due?page=99999999999999999999", world.worker), 422, "validation_error")
