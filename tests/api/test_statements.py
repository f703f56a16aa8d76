"""/api/v1/households/{id}/statement: the 积分对账单 as JSON, every answer checked against the OpenAPI contract."""
from datetime import date

import pytest

from points.auth.models import Role
from points.extensions import db
from points.ledger.models import EntrySource
from points.ledger.services import post_entry, reverse_entry

from .. import factories
from ..ledger.helpers import rule_versions
from .conftest import error_of


@pytest.fixture
def books(village):
    household = factories.gen_household(village.grids[0])
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    worker.display_name = "王网格"
    award, penalty, _ = rule_versions(village)
    post_entry(household.id, 20, EntrySource.MANUAL, "a-award", actor=worker, rule_version=award,
               occurred_on=date(2025, 12, 30))
    fined = post_entry(household.id, -10, EntrySource.MANUAL, "a-fine", actor=worker, rule_version=penalty,
                       occurred_on=date(2026, 1, 10))
    spent = post_entry(household.id, -5, EntrySource.REDEMPTION, "a-spend", actor=worker,
                       occurred_on=date(2026, 1, 20))
    reverse_entry(fined.id, "a-unfine", worker)
    reverse_entry(spent.id, "a-void", worker, voiding=True)
    post_entry(household.id, -3, EntrySource.REDEMPTION, "a-spend-2", actor=worker, occurred_on=date(2026, 1, 25))
    post_entry(household.id, 7, EntrySource.MANUAL, "a-later", occurred_on=date(2026, 2, 1))
    villager = factories.gen_villager(household)
    outsider = factories.gen_user(Role.GRID_WORKER, village.grids[1])
    db.session.commit()
    return dict(household=household, worker=worker, villager=villager, outsider=outsider)


def _path(household, start="2026-01-01", end="2026-01-31") -> str:
    return f"/api/v1/households/{household.id}/statement?from={start}&to={end}"


def test_the_statement_has_opening_running_and_closing(api, books):
    body = api.get(_path(books["household"]), books["worker"]).get_json()
    assert (body["from"], body["to"], body["household_id"]) == ("2026-01-01", "2026-01-31", books["household"].id)
    assert body["opening"] == 20 and body["closing"] == 17
    assert [(e["amount"], e["balance"]) for e in body["entries"]] == [(-10, 10), (10, 20), (-5, 15), (5, 20),
                                                                      (-3, 17)]
    assert (body["earned"], body["lost"], body["spent"]) == (10, 10, 3)
    assert body["entries"][0]["actor"] == "王网格" and body["entries"][1]["reverses_id"] == body["entries"][0]["id"]


def test_villagers_read_staff_as_staff(api, books):
    body = api.get(_path(books["household"]), books["villager"]).get_json()
    assert {e["actor"] for e in body["entries"]} == {"工作人员"}
    later = api.get(_path(books["household"], "2026-02-01", "2026-02-01"), books["villager"]).get_json()
    assert later["opening"] == later["closing"] - 7 == 17 and later["entries"][0]["actor"] is None


@pytest.mark.parametrize(("start", "end", "code", "words"), [
    ("2000-01-01", "2026-01-31", "statement_range_too_long", "最长只能查 10 年"),
    ("2026-02-01", "2026-01-31", "statement_reversed_range", "结束日期不能早于开始日期"),
    ("2026-1-1", "2026-01-31", "statement_bad_date", "2026-01-31 这样的格式"),
])
def test_bad_ranges_are_refused_in_chinese(api, books, start, end, code, words):
    error = error_of(api.get(_path(books["household"], start, end), books["worker"]), 400, code)
    assert words in error["message"]


def test_the_statement_is_for_the_household_and_staff_in_scope(api, books):
    error_of(api.get(_path(books["household"]), books["outsider"]), 403, "forbidden")
    error_of(api.get(_path(books["household"])), 401, "login_required")
    error_of(api.get("/api/v1/households/999999/statement", books["worker"]), 404, "not_found")


def test_the_statement_is_documented(openapi_spec):
    operation = openapi_spec["paths"]["/api/v1/households/{household_id}/statement"]["get"]
    assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} == {"from", "to"}
    assert {"200", "400", "401", "403", "404"} <= set(operation["responses"])
