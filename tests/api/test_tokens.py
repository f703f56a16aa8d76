"""POST /api/v1/tokens and the bearer authentication of every other resource."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from points.auth.models import ApiToken, Role
from points.auth.services import set_password
from points.extensions import db
from points.timeutil import utcnow

from .. import factories
from .conftest import error_of


@pytest.fixture
def leader(village):
    user = factories.gen_user(Role.GRID_LEADER, village.grids[0])
    db.session.commit()
    return user


def grids_with(api, token: str):
    return api.get("/api/v1/grids", headers={"Authorization": f"Bearer {token}"})


def test_good_credentials_give_a_token_that_expires_in_the_configured_days(app, api, leader):
    response = api.post("/api/v1/tokens", json={"username": leader.username, "password": factories.PASSWORD})

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"token", "expires_at"}
    assert len(body["token"]) >= 32
    expires_at = datetime.fromisoformat(body["expires_at"])
    # An explicit offset: a client in Asia/Shanghai must not read a UTC time as its local time.
    assert expires_at.utcoffset() == timedelta(0)
    expected = datetime.now(UTC) + timedelta(days=app.config["API_TOKEN_DAYS"])
    assert abs(expires_at - expected) < timedelta(minutes=1)
    # Only a hash is kept.
    stored = db.session.scalars(select(ApiToken.token_hash).where(ApiToken.user_id == leader.id)).all()
    assert len(stored) == 1 and body["token"] not in stored[0]


def test_surrounding_spaces_in_the_username_are_ignored(api, leader):
    response = api.post("/api/v1/tokens", json={"username": f"  {leader.username} ", "password": factories.PASSWORD})
    assert response.status_code == 201


@pytest.mark.parametrize("which", ["wrong password", "unknown user"])
def test_bad_credentials_are_refused_alike_in_chinese(api, leader, which):
    username, password = (leader.username, "not-the-password") if which == "wrong password" else ("nobody", "x" * 12)
    response = api.post("/api/v1/tokens", json={"username": username, "password": password})

    error = error_of(response, 401, "invalid_credentials")
    assert error["message"] == "用户名或密码不正确"
    assert db.session.scalar(select(ApiToken.id)) is None


def test_a_disabled_account_gets_no_token(api, leader):
    leader.active = False
    db.session.commit()
    response = api.post("/api/v1/tokens", json={"username": leader.username, "password": factories.PASSWORD})
    error = error_of(response, 403, "account_disabled")
    assert error["message"] == "该账号已停用"


@pytest.mark.parametrize(
    "body, missing",
    [
        ({}, {"username", "password"}),
        ({"username": "someone"}, {"password"}),
        ({"password": "secret-pass-1"}, {"username"}),
    ],
)
def test_missing_fields_are_a_422_naming_them(api, body, missing):
    error = error_of(api.post("/api/v1/tokens", json=body), 422, "validation_error")
    assert error["message"] == "提交的内容有误"
    assert set(error["details"][0]["json"]) == missing


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"username": 5, "password": None}},
        {"json": ["username", "password"]},
        {"json": {"username": "a\x00b", "password": "secret-pass-1"}},
        {"json": {"username": "x" * 10_000, "password": "secret-pass-1"}},
        {"data": "username=a&password=b"},
    ],
    ids=["wrong types", "not an object", "NUL in username", "huge username", "a form, not JSON"],
)
def test_malformed_bodies_are_a_422(api, kwargs):
    error_of(api.post("/api/v1/tokens", **kwargs), 422, "validation_error")


def test_a_body_that_is_not_json_is_a_400(api):
    response = api.post("/api/v1/tokens", data="{not json", content_type="application/json")
    error_of(response, 400, "bad_request")


def test_the_token_works_as_a_bearer_token(api, village, leader):
    token = api.token(leader)

    response = grids_with(api, token)

    assert response.status_code == 200
    assert [g["id"] for g in response.get_json()["items"]] == [village.grids[0].id]
    # The scheme is case-insensitive (RFC 9110).
    lower = api.get("/api/v1/grids", headers={"Authorization": f"bearer {token}"})
    assert lower.status_code == 200


@pytest.mark.parametrize(
    "header, code",
    [
        (None, "login_required"),
        ("", "login_required"),
        ("Bearer", "login_required"),
        ("Bearer    ", "login_required"),
        ("Basic bGVhZGVyOnNlY3JldC1wYXNzLTE=", "login_required"),
        ("Token {token}", "login_required"),
        ("{token}", "login_required"),
        ("Bearer not-a-token", "invalid_token"),
        ("Bearer {token}x", "invalid_token"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/grids", "/api/v1/households", "/api/v1/households/1"])
def test_an_absent_or_malformed_header_is_a_401(api, leader, header, code, path):
    token = api.token(leader)
    headers = {} if header is None else {"Authorization": header.format(token=token)}

    response = api.get(path, headers=headers)

    error_of(response, 401, code)
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_an_expired_token_is_a_401(api, leader):
    token = api.token(leader)
    assert grids_with(api, token).status_code == 200

    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == leader.id))
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    error = error_of(grids_with(api, token), 401, "invalid_token")
    assert error["message"] == "令牌无效或已过期，请重新登录"


def test_a_token_issued_before_a_password_change_is_a_401(api, leader):
    old = api.token(leader)
    assert grids_with(api, old).status_code == 200

    set_password(leader, "another-pass-2")
    db.session.commit()

    error_of(grids_with(api, old), 401, "invalid_token")
    new = api.token(leader, "another-pass-2")
    assert grids_with(api, new).status_code == 200


def test_a_disabled_users_token_is_a_401(api, leader):
    token = api.token(leader)
    assert grids_with(api, token).status_code == 200

    leader.active = False
    db.session.commit()

    error_of(grids_with(api, token), 401, "invalid_token")


def test_a_session_cookie_alone_does_not_authenticate_the_api(api, client, login, village, leader):
    login(leader)
    # The cookie does sign the browser in: the home page is the leader's, not a redirect to /login.
    home = client.get("/")
    assert home.status_code == 200

    error_of(api.get("/api/v1/grids"), 401, "login_required")
    error_of(api.get("/api/v1/households"), 401, "login_required")
    error_of(api.get("/api/v1/grids", headers={"Authorization": "Bearer forged"}), 401, "invalid_token")


def test_tokens_need_no_csrf_token_even_when_csrf_is_on(app, api, leader):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = api.post("/api/v1/tokens", json={"username": leader.username, "password": factories.PASSWORD})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 201
