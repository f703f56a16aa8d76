"""Helpers for the /api/v1 tests: tokens through POST /api/v1/tokens, and every answer checked against the
OpenAPI document that the app itself serves."""
import re

import pytest
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from .. import factories

SPEC_URI = "urn:points-openapi"
_RULE_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _openapi_path(rule: str) -> str:
    """/api/v1/grids/<int(min=1):node_id> → /api/v1/grids/{node_id}"""
    return _RULE_PARAM.sub(r"{\1}", rule)


class Contract:
    """Checks an API answer against the operation the OpenAPI document declares for its method and path."""

    def __init__(self, app, spec: dict):
        self.app = app
        self.spec = spec
        resource = Resource.from_contents(spec, default_specification=DRAFT4)
        self.registry = Registry().with_resource(SPEC_URI, resource)

    def _resolve(self, item: dict) -> dict:
        while "$ref" in item:
            node = self.spec
            for part in item["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            item = node
        return item

    def operation(self, method: str, path: str) -> dict | None:
        """The documented operation behind a concrete request path, or None when no route matches."""
        adapter = self.app.url_map.bind("localhost")
        try:
            rule, _ = adapter.match(path.split("?")[0], method, return_rule=True)
        except Exception:  # NotFound, MethodNotAllowed: answered by the error handlers, checked by the caller
            return None
        return self.spec["paths"][_openapi_path(rule.rule)][method.lower()]

    def errors(self, method: str, path: str, response) -> list[str]:
        """What is wrong with response as an answer to method path; empty when it is as documented."""
        body = response.get_json(silent=True)
        operation = self.operation(method, path)
        if body is None:
            documented = (operation or {}).get("responses", {}).get(str(response.status_code), {})
            if response.mimetype in self._resolve(documented).get("content", {}) if documented else False:
                return []  # a documented non-JSON answer, such as a claim's photo
            return [f"not JSON: {response.content_type}"]
        if operation is None:
            schema_ref = "#/components/schemas/Error"
        else:
            documented = operation["responses"].get(str(response.status_code))
            if documented is None:
                if response.status_code < 400:
                    return [f"status {response.status_code} is not documented for {method} {path}"]
                documented = operation["responses"]["default"]
            schema_ref = self._resolve(documented)["content"]["application/json"]["schema"]["$ref"]
        validator = OAS30Validator(
            {"$ref": SPEC_URI + schema_ref}, registry=self.registry, format_checker=OAS30Validator.FORMAT_CHECKER
        )
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]

    def check(self, method: str, path: str, response):
        problems = self.errors(method, path, response)
        assert not problems, (method, path, response.status_code, problems, response.get_json(silent=True))
        return response


class Api:
    """The test client speaking to /api/v1 as a user, every answer checked against the contract."""

    def __init__(self, client, contract: Contract):
        self.client = client
        self.contract = contract
        self._tokens: dict[int, str] = {}

    def token(self, user, password: str = factories.PASSWORD) -> str:
        response = self.request("POST", "/api/v1/tokens", json={"username": user.username, "password": password})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["token"]

    def headers(self, user) -> dict:
        if user.id not in self._tokens:
            self._tokens[user.id] = self.token(user)
        return {"Authorization": f"Bearer {self._tokens[user.id]}"}

    def request(self, method: str, path: str, user=None, headers: dict | None = None, **kwargs):
        headers = {**(self.headers(user) if user is not None else {}), **(headers or {})}
        response = self.client.open(path, method=method, headers=headers, **kwargs)
        return self.contract.check(method, path, response)

    def get(self, path: str, user=None, **kwargs):
        return self.request("GET", path, user, **kwargs)

    def post(self, path: str, user=None, **kwargs):
        return self.request("POST", path, user, **kwargs)


@pytest.fixture(scope="session")
def openapi_spec(app) -> dict:
    with app.app_context():
        response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture
def contract(app, openapi_spec) -> Contract:
    return Contract(app, openapi_spec)


@pytest.fixture
def api(client, contract) -> Api:
    return Api(client, contract)


def error_of(response, status: int, code: str) -> dict:
    """The {"code", "message"} of a JSON error answer, after checking its status and code."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.is_json, response.content_type
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    return body["error"]
