"""The front door: each user's start page, where a redirect may lead, the secret key, the upload limit for
everyone."""
import io
import os
import re

import pytest

from points import _instance_secret_key, create_app
from points.auth.models import Role, RoleAssignment
from points.extensions import db
from points.hygiene import inspection, publishing
from points.periods import week_label, week_of
from points.timeutil import local_today

from .. import factories


@pytest.mark.parametrize(
    "target, lands",
    [
        ("/households?q=1", "/households?q=1"),
        ("//evil.example/x", "/"),
        ("/\t/evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/%09/evil.example", "/%09/evil.example"),
        ("/a\nb", "/"),
        ("", "/"),
    ],
)
def test_after_login_and_language_switch_only_local_paths(client, village, target, lands):
    factories.gen_user(Role.GRID_LEADER, village.grids[0], username="leader")
    db.session.commit()
    switched = client.get("/lang/en", query_string={"next": target})
    assert switched.status_code == 302 and switched.headers["Location"] == lands
    logged_in = client.post(
        "/login", query_string={"next": target}, data={"username": "leader", "password": factories.PASSWORD}
    )
    assert logged_in.status_code == 302 and logged_in.headers["Location"] == lands


def test_without_secret_key_one_is_made_and_kept_in_instance(tmp_path):
    key = _instance_secret_key(str(tmp_path))
    assert len(key) == 64 and _instance_secret_key(str(tmp_path)) == key
    assert oct(os.stat(tmp_path / "secret_key").st_mode & 0o777) == "0o600"


def test_the_default_config_has_no_known_secret_key(database_uri):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_uri})
    assert app.config["SECRET_KEY"] and app.config["SECRET_KEY"] != "dev-only-change-me"


def test_an_oversized_upload_is_a_413_even_before_login(database_uri):
    """With CSRF on, the body is read (and found too large) before any view or login check runs."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_uri, "RATELIMIT_ENABLED": False})
    body = {"file": (io.BytesIO(bytes(app.config["MAX_CONTENT_LENGTH"] + 1)), "big.xlsx")}
    response = app.test_client().post("/import", data=body, content_type="multipart/form-data")
    assert response.status_code == 413 and "文件太大" in response.get_data(as_text=True)


# ---- issue 23: where each user starts (helper 23-E) ----


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


@pytest.fixture
def inspected(village):
    """Three households in each grid, and the leader of the first grid."""
    homes = {grid.id: [factories.gen_household(grid) for _ in range(3)] for grid in village.grids}
    leader = factories.gen_user(Role.GRID_LEADER, village.grids[0], username="leader")
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village, username="admin")
    db.session.commit()
    return homes, leader, admin


def test_a_leaders_home_says_which_grid_they_inspect_this_week_and_how_far_they_are(client, login, village,
                                                                                   inspected):
    homes, leader, admin = inspected
    round_ = inspection.round_for(village.village, week_of(local_today()))
    mine = next(a for a in round_.assignments if a.inspector_grid_id == village.grids[0].id)
    for household in homes[mine.grid_id][:2]:
        inspection.save_score(admin, round_, household.id, {})
    db.session.commit()
    login(leader)
    home = client.get("/")
    text = _text(home)
    assert home.status_code == 200
    assert f"本周你检查：{mine.grid.name}（已评 2/3）" in text and week_label(round_.monday) in text
    sheets = f'href="/hygiene/rounds/{round_.id}/grids/{mine.grid_id}"'
    assert sheets in home.get_data(as_text=True) and "去评分" in text  # one tap to the grid's score sheets
    assert client.get(f"/hygiene/rounds/{round_.id}/grids/{mine.grid_id}").status_code == 200
    assert f'href="/grids/{village.grids[0].id}"' in home.get_data(as_text=True)  # their own grid, a tap away

    inspection.save_score(admin, round_, homes[mine.grid_id][2].id, {})
    publishing.publish_round(admin, round_, mine.grid_id)
    db.session.commit()
    text = _text(client.get("/"))
    assert f"本周你检查：{mine.grid.name}（已评 3/3）" in text and "评分已经发布" in text
    assert sheets not in client.get("/").get_data(as_text=True)


def test_before_the_week_opens_the_leaders_home_says_so_and_opens_it(client, login, village, inspected):
    homes, leader, admin = inspected
    login(leader)
    text = _text(client.get("/"))
    monday = inspection.parse_week(week_of(local_today()))
    rotation = inspection.rotation([g.id for g in village.grids], monday)
    planned = next(g for g in village.grids if rotation[g.id] == village.grids[0].id)
    assert "本周的卫生评比还没有开始" in text and f"按轮换，本周你检查：{planned.name}" in text
    assert inspection.round_for(village.village, week_of(local_today()), create=False) is None  # home made none
    opened = client.post(f"/villages/{village.village.id}/hygiene/rounds", data={"week": week_of(local_today())})
    assert opened.status_code == 302
    assert f"本周你检查：{planned.name}（已评 0/3）" in _text(client.get("/"))


def test_admins_and_villagers_start_where_they_did(client, login, village, inspected):
    homes, leader, admin = inspected
    login(admin)
    assert client.get("/").headers["Location"] == f"/grids/{village.village.id}"
    login(factories.gen_villager(homes[village.grids[0].id][0]))
    assert client.get("/").headers["Location"] == "/my/points"


def test_a_clerk_starts_at_the_counter_after_login_and_at_home(client, login, village):
    shop = factories.gen_shop(village.village)
    factories.gen_user(Role.SHOP_CLERK, village.village, username="clerk")
    both = factories.gen_user(Role.SHOP_CLERK, village.village, username="clerk-organizer")
    db.session.add(RoleAssignment(user=both, role=Role.EVENT_ORGANIZER, node_id=village.village.id))
    db.session.commit()
    counter = f"/shops/{shop.id}/counter"
    signed_in = client.post("/login", data={"username": "clerk", "password": factories.PASSWORD})
    assert signed_in.headers["Location"] == counter
    assert client.get("/").headers["Location"] == counter
    client.post("/logout")
    # A page asked for before login still comes first.
    login_next = client.post("/login", query_string={"next": "/me"},
                             data={"username": "clerk", "password": factories.PASSWORD})
    assert login_next.headers["Location"] == "/me"
    # A clerk with another role keeps that role's start.
    login(both)
    assert client.get("/").headers["Location"] == f"/grids/{village.village.id}"
