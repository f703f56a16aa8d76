"""/api/v1 inspection-rounds (每周卫生评比: open a round, score sheets, publish, results) and monthly-summaries."""
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from points.auth.models import Role
from points.extensions import db
from points.hygiene import village_settings
from points.periods import month_of_week, parse_week, week_of
from points.timeutil import local_today

from .. import factories
from ..hygiene.helpers import gen_scene, last_month, weeks_of_month
from .conftest import error_of

# A week whose month has begun whatever today is (a week counts in its Thursday's month).
LAST_WEEK = week_of(local_today() - timedelta(days=7))
WEEK_BEFORE = week_of(local_today() - timedelta(days=14))
NEXT_WEEK = week_of(local_today() + timedelta(days=7))
# A week of last month: its month is over, and may be summed up once its weeks are published.
LAST_MONTHS_WEEK = weeks_of_month(last_month())[0]


@pytest.fixture
def scene():
    """A village of three grids with five households each, its admin and grid leaders; a villager of the first
    household, a shop clerk, a grid worker, and the admin of another village."""
    scene = gen_scene()
    scene.villager = factories.gen_villager(scene.households[0][0])
    scene.clerk = factories.gen_user(Role.SHOP_CLERK, scene.village.village)
    elsewhere = factories.gen_village(town=scene.village.town)
    scene.other_village = elsewhere.village
    scene.stranger = factories.gen_user(Role.VILLAGE_ADMIN, elsewhere.village)
    db.session.commit()
    return scene


def open_round(api, scene, user=None, week=LAST_WEEK):
    return api.post("/api/v1/inspection-rounds", user or scene.admin,
                    json={"village_id": scene.village.village.id, "week": week})


def grids_of(round_: dict) -> dict[int, dict]:
    return {g["grid_id"]: g for g in round_["grids"]}


def inspector_of(scene, round_: dict, grid_index: int):
    """The leader of the grid that inspects grid grid_index, and the leader of the third grid (neither)."""
    grid_ids = [g.id for g in scene.village.grids]
    inspector = grids_of(round_)[grid_ids[grid_index]]["inspector_grid_id"]
    bystander = next(i for i, g in enumerate(grid_ids) if g not in (grid_ids[grid_index], inspector))
    return scene.leaders[grid_ids.index(inspector)], scene.leaders[bystander]


def first_item(scene):
    return village_settings.checklist(scene.village.village.id)[0]


def score(api, user, round_id, household, points, revision=None, item=None, **extra):
    body = {"items": [{"item_id": item, "points": points}] if item else [], **extra}
    if revision is not None:
        body["revision"] = revision
    return api.request("PUT", f"/api/v1/inspection-rounds/{round_id}/scores/{household.id}", user, json=body)


def score_grid(api, scene, user, round_id, grid_index, deductions):
    item = first_item(scene).id
    for household, points in zip(scene.households[grid_index], deductions):
        assert score(api, user, round_id, household, points, item=item).status_code == 200


def balance(api, scene, household) -> int:
    return api.get(f"/api/v1/households/{household.id}", scene.admin).get_json()["balance"]


# Rounds


def test_staff_open_a_round_once_and_everyone_of_the_village_reads_it(api, scene):
    created = open_round(api, scene)
    assert created.status_code == 201
    round_ = created.get_json()
    assert (round_["village_id"], round_["week"]) == (scene.village.village.id, LAST_WEEK)
    assert round_["monday"] == parse_week(LAST_WEEK).isoformat()
    assert round_["month"] == month_of_week(parse_week(LAST_WEEK))
    assert [(g["grid_id"], g["grid_name"], g["scored"], g["households"], g["published_at"])
            for g in round_["grids"]] == [
        (g.id, g.name, 0, 5, None) for g in scene.village.grids]

    again = open_round(api, scene, scene.leaders[1], week=LAST_WEEK.lower())
    assert again.status_code == 200 and again.get_json() == round_
    for user in (scene.admin, scene.leaders[2], scene.villager, scene.clerk):
        assert api.get(f"/api/v1/inspection-rounds/{round_['id']}", user).get_json() == round_
        listed = api.get(f"/api/v1/inspection-rounds?village_id={scene.village.village.id}", user).get_json()
        assert listed == {"items": [round_], "total": 1}

    error_of(api.get(f"/api/v1/inspection-rounds/{round_['id']}", scene.stranger), 403, "forbidden")
    error_of(api.get(f"/api/v1/inspection-rounds?village_id={scene.village.village.id}", scene.stranger), 403,
             "forbidden")
    error_of(api.get("/api/v1/inspection-rounds/999999", scene.admin), 404, "not_found")
    error_of(api.get("/api/v1/inspection-rounds/99999999999999", scene.admin), 404, "not_found")
    error_of(api.get(f"/api/v1/inspection-rounds/{round_['id']}"), 401, "login_required")


def test_a_leader_opens_a_round_and_the_newest_is_listed_first(api, scene):
    assert open_round(api, scene, scene.leaders[0], week=WEEK_BEFORE).status_code == 201
    assert open_round(api, scene, scene.leaders[1]).status_code == 201
    page = api.get(f"/api/v1/inspection-rounds?village_id={scene.village.village.id}&per_page=1",
                   scene.villager).get_json()
    assert page["total"] == 2 and [r["week"] for r in page["items"]] == [LAST_WEEK]
    second = api.get(f"/api/v1/inspection-rounds?village_id={scene.village.village.id}&per_page=1&page=2",
                     scene.villager).get_json()
    assert [r["week"] for r in second["items"]] == [WEEK_BEFORE]


def test_villagers_clerks_and_other_villages_cannot_open_a_round(api, scene):
    for user in (scene.villager, scene.clerk, scene.stranger):
        error_of(open_round(api, scene, user), 403, "forbidden")
    assert api.get(f"/api/v1/inspection-rounds?village_id={scene.village.village.id}", scene.admin).get_json()[
        "total"] == 0


@pytest.mark.parametrize("week, status, code, message", [
    ("2026-W99", 400, "invalid_week", "周次格式应为 2026-W47 这样的年份和周次"),
    ("2026-47", 400, "invalid_week", "周次格式应为 2026-W47 这样的年份和周次"),
    ("9999-W01", 400, "invalid_week", "周次格式应为 2026-W47 这样的年份和周次"),
    ("", 400, "invalid_week", "周次格式应为 2026-W47 这样的年份和周次"),
    (NEXT_WEEK, 400, "week_in_future", "这一周还没到，不能开始评比"),
    ("2026-W47\x00", 422, "validation_error", "提交的内容有误"),
    (47, 422, "validation_error", "提交的内容有误"),
])
def test_a_bad_week_is_refused_in_chinese(api, scene, week, status, code, message):
    assert error_of(open_round(api, scene, week=week), status, code)["message"] == message


@pytest.mark.parametrize("body, status", [
    ({"village_id": 999999, "week": LAST_WEEK}, 404),
    ({"village_id": 99999999999999, "week": LAST_WEEK}, 422),
    ({"village_id": "1", "week": LAST_WEEK}, 422),
    ({"week": LAST_WEEK}, 422),
])
def test_an_unknown_or_absurd_village_is_refused(api, scene, body, status):
    assert api.post("/api/v1/inspection-rounds", scene.admin, json=body).status_code == status


def test_a_grid_is_not_a_village(api, scene):
    response = api.post("/api/v1/inspection-rounds", scene.admin,
                        json={"village_id": scene.village.grids[0].id, "week": LAST_WEEK})
    error_of(response, 404, "not_found")
    for query in ("village_id=abc", "village_id=0", "village_id=1%00", ""):
        assert api.get(f"/api/v1/inspection-rounds?{query}", scene.admin).status_code == 422


def test_the_cross_inspection_rotates_and_no_grid_inspects_itself(api, scene):
    this = grids_of(open_round(api, scene).get_json())
    before = grids_of(open_round(api, scene, week=WEEK_BEFORE).get_json())
    grid_ids = {g.id for g in scene.village.grids}
    for week in (this, before):
        assert all(g["inspector_grid_id"] != grid_id for grid_id, g in week.items())
        assert {g["inspector_grid_id"] for g in week.values()} == grid_ids  # each grid inspects one grid
        names = {g.id: g.name for g in scene.village.grids}
        assert all(g["inspector_grid_name"] == names[g["inspector_grid_id"]] for g in week.values())
    assert all(this[g]["inspector_grid_id"] != before[g]["inspector_grid_id"] for g in grid_ids)


# Scoring


def test_the_assigned_inspector_scores_and_a_leader_not_assigned_is_refused(api, scene):
    round_ = open_round(api, scene).get_json()
    inspector, bystander = inspector_of(scene, round_, 0)
    household = scene.households[0][2]
    item = first_item(scene)

    saved = score(api, inspector, round_["id"], household, 3, revision=0, item=item.id, note="门口有杂物")
    assert saved.status_code == 200
    assert saved.get_json() | {"scored_at": None} == {
        "household_id": household.id, "number": household.number, "head_name": "张*明",
        "grid_id": scene.village.grids[0].id, "scored": True, "deductions": 3,
        "items": [{"item_id": item.id, "name": item.name, "points": 3}], "note": "门口有杂物", "revision": 1,
        "scored_at": None,
    }
    assert saved.get_json()["scored_at"] is not None

    for user in (bystander, scene.leaders[0]):
        error = error_of(score(api, user, round_["id"], household, 1, item=item.id), 403, "not_your_grid")
        assert "你负责检查" in error["message"]
    for user in (scene.clerk, scene.villager):
        error_of(score(api, user, round_["id"], household, 1, item=item.id), 403, "not_inspector")
    # Another village's admin does not see this village at all.
    error_of(score(api, scene.stranger, round_["id"], household, 1, item=item.id), 403, "forbidden")
    sheets = api.get(f"/api/v1/inspection-rounds/{round_['id']}/scores?grid_id={scene.village.grids[0].id}",
                     inspector).get_json()
    assert sheets["total"] == 5
    assert [(s["household_id"], s["scored"], s["deductions"], s["revision"]) for s in sheets["items"]] == [
        (h.id, h.id == household.id, 3 if h.id == household.id else 0, 1 if h.id == household.id else 0)
        for h in sorted(scene.households[0], key=lambda h: h.number)]
    assert grids_of(api.get(f"/api/v1/inspection-rounds/{round_['id']}", scene.villager).get_json())[
        scene.village.grids[0].id]["scored"] == 1


def test_score_sheets_are_for_staff_of_the_grid_and_its_inspectors(api, scene):
    round_ = open_round(api, scene).get_json()
    inspector, bystander = inspector_of(scene, round_, 0)
    path = f"/api/v1/inspection-rounds/{round_['id']}/scores"
    grid = scene.village.grids[0].id
    for user in (inspector, scene.leaders[0], scene.admin):
        assert api.get(f"{path}?grid_id={grid}", user).status_code == 200
    for user in (bystander, scene.villager, scene.clerk, scene.stranger):
        error_of(api.get(f"{path}?grid_id={grid}", user), 403, "forbidden")
    error_of(api.get(path, scene.villager), 403, "forbidden")
    # Without grid_id: every grid the caller may read (the admin: all 15 households).
    assert api.get(path, scene.admin).get_json()["total"] == 15
    assert {s["grid_id"] for s in api.get(path, inspector).get_json()["items"]} >= {grid}
    error_of(api.get(f"{path}?grid_id={scene.village.village.id}", scene.admin), 404, "grid_not_in_round")
    assert api.get(f"{path}?grid_id=99999999999999", scene.admin).status_code == 422
    error_of(api.get("/api/v1/inspection-rounds/999999/scores", scene.admin), 404, "not_found")


def test_a_stale_revision_is_a_409_and_keeps_the_other_save(api, scene):
    round_ = open_round(api, scene).get_json()
    inspector, _ = inspector_of(scene, round_, 0)
    household = scene.households[0][0]
    item = first_item(scene).id

    assert score(api, inspector, round_["id"], household, 1, revision=0, item=item).get_json()["revision"] == 1
    assert score(api, scene.admin, round_["id"], household, 4, revision=1, item=item).get_json()["revision"] == 2
    stale = score(api, inspector, round_["id"], household, 2, revision=1, item=item)
    assert error_of(stale, 409, "score_changed")["message"] == "这一户刚被别人保存过评分，请看一下最新的评分再保存"
    error_of(score(api, inspector, round_["id"], household, 2, revision=0, item=item), 409, "score_changed")
    error_of(score(api, inspector, round_["id"], scene.households[0][1], 2, revision=3, item=item), 409,
             "score_changed")
    sheets = api.get(f"/api/v1/inspection-rounds/{round_['id']}/scores?grid_id={scene.village.grids[0].id}",
                     inspector).get_json()["items"]
    assert next(s for s in sheets if s["household_id"] == household.id)["deductions"] == 4
    # Without a revision the last save wins.
    last = score(api, inspector, round_["id"], household, 0, item=item).get_json()
    assert (last["deductions"], last["items"], last["revision"]) == (0, [], 3)


def test_a_bad_score_sheet_is_refused(api, scene):
    round_ = open_round(api, scene).get_json()
    household = scene.households[0][0]
    item = first_item(scene)
    put = f"/api/v1/inspection-rounds/{round_['id']}/scores/{household.id}"

    error_of(score(api, scene.admin, round_["id"], household, 1, item=999999), 400, "unknown_item")
    too_much = error_of(score(api, scene.admin, round_["id"], household, item.max_deduction + 1, item=item.id), 400,
                        "deduction_out_of_range")
    assert too_much["message"] == f"“{item.name}”最多扣 {item.max_deduction} 分"
    error_of(score(api, scene.admin, round_["id"], household, -1, item=item.id), 400, "deduction_out_of_range")
    error_of(score(api, scene.admin, round_["id"], household, 0, note="脏" * 201), 400, "note_too_long")
    for body in (
        {"items": [{"item_id": item.id, "points": 1}, {"item_id": item.id, "points": 2}]},
        {"items": [{"item_id": item.id, "points": "1"}]},
        {"items": [{"item_id": 99999999999999, "points": 1}]},
        {"items": [], "note": "门口\x00"},
        {"items": [], "revision": -1},
        {"note": "没有 items"},
    ):
        error_of(api.request("PUT", put, scene.admin, json=body), 422, "validation_error")
    elsewhere = factories.gen_household(factories.gen_village(town=scene.village.town).grids[0])
    db.session.commit()
    error_of(score(api, scene.admin, round_["id"], elsewhere, 0), 404, "not_found")
    error_of(api.request("PUT", f"/api/v1/inspection-rounds/{round_['id']}/scores/999999", scene.admin,
                         json={"items": []}), 404, "not_found")
    error_of(api.request("PUT", f"/api/v1/inspection-rounds/999999/scores/{household.id}", scene.admin,
                         json={"items": []}), 404, "not_found")
    assert api.get(f"/api/v1/inspection-rounds/{round_['id']}", scene.admin).get_json()["grids"][0]["scored"] == 0


# Publishing


def test_publishing_posts_once_and_a_retry_with_the_same_key_answers_the_same(api, scene):
    round_ = open_round(api, scene).get_json()
    inspector, bystander = inspector_of(scene, round_, 0)
    score_grid(api, scene, inspector, round_["id"], 0, [0, 1, 2, 3, 4])
    grid = scene.village.grids[0].id
    path = f"/api/v1/inspection-rounds/{round_['id']}/publish"
    households = scene.households[0]

    error_of(api.post(path, bystander, json={"grid_id": grid}), 403, "forbidden")
    error_of(api.post(path, inspector), 403, "forbidden")  # every grid at once: the village admin only
    first = api.post(path, inspector, json={"grid_id": grid}, headers={"Idempotency-Key": "publish-1"})
    assert first.status_code == 201
    body = first.get_json()
    assert (body["round_id"], body["period"], body["grid_id"], body["posted"], body["reversed"]) == (
        round_["id"], f"week:{LAST_WEEK}", grid, 3, 0)
    assert body["grids"] == [{"grid_id": grid, "grid_name": scene.village.grids[0].name,
                              "published_at": body["grids"][0]["published_at"],
                              "models": [h.id for h in households[:3]], "shamed": [], "unscored": []}]
    assert body["grids"][0]["published_at"] is not None
    assert [balance(api, scene, h) for h in households] == [20, 20, 20, 0, 0]

    retry = api.post(path, inspector, json={"grid_id": grid}, headers={"Idempotency-Key": "publish-1"})
    assert (retry.status_code, retry.get_json()) == (201, body)
    again = api.post(path, inspector, json={"grid_id": grid}).get_json()
    assert (again["posted"], again["reversed"]) == (0, 0) and again["id"] != body["id"]
    assert [balance(api, scene, h) for h in households] == [20, 20, 20, 0, 0]

    reused = api.post(path, scene.leaders[0], json={"grid_id": grid}, headers={"Idempotency-Key": "publish-1"})
    error_of(reused, 403, "forbidden")  # the key is per account; this leader may not publish grid 0 anyway
    other = api.post(path, inspector, json={"grid_id": scene.village.grids[1].id},
                     headers={"Idempotency-Key": "publish-1"})
    error_of(other, 409, "idempotency_key_reused")  # the key names the first publication, whatever else is asked
    error_of(api.post(path, scene.admin, json={"grid_id": scene.village.village.id}), 404, "grid_not_in_round")
    for bad in ({"grid_id": "x"}, {"grid_id": 99999999999999}, {"grid_id": 0}):
        error_of(api.post(path, scene.admin, json=bad), 422, "validation_error")
    error_of(api.post(path, scene.admin, headers={"Idempotency-Key": "x" * 65}), 400, "invalid_idempotency_header")
    error_of(api.post("/api/v1/inspection-rounds/999999/publish", scene.admin), 404, "not_found")
    assert [balance(api, scene, h) for h in households] == [20, 20, 20, 0, 0]


def test_a_key_used_for_one_grid_is_refused_for_another(api, scene):
    round_ = open_round(api, scene).get_json()
    for grid_index in (0, 1):
        score_grid(api, scene, scene.admin, round_["id"], grid_index, [0, 1, 2, 3, 4])
    path = f"/api/v1/inspection-rounds/{round_['id']}/publish"
    key = {"Idempotency-Key": "publish-2"}
    assert api.post(path, scene.admin, json={"grid_id": scene.village.grids[0].id}, headers=key).status_code == 201
    error_of(api.post(path, scene.admin, json={"grid_id": scene.village.grids[1].id}, headers=key), 409,
             "idempotency_key_reused")
    assert [balance(api, scene, h) for h in scene.households[1]] == [0, 0, 0, 0, 0]


def _post_from_threads(app, path: str, headers: dict, body: dict, threads: int = 8) -> list[tuple[int, dict]]:
    """The same request at once from several threads, each with its own app context and database session."""

    def post(_):
        with app.app_context():
            response = app.test_client().post(path, json=body, headers=headers)
            return response.status_code, response.get_json()

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(post, range(threads)))


def test_a_double_tap_on_publish_posts_once(api, app, scene):
    round_ = open_round(api, scene, week=LAST_MONTHS_WEEK).get_json()
    for grid_index in range(3):
        score_grid(api, scene, scene.admin, round_["id"], grid_index, [5, 0, 1, 2, 3])
    headers = {**api.headers(scene.admin), "Idempotency-Key": "double-tap"}

    answers = _post_from_threads(app, f"/api/v1/inspection-rounds/{round_['id']}/publish", headers, {})
    assert {status for status, _ in answers} == {201}
    assert len({answer["id"] for _, answer in answers}) == 1 and answers[0][1]["posted"] == 9
    months = _post_from_threads(app, "/api/v1/monthly-summaries", {**headers, "Idempotency-Key": "double-tap-m"},
                                {"village_id": scene.village.village.id, "month": round_["month"]})
    assert {status for status, _ in months} == {201}
    assert len({answer["id"] for _, answer in months}) == 1
    db.session.expire_all()
    assert [[balance(api, scene, h) for h in grid] for grid in scene.households] == [[0, 70, 20, 20, 0]] * 3


def test_a_correction_after_publishing_reverses_and_reposts_only_what_changed(api, scene):
    round_ = open_round(api, scene).get_json()
    inspector, _ = inspector_of(scene, round_, 0)
    score_grid(api, scene, inspector, round_["id"], 0, [0, 1, 2, 3, 4])
    path = f"/api/v1/inspection-rounds/{round_['id']}/publish"
    grid = scene.village.grids[0].id
    households = scene.households[0]
    assert api.post(path, inspector, json={"grid_id": grid}).get_json()["posted"] == 3

    # The third household was wrongly scored: it had 5 deductions, not 2. The inspectors' part ended with the
    # publication; the village admin corrects.
    refused = score(api, inspector, round_["id"], households[2], 5, revision=1, item=first_item(scene).id)
    assert "的评分已发布" in error_of(refused, 409, "round_published")["message"]
    sheet = score(api, scene.admin, round_["id"], households[2], 5, revision=1, item=first_item(scene).id)
    assert sheet.get_json()["revision"] == 2
    correction = api.post(path, inspector, json={"grid_id": grid}).get_json()
    assert (correction["posted"], correction["reversed"]) == (1, 1)
    assert correction["grids"][0]["models"] == [households[0].id, households[1].id, households[3].id]
    assert [balance(api, scene, h) for h in households] == [20, 20, 0, 20, 0]

    entries = api.get(f"/api/v1/households/{households[2].id}/entries", scene.admin).get_json()
    assert [e["amount"] for e in entries["items"]] == [-20, 20]
    assert entries["items"][0]["reverses_id"] == entries["items"][1]["id"]
    assert api.get(f"/api/v1/households/{households[3].id}/entries", scene.admin).get_json()["total"] == 1


def test_the_results_are_public_to_the_village_with_names_masked(api, scene):
    households = scene.households[0]
    households[0].head.name = "欧阳小明"
    households[0].head.phone = "13812345678"
    db.session.commit()
    round_ = open_round(api, scene).get_json()
    unpublished = api.get(f"/api/v1/inspection-rounds/{round_['id']}/results", scene.villager).get_json()
    assert [g["lines"] for g in unpublished["grids"]] == [[], [], []]

    score_grid(api, scene, scene.admin, round_["id"], 0, [0, 1, 2, 3])  # the fifth household is not scored
    api.post(f"/api/v1/inspection-rounds/{round_['id']}/publish", scene.admin)
    response = api.get(f"/api/v1/inspection-rounds/{round_['id']}/results", scene.villager)
    results = response.get_json()
    assert (results["round_id"], results["week"]) == (round_["id"], LAST_WEEK)
    first = results["grids"][0]
    assert first["grid_id"] == scene.village.grids[0].id and first["published_at"] is not None
    assert [(line["household_id"], line["rank"], line["score"], line["scored"], line["outcome"])
            for line in first["lines"]] == [
        (households[0].id, 1, 100, True, "model"), (households[1].id, 2, 99, True, "model"),
        (households[2].id, 3, 98, True, "model"), (households[3].id, 4, 97, True, None),
        (households[4].id, None, 0, False, None)]
    assert first["lines"][0]["head_name"] == "欧**明"
    assert first["lines"][3]["items"] == [{"name": first_item(scene).name, "points": 3}]
    text = response.get_data(as_text=True)
    assert "欧阳小明" not in text and "13812345678" not in text and "张三明" not in text
    assert [g["lines"] for g in results["grids"][1:]] == [[], []]  # not inspected: not published
    error_of(api.get(f"/api/v1/inspection-rounds/{round_['id']}/results", scene.stranger), 403, "forbidden")
    error_of(api.get("/api/v1/inspection-rounds/999999/results", scene.villager), 404, "not_found")


def test_a_villager_can_neither_score_nor_publish(api, scene):
    round_ = open_round(api, scene).get_json()
    score_grid(api, scene, scene.admin, round_["id"], 0, [0, 1, 2, 3, 4])
    path = f"/api/v1/inspection-rounds/{round_['id']}/publish"
    for household in (scene.households[0][0], scene.households[0][1]):
        error_of(score(api, scene.villager, round_["id"], household, 0), 403, "not_inspector")
    error_of(api.post(path, scene.villager), 403, "forbidden")
    error_of(api.post(path, scene.villager, json={"grid_id": scene.village.grids[0].id}), 403, "forbidden")
    error_of(api.post("/api/v1/monthly-summaries", scene.villager,
                      json={"village_id": scene.village.village.id, "month": round_["month"]}), 403, "forbidden")
    assert [balance(api, scene, h) for h in scene.households[0]] == [0, 0, 0, 0, 0]


# Monthly summaries


def test_the_monthly_summary_is_published_once_and_read_by_the_village(api, scene):
    round_ = open_round(api, scene, week=LAST_MONTHS_WEEK).get_json()
    for grid_index in range(3):
        score_grid(api, scene, scene.admin, round_["id"], grid_index, [5, 0, 1, 2, 3])
    assert api.post(f"/api/v1/inspection-rounds/{round_['id']}/publish", scene.admin).get_json()["posted"] == 9
    body = {"village_id": scene.village.village.id, "month": round_["month"]}

    error_of(api.post("/api/v1/monthly-summaries", scene.leaders[0], json=body), 403, "forbidden")
    error_of(api.post("/api/v1/monthly-summaries", scene.stranger, json=body), 403, "forbidden")
    published = api.post("/api/v1/monthly-summaries", scene.admin, json=body, headers={"Idempotency-Key": "m-1"})
    assert published.status_code == 201
    summary = published.get_json()
    assert (summary["village_id"], summary["month"]) == (scene.village.village.id, round_["month"])
    assert [(g["grid_id"], g["rank"], g["average"]) for g in summary["grids"]] == [
        (g.id, 1, 97.8) for g in scene.village.grids]
    for grid, households in zip(summary["grids"], scene.households):
        assert grid["households"][0] == {"household_id": households[1].id, "number": households[1].number,
                                         "head_name": "张*明", "total": 100, "weeks": 1, "rank": 1, "flag": True}
        assert [line["flag"] for line in grid["households"]] == [True, False, False, False, False]
    assert [balance(api, scene, g[1]) for g in scene.households] == [70, 70, 70]

    retry = api.post("/api/v1/monthly-summaries", scene.admin, json=body, headers={"Idempotency-Key": "m-1"})
    assert (retry.status_code, retry.get_json()) == (201, summary)
    assert [balance(api, scene, g[1]) for g in scene.households] == [70, 70, 70]

    for user in (scene.villager, scene.leaders[2], scene.clerk):
        assert api.get(f"/api/v1/monthly-summaries/{summary['id']}", user).get_json() == summary
        listed = api.get(f"/api/v1/monthly-summaries?village_id={scene.village.village.id}", user).get_json()
        assert listed == {"items": [{k: summary[k] for k in ("id", "village_id", "month", "published_at")}],
                          "total": 1}
    error_of(api.get(f"/api/v1/monthly-summaries/{summary['id']}", scene.stranger), 403, "forbidden")
    error_of(api.get("/api/v1/monthly-summaries/999999", scene.admin), 404, "not_found")
    error_of(api.get(f"/api/v1/monthly-summaries?village_id={scene.other_village.id}", scene.villager), 403,
             "forbidden")


def test_a_correction_after_the_month_moves_the_red_flag(api, scene):
    round_ = open_round(api, scene, week=LAST_MONTHS_WEEK).get_json()
    score_grid(api, scene, scene.admin, round_["id"], 0, [5, 0, 1, 2, 3])
    api.post(f"/api/v1/inspection-rounds/{round_['id']}/publish", scene.admin)
    body = {"village_id": scene.village.village.id, "month": round_["month"]}
    first = api.post("/api/v1/monthly-summaries", scene.admin, json=body).get_json()
    households = scene.households[0]
    assert [balance(api, scene, h) for h in households] == [0, 70, 20, 20, 0]

    # The inspector's grid may no longer change a closed month; the village admin corrects it.
    inspector, _ = inspector_of(scene, round_, 0)
    error_of(score(api, inspector, round_["id"], households[1], 4, item=first_item(scene).id), 409, "month_closed")
    score(api, scene.admin, round_["id"], households[1], 4, item=first_item(scene).id)
    api.post(f"/api/v1/inspection-rounds/{round_['id']}/publish", scene.admin)
    again = api.post("/api/v1/monthly-summaries", scene.admin, json=body).get_json()
    assert again["id"] == first["id"]
    assert [(line["household_id"], line["flag"]) for line in again["grids"][0]["households"]][:1] == [
        (households[2].id, True)]
    assert [balance(api, scene, h) for h in households] == [0, 0, 70, 20, 20]


@pytest.mark.parametrize("month, status, code", [
    ("2026-13", 400, "invalid_month"),
    ("2026-1", 400, "invalid_month"),
    ("1999-12", 400, "invalid_month"),
    ("十一月", 400, "invalid_month"),
    ("2026-11\x00", 422, "validation_error"),
    (None, 422, "validation_error"),
])
def test_a_bad_month_is_refused(api, scene, month, status, code):
    response = api.post("/api/v1/monthly-summaries", scene.admin,
                        json={"village_id": scene.village.village.id, "month": month})
    error = error_of(response, status, code)
    if code == "invalid_month":
        assert error["message"] == "月份格式应为 2026-11 这样的年份和月份"


def test_a_month_still_to_come_or_an_unknown_village_is_refused(api, scene):
    following = (local_today().replace(day=1) + timedelta(days=32)).strftime("%Y-%m")
    error = error_of(api.post("/api/v1/monthly-summaries", scene.admin,
                              json={"village_id": scene.village.village.id, "month": following}), 400,
                     "month_in_future")
    assert error["message"] == "这个月还没到，不能汇总"
    for village_id in (999999, scene.village.grids[0].id):
        error_of(api.post("/api/v1/monthly-summaries", scene.admin,
                          json={"village_id": village_id, "month": "2026-01"}), 404, "not_found")
    assert api.get("/api/v1/monthly-summaries?village_id=99999999999999", scene.admin).status_code == 422
    assert api.get(f"/api/v1/monthly-summaries?village_id={scene.village.village.id}", scene.admin).get_json() == {
        "items": [], "total": 0}


# Periods that close when they end, and the honest 晾晒 list


def test_publishing_before_the_week_is_over_needs_early_and_only_the_admin_may_choose_it(api, scene):
    round_ = open_round(api, scene, week=week_of(local_today())).get_json()  # never over
    score_grid(api, scene, scene.admin, round_["id"], 0, [0, 1, 2])  # three of five
    path = f"/api/v1/inspection-rounds/{round_['id']}/publish"
    grid = scene.village.grids[0]
    error = error_of(api.post(path, scene.admin), 409, "week_not_over")
    assert f"{grid.name}还有 2 户没有评分：要提前发布请确认提前发布" in error["message"]
    assert "还没结束（" in error["message"] and "2026-W" not in error["message"]
    inspector, _ = inspector_of(scene, round_, 0)
    error_of(api.post(path, inspector, json={"grid_id": grid.id}), 403, "early_admin_only")
    error_of(api.post(path, inspector, json={"grid_id": grid.id, "early": True}), 403, "early_admin_only")
    assert [balance(api, scene, h) for h in scene.households[0]] == [0] * 5
    published = api.post(path, scene.admin, json={"early": True})
    assert published.status_code == 201 and published.get_json()["posted"] == 3
    assert [balance(api, scene, h) for h in scene.households[0]] == [20, 20, 20, 0, 0]


def test_a_month_not_over_or_with_a_week_unpublished_is_refused_in_chinese(api, scene):
    today = local_today()
    body = {"village_id": scene.village.village.id, "month": f"{today:%Y-%m}"}
    error = error_of(api.post("/api/v1/monthly-summaries", scene.admin, json=body), 409, "month_not_over")
    assert error["message"].startswith(f"{today.year}年{today.month}月的评比还没结束")
    round_ = open_round(api, scene, week=LAST_MONTHS_WEEK).get_json()
    score_grid(api, scene, scene.admin, round_["id"], 1, [0])
    body["month"] = round_["month"]
    error = error_of(api.post("/api/v1/monthly-summaries", scene.admin, json=body), 409, "month_weeks_unpublished")
    assert f"（{scene.village.grids[1].name}）" in error["message"]
    api.post(f"/api/v1/inspection-rounds/{round_['id']}/publish", scene.admin)
    assert api.post("/api/v1/monthly-summaries", scene.admin, json=body).status_code == 201


def test_the_shame_list_is_worst_first_and_leaves_out_a_penalty_under_appeal(api, scene):
    village = scene.village.village
    rule = factories.gen_rule(village, "卫生评比晾晒", -5)
    village_settings.update_settings(scene.admin, village, model_count=1, shame_count=3, shame_max=3,
                                     penalty_rule_id=rule.id)
    db.session.commit()
    round_ = open_round(api, scene).get_json()
    score_grid(api, scene, scene.admin, round_["id"], 0, [0, 3, 5, 1, 4])
    households = scene.households[0]
    published = api.post(f"/api/v1/inspection-rounds/{round_['id']}/publish", scene.admin).get_json()
    assert published["grids"][0]["shamed"] == [households[2].id, households[4].id, households[1].id]
    appellant = factories.gen_villager(households[2])
    db.session.commit()
    penalty = api.get(f"/api/v1/households/{households[2].id}/entries", scene.admin).get_json()["items"][0]
    assert api.post("/api/v1/appeals", appellant,
                    json={"entry_id": penalty["id"], "reason": "不在家"}).status_code == 201
    results = api.get(f"/api/v1/inspection-rounds/{round_['id']}/results", scene.villager).get_json()
    lines = {line["household_id"]: line["outcome"] for line in results["grids"][0]["lines"]}
    assert [lines[h.id] for h in households] == ["model", "shame", None, None, "shame"]


# The document


def test_the_document_describes_rounds_and_summaries(openapi_spec):
    paths = openapi_spec["paths"]
    for path in ("/api/v1/inspection-rounds/{round_id}/publish", "/api/v1/monthly-summaries"):
        header = next(p for p in paths[path]["post"]["parameters"] if p["in"] == "header")
        assert header["name"] == "Idempotency-Key" and header["schema"]["maxLength"] == 64
        assert {"400", "401", "403", "404", "409"} <= set(paths[path]["post"]["responses"])
    assert {"200", "201"} <= set(paths["/api/v1/inspection-rounds"]["post"]["responses"])
    assert "409" in paths["/api/v1/inspection-rounds/{round_id}/scores/{household_id}"]["put"]["responses"]
    schemas = openapi_spec["components"]["schemas"]
    for name in ("InspectionRoundPage", "ScoreSheetPage", "MonthlySummaryPage"):
        assert set(schemas[name]["required"]) == {"items", "total"}
    for path in ("/api/v1/inspection-rounds", "/api/v1/inspection-rounds/{round_id}/scores",
                 "/api/v1/monthly-summaries"):
        assert {"page", "per_page"} <= {p["name"] for p in paths[path]["get"]["parameters"]}
    assert {"id", "period", "grid_id", "posted", "reversed", "created_at"} <= set(schemas["Publication"]["required"])
    assert "phone" not in str(schemas["ScoreSheet"]) and "id_number" not in str(schemas["ResultLine"])
    body = paths["/api/v1/inspection-rounds/{round_id}/publish"]["post"]["requestBody"]["content"]["application/json"]
    early = schemas[body["schema"]["$ref"].split("/")[-1]]["properties"]["early"]
    assert early["type"] == "boolean" and early["default"] is False and "提前发布" in early["description"]
