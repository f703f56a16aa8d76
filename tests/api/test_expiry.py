"""/api/v1 公示和清零: the settings, the clearing due and next, running it once whatever the retries, and undoing."""
import pytest
import time_machine
from sqlalchemy import func, select

from points.extensions import db
from points.ledger.models import EntrySource, ExpiryRun, HouseholdBalance, LedgerEntry

from ..ledger.test_settings import BEFORE, ON_THE_DAY, SET_UP, build_scene
from .conftest import error_of


@pytest.fixture
def clock():
    with time_machine.travel(BEFORE, tick=False) as traveller:
        yield traveller


def balances(*households) -> tuple[int, ...]:
    db.session.expire_all()
    return tuple(db.session.scalar(select(HouseholdBalance.balance).where(HouseholdBalance.household_id == h.id))
                 for h in households)


def expiry_entries() -> int:
    return db.session.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.source == EntrySource.EXPIRY))


def test_settings_are_read_and_changed(api, clock):
    scene = build_scene(reset=False)
    clock.move_to(SET_UP)
    path = f"/api/v1/villages/{scene.village.village.id}/points-settings"
    assert api.get(path, scene.admin).get_json() == {
        "objection_days": 7, "spend_after_publicity": False, "expiry": "none", "reset_on": None,
        "carry_percent": 0, "carry_cap": None, "expiry_months": 24}
    changed = api.request("PUT", path, scene.admin, json={"expiry": "reset", "reset_on": "2027-01-10",
                                                          "carry_percent": 50, "carry_cap": 40})
    assert changed.status_code == 200
    assert changed.get_json() | {} == {"objection_days": 7, "spend_after_publicity": False, "expiry": "reset",
                                       "reset_on": "2027-01-10", "carry_percent": 50, "carry_cap": 40,
                                       "expiry_months": 24}


def test_bad_settings_are_refused_in_chinese(api, clock):
    scene = build_scene(reset=False)
    path = f"/api/v1/villages/{scene.village.village.id}/points-settings"
    past = api.request("PUT", path, scene.admin, json={"expiry": "reset", "reset_on": "2026-01-10"})
    assert error_of(past, 400, "reset_day_in_past")["message"].startswith("清零日期 2026年1月10日 已经过去了")
    soon = api.request("PUT", path, scene.admin, json={"expiry": "reset", "reset_on": "2027-01-10"})
    assert error_of(soon, 400, "reset_day_too_soon")["message"] == (
        "清零日期最早只能定在 2027年1月20日：要提前一个月告诉各户，让他们先去兑换")
    days = api.request("PUT", path, scene.admin, json={"objection_days": 40})
    assert "公示异议天数要在 0 到 28 天之间" in error_of(days, 400, "invalid_ledger_settings")["message"]


@pytest.mark.parametrize("who", ["worker", "villager"])
def test_only_the_village_admin_may_read_or_run(api, clock, who):
    scene = build_scene()
    user = getattr(scene, who)
    village_id = scene.village.village.id
    error_of(api.get(f"/api/v1/villages/{village_id}/points-settings", user), 403, "forbidden")
    error_of(api.get(f"/api/v1/villages/{village_id}/expiry", user), 403, "forbidden")
    error_of(api.post(f"/api/v1/villages/{village_id}/expiry", user), 403, "forbidden")
    error_of(api.get(f"/api/v1/villages/{village_id}/expiry"), 401, "login_required")


def test_the_due_and_upcoming_clearings(api, clock):
    scene = build_scene()
    path = f"/api/v1/villages/{scene.village.village.id}/expiry"
    body = api.get(path, scene.admin).get_json()
    assert body["due"] is None and body["runs"] == []
    assert body["upcoming"] == {"period": "2027-01-10", "day": "2027-01-10", "cutoff": "2027-01-10", "households": 2,
                                "points": 150, "run_id": None}
    assert error_of(api.post(path, scene.admin), 400, "expiry_not_due")["message"] == (
        "还没到清零日期（2027年1月10日），不能提前清零")


def test_a_run_retried_with_its_key_answers_the_same_and_clears_once(api, clock):
    scene = build_scene()
    path = f"/api/v1/villages/{scene.village.village.id}/expiry"
    clock.move_to(ON_THE_DAY)
    headers = {"Idempotency-Key": "run-2027"}
    first = api.post(path, scene.admin, headers=headers)
    assert first.status_code == 201
    assert first.get_json()["households"] == 2 and first.get_json()["points"] == 150
    assert balances(scene.home, scene.other) == (0, 0)
    again = api.post(path, scene.admin, headers=headers)
    assert (again.status_code, again.get_json()) == (201, first.get_json())
    unkeyed = api.post(path, scene.admin)
    assert unkeyed.get_json() == first.get_json()
    assert expiry_entries() == 2 and db.session.scalar(select(func.count(ExpiryRun.id))) == 1
    due = api.get(path, scene.admin).get_json()["due"]
    assert due["run_id"] == first.get_json()["id"] and due["points"] == 150


def test_undo_gives_the_points_back_once(api, clock):
    scene = build_scene()
    clock.move_to(ON_THE_DAY)
    run = api.post(f"/api/v1/villages/{scene.village.village.id}/expiry", scene.admin).get_json()
    undone = api.post(f"/api/v1/expiry-runs/{run['id']}/undo", scene.admin, headers={"Idempotency-Key": "u1"})
    assert undone.status_code == 201 and undone.get_json()["undone_at"] is not None
    assert balances(scene.home, scene.other) == (120, 30)
    again = api.post(f"/api/v1/expiry-runs/{run['id']}/undo", scene.admin, headers={"Idempotency-Key": "u1"})
    assert (again.status_code, again.get_json()) == (201, undone.get_json())
    api.post(f"/api/v1/expiry-runs/{run['id']}/undo", scene.admin)
    assert balances(scene.home, scene.other) == (120, 30)
    assert db.session.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.reverses_id.is_not(None))) == 2
    error_of(api.post(f"/api/v1/expiry-runs/{run['id']}/undo", scene.worker), 403, "forbidden")
    error_of(api.post("/api/v1/expiry-runs/999999/undo", scene.admin), 404, "not_found")
