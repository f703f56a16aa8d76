"""The 村 board of a town: villages in use by the average total of their households (on the register in the
period, those without entries counting 0) or by the sum, with competition ranks; a category; retired villages and
other towns left out."""
from datetime import date

from points.auth.models import Role
from points.extensions import db
from points.leaderboards.queries import GridOrder, village_board
from points.ledger.models import EntrySource
from points.ledger.services import post_entry
from points.people.models import Closure
from points.people.services import close_household
from points.periods import parse_period
from points.rules.models import RuleCategory
from points.timeutil import utcnow

from .. import factories
from ..api.conftest import api, contract, openapi_spec  # noqa: F401 (the API's fixtures, for the API's test)

NOVEMBER = parse_period("month:2026-11")
DAY = date(2026, 11, 10)


def _points(household, amount, category=None, day=DAY):
    post_entry(household.id, amount, EntrySource.MANUAL, factories.unique("k"), occurred_on=day, category=category)


def test_villages_by_average_and_by_total():
    a = factories.gen_village(grids=2, name="甲村")
    town = a.town
    b = factories.gen_village(grids=1, town=town, name="乙村")
    factories.gen_village(grids=1, town=town, name="丙村")  # no households: 0
    a1, a2, a3 = (factories.gen_household(a.grids[i % 2]) for i in range(3))
    b1 = factories.gen_household(b.grids[0])
    _points(a1, 30)
    _points(a2, 10, day=date(2026, 10, 1))  # another month, so that the penalty has points to take
    _points(a2, -6, RuleCategory.VILLAGE_RULES)
    _points(b1, 12, RuleCategory.VOLUNTEERING)
    _points(b1, 100, day=date(2026, 10, 1))  # another month
    retired = factories.gen_village(grids=1, town=town, name="旧村")
    _points(factories.gen_household(retired.grids[0]), 500)
    retired.village.retired_at = utcnow()
    _points(factories.gen_household(factories.gen_village(name="外村").grids[0]), 400)
    db.session.flush()
    found = village_board(town, NOVEMBER)
    assert [(p.rank, p.name, p.households, p.active, p.total) for p in found] == [
        (1, "乙村", 1, 1, 12), (2, "甲村", 3, 2, 24), (3, "丙村", 0, 0, 0)]  # 12 > 8 > 0
    assert [p.name for p in village_board(town, NOVEMBER, order=GridOrder.TOTAL)] == ["甲村", "乙村", "丙村"]
    volunteering = village_board(town, NOVEMBER, RuleCategory.VOLUNTEERING)
    assert [(p.name, p.total, p.active) for p in volunteering] == [("乙村", 12, 1), ("甲村", 0, 0), ("丙村", 0, 0)]
    assert a3.id  # a household without entries counts in the average


def test_ties_share_a_place_and_households_gone_before_the_month_are_not_counted():
    a = factories.gen_village(grids=1, name="甲村")
    b = factories.gen_village(grids=1, town=a.town, name="乙村")
    _points(factories.gen_household(a.grids[0]), 10)
    _points(factories.gen_household(b.grids[0]), 10)
    gone = factories.gen_household(b.grids[0])
    close_household(gone, Closure.MOVED_OUT, date(2026, 10, 1))
    db.session.flush()
    found = village_board(a.town, NOVEMBER)
    assert [(p.rank, p.households) for p in found] == [(1, 1), (1, 1)]


# ------------------------------------------------------------------------------ /api/v1/leaderboards?subject=village


def test_the_api_ranks_a_towns_villages(api):  # noqa: F811
    a = factories.gen_village(grids=2, name="甲村")
    b = factories.gen_village(grids=1, town=a.town, name="乙村")
    _points(factories.gen_household(a.grids[0]), 30)
    factories.gen_household(a.grids[1])
    _points(factories.gen_household(b.grids[0]), 20)
    reader = factories.gen_user(Role.SHOP_CLERK, b.village)
    db.session.commit()
    response = api.get(f"/api/v1/leaderboards?scope={a.town.id}&subject=village&period=month:2026-11", reader)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["subject"], body["order"]) == ("village", "average")
    assert body["items"] == [
        {"rank": 1, "village_id": b.village.id, "name": "乙村", "households": 1, "active": 1, "total": 20,
         "average": 20.0},
        {"rank": 2, "village_id": a.village.id, "name": "甲村", "households": 2, "active": 1, "total": 30,
         "average": 15.0}]
    by_total = api.get(f"/api/v1/leaderboards?scope={a.town.id}&subject=village&order=total"
                       "&period=month:2026-11", reader).get_json()
    assert [item["name"] for item in by_total["items"]] == ["甲村", "乙村"]
    grids = api.get(f"/api/v1/leaderboards?scope={a.town.id}&subject=grid&period=month:2026-11", reader).get_json()
    assert set(grids["items"][0]) == {"rank", "grid_id", "name", "village", "households", "active", "total",
                                      "average"}  # the grid board as it was
    assert api.get(f"/api/v1/leaderboards?scope={a.town.id}&subject=village&order=hours", reader).status_code == 422
