"""GET /api/v1/openapi.json: a valid OpenAPI 3 document of every /api/v1 resource, which the answers keep to."""
import pytest
from openapi_spec_validator import validate

from points.auth.models import Role
from points.extensions import db
from points.people.models import CareTag

from .. import factories
from .conftest import _openapi_path

OPERATIONS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def api_routes(app) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route under /api/v1 but the document itself."""
    return {
        (method.lower(), _openapi_path(rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api-docs.openapi_json"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def documented_operations(spec) -> set[tuple[str, str]]:
    return {(method, path) for path, item in spec["paths"].items() for method in item if method in OPERATIONS}


def test_the_document_is_valid_openapi_3(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200 and response.is_json
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    validate(spec)


def test_the_document_needs_no_token(client):
    assert client.get("/api/v1/openapi.json", headers={"Authorization": "Bearer nope"}).status_code == 200


def test_every_api_route_is_documented_and_nothing_else(app, openapi_spec):
    routes = api_routes(app)
    assert {
        ("post", "/api/v1/tokens"),
        ("get", "/api/v1/grids"),
        ("get", "/api/v1/grids/{node_id}"),
        ("get", "/api/v1/households"),
        ("get", "/api/v1/households/{household_id}"),
        ("get", "/api/v1/residents/{resident_id}"),
        ("get", "/api/v1/rules"),
        ("get", "/api/v1/rules/{rule_id}"),
        ("get", "/api/v1/households/{household_id}/entries"),
        ("get", "/api/v1/entries/{entry_id}"),
        ("post", "/api/v1/entries"),
        ("post", "/api/v1/entries/batch"),
        ("post", "/api/v1/entries/{entry_id}/reversal"),
        ("get", "/api/v1/claims"),
        ("post", "/api/v1/claims"),
        ("get", "/api/v1/claims/{claim_id}"),
        ("post", "/api/v1/claims/{claim_id}/approve"),
        ("post", "/api/v1/claims/{claim_id}/reject"),
        ("get", "/api/v1/appeals"),
        ("post", "/api/v1/appeals"),
        ("get", "/api/v1/appeals/{appeal_id}"),
        ("post", "/api/v1/appeals/{appeal_id}/decision"),
    } <= routes
    assert documented_operations(openapi_spec) == routes


def test_bearer_auth_is_declared_and_required_everywhere_but_tokens(openapi_spec):
    assert openapi_spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert openapi_spec["security"] == [{"bearerAuth": []}]
    for method, path in documented_operations(openapi_spec):
        operation = openapi_spec["paths"][path][method]
        if path == "/api/v1/tokens":
            assert operation["security"] == []
            continue
        assert operation.get("security", openapi_spec["security"]) == [{"bearerAuth": []}], (method, path)
        assert "401" in operation["responses"], (method, path)


def test_errors_and_lists_have_their_documented_shapes(openapi_spec):
    schemas = openapi_spec["components"]["schemas"]
    assert schemas["Error"]["required"] == ["error"]
    assert set(schemas["ErrorBody"]["required"]) == {"code", "message"}
    for name in ("GridPage", "HouseholdPage"):
        assert set(schemas[name]["required"]) == {"items", "total"}
    assert set(schemas["Token"]["required"]) == {"token", "expires_at"}
    paging = {p["name"] for p in openapi_spec["paths"]["/api/v1/households"]["get"]["parameters"]}
    assert {"page", "per_page", "grid_id", "q"} <= paging
    assert {"page", "per_page"} <= {p["name"] for p in openapi_spec["paths"]["/api/v1/grids"]["get"]["parameters"]}


@pytest.mark.parametrize(
    "path", ["/api/v1/entries", "/api/v1/entries/batch", "/api/v1/entries/{entry_id}/reversal", "/api/v1/claims",
             "/api/v1/appeals"],
)
def test_posts_that_can_be_retried_document_the_idempotency_key(openapi_spec, path):
    operation = openapi_spec["paths"][path]["post"]
    header = next(p for p in operation["parameters"] if p["in"] == "header")

    assert header["name"] == "Idempotency-Key" and header["required"] is False
    assert header["schema"]["maxLength"] == 64
    assert "400" in operation["responses"]


def test_shapes_clients_count_on(openapi_spec):
    schemas = openapi_spec["components"]["schemas"]
    assert {"id", "number", "grid_id", "kind", "balance"} <= set(schemas["Household"]["required"])
    assert {"id", "amount", "rule_code", "created_at", "reverses_id"} <= set(schemas["Entry"]["required"])
    assert {"id", "code", "name", "points", "effective_from", "version"} <= set(schemas["Rule"]["required"])
    for name in ("RulePage", "EntryPage", "ClaimPage", "AppealPage"):
        assert set(schemas[name]["required"]) == {"items", "total"}
    for path in ("/api/v1/rules", "/api/v1/households/{household_id}/entries", "/api/v1/claims", "/api/v1/appeals"):
        assert {"page", "per_page"} <= {p["name"] for p in openapi_spec["paths"][path]["get"]["parameters"]}


def test_a_claim_is_one_multipart_body_with_its_photos(openapi_spec):
    body = openapi_spec["paths"]["/api/v1/claims"]["post"]["requestBody"]["content"]
    assert list(body) == ["multipart/form-data"]
    form = openapi_spec["components"]["schemas"][body["multipart/form-data"]["schema"]["$ref"].split("/")[-1]]
    assert form["required"] == ["rule_id"]
    assert form["properties"]["photos"] == {
        "type": "array", "items": {"type": "string", "format": "binary"}, "description": "JPEG, PNG or WebP; at most 3"
    }


def test_answers_keep_to_the_document(api, contract, village):
    """Every answer of every endpoint, as each kind of caller sees it, validates against its documented schema.

    (The api fixture checks each answer; this walks them all in one place, and counts what it checked.)
    """
    home = factories.gen_household(village.grids[0], id_number=factories.gen_id_number(), care_tags=[CareTag.POOR])
    bare = factories.gen_household(village.grids[1], "李四", phone=None)
    users = [
        factories.gen_user(Role.GRID_LEADER, village.grids[0]),
        factories.gen_user(Role.VILLAGE_ADMIN, village.village),
        factories.gen_user(Role.SHOP_CLERK, village.village),
        factories.gen_villager(home),
    ]
    db.session.commit()

    statuses = set()
    for user in users:
        for path in (
            "/api/v1/grids",
            f"/api/v1/grids/{village.village.id}",
            f"/api/v1/grids/{village.grids[0].id}",
            "/api/v1/grids/999999",
            "/api/v1/households",
            f"/api/v1/households?grid_id={village.grids[0].id}&q=张&page=1&per_page=5",
            "/api/v1/households?per_page=0",
            f"/api/v1/households/{home.id}",
            f"/api/v1/households/{bare.id}",
            "/api/v1/households/999999",
            f"/api/v1/residents/{home.head.id}",
            f"/api/v1/residents/{bare.head.id}",
            "/api/v1/residents/999999",
            f"/api/v1/rules?village_id={village.village.id}",
            "/api/v1/rules?village_id=999999",
            f"/api/v1/households/{home.id}/entries",
            f"/api/v1/households/{bare.id}/entries",
            "/api/v1/entries/999999",
            "/api/v1/claims?status=pending",
            "/api/v1/appeals",
        ):
            statuses.add(api.get(path, user).status_code)
        statuses.add(api.get("/api/v1/households").status_code)
    good = {"username": users[0].username, "password": factories.PASSWORD}
    statuses.add(api.post("/api/v1/tokens", json=good).status_code)
    statuses.add(api.post("/api/v1/tokens", json={"username": "nobody", "password": "whatever-1"}).status_code)
    statuses.add(api.post("/api/v1/tokens", json={}).status_code)

    assert statuses == {200, 201, 401, 403, 404, 422}


def _fake(app, body, status=200):
    return app.response_class(app.json.dumps(body), status=status, mimetype="application/json")


@pytest.mark.parametrize(
    "method, path, status, body",
    [
        ("GET", "/api/v1/grids", 200, {"items": []}),
        ("GET", "/api/v1/grids", 200, {"items": [{"id": 1}], "total": 1}),
        ("GET", "/api/v1/households", 200, {"items": [], "total": 0, "page": 1}),
        ("POST", "/api/v1/tokens", 201, {"token": "t", "expires_at": "2026-12-23T08:01:49"}),
        ("POST", "/api/v1/tokens", 200, {"token": "t", "expires_at": "2026-12-23T08:01:49+00:00"}),
        ("GET", "/api/v1/households/1", 403, {"code": "forbidden", "message": "x"}),
        ("GET", "/api/v1/nothing", 404, {"error": {"code": "not_found"}}),
    ],
    ids=["no total", "incomplete item", "extra field", "naive time", "undocumented status", "bare error", "no message"],
)
def test_the_contract_check_catches_answers_that_break_the_document(app, contract, method, path, status, body):
    assert contract.errors(method, path, _fake(app, body, status))


def test_the_contract_check_accepts_a_documented_answer(app, contract):
    good = {"token": "t", "expires_at": "2026-12-23T08:01:49+00:00"}
    assert contract.errors("POST", "/api/v1/tokens", _fake(app, good, 201)) == []
