"""Errors under /api/v1 are JSON {"error": {"code", "message"}} with a 4xx status, in the request's language;
and GET /healthz."""
import pytest

from points.auth.models import Role
from points.extensions import db

from .. import factories
from .conftest import error_of


@pytest.fixture
def admin(village):
    user = factories.gen_user(Role.TOWN_ADMIN, village.town)
    db.session.commit()
    return user


@pytest.mark.parametrize("path", ["/api/v1/nothing", "/api/v1/grids/abc", "/api/v1/households/1/nothing",
                                  "/api/v2/grids"])
def test_an_unknown_api_path_is_a_json_404(api, admin, path):
    error = error_of(api.get(path, admin), 404, "not_found")
    assert error["message"] == "找不到该内容"
    error_of(api.get(path), 404, "not_found")


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("DELETE", "/api/v1/grids", {"GET", "POST"}),
        ("DELETE", "/api/v1/households", {"GET", "POST"}),
        ("PUT", "/api/v1/households/1", {"GET", "PATCH"}),
        ("GET", "/api/v1/tokens", {"POST"}),
    ],
)
def test_a_wrong_method_is_a_json_405_saying_what_is_allowed(api, admin, method, path, allowed):
    response = api.request(method, path, admin)

    error = error_of(response, 405, "method_not_allowed")
    assert error["message"] == "不支持该请求方法"
    assert allowed <= {m.strip() for m in response.headers.get("Allow", "").split(",")}


def test_a_body_over_the_upload_limit_is_a_json_413(app, api):
    limit, app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_CONTENT_LENGTH"], 1024
    try:
        response = api.post("/api/v1/tokens", json={"username": "x" * 2000, "password": "y" * 10})
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    error_of(response, 413, "file_too_large")


# Each refusal in Chinese by default, and with the same code whatever the language.
REFUSALS = [
    ("GET", "/api/v1/nothing", {}, 404, "not_found", "找不到该内容"),
    ("DELETE", "/api/v1/grids", {}, 405, "method_not_allowed", "不支持该请求方法"),
    ("GET", "/api/v1/grids", {}, 401, "login_required", "请先登录"),
    ("GET", "/api/v1/grids", {"headers": {"Authorization": "Bearer nope"}}, 401, "invalid_token",
     "令牌无效或已过期，请重新登录"),
    ("POST", "/api/v1/tokens", {"json": {}}, 422, "validation_error", "提交的内容有误"),
    ("POST", "/api/v1/tokens", {"json": {"username": "nobody", "password": "whatever-1"}}, 401, "invalid_credentials",
     "用户名或密码不正确"),
]


@pytest.mark.parametrize("method, path, kwargs, status, code, chinese", REFUSALS)
def test_refusals_speak_chinese_by_default(api, method, path, kwargs, status, code, chinese):
    assert error_of(api.request(method, path, **kwargs), status, code)["message"] == chinese
    headers = {**kwargs.get("headers", {}), "Accept-Language": "zh-CN,zh;q=0.9"}
    zh = api.request(method, path, **{**kwargs, "headers": headers})
    assert error_of(zh, status, code)["message"] == chinese


@pytest.mark.parametrize("method, path, kwargs, status, code, chinese", REFUSALS)
@pytest.mark.parametrize("ask", [{"headers": {"Accept-Language": "en-US,en;q=0.9"}}, {"query_string": {"lang": "en"}}])
def test_refusals_keep_their_code_in_english(api, method, path, kwargs, status, code, chinese, ask):
    headers = {**kwargs.get("headers", {}), **ask.get("headers", {})}
    response = api.request(method, path, **{**kwargs, **ask, "headers": headers})

    # The English text comes with translations/en; the code and the shape hold whatever the language.
    error_of(response, status, code)


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
