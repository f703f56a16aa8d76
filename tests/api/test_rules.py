"""GET /api/v1/rules and /rules/<id>: the rule book in force on a day, for the villages the caller may see."""
from dataclasses import replace
from datetime import timedelta

import pytest

from points.auth.models import Role
from points.extensions import db
from points.rules.models import RuleCategory, RuleUnit
from points.rules.services import RuleTerms, create_rule, revise_rule
from points.timeutil import local_today

from .. import factories
from .conftest import error_of


@pytest.fixture
def book(village):
    """A rule book in force since 100 days ago (one rule revised 10 days ago; the penalty bars redeeming for 30 days), a
    rule that starts next month, one that ended, a neighbouring village with its own rule, and callers of every
    kind."""
    today = local_today()
    neighbour = factories.gen_village(grids=1, town=village.town)
    hygiene = factories.gen_rule(village.village, "庭院整洁", 5, code="H1", effective_from=today - timedelta(days=100),
                                 cap_week=10, evidence_required=True, self_claimable=True)
    penalty = factories.gen_rule(village.village, "乱堆乱放", -10, RuleCategory.VILLAGE_RULES, code="P1",
                                 effective_from=today - timedelta(days=100), roles=frozenset({Role.VILLAGE_ADMIN}),
                                 bars_days=30)
    volunteer_terms = RuleTerms("志愿服务", RuleCategory.VOLUNTEERING, 2, RuleUnit.HOUR, for_renters=False)
    volunteer = create_rule(village.village, "V1", volunteer_terms, today - timedelta(days=100))
    revise_rule(volunteer, replace(volunteer_terms, points=3), today - timedelta(days=10))
    upcoming = factories.gen_rule(village.village, "新规", 1, code="N1", effective_from=today + timedelta(days=30))
    ended = create_rule(village.village, "O1", RuleTerms("旧规", RuleCategory.PUBLICITY, 1),
                        today - timedelta(days=100), today - timedelta(days=50))
    far = factories.gen_rule(neighbour.village, "邻村规则", 1, code="F1", effective_from=today - timedelta(days=100))
    home = factories.gen_household(village.grids[0])
    users = {
        "worker": factories.gen_user(Role.GRID_WORKER, village.grids[1]),
        "village_admin": factories.gen_user(Role.VILLAGE_ADMIN, village.village),
        "town_admin": factories.gen_user(Role.TOWN_ADMIN, village.town),
        "clerk": factories.gen_user(Role.SHOP_CLERK, village.village),
        "villager": factories.gen_villager(home),
        "outsider": factories.gen_user(Role.GRID_WORKER, neighbour.grids[0]),
        "nobody": factories.gen_user(),
    }
    db.session.commit()
    return dict(village=village, neighbour=neighbour, hygiene=hygiene, penalty=penalty, volunteer=volunteer,
                upcoming=upcoming, ended=ended, far=far, today=today, **users)


def codes(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [r["code"] for r in response.get_json()["items"]]


@pytest.mark.parametrize("who", ["worker", "village_admin", "town_admin", "clerk", "villager"])
def test_the_rule_book_in_force_today_for_everyone_of_the_village(api, book, who):
    response = api.get(f"/api/v1/rules?village_id={book['village'].village.id}", book[who])

    assert codes(response) == ["H1", "P1", "V1"]  # by category (hygiene, village rules, volunteering), then code
    assert response.get_json()["total"] == 3


def test_a_rule_carries_its_terms(api, book):
    items = api.get(f"/api/v1/rules?village_id={book['village'].village.id}", book["villager"]).get_json()["items"]
    hygiene, penalty, volunteer = items

    assert hygiene == {
        "id": book["hygiene"].id,
        "village_id": book["village"].village.id,
        "code": "H1",
        "name": "庭院整洁",
        "category": "hygiene",
        "points": 5,
        "unit": "occurrence",
        "for_registered": True,
        "for_renters": True,
        "cap_day": None,
        "cap_week": 10,
        "cap_month": None,
        "cap_year": None,
        "evidence_required": True,
        "self_claimable": True,
        "bars_days": 0,
        "roles": ["grid_leader", "grid_worker", "village_admin"],
        "effective_from": (book["today"] - timedelta(days=100)).isoformat(),
        "effective_until": None,
        "version": 1,
    }
    assert (penalty["points"], penalty["roles"], penalty["bars_days"]) == (-10, ["village_admin"], 30)
    assert (volunteer["version"], volunteer["points"]) == (2, 3)
    assert (volunteer["unit"], volunteer["for_renters"]) == ("hour", False)


def test_the_days_a_penalty_bars_redeeming_are_documented(openapi_spec):
    schema = openapi_spec["components"]["schemas"]["RuleVersion"]
    bars = schema["properties"]["bars_days"]
    assert bars["type"] == "integer" and "bars_days" in schema["required"]
    assert "限制兑换" in bars["description"] and "0: none" in bars["description"]


def test_the_rule_book_on_another_day(api, book):
    village_id, today = book["village"].village.id, book["today"]
    path = f"/api/v1/rules?village_id={village_id}&on="

    past = api.get(path + (today - timedelta(days=60)).isoformat(), book["worker"])
    assert codes(past) == ["H1", "O1", "P1", "V1"]
    volunteer = next(r for r in past.get_json()["items"] if r["code"] == "V1")
    assert (volunteer["version"], volunteer["points"]) == (1, 2)
    assert codes(api.get(path + (today + timedelta(days=30)).isoformat(), book["worker"])) == ["H1", "N1", "P1", "V1"]
    assert codes(api.get(path + (today - timedelta(days=200)).isoformat(), book["worker"])) == []


def test_paging_the_rule_book(api, book):
    path = f"/api/v1/rules?village_id={book['village'].village.id}&per_page=2"
    first = api.get(path, book["clerk"]).get_json()
    second = api.get(path + "&page=2", book["clerk"]).get_json()

    assert (first["total"], second["total"]) == (3, 3)
    assert [r["code"] for r in first["items"] + second["items"]] == ["H1", "P1", "V1"]


@pytest.mark.parametrize("who", ["outsider", "nobody"])
def test_another_villages_rule_book_is_forbidden(api, book, who):
    error = error_of(api.get(f"/api/v1/rules?village_id={book['village'].village.id}", book[who]), 403, "forbidden")
    assert error["message"] == "您没有权限执行此操作"


def test_a_villager_sees_only_their_own_villages_rule_book(api, book):
    error_of(api.get(f"/api/v1/rules?village_id={book['neighbour'].village.id}", book["villager"]), 403, "forbidden")
    assert codes(api.get(f"/api/v1/rules?village_id={book['neighbour'].village.id}", book["town_admin"])) == ["F1"]


@pytest.mark.parametrize("query", ["", "village_id=abc", "village_id=0", "village_id=1&on=2026-13-01", "on=2026-01-01"])
def test_a_malformed_query_is_a_422(api, book, query):
    error = error_of(api.get(f"/api/v1/rules?{query}", book["village_admin"]), 422, "validation_error")
    assert error["message"] == "提交的内容有误"


def test_a_node_that_is_not_a_village_has_no_rule_book(api, book):
    for node_id in (book["village"].grids[0].id, book["village"].town.id, 999999):
        error_of(api.get(f"/api/v1/rules?village_id={node_id}", book["town_admin"]), 404, "not_found")


def test_a_rule_with_its_versions(api, book):
    body = api.get(f"/api/v1/rules/{book['volunteer'].id}", book["villager"]).get_json()

    assert (body["code"], body["version"], body["points"]) == ("V1", 2, 3)
    assert [(v["version"], v["points"], v["effective_until"]) for v in body["versions"]] == [
        (1, 2, (book["today"] - timedelta(days=10)).isoformat()),
        (2, 3, None),
    ]


def test_a_rule_not_in_force_shows_its_latest_version(api, book):
    upcoming = api.get(f"/api/v1/rules/{book['upcoming'].id}", book["worker"]).get_json()
    ended = api.get(f"/api/v1/rules/{book['ended'].id}", book["worker"]).get_json()

    assert (upcoming["name"], upcoming["effective_from"]) == ("新规", (book["today"] + timedelta(days=30)).isoformat())
    assert ended["effective_until"] == (book["today"] - timedelta(days=50)).isoformat()


def test_one_rule_outside_the_callers_villages(api, book):
    error_of(api.get(f"/api/v1/rules/{book['far'].id}", book["villager"]), 403, "forbidden")
    error_of(api.get(f"/api/v1/rules/{book['far'].id}", book["worker"]), 403, "forbidden")
    error_of(api.get("/api/v1/rules/999999", book["worker"]), 404, "not_found")
    error_of(api.get(f"/api/v1/rules/{book['hygiene'].id}"), 401, "login_required")
