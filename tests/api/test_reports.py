"""/api/v1 reports (民情诉求): report with photos, accept, progress, finish, feedback, void, and the public counts,
every answer checked against the OpenAPI document."""
import io

import pytest
from sqlalchemy import func, select

from points.extensions import db
from points.ledger.models import LedgerEntry
from points.ledger.queries import balance_of
from points.messages.models import Message
from points.reports.models import Report, ReportCategory

from .. import factories
from ..reports.helpers import build_world, file_report
from .conftest import error_of


@pytest.fixture
def world(village, tmp_path):
    return build_world(village, tmp_path)


def submit(api, world, user, photos=(), headers=None, **fields):
    data = {"category": "路灯", "text": "路灯坏了", "place": "村口", **fields,
            "photos": [(io.BytesIO(p), f"p{i}.jpg") for i, p in enumerate(photos)]}
    data = {k: v for k, v in data.items() if v is not None}  # None: not sent
    return api.post("/api/v1/reports", user, headers=headers, data=data, content_type="multipart/form-data")


def test_the_whole_life_of_a_report(api, world):
    response = submit(api, world, world["villager"], [factories.gen_photo()])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "submitted" and len(body["photos"]) == 1 and body["steps"][0]["kind"] == "submitted"
    report_id = body["id"]
    photo = api.get(body["photos"][0]["url"], world["villager"])
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    error_of(api.get(f"/api/v1/reports/{report_id}", world["other_worker"]), 403, "forbidden")
    error_of(api.post(f"/api/v1/reports/{report_id}/accept", world["villager"]), 403, "forbidden")

    key = {"Idempotency-Key": "accept-1"}
    accepted = api.post(f"/api/v1/reports/{report_id}/accept", world["worker"], headers=key)
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "accepted"
    again = api.post(f"/api/v1/reports/{report_id}/accept", world["worker"], headers=key)
    assert again.get_json() == accepted.get_json()
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    error_of(api.post(f"/api/v1/reports/{report_id}/accept", world["leader"]), 409, "report_already_handled")

    progress = api.post(f"/api/v1/reports/{report_id}/progress", world["worker"],
                        data={"note": "已联系电工", "photos": [(io.BytesIO(factories.gen_photo()), "a.jpg")]},
                        content_type="multipart/form-data")
    assert progress.status_code == 200 and progress.get_json()["steps"][-1]["kind"] == "progress"
    step_photo = progress.get_json()["steps"][-1]["photos"][0]["url"]
    assert api.get(step_photo, world["villager"]).status_code == 200
    error_of(api.post(f"/api/v1/reports/{report_id}/finish", world["worker"], data={"note": ""},
                      content_type="multipart/form-data"), 400, "report_note_required")
    finished = api.post(f"/api/v1/reports/{report_id}/finish", world["worker"], data={"note": "已换灯泡"},
                        content_type="multipart/form-data")
    assert finished.get_json()["status"] == "finished"

    seen = api.get(f"/api/v1/reports/{report_id}", world["villager"]).get_json()
    assert seen["handler"] == "网格员"
    assert {s["actor"] for s in seen["steps"]} <= {"网格员", world["villager"].display_name}
    error_of(api.post(f"/api/v1/reports/{report_id}/feedback", world["villager"], json={"satisfied": False}), 400,
             "report_reason_required")
    reopened = api.post(f"/api/v1/reports/{report_id}/feedback", world["villager"],
                        json={"satisfied": False, "reason": "灯还是暗"})
    assert reopened.get_json()["status"] == "accepted" and reopened.get_json()["feedback"] == "unsatisfied"

    void_key = {"Idempotency-Key": "void-1"}
    error_of(api.post(f"/api/v1/reports/{report_id}/void", world["leader"], json={"reason": "无效"}), 403, "forbidden")
    voided = api.post(f"/api/v1/reports/{report_id}/void", world["admin"], json={"reason": "重复"}, headers=void_key)
    assert voided.get_json()["status"] == "voided" and balance_of(world["home"].id) == 0
    again = api.post(f"/api/v1/reports/{report_id}/void", world["admin"], json={"reason": "重复"}, headers=void_key)
    assert again.status_code == 200 and balance_of(world["home"].id) == 0


def test_submission_refusals_and_idempotency(api, world):
    error_of(submit(api, world, world["villager"], text=""), 400, "report_empty")
    error_of(submit(api, world, world["villager"], [b"GIF89a"]), 400, "not_an_image")
    error_of(submit(api, world, world["worker"]), 403, "report_not_for_staff")
    error_of(submit(api, world, world["other_worker"], household_id=world["elder"].id), 404,
             "report_household_unknown")
    key = {"Idempotency-Key": "r-1"}
    first = submit(api, world, world["villager"], headers=key)
    again = submit(api, world, world["villager"], headers=key)
    assert first.get_json()["id"] == again.get_json()["id"]
    error_of(submit(api, world, world["villager"], headers=key, text="别的事"), 409, "idempotency_key_reused")
    by_worker = submit(api, world, world["worker"], household_id=world["elder"].id)
    assert by_worker.status_code == 201 and by_worker.get_json()["household_id"] == world["elder"].id
    assert db.session.scalar(select(func.count()).select_from(Report)) == 2


def test_lists_are_scoped(api, world):
    file_report(world)
    file_report(world, user=world["worker"], household_id=world["elder"].id)
    assert api.get("/api/v1/reports", world["villager"]).get_json()["total"] == 1
    assert api.get("/api/v1/reports", world["worker"]).get_json()["total"] == 2
    assert api.get("/api/v1/reports?status=submitted", world["leader"]).get_json()["total"] == 2
    assert api.get("/api/v1/reports", world["other_worker"]).get_json()["total"] == 0
    error_of(api.get("/api/v1/reports"), 401, "login_required")


def test_public_counts_are_numbers_only(api, world):
    file_report(world)
    body = api.get(f"/api/v1/villages/{world['village'].village.id}/report-counts", world["villager"]).get_json()
    assert body["grids"][0] == {"grid_id": world["grid"].id, "name": world["grid"].name, "open": 1, "done": 0}
    assert "张三明" not in str(body)
    error_of(api.get(f"/api/v1/villages/{world['grid'].id}/report-counts", world["villager"]), 404, "not_found")
    error_of(api.get(f"/api/v1/villages/{world['village'].village.id}/report-counts"), 401, "login_required")


def test_the_villages_categories_are_listed_for_its_accounts_and_its_staff(api, world):
    village_id = world["village"].village.id
    url = f"/api/v1/villages/{village_id}/report-categories"
    body = api.get(url, world["villager"]).get_json()
    assert [c["name"] for c in body["items"]][:2] == ["路灯", "道路"] and body["items"][0]["id"] is None
    assert api.get(url, world["worker"]).status_code == 200 and api.get(url, world["admin"]).status_code == 200
    stranger = factories.gen_villager(factories.gen_household(factories.gen_village().grids[0]))
    error_of(api.get(url, stranger), 403, "forbidden")
    error_of(api.get(url), 401, "login_required")
    error_of(api.get(f"/api/v1/villages/{world['grid'].id}/report-categories", world["villager"]), 404, "not_found")
    assert db.session.scalar(select(func.count()).select_from(ReportCategory)) == 0  # a GET writes nothing
    submit(api, world, world["villager"])
    stored = api.get(url, world["villager"]).get_json()["items"]
    assert stored[0]["id"] is not None and stored[0]["name"] == "路灯"


def test_a_report_names_its_category_or_a_stored_ones_id(api, world):
    first = submit(api, world, world["villager"], category="道路")
    assert first.status_code == 201 and first.get_json()["category"] == "道路"
    road = db.session.scalar(select(ReportCategory).where(ReportCategory.name == "道路"))
    by_id = submit(api, world, world["villager"], category=None, category_id=road.id)
    assert by_id.status_code == 201 and by_id.get_json()["category"] == "道路"
    error_of(submit(api, world, world["villager"], category="下水道"), 400, "report_category_invalid")
    error_of(submit(api, world, world["villager"], category_id=road.id), 400, "report_category_invalid")  # both
    error_of(submit(api, world, world["villager"], category=None), 400, "report_category_invalid")  # neither


def test_accept_resent_with_its_key_after_the_report_was_finished(api, world):
    report = file_report(world)
    key = {"Idempotency-Key": "accept-late"}
    assert api.post(f"/api/v1/reports/{report.id}/accept", world["worker"], headers=key).status_code == 200
    api.post(f"/api/v1/reports/{report.id}/finish", world["worker"], data={"note": "已换灯泡"},
             content_type="multipart/form-data")
    again = api.post(f"/api/v1/reports/{report.id}/accept", world["worker"], headers=key)
    assert again.status_code == 200 and again.get_json()["status"] == "finished"
    error_of(api.post(f"/api/v1/reports/{report.id}/accept", world["leader"], headers={"Idempotency-Key": "x-1"}),
             409, "report_already_handled")
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1


def test_an_english_request_tells_the_villager_in_chinese(api, world):
    report = file_report(world)
    response = api.post(f"/api/v1/reports/{report.id}/accept", world["worker"], headers={"Accept-Language": "en"})
    assert response.status_code == 200
    texts = db.session.scalars(select(Message.text).where(Message.user_id == world["villager"].id)).all()
    assert texts == ["您反映的问题（路灯 · 村口）已受理，网格员会尽快处理"]
