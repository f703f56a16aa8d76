"""/api/v1 积分公示表 and 公示异议: masked rows, the window, idempotent writes, who may answer."""
import json
from datetime import date, datetime

import pytest

from points.auth import services as auth_services
from points.auth.models import Role
from points.extensions import db
from points.ledger.models import EntrySource
from points.ledger.services import post_entry
from points.rules.models import RuleCategory

from .. import factories
from .conftest import error_of

TODAY = date(2026, 12, 3)


@pytest.fixture
def scene(village, monkeypatch):
    for module in ("points.api.publicity", "points.ledger.publicity", "points.claims.objections"):
        monkeypatch.setattr(f"{module}.local_today", lambda: TODAY)
    home = factories.gen_household(village.grids[0], head_name="王大明", phone="13912345678",
                                   id_number=factories.gen_id_number())
    next_door = factories.gen_household(village.grids[1], head_name="李小红", phone="15800002222")
    next_door.created_at = datetime(2026, 1, 1)  # on the register all year, with no points in November
    post_entry(home.id, 20, EntrySource.MANUAL, "a", occurred_on=date(2026, 11, 2), category=RuleCategory.HYGIENE)
    post_entry(home.id, -5, EntrySource.MANUAL, "b", occurred_on=date(2026, 11, 9),
               category=RuleCategory.VILLAGE_RULES)
    w = dict(village=village, home=home, next_door=next_door, villager=factories.gen_villager(home),
             neighbour=factories.gen_villager(next_door),
             admin=factories.gen_user(Role.VILLAGE_ADMIN, village.village))
    db.session.commit()
    return w


def test_the_table_has_masked_rows_and_nothing_personal(api, scene):
    path = f"/api/v1/villages/{scene['village'].village.id}/publicity"
    response = api.get(path, scene["neighbour"])
    body = response.get_json()
    assert response.status_code == 200
    assert (body["month"], body["state"], body["objection_deadline"]) == ("2026-11", "open", "2026-12-07")
    assert body["title"].endswith("2026年11月 积分公示表")
    assert [r["number"] for r in body["rows"]] == [scene["home"].number, scene["next_door"].number]
    first = body["rows"][0]
    assert (first["number"], first["head"], first["net"], first["balance"]) == (
        scene["home"].number, "王*明", 15, 15)
    assert first["categories"] == [{"category": "hygiene", "earned": 20, "lost": 0},
                                   {"category": "village_rules", "earned": 0, "lost": 5}]
    text = json.dumps(body, ensure_ascii=False)
    assert "王大明" not in text and "13912345678" not in text and scene["home"].head.id_number not in text
    grid = api.get(f"{path}?grid={scene['village'].grids[1].id}", scene["admin"]).get_json()
    assert [r["head"] for r in grid["rows"]] == ["李*红"]
    error_of(api.get(f"{path}?month=2027-01", scene["admin"]), 400, "publicity_month_ahead")
    assert api.get(path).status_code == 401


def test_an_objection_is_made_once_per_key_and_answered_once(api, scene):
    body = {"household_id": scene["next_door"].id, "month": "2026-11", "reason": "卫生分漏记了"}
    headers = {"Idempotency-Key": "obj-1"}
    first = api.post("/api/v1/objections", scene["villager"], headers=headers, json=body)
    again = api.post("/api/v1/objections", scene["villager"], headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    objection_id = first.get_json()["id"]
    listed = api.get("/api/v1/objections", scene["admin"]).get_json()
    assert [o["id"] for o in listed["items"]] == [objection_id] and listed["total"] == 1
    decision = {"accept": False, "note": "核实无误"}
    decided = api.post(f"/api/v1/objections/{objection_id}/decision", scene["admin"], headers={"Idempotency-Key": "d"},
                       json=decision)
    assert decided.status_code == 200 and decided.get_json()["status"] == "dismissed"
    repeated = api.post(f"/api/v1/objections/{objection_id}/decision", scene["admin"],
                        headers={"Idempotency-Key": "d"}, json=decision)
    assert repeated.get_json() == decided.get_json()
    error_of(api.post(f"/api/v1/objections/{objection_id}/decision", scene["admin"], json={"accept": True}), 409,
             "objection_already_decided")
    assert api.get(f"/api/v1/objections/{objection_id}", scene["villager"]).get_json()["decision_note"] == "核实无误"
    assert api.get(f"/api/v1/objections/{objection_id}", scene["neighbour"]).status_code == 403


def test_a_late_objection_and_one_about_one_s_own_household_are_refused(api, scene, monkeypatch):
    body = {"household_id": scene["next_door"].id, "month": "2026-11", "reason": "不对"}
    made = api.post("/api/v1/objections", scene["villager"], json=body).get_json()
    auth_services.assign_role(None, scene["neighbour"], Role.VILLAGE_ADMIN, scene["village"].village)
    db.session.commit()
    error_of(api.post(f"/api/v1/objections/{made['id']}/decision", scene["neighbour"], json={"accept": True}), 403,
             "own_objection")
    monkeypatch.setattr("points.claims.objections.local_today", lambda: date(2026, 12, 8))
    late = error_of(api.post("/api/v1/objections", scene["villager"], json=body), 400, "objection_window_closed")
    assert late["message"] == "2026年11月的公示期已于12月7日截止，不能再提出异议"
    error_of(api.post("/api/v1/objections", scene["admin"], json=body), 403, "villagers_only")
