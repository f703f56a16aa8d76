"""/api/v1/messages: the signed-in account's notices (a villager's with their household's points), and marking them
read; every answer as documented."""
from datetime import datetime

import pytest

from points.auth.models import Role
from points.extensions import db
from points.messages.models import Message
from points.messages.services import tell

from .. import factories
from .conftest import error_of


@pytest.fixture
def world(village):
    grid = village.grids[0]
    home = factories.gen_household(grid)
    w = dict(
        home=home,
        villager=factories.gen_villager(home),
        neighbour=factories.gen_villager(factories.gen_household(grid)),
        worker=factories.gen_user(Role.GRID_WORKER, grid),
    )
    db.session.commit()
    return w


def test_the_inbox_lists_messages_and_points_newest_first(api, world):
    v = world["villager"]
    db.session.add(Message(user_id=v.id, kind="claim", text="你家的积分申报已通过", link="/claims/3",
                           created_at=datetime(2026, 12, 1, 2, 0)))
    tell([world["neighbour"].id], "claim", "邻居的")
    factories.gen_points(world["home"], 5)
    db.session.commit()
    body = api.get("/api/v1/messages", v).get_json()
    assert body["total"] == 2 and body["unread"] == 2
    points, claim = body["items"]
    assert points["kind"] == "points" and points["text"] == "加分 +5 分：网格员记分" and points["unread"] is True
    assert points["link"] == "/my/points"
    assert claim == {"created_at": "2026-12-01T02:00:00+00:00", "kind": "claim", "text": "你家的积分申报已通过",
                     "link": "/claims/3", "unread": True}
    assert api.get("/api/v1/messages", v).get_json()["unread"] == 2  # reading the list marks nothing


def test_marking_read(api, world):
    v = world["villager"]
    tell([v.id], "report", "你的诉求已受理", "/reports/1")
    factories.gen_points(world["home"], 5)
    db.session.commit()
    assert api.post("/api/v1/messages/read", v).get_json() == {"unread": 0}
    body = api.get("/api/v1/messages", v).get_json()
    assert body["unread"] == 0 and [i["unread"] for i in body["items"]] == [False, False]
    assert api.post("/api/v1/messages/read", v).get_json() == {"unread": 0}  # again: the same


def test_the_inbox_pages(api, world):
    w = world["worker"]
    for n in range(3):
        tell([w.id], "claim", f"第{n}条")
    db.session.commit()
    first = api.get("/api/v1/messages?per_page=2", w).get_json()
    second = api.get("/api/v1/messages?per_page=2&page=2", w).get_json()
    assert first["total"] == second["total"] == 3
    assert len(first["items"]) == 2 and len(second["items"]) == 1
    assert sorted(i["text"] for i in first["items"] + second["items"]) == ["第0条", "第1条", "第2条"]


def test_staff_read_their_own_only(api, world):
    tell([world["villager"].id], "claim", "村民的")
    db.session.commit()
    assert api.get("/api/v1/messages", world["worker"]).get_json() == {"items": [], "total": 0, "unread": 0}


def test_anonymous_is_asked_to_sign_in(api):
    error_of(api.get("/api/v1/messages"), 401, "login_required")
    error_of(api.post("/api/v1/messages/read"), 401, "login_required")


def test_bad_paging_is_a_422(api, world):
    assert api.get("/api/v1/messages?per_page=1000", world["worker"]).status_code == 422
