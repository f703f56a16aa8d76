"""/api/v1/leaderboards: households, residents and grids ranked over a period within a scope; the 黑榜, a villager's
own place, masked names, and bad parameters."""
import json
import re
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from points.auth.models import Role
from points.claims.models import Appeal
from points.extensions import db
from points.leaderboards.models import BoardSettings
from points.ledger.models import EntrySource, LedgerEntry
from points.ledger.services import post_entry
from points.periods import PeriodKind, period_of
from points.rules.models import RuleCategory
from points.timeutil import local_today

from .. import factories
from .conftest import error_of

OCTOBER = date(2026, 10, 5)  # a Monday, in week:2026-W41
MID_OCTOBER = date(2026, 10, 14)  # in week:2026-W42
SEPTEMBER = date(2026, 9, 20)
PATH = "/api/v1/leaderboards"
CJK = re.compile(r"[\u4e00-\u9fff]")


def earn(household, amount, day=OCTOBER, category=RuleCategory.HYGIENE, resident=None, hours=0):
    """An entry of the household's (and the resident's) on day, in category."""
    post_entry(household.id, amount, EntrySource.MANUAL, factories.unique("board-"), occurred_on=day,
               category=category, resident_id=resident.id if resident else None, hours=hours)


@pytest.fixture
def town():
    """A town with two villages. The first has three grids: 张三明 (30) and 王五 (nothing) in the first, 李四 (20) in
    the second, 赵六 (20) and 钱七 (10) in the third, all in October; 钱七 also has 100 in September. The second village
    has 孙八 (25 in October); a village of another town has 周九 (99). A grid worker and a villager of 赵六's."""
    home = factories.gen_village()
    neighbour = factories.gen_village(grids=1, town=home.town)
    faraway = factories.gen_village(grids=1)
    g1, g2, g3 = home.grids
    h = SimpleNamespace(
        zhang=factories.gen_household(g1, "张三明", id_number=factories.gen_id_number()),
        wang=factories.gen_household(g1, "王五"),
        li=factories.gen_household(g2, "李四"),
        zhao=factories.gen_household(g3, "赵六"),
        qian=factories.gen_household(g3, "钱七"),
        sun=factories.gen_household(neighbour.grids[0], "孙八"),
        zhou=factories.gen_household(faraway.grids[0], "周九"),
    )
    earn(h.zhang, 30)
    earn(h.li, 15)
    earn(h.li, 5, day=MID_OCTOBER)
    earn(h.zhao, 20, day=MID_OCTOBER)
    earn(h.qian, 10)
    earn(h.qian, 100, day=SEPTEMBER)
    earn(h.sun, 25)
    earn(h.zhou, 99)
    worker = factories.gen_user(Role.GRID_WORKER, g1)
    villager = factories.gen_villager(h.zhao)
    db.session.commit()
    return SimpleNamespace(home=home, neighbour=neighbour, faraway=faraway, h=h, worker=worker, villager=villager)


def board(api, user, scope, **params):
    query = "&".join(f"{name}={value}" for name, value in {"scope": scope.id, **params}.items())
    response = api.get(f"{PATH}?{query}", user)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def places(body, key="household_id"):
    return [(item["rank"], item[key]) for item in body["items"]]


# Households


def test_households_rank_by_their_total_and_share_places_when_tied(api, town):
    h = town.h
    body = board(api, town.worker, town.home.village, period="month:2026-10")

    assert places(body) == [(1, h.zhang.id), (2, h.li.id), (2, h.zhao.id), (4, h.qian.id)]  # 王五 has nothing
    assert [item["total"] for item in body["items"]] == [30, 20, 20, 10]
    first = body["items"][0]
    # penalties are named on a 黑榜 only, where the village lists one
    assert (first["number"], first["name"], first["grid"], first["deducted"]) == (h.zhang.number, "张*明", "第1网格",
                                                                                  None)
    assert body["subject"] == "household" and body["board"] == "red" and body["category"] is None
    assert body["scope"] == {"id": town.home.village.id, "name": town.home.village.name, "kind": "village"}
    assert body["period"] == {"text": "month:2026-10", "label": "2026年10月", "first": "2026-10-01",
                              "last": "2026-10-31"}
    assert body["own"] is None  # a grid worker has no household


def test_a_short_board_keeps_those_tied_at_its_last_place(api, town):
    h = town.h
    assert places(board(api, town.worker, town.home.village, period="month:2026-10", limit=2)) == [
        (1, h.zhang.id), (2, h.li.id), (2, h.zhao.id)]
    assert places(board(api, town.worker, town.home.village, period="month:2026-10", limit=1)) == [(1, h.zhang.id)]


@pytest.mark.parametrize("period, expected", [
    ("month:2026-09", [("qian", 100)]),
    ("week:2026-W41", [("zhang", 30), ("li", 15), ("qian", 10)]),
    ("week:2026-W42", [("zhao", 20), ("li", 5)]),
    ("quarter:2026-Q4", [("zhang", 30), ("li", 20), ("zhao", 20), ("qian", 10)]),
    ("quarter:2026-Q3", [("qian", 100)]),
    ("year:2026", [("qian", 110), ("zhang", 30), ("li", 20), ("zhao", 20)]),
    ("all", [("qian", 110), ("zhang", 30), ("li", 20), ("zhao", 20)]),
    ("year:2025", []),
])
def test_only_the_periods_entries_count(api, town, period, expected):
    body = board(api, town.worker, town.home.village, period=period)
    ids = {getattr(town.h, name).id: name for name in vars(town.h)}
    assert [(ids[item["household_id"]], item["total"]) for item in body["items"]] == expected
    assert body["period"]["text"] == period
    if period == "all":
        assert body["period"]["first"] is None and body["period"]["last"] is None


def test_the_period_is_this_month_unless_asked(api, town):
    today = local_today()
    earn(town.h.wang, 7, day=today)
    db.session.commit()
    body = board(api, town.worker, town.home.village)

    this_month = period_of(PeriodKind.MONTH, today)
    assert body["period"]["text"] == this_month.text and body["period"]["first"] == this_month.first.isoformat()
    assert (town.h.wang.id, 7) in [(item["household_id"], item["total"]) for item in body["items"]]
    if this_month.text != "month:2026-10":  # the fixture's points are October's
        assert places(body) == [(1, town.h.wang.id)]


def test_a_category_narrows_the_board(api, town):
    h = town.h
    earn(h.wang, 12, category=RuleCategory.MUTUAL_AID)
    earn(h.qian, 3, category=RuleCategory.MUTUAL_AID)
    db.session.commit()

    aid = board(api, town.worker, town.home.village, period="month:2026-10", category="mutual_aid")
    assert aid["category"] == "mutual_aid"
    assert [(item["household_id"], item["total"]) for item in aid["items"]] == [(h.wang.id, 12), (h.qian.id, 3)]
    every = board(api, town.worker, town.home.village, period="month:2026-10", category="all")
    assert every["category"] is None
    assert every["items"] == board(api, town.worker, town.home.village, period="month:2026-10", category="")["items"]
    assert places(every)[:2] == [(1, h.zhang.id), (2, h.li.id)] and (5, h.wang.id) in places(every)  # 12 < 13 of 钱七


def test_a_grid_and_a_town_are_scopes_too(api, town):
    h = town.h
    grid = board(api, town.worker, town.home.grids[2], period="month:2026-10")
    assert places(grid) == [(1, h.zhao.id), (2, h.qian.id)]
    assert grid["scope"]["kind"] == "grid"

    whole = board(api, town.worker, town.home.town, period="month:2026-10")
    assert whole["scope"]["kind"] == "town"
    assert places(whole) == [(1, h.zhang.id), (2, h.sun.id), (3, h.li.id), (3, h.zhao.id), (5, h.qian.id)]
    assert h.zhou.id not in {item["household_id"] for item in whole["items"]}  # another town's

    neighbour = board(api, town.worker, town.neighbour.village, period="month:2026-10")
    assert places(neighbour) == [(1, h.sun.id)]


def test_any_caller_with_a_token_may_read_any_scope(api, town):
    stranger = factories.gen_user(Role.SHOP_CLERK, town.faraway.village)
    db.session.commit()
    assert places(board(api, stranger, town.home.village, period="month:2026-10"))[0] == (1, town.h.zhang.id)
    assert places(board(api, town.villager, town.faraway.village, period="month:2026-10")) == [(1, town.h.zhou.id)]


# The 黑榜


def penalise(town):
    earn(town.h.li, -5, category=RuleCategory.VILLAGE_RULES)
    earn(town.h.qian, -8, category=RuleCategory.VILLAGE_RULES)
    earn(town.h.sun, -9, category=RuleCategory.VILLAGE_RULES)
    db.session.commit()


def test_no_black_board_where_the_village_lists_none(api, town):
    penalise(town)
    for scope in (town.home.village, town.home.grids[1]):
        response = api.get(f"{PATH}?scope={scope.id}&board=black&period=month:2026-10", town.worker)
        assert CJK.search(error_of(response, 409, "black_board_off")["message"])
    db.session.add(BoardSettings(village_id=town.home.village.id, red_count=10, black_count=0))
    db.session.commit()
    error_of(api.get(f"{PATH}?scope={town.home.village.id}&board=black", town.worker), 409, "black_board_off")


def test_the_black_board_lists_the_most_points_lost_no_longer_than_the_village_sets(api, town):
    penalise(town)
    settings = BoardSettings(village_id=town.home.village.id, red_count=10, black_count=5)
    db.session.add(settings)
    db.session.commit()
    h = town.h

    black = board(api, town.worker, town.home.village, period="month:2026-10", board="black")
    assert black["board"] == "black"
    assert [(item["rank"], item["household_id"], item["deducted"], item["total"]) for item in black["items"]] == [
        (1, h.qian.id, 8, 2), (2, h.li.id, 5, 15)]  # 孙八 is another village's
    assert places(board(api, town.worker, town.home.grids[1], period="month:2026-10", board="black")) == [
        (1, h.li.id)]
    # the red board counts what penalties took
    assert places(board(api, town.worker, town.home.village, period="month:2026-10"))[:3] == [
        (1, h.zhang.id), (2, h.zhao.id), (3, h.li.id)]

    settings.black_count = 1
    db.session.commit()
    assert places(board(api, town.worker, town.home.village, period="month:2026-10", board="black", limit=50)) == [
        (1, h.qian.id)]
    # A town names no households on a 黑榜, whatever its villages set.
    error_of(api.get(f"{PATH}?scope={town.home.town.id}&board=black&period=month:2026-10", town.worker), 409,
             "black_board_per_village")


# Residents


def test_residents_rank_by_volunteering_points_or_hours(api, town):
    h = town.h
    earn(h.zhang, 10, category=RuleCategory.VOLUNTEERING, resident=h.zhang.head, hours=2)
    earn(h.li, 6, category=RuleCategory.VOLUNTEERING, resident=h.li.head, hours=5)
    earn(h.wang, 6, category=RuleCategory.VOLUNTEERING, resident=h.wang.head, hours=1)
    earn(h.zhao, 50, category=RuleCategory.HYGIENE, resident=h.zhao.head)
    earn(h.sun, 40, category=RuleCategory.VOLUNTEERING, resident=h.sun.head, hours=9)  # another village
    earn(h.qian, 30, day=SEPTEMBER, category=RuleCategory.VOLUNTEERING, resident=h.qian.head, hours=9)
    db.session.commit()

    body = board(api, town.worker, town.home.village, subject="resident", period="month:2026-10")
    assert body["subject"] == "resident" and body["category"] == "volunteering" and body["order"] == "points"
    assert places(body, "resident_id")[0] == (1, h.zhang.head.id)
    assert set(places(body, "resident_id")[1:]) == {(2, h.li.head.id), (2, h.wang.head.id)}
    first = body["items"][0]
    assert (first["name"], first["number"], first["grid"], first["points"], first["hours"]) == (
        "张*明", h.zhang.number, "第1网格", 10, 2)
    assert body["own"] is None

    hours = board(api, town.worker, town.home.village, subject="resident", period="month:2026-10", order="hours")
    assert hours["order"] == "hours"
    assert [(item["resident_id"], item["hours"]) for item in hours["items"]] == [
        (h.li.head.id, 5), (h.zhang.head.id, 2), (h.wang.head.id, 1)]

    hygiene = board(api, town.worker, town.home.village, subject="resident", period="month:2026-10",
                    category="hygiene")
    assert places(hygiene, "resident_id") == [(1, h.zhao.head.id)]
    every = board(api, town.worker, town.home.town, subject="resident", period="month:2026-10", category="all")
    assert every["category"] is None
    assert places(every, "resident_id")[:2] == [(1, h.zhao.head.id), (2, h.sun.head.id)]


# Grids


def test_grids_rank_by_the_average_of_all_their_households(api, town):
    g1, g2, g3 = town.home.grids
    body = board(api, town.worker, town.home.village, subject="grid", period="month:2026-10")

    assert body["subject"] == "grid" and body["order"] == "average"
    # 第1网格: 30 over two households (王五 counts 0); 第2网格: 20 over one; 第3网格: 30 over two.
    assert [(item["rank"], item["grid_id"], item["households"], item["active"], item["total"], item["average"])
            for item in body["items"]] == [(1, g2.id, 1, 1, 20, 20.0), (2, g1.id, 2, 1, 30, 15.0),
                                           (2, g3.id, 2, 2, 30, 15.0)]
    assert body["items"][0]["name"] == "第2网格" and body["items"][0]["village"] == town.home.village.name

    total = board(api, town.worker, town.home.village, subject="grid", period="month:2026-10", order="total")
    assert places(total, "grid_id") == [(1, g1.id), (1, g3.id), (3, g2.id)]
    assert places(board(api, town.worker, town.home.village, subject="grid", period="month:2026-10", limit=1),
                  "grid_id") == [(1, g2.id)]


def test_a_grid_average_is_rounded_to_one_decimal(api, town):
    factories.gen_household(town.home.grids[1], "吴十")
    factories.gen_household(town.home.grids[1], "郑一")
    db.session.commit()
    body = board(api, town.worker, town.home.grids[1], subject="grid", period="month:2026-10")
    assert [(item["total"], item["households"], item["average"]) for item in body["items"]] == [(20, 3, 6.7)]


def test_a_town_ranks_the_grids_of_all_its_villages(api, town):
    body = board(api, town.worker, town.home.town, subject="grid", period="month:2026-10")
    assert [(item["grid_id"], item["average"]) for item in body["items"]][:2] == [
        (town.neighbour.grids[0].id, 25.0), (town.home.grids[1].id, 20.0)]
    assert len(body["items"]) == 4


# A villager's own place


def test_a_villager_sees_where_their_household_stands(api, town):
    h = town.h
    body = board(api, town.villager, town.home.village, period="month:2026-10")
    assert body["own"] == {"rank": 2, "households": 5, "total": 20}
    # a town's households are too many to count on a request
    assert board(api, town.villager, town.home.town, period="month:2026-10")["own"] is None
    assert board(api, town.villager, town.home.grids[2], period="month:2026-10")["own"] == {
        "rank": 1, "households": 2, "total": 20}
    # not in the scope, or a board own does not measure
    assert board(api, town.villager, town.home.grids[0], period="month:2026-10")["own"] is None
    assert board(api, town.villager, town.home.village, period="month:2026-10", category="hygiene")["own"] is None
    assert board(api, town.villager, town.home.village, period="month:2026-10", subject="grid")["own"] is None

    idle = factories.gen_villager(h.wang)
    db.session.commit()
    assert board(api, idle, town.home.village, period="month:2026-10")["own"] == {
        "rank": None, "households": 5, "total": 0}


# Privacy


def test_no_full_name_phone_or_id_number_is_sent(api, town):
    h = town.h
    earn(h.zhang, 10, category=RuleCategory.VOLUNTEERING, resident=h.zhang.head, hours=2)
    settings = BoardSettings(village_id=town.home.village.id, red_count=10, black_count=5)
    db.session.add(settings)
    earn(h.zhang, -1, category=RuleCategory.VILLAGE_RULES)
    db.session.commit()
    secrets = ["张三明", "李四", "赵六", "钱七", "13812345678", h.zhang.head.id_number]
    assert h.zhang.head.id_number
    for params in ({}, {"subject": "resident"}, {"subject": "resident", "category": "all"}, {"subject": "grid"},
                   {"board": "black"}):
        body = board(api, town.villager, town.home.village, period="month:2026-10", **params)
        text = json.dumps(body, ensure_ascii=False)
        assert "张*明" in text or "第1网格" in text
        assert not [secret for secret in secrets if secret in text], params


# Refusals


def test_a_token_is_required(api, town):
    error_of(api.get(f"{PATH}?scope={town.home.village.id}"), 401, "login_required")
    error_of(api.get(f"{PATH}?scope={town.home.village.id}", headers={"Authorization": "Bearer nope"}), 401,
             "invalid_token")


@pytest.mark.parametrize("query, status, code", [
    ("subject=household", 422, "validation_error"),
    ("scope=", 422, "validation_error"),
    ("scope=abc", 422, "validation_error"),
    ("scope=1.5", 422, "validation_error"),
    ("scope=0", 422, "validation_error"),
    ("scope=-3", 422, "validation_error"),
    ("scope=99999999999999999999999", 422, "validation_error"),
    ("scope=2147483647", 404, "not_found"),
    ("scope={village}&subject=family", 422, "validation_error"),
    ("scope={village}&subject=", 422, "validation_error"),
    ("scope={village}&period=week:2026-W60", 400, "invalid_period"),
    ("scope={village}&period=week:2026-W00", 400, "invalid_period"),
    ("scope={village}&period=month:2026-13", 400, "invalid_period"),
    ("scope={village}&period=month:2026-1x", 400, "invalid_period"),
    ("scope={village}&period=quarter:2026-Q5", 400, "invalid_period"),
    ("scope={village}&period=year:99999", 400, "invalid_period"),
    ("scope={village}&period=year:１２３４", 400, "invalid_period"),
    ("scope={village}&period=all:2026", 400, "invalid_period"),
    ("scope={village}&period=day:2026-11-01", 400, "invalid_period"),
    ("scope={village}&period=", 400, "invalid_period"),
    ("scope={village}&period=" + "9" * 100, 400, "invalid_period"),
    ("scope={village}&period=month%3A2026-11%00", 422, "validation_error"),
    ("scope={village}&category=food", 400, "invalid_category"),
    ("scope={village}&category=HYGIENE", 400, "invalid_category"),
    ("scope={village}&limit=0", 422, "validation_error"),
    ("scope={village}&limit=101", 422, "validation_error"),
    ("scope={village}&limit=abc", 422, "validation_error"),
    ("scope={village}&limit=", 422, "validation_error"),
    ("scope={village}&limit=99999999999999999999999", 422, "validation_error"),
    ("scope={village}&board=grey", 422, "validation_error"),
    ("scope={village}&subject=resident&board=black", 422, "validation_error"),
    ("scope={village}&subject=grid&board=black", 422, "validation_error"),
    ("scope={village}&order=hours", 422, "validation_error"),
    ("scope={village}&subject=resident&order=average", 422, "validation_error"),
    ("scope={village}&subject=grid&order=hours", 422, "validation_error"),
    ("scope={village}&order=sideways", 422, "validation_error"),
])
def test_bad_parameters_are_refused_in_chinese(api, town, query, status, code):
    path = f"{PATH}?{query}".replace("{village}", str(town.home.village.id))
    message = error_of(api.get(path, town.worker), status, code)["message"]
    assert CJK.search(message), message


# The document


def test_the_document_describes_the_board(openapi_spec):
    operation = openapi_spec["paths"][PATH]["get"]
    assert {p["name"] for p in operation["parameters"]} == {
        "subject", "scope", "period", "category", "limit", "board", "order"}
    assert {"200", "400", "401", "404", "409", "422"} <= set(operation["responses"])
    schemas = openapi_spec["components"]["schemas"]
    assert {"subject", "scope", "period", "category", "items", "own"} <= set(schemas["Leaderboard"]["required"])
    assert set(schemas["HouseholdPlace"]["required"]) == {
        "rank", "household_id", "number", "name", "grid", "total", "deducted"}
    assert set(schemas["ResidentPlace"]["required"]) == {
        "rank", "resident_id", "name", "number", "grid", "points", "hours"}
    assert set(schemas["GridPlace"]["required"]) == {
        "rank", "grid_id", "name", "village", "households", "active", "total", "average"}


def test_the_contract_check_catches_an_item_of_the_wrong_shape(app, contract, town):
    good = {"subject": "grid", "board": "red", "order": "average",
            "scope": {"id": 1, "name": "村", "kind": "village"},
            "period": {"text": "all", "label": "累计", "first": None, "last": None}, "category": None, "own": None,
            "items": [{"rank": 1, "grid_id": 2, "name": "第1网格", "village": "村", "households": 2, "active": 1,
                       "total": 3, "average": 1.5}]}
    wrong = {**good, "items": [{"rank": 1, "grid_id": 2, "name": "第1网格"}]}

    def answer(body):
        return app.response_class(app.json.dumps(body), status=200, mimetype="application/json")

    assert contract.errors("GET", PATH, answer(good)) == []
    assert contract.errors("GET", PATH, answer(wrong))


def test_a_penalty_under_appeal_is_off_the_black_board_until_decided(api, town):
    penalise(town)
    h = town.h
    db.session.add(BoardSettings(village_id=town.home.village.id, red_count=10, black_count=5))
    penalty = db.session.scalar(select(LedgerEntry).where(LedgerEntry.household_id == h.qian.id,
                                                          LedgerEntry.amount == -8))
    villager = factories.gen_villager(h.qian)
    admin = factories.gen_user(Role.VILLAGE_ADMIN, town.home.village)
    db.session.commit()
    assert api.post("/api/v1/appeals", villager, json={"entry_id": penalty.id, "reason": "不是我家"}).status_code == 201
    appeal_id = db.session.scalar(select(Appeal.id))

    def black():
        body = board(api, town.worker, town.home.village, period="month:2026-10", board="black")
        return [(item["rank"], item["household_id"], item["deducted"]) for item in body["items"]]

    assert black() == [(1, h.li.id, 5)]
    assert api.post(f"/api/v1/appeals/{appeal_id}/decision", admin, json={"reverse": False}).status_code == 200
    assert black() == [(1, h.qian.id, 8), (2, h.li.id, 5)]
