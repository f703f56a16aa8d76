"""/api/v1 entries: awards and penalties, batches, 冲正, a household's entries and balance, and Idempotency-Key."""
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth.models import Role
from points.extensions import db
from points.ledger.models import HouseholdBalance, LedgerEntry
from points.people.models import HouseholdKind
from points.people.services import add_resident
from points.rules.models import RuleCategory, RuleUnit
from points.rules.services import RuleTerms, create_rule
from points.timeutil import local_today

from .. import factories
from ..ledger.helpers import assert_ledger_consistent
from .conftest import error_of

THREADS = 20


@pytest.fixture
def ledger(village):
    """Households in grid 1 (one a renter), grid 2 and a neighbouring village; a rule book in force since 100 days
    ago, a rule not yet in force and one no longer; staff of grid 1 and 2, the village admin and a villager."""
    today = local_today()
    since = today - timedelta(days=100)
    neighbour = factories.gen_village(grids=1, town=village.town)
    home = factories.gen_household(village.grids[0], "张三明")
    spouse = add_resident(home, "李小红", "配偶", None, None)
    renter = factories.gen_household(village.grids[0], "王大山", kind=HouseholdKind.RENTER)
    other = factories.gen_household(village.grids[0], "赵六")
    across = factories.gen_household(village.grids[1], "欧阳小明")
    rules = {
        "award": factories.gen_rule(village.village, "庭院整洁", 5, code="AWARD", effective_from=since, cap_day=10),
        "penalty": factories.gen_rule(village.village, "乱堆乱放", -10, RuleCategory.VILLAGE_RULES, code="PENALTY",
                                      effective_from=since),
        "admin_only": factories.gen_rule(village.village, "示范户", 20, code="ADMIN", effective_from=since,
                                         roles=frozenset({Role.VILLAGE_ADMIN})),
        "hourly": create_rule(village.village, "HOURLY", RuleTerms("志愿服务", RuleCategory.VOLUNTEERING, 2,
                                                                   RuleUnit.HOUR,
                                                                   roles=factories.STAFF), since),
        "registered_only": factories.gen_rule(village.village, "户籍专项", 3, code="REG", effective_from=since,
                                              for_renters=False),
        "upcoming": factories.gen_rule(village.village, "新规", 1, code="NEW",
                                       effective_from=today + timedelta(days=10)),
        "ended": create_rule(village.village, "OLD", RuleTerms("旧规", RuleCategory.HYGIENE, 1, roles=factories.STAFF),
                             since, today - timedelta(days=5)),
        "far": factories.gen_rule(neighbour.village, "邻村规则", 1, code="FAR", effective_from=since),
    }
    users = {
        "worker": factories.gen_user(Role.GRID_WORKER, village.grids[0]),
        "leader2": factories.gen_user(Role.GRID_LEADER, village.grids[1]),
        "admin": factories.gen_user(Role.VILLAGE_ADMIN, village.village),
        "villager": factories.gen_villager(home),
        "clerk": factories.gen_user(Role.SHOP_CLERK, village.village),
    }
    db.session.commit()
    return dict(village=village, home=home, spouse=spouse, renter=renter, other=other, across=across,
                far_rule=rules["far"], today=today, **rules, **users)


def award(api, user, household, rule, headers=None, **body):
    return api.post("/api/v1/entries", user, headers=headers,
                    json={"household_id": household.id, "rule_id": rule.id, **body})


def snapshot() -> tuple[int, int, int]:
    """What a refusal must leave unchanged: entries, the sum of balances, and audit events."""
    db.session.expire_all()
    return (
        db.session.scalar(select(func.count()).select_from(LedgerEntry)),
        db.session.scalar(select(func.coalesce(func.sum(HouseholdBalance.balance), 0))),
        db.session.scalar(select(func.count()).select_from(AuditEvent)),
    )


def balance(api, user, household) -> int:
    return api.get(f"/api/v1/households/{household.id}", user).get_json()["balance"]


# Posting one entry


def test_an_award_posts_an_entry_and_moves_the_balance(api, ledger):
    worker, home = ledger["worker"], ledger["home"]
    response = award(api, worker, home, ledger["award"], note="门前整洁")

    assert response.status_code == 201
    entry = response.get_json()
    created_at = entry.pop("created_at")
    assert created_at.endswith("+00:00")
    assert entry == {
        "id": entry["id"],
        "household_id": home.id,
        "resident_id": None,
        "amount": 5,
        "rule_id": ledger["award"].id,
        "rule_code": "AWARD",
        "rule_name": "庭院整洁",
        "rule_version": 1,
        "category": "hygiene",
        "source": "manual",
        "actor": worker.display_name,
        "occurred_on": ledger["today"].isoformat(),
        "note": "门前整洁",
        "reverses_id": None,
        "reversed_by_id": None,
    }
    assert balance(api, worker, home) == 5
    assert api.get(f"/api/v1/entries/{entry['id']}", worker).get_json()["amount"] == 5
    assert_ledger_consistent(home.id)


def test_a_penalty_may_take_the_balance_below_zero(api, ledger):
    response = award(api, ledger["worker"], ledger["home"], ledger["penalty"])

    assert response.status_code == 201
    assert (response.get_json()["amount"], response.get_json()["category"]) == (-10, "village_rules")
    assert balance(api, ledger["worker"], ledger["home"]) == -10


def test_hours_a_resident_and_an_earlier_day(api, ledger):
    yesterday = ledger["today"] - timedelta(days=1)
    response = award(api, ledger["worker"], ledger["home"], ledger["hourly"], quantity=3,
                     resident_id=ledger["spouse"].id, occurred_on=yesterday.isoformat())

    entry = response.get_json()
    assert response.status_code == 201
    assert (entry["amount"], entry["resident_id"]) == (6, ledger["spouse"].id)
    assert entry["occurred_on"] == yesterday.isoformat()


def test_caps_hold(api, ledger):
    worker, home = ledger["worker"], ledger["home"]
    assert award(api, worker, home, ledger["award"]).status_code == 201
    assert award(api, worker, home, ledger["award"]).status_code == 201
    before = snapshot()

    error = error_of(award(api, worker, home, ledger["award"]), 409, "cap_exceeded")

    assert error["message"] == "超过细则“庭院整洁”的每日上限 10 分（已有 10 分）"
    assert snapshot() == before


@pytest.mark.parametrize(
    "household, rule, body, status, code, message",
    [
        ("home", None, {"rule_id": 999999}, 400, "unknown_rule", "找不到该细则，或它不属于这一户所在的村"),
        ("home", "far_rule", {}, 400, "unknown_rule", "找不到该细则，或它不属于这一户所在的村"),
        ("home", "upcoming", {}, 400, "rule_not_in_force", "该细则在 {today} 不在有效期内"),
        ("home", "ended", {}, 400, "rule_not_in_force", "该细则在 {today} 不在有效期内"),
        ("home", "admin_only", {}, 403, "rule_not_for_role", "您的角色不能在这一户使用该细则"),
        ("renter", "registered_only", {}, 400, "rule_not_for_household_kind", "该细则不适用于这一户的户籍类型"),
        ("home", "award", {"quantity": 0}, 400, "invalid_quantity", "次数或小时数必须是 1 到 100 之间的整数"),
        ("home", "award", {"quantity": -3}, 400, "invalid_quantity", "次数或小时数必须是 1 到 100 之间的整数"),
        ("home", "award", {"quantity": 10**30}, 400, "invalid_quantity", "次数或小时数必须是 1 到 100 之间的整数"),
        ("home", "hourly", {"quantity": 25}, 400, "invalid_quantity", "次数或小时数必须是 1 到 24 之间的整数"),
        ("home", "award", {"occurred_on": "tomorrow"}, 400, "day_in_future", "日期不能晚于今天"),
        ("home", "award", {"resident_id": "other_head"}, 400, "resident_not_in_household", "该村民不属于这一户"),
        ("across", "award", {}, 403, "forbidden", "您没有权限执行此操作"),
        (None, "award", {"household_id": 999999}, 404, "not_found", "找不到该内容"),
    ],
)
def test_a_refused_award_says_why_in_chinese_and_writes_nothing(api, ledger, household, rule, body, status, code,
                                                                message):
    payload = {"household_id": ledger[household].id if household else None,
               "rule_id": ledger[rule].id if rule else None, **body}
    if payload.get("occurred_on") == "tomorrow":
        payload["occurred_on"] = (ledger["today"] + timedelta(days=1)).isoformat()
    if payload.get("resident_id") == "other_head":
        payload["resident_id"] = ledger["other"].head.id
    before = snapshot()

    error = error_of(api.post("/api/v1/entries", ledger["worker"], json=payload), status, code)

    assert error["message"] == message.format(today=ledger["today"].isoformat())
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        {"rule_id": "RULE"},
        {"household_id": "HOME"},
        {"household_id": "HOME", "rule_id": "RULE", "quantity": "2"},
        {"household_id": "HOME", "rule_id": "RULE", "quantity": 1.5},
        {"household_id": "HOME", "rule_id": "RULE", "quantity": True},
        {"household_id": "HOME", "rule_id": "RULE", "note": "长" * 201},
        {"household_id": "HOME", "rule_id": "RULE", "note": "a\x00b"},
        {"household_id": "HOME", "rule_id": "RULE", "occurred_on": "2026-02-30"},
        {"household_id": "HOME", "rule_id": "RULE", "resident_id": 0},
        {"household_id": "HOME", "rule_id": 2**40},
        {"household_id": "HOME", "rule_id": "RULE", "amount": 1000},
        [],
    ],
)
def test_a_malformed_body_is_a_422_and_writes_nothing(api, ledger, body):
    ids = {"HOME": ledger["home"].id, "RULE": ledger["award"].id}
    if isinstance(body, dict):
        body = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    before = snapshot()

    error = error_of(api.post("/api/v1/entries", ledger["worker"], json=body), 422, "validation_error")

    assert error["message"] == "提交的内容有误"
    assert snapshot() == before


def test_a_body_that_is_not_json_is_a_422(api, ledger):
    response = api.post("/api/v1/entries", ledger["worker"], data="household_id=1", content_type="text/plain")
    error_of(response, 422, "validation_error")


def test_villagers_and_clerks_cannot_post_entries(api, ledger):
    before = snapshot()
    error_of(award(api, ledger["villager"], ledger["home"], ledger["award"]), 403, "own_household")
    error_of(award(api, ledger["villager"], ledger["other"], ledger["award"]), 403, "forbidden")
    error_of(award(api, ledger["clerk"], ledger["home"], ledger["award"]), 403, "forbidden")
    error_of(award(api, None, ledger["home"], ledger["award"]), 401, "login_required")
    assert snapshot() == before


# Idempotency-Key


def test_the_same_key_again_answers_the_first_entry_and_posts_once(api, ledger):
    worker, home = ledger["worker"], ledger["home"]
    first = award(api, worker, home, ledger["award"], headers={"Idempotency-Key": "tap-1"})
    again = award(api, worker, home, ledger["award"], headers={"Idempotency-Key": "tap-1"})

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert snapshot()[:2] == (1, 5)


def test_the_same_key_for_a_different_posting_is_a_409(api, ledger):
    worker = ledger["worker"]
    award(api, worker, ledger["home"], ledger["award"], headers={"Idempotency-Key": "tap-2"})
    before = snapshot()

    for household, body in ((ledger["home"], {"quantity": 2}), (ledger["other"], {}),
                            (ledger["home"], {"note": "另一件事"}),
                            (ledger["home"], {"occurred_on": (local_today() - timedelta(days=3)).isoformat()})):
        response = award(api, worker, household, ledger["award"], headers={"Idempotency-Key": "tap-2"}, **body)
        assert error_of(response, 409, "idempotency_key_reused")["message"] == "该幂等键已用于另一个不同的请求"
    assert snapshot() == before


def test_a_request_that_left_out_the_day_retried_the_next_day_answers_the_first(api, ledger, monkeypatch):
    """Its entry is dated the day it was posted; the retry asks for no other day."""
    worker, households = ledger["worker"], [ledger["home"], ledger["other"]]
    headers = {"Idempotency-Key": "late-1"}
    first = award(api, worker, ledger["home"], ledger["award"], headers=headers)
    first_batch = batch(api, worker, households, ledger["award"], headers={"Idempotency-Key": "late-2"})
    monkeypatch.setattr("points.ledger.services.local_today", lambda: local_today() + timedelta(days=1))

    again = award(api, worker, ledger["home"], ledger["award"], headers=headers)
    again_batch = batch(api, worker, households, ledger["award"], headers={"Idempotency-Key": "late-2"})
    assert (again.status_code, again_batch.status_code) == (201, 201)
    assert (again.get_json(), again_batch.get_json()) == (first.get_json(), first_batch.get_json())
    assert again.get_json()["occurred_on"] == local_today().isoformat()
    assert snapshot()[:2] == (3, 15)


def test_keys_belong_to_one_account(api, ledger):
    """Two clients that happen to choose the same key each post their own entry."""
    headers = {"Idempotency-Key": "same-key"}
    first = award(api, ledger["worker"], ledger["home"], ledger["award"], headers=headers)
    second = award(api, ledger["admin"], ledger["home"], ledger["award"], headers=headers)

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.get_json()["id"] != second.get_json()["id"]


def test_without_a_key_every_request_posts(api, ledger):
    award(api, ledger["worker"], ledger["home"], ledger["award"])
    award(api, ledger["worker"], ledger["home"], ledger["award"])
    assert snapshot()[:2] == (2, 10)


@pytest.mark.parametrize("key", ["", "x" * 65, "has space", "tab\tkey"])
def test_an_invalid_key_is_a_400_in_chinese(api, ledger, key):
    before = snapshot()
    error = error_of(award(api, ledger["worker"], ledger["home"], ledger["award"], headers={"Idempotency-Key": key}),
                     400, "invalid_idempotency_header")
    assert error["message"] == "请求头 Idempotency-Key 应为 1 到 64 个英文字母、数字或符号"
    assert snapshot() == before


def _post_from_threads(app, headers: dict, bodies: list[dict]) -> list[tuple[int, dict]]:
    """Each body posted at once from its own thread, with its own app context and database session."""

    def post(body):
        with app.app_context():
            response = app.test_client().post("/api/v1/entries", json=body, headers=headers)
            return response.status_code, response.get_json()

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def test_one_key_from_twenty_threads_posts_once(api, app, ledger):
    headers = {**api.headers(ledger["worker"]), "Idempotency-Key": "double-tap"}
    body = {"household_id": ledger["home"].id, "rule_id": ledger["award"].id}

    answers = _post_from_threads(app, headers, [body] * THREADS)

    assert {status for status, _ in answers} == {201}
    assert len({answer["id"] for _, answer in answers}) == 1
    assert snapshot()[:2] == (1, 5)
    assert_ledger_consistent(ledger["home"].id)


def test_one_key_for_two_households_from_twenty_threads_posts_once(api, app, ledger):
    """The ledger's lock is per household: here its unique key decides, and the losers still get an answer."""
    headers = {**api.headers(ledger["worker"]), "Idempotency-Key": "reused-key"}
    bodies = [{"household_id": ledger[h].id, "rule_id": ledger["award"].id} for h in ("home", "other") * (THREADS // 2)]

    answers = _post_from_threads(app, headers, bodies)

    assert {status for status, _ in answers} <= {201, 409}
    posted = {answer["id"] for status, answer in answers if status == 201}
    assert len(posted) == 1
    assert all(answer["error"]["code"] == "idempotency_key_reused" for status, answer in answers if status == 409)
    assert snapshot()[:2] == (1, 5)


# Batches


def batch(api, user, households, rule, headers=None, **body):
    return api.post("/api/v1/entries/batch", user, headers=headers,
                    json={"household_ids": [h.id for h in households], "rule_id": rule.id, **body})


def test_a_batch_posts_one_entry_per_household(api, ledger):
    households = [ledger["home"], ledger["renter"], ledger["other"]]
    response = batch(api, ledger["worker"], households + [ledger["home"]], ledger["hourly"], quantity=2, note="开会")

    assert response.status_code == 201
    body = response.get_json()
    assert body["total"] == 3
    assert sorted(e["household_id"] for e in body["items"]) == sorted(h.id for h in households)
    assert {(e["amount"], e["note"]) for e in body["items"]} == {(4, "开会")}
    for household in households:
        assert balance(api, ledger["admin"], household) == 4


def test_a_batch_with_a_refused_household_posts_nothing_and_names_each(api, ledger):
    before = snapshot()
    households = [ledger["home"], ledger["renter"], ledger["across"]]

    response = batch(api, ledger["worker"], households, ledger["registered_only"])

    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (error["code"], error["message"]) == ("rule_not_for_household_kind", "该细则不适用于这一户的户籍类型")
    assert error["details"] == [
        {"household_id": ledger["renter"].id, "message": "该细则不适用于这一户的户籍类型"},
        {"household_id": ledger["across"].id, "message": "您的角色不能在这一户使用该细则"},
    ]
    assert snapshot() == before


def test_a_batch_retried_with_its_key_posts_once(api, ledger):
    households = [ledger["home"], ledger["other"]]
    headers = {"Idempotency-Key": "meeting-2026-11"}
    first = batch(api, ledger["worker"], households, ledger["award"], headers=headers)
    again = batch(api, ledger["worker"], households, ledger["award"], headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert snapshot()[:2] == (2, 10)


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"household_ids": []}, 400, "no_households_chosen"),
        ({"household_ids": [1] * 1001}, 422, "validation_error"),
        ({"household_ids": "1,2"}, 422, "validation_error"),
        ({"household_ids": [0]}, 422, "validation_error"),
        ({}, 422, "validation_error"),
    ],
)
def test_a_malformed_batch(api, ledger, body, status, code):
    before = snapshot()
    response = api.post("/api/v1/entries/batch", ledger["worker"], json={"rule_id": ledger["award"].id, **body})
    error_of(response, status, code)
    assert snapshot() == before


# 冲正


def test_a_reversal_undoes_an_entry_once(api, ledger):
    admin, home = ledger["admin"], ledger["home"]
    original = award(api, ledger["worker"], home, ledger["award"]).get_json()

    response = api.post(f"/api/v1/entries/{original['id']}/reversal", admin, json={"note": "记错了"})

    assert response.status_code == 201
    reversal = response.get_json()
    assert (reversal["amount"], reversal["source"], reversal["reverses_id"], reversal["note"]) == (
        -5, "reversal", original["id"], "记错了")
    assert api.get(f"/api/v1/entries/{original['id']}", admin).get_json()["reversed_by_id"] == reversal["id"]
    assert balance(api, admin, home) == 0
    before = snapshot()

    again = api.post(f"/api/v1/entries/{original['id']}/reversal", admin, json={})
    assert error_of(again, 409, "already_reversed")["message"] == "这笔积分已经冲正过了"
    error_of(api.post(f"/api/v1/entries/{reversal['id']}/reversal", admin), 409, "cannot_reverse_reversal")
    assert snapshot() == before
    assert_ledger_consistent(home.id)


def test_a_reversal_retried_with_its_key_answers_the_same(api, ledger):
    original = award(api, ledger["worker"], ledger["home"], ledger["award"]).get_json()
    path, headers = f"/api/v1/entries/{original['id']}/reversal", {"Idempotency-Key": "undo-1"}

    first = api.post(path, ledger["admin"], headers=headers, json={})
    again = api.post(path, ledger["admin"], headers=headers, json={})

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert snapshot()[:2] == (2, 0)


def test_only_who_may_reverse_entries_there_may_reverse(api, ledger):
    original = award(api, ledger["worker"], ledger["home"], ledger["award"]).get_json()
    path = f"/api/v1/entries/{original['id']}/reversal"
    before = snapshot()

    for who in ("worker", "leader2", "villager", "clerk"):
        error_of(api.post(path, ledger[who], json={}), 403, "forbidden")
    error_of(api.post("/api/v1/entries/999999/reversal", ledger["admin"], json={}), 404, "not_found")
    assert snapshot() == before


# Reading entries and balances


def test_a_households_entries_newest_first_in_pages(api, ledger):
    worker, home = ledger["worker"], ledger["home"]
    ids = [award(api, worker, home, ledger["hourly"], quantity=q).get_json()["id"] for q in (1, 2, 3)]
    path = f"/api/v1/households/{home.id}/entries?per_page=2"

    first = api.get(path, ledger["villager"]).get_json()
    second = api.get(path + "&page=2", ledger["villager"]).get_json()

    assert (first["total"], second["total"]) == (3, 3)
    assert [e["id"] for e in first["items"] + second["items"]] == ids[::-1]
    assert [e["amount"] for e in first["items"]] == [6, 4]


def test_entries_are_seen_only_where_the_household_is(api, ledger):
    entry = award(api, ledger["worker"], ledger["home"], ledger["award"]).get_json()
    across = award(api, ledger["admin"], ledger["across"], ledger["award"]).get_json()

    for who in ("worker", "admin", "villager"):
        assert api.get(f"/api/v1/entries/{entry['id']}", ledger[who]).status_code == 200
    error_of(api.get(f"/api/v1/entries/{entry['id']}", ledger["leader2"]), 403, "forbidden")
    error_of(api.get(f"/api/v1/entries/{across['id']}", ledger["villager"]), 403, "forbidden")
    error_of(api.get(f"/api/v1/households/{ledger['across'].id}/entries", ledger["villager"]), 403, "forbidden")
    error_of(api.get(f"/api/v1/households/{ledger['home'].id}/entries", ledger["clerk"]), 403, "forbidden")
    error_of(api.get("/api/v1/entries/999999", ledger["admin"]), 404, "not_found")
    error_of(api.get("/api/v1/households/999999/entries", ledger["admin"]), 404, "not_found")


def test_households_in_a_list_carry_their_balances(api, ledger):
    award(api, ledger["worker"], ledger["home"], ledger["award"])
    award(api, ledger["worker"], ledger["other"], ledger["penalty"])

    items = api.get("/api/v1/households?per_page=100", ledger["admin"]).get_json()["items"]

    balances = {h["id"]: h["balance"] for h in items}
    assert balances == {ledger["home"].id: 5, ledger["renter"].id: 0, ledger["other"].id: -10, ledger["across"].id: 0}
