"""/api/v1 events (志愿活动): create, list, QR of the check-in address, check-ins (own code, household card, by
name), and closing into the ledger."""
import io
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import SimpleNamespace

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select, update

from points.audit.models import AuditEvent
from points.auth.cards import issue_card
from points.auth.models import Role
from points.events import checkins, services
from points.events.models import Attendance, Event
from points.extensions import db
from points.people.cards import card_text
from points.rules.models import RuleCategory
from points.timeutil import utc_to_local, utcnow

from .. import factories
from .conftest import error_of

THREADS = 20


@pytest.fixture
def scene():
    """A village with its admin, an award rule for volunteering, two villagers' households in the first grid and one
    in the second, a grid leader of the first grid, and another village with its admin and villager."""
    village = factories.gen_village()
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    rule = factories.gen_rule(village.village, "参加志愿活动", 5, category=RuleCategory.VOLUNTEERING)
    households = [factories.gen_household(village.grids[0]), factories.gen_household(village.grids[0], "李四"),
                  factories.gen_household(village.grids[1], "王五")]
    villagers = [factories.gen_villager(h) for h in households]
    leader = factories.gen_user(Role.GRID_LEADER, village.grids[0])
    elsewhere = factories.gen_village()
    stranger = factories.gen_user(Role.VILLAGE_ADMIN, elsewhere.village)
    other_rule = factories.gen_rule(elsewhere.village, "参加志愿活动", 3, category=RuleCategory.VOLUNTEERING)
    outsider = factories.gen_villager(factories.gen_household(elsewhere.grids[0], "赵六"))
    db.session.commit()
    return SimpleNamespace(village=village, admin=admin, rule=rule, households=households, villagers=villagers,
                           leader=leader, elsewhere=elsewhere, stranger=stranger, other_rule=other_rule,
                           outsider=outsider)


def now_local():
    return utc_to_local(utcnow()).replace(microsecond=0)


def event_body(scene, **changes) -> dict:
    """An event that started ten minutes ago and lasts two hours, in local time."""
    starts = now_local() - timedelta(minutes=10)
    return {"village_id": scene.village.village.id, "title": "环境整治日", "place": "村委会广场",
            "starts": starts.isoformat(), "ends": (starts + timedelta(hours=2)).isoformat(), "rule_id": scene.rule.id,
            **changes}


def create(api, scene, user=None, **changes):
    return api.post("/api/v1/events", user or scene.admin, json=event_body(scene, **changes))


def new_event(api, scene, **changes) -> dict:
    response = create(api, scene, **changes)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def event_row(event: dict) -> Event:
    return db.session.get(Event, event["id"])


def checkin(api, user, key=None, **body):
    return api.post("/api/v1/checkins", user, json=body, headers={"Idempotency-Key": key} if key else None)


def balance(api, scene, household) -> int:
    return api.get(f"/api/v1/households/{household.id}", scene.admin).get_json()["balance"]


# Events


def test_the_admin_creates_an_event_in_local_time(api, scene):
    starts = now_local() - timedelta(minutes=10)
    event = new_event(api, scene, starts=starts.isoformat(), ends=(starts + timedelta(hours=2)).isoformat(),
                      mode="in_out", capacity=30, grid_id=scene.village.grids[0].id, organizer_id=scene.leader.id)
    assert (event["title"], event["place"], event["mode"], event["capacity"]) == (
        "环境整治日", "村委会广场", "in_out", 30)
    assert (event["village_id"], event["grid_id"], event["organizer_id"], event["rule_id"]) == (
        scene.village.village.id, scene.village.grids[0].id, scene.leader.id, scene.rule.id)
    assert event["starts"] == starts.isoformat() + "+08:00"
    assert event["attendees"] == 0 and event["attendances"] == [] and event["closed_at"] is None
    assert utc_to_local(event_row(event).starts_at) == starts

    assert api.get(f"/api/v1/events/{event['id']}", scene.admin).get_json() == event
    # An offset is honoured: 02:00Z is 10:00 in Shanghai.
    utc_start = (starts - timedelta(hours=8)).isoformat() + "Z"
    moved = api.request("PATCH", f"/api/v1/events/{event['id']}", scene.admin,
                        json={"starts": utc_start, "title": "  清扫河道  "})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["title"] == "清扫河道" and moved.get_json()["starts"] == event["starts"]
    assert moved.get_json()["capacity"] == 30 and moved.get_json()["mode"] == "in_out"


@pytest.mark.parametrize("changes, status, code", [
    ({"title": "   "}, 400, "event_title_required"),
    ({"ends": "2020-01-01T00:00:00"}, 400, "event_ends_before_start"),
    ({"rule_id": 99999}, 400, "unknown_rule"),
    ({"rule_id": 99999999999}, 422, "validation_error"),
    ({"capacity": 0}, 422, "validation_error"),
    ({"grid_id": 2147483647}, 400, "invalid_grid"),
    ({"organizer_id": 2147483647}, 400, "unknown_organizer"),
    ({"starts": "tomorrow"}, 422, "validation_error"),
    ({"mode": "out"}, 422, "validation_error"),
    ({"village_id": 2147483647}, 404, "not_found"),
    ({"title": "a\x00b"}, 422, "validation_error"),
])
def test_bad_events_are_refused_with_a_code(api, scene, changes, status, code):
    error_of(create(api, scene, **changes), status, code)
    assert db.session.query(Event).count() == 0


def test_a_rule_of_another_village_or_a_penalty_cannot_be_the_events(api, scene):
    error_of(create(api, scene, rule_id=scene.other_rule.id), 400, "unknown_rule")
    penalty = factories.gen_rule(scene.village.village, "乱扔垃圾", -5)
    db.session.commit()
    error_of(create(api, scene, rule_id=penalty.id), 400, "rule_not_an_award")


def test_only_event_managers_create_and_edit_events(api, scene):
    for user in (scene.leader, scene.villagers[0], scene.stranger):
        error_of(create(api, scene, user), 403, "forbidden")
    event = new_event(api, scene)
    error_of(api.request("PATCH", f"/api/v1/events/{event['id']}", scene.leader, json={"title": "x"}), 403,
             "forbidden")
    error_of(api.request("PATCH", f"/api/v1/events/{event['id']}", scene.stranger, json={"title": "x"}), 403,
             "forbidden")
    error_of(api.get("/api/v1/events/999999", scene.admin), 404, "not_found")
    error_of(api.get("/api/v1/events"), 401, "login_required")


def test_the_list_holds_the_events_the_caller_may_see(api, scene):
    ours = new_event(api, scene)
    later = new_event(api, scene, starts=(now_local() + timedelta(days=1)).isoformat(),
                      ends=(now_local() + timedelta(days=1, hours=1)).isoformat())
    theirs = api.post("/api/v1/events", scene.stranger, json=event_body(
        scene, village_id=scene.elsewhere.village.id, rule_id=scene.other_rule.id)).get_json()

    def listed(user, query=""):
        page = api.get(f"/api/v1/events{query}", user).get_json()
        return page["total"], [e["id"] for e in page["items"]]

    for user in (scene.admin, scene.leader, scene.villagers[0], scene.villagers[2]):
        assert listed(user) == (2, [later["id"], ours["id"]])
    for user in (scene.stranger, scene.outsider):
        assert listed(user) == (1, [theirs["id"]])
    assert listed(scene.admin, "?per_page=1&page=2") == (2, [ours["id"]])
    assert listed(scene.admin, f"?village_id={scene.elsewhere.village.id}") == (0, [])
    assert listed(scene.admin, "?open=false") == (0, [])

    error_of(api.get(f"/api/v1/events/{theirs['id']}", scene.admin), 403, "forbidden")
    error_of(api.get(f"/api/v1/events/{ours['id']}", scene.outsider), 403, "forbidden")
    assert api.get(f"/api/v1/events/{ours['id']}", scene.villagers[0]).status_code == 200


# QR codes


@pytest.mark.parametrize("kind", ["rotating", "static"])
def test_the_qr_png_holds_the_check_in_address(api, scene, kind):
    event = new_event(api, scene)
    response = api.get(f"/api/v1/events/{event['id']}/qr?kind={kind}", scene.admin)
    assert response.status_code == 200 and response.mimetype == "image/png"
    text = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.data)))[0].text
    prefix = "http://localhost/c/"
    assert text.startswith(prefix)
    assert checkins.event_of_token(text.removeprefix(prefix)).id == event["id"]
    if kind == "static":
        assert text == prefix + checkins.static_token(event_row(event))


def test_the_qr_as_svg_and_only_for_those_who_run_the_event(api, scene):
    event = new_event(api, scene, organizer_id=scene.leader.id)
    svg = api.get(f"/api/v1/events/{event['id']}/qr?format=svg", scene.leader)
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    for user in (scene.villagers[0], scene.stranger):
        error_of(api.get(f"/api/v1/events/{event['id']}/qr", user), 403, "forbidden")
    error_of(api.get(f"/api/v1/events/{event['id']}/qr?format=gif", scene.admin), 422, "validation_error")


# Check-ins


def test_a_villager_checks_in_with_the_rotating_code_once(api, scene):
    event = new_event(api, scene)
    token = checkins.rotating_token(event_row(event))
    first = checkin(api, scene.villagers[0], event_id=event["id"], token=token)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["already"] is False and body["event_id"] == event["id"]
    attendance = body["attendance"]
    assert (attendance["household_id"], attendance["method"], attendance["resident_name"]) == (
        scene.households[0].id, "self", "张*明")

    again = checkin(api, scene.villagers[0], event_id=event["id"], token=token)
    assert again.status_code == 200
    assert again.get_json() == {**body, "already": True}
    detail = api.get(f"/api/v1/events/{event['id']}", scene.admin).get_json()
    assert detail["attendees"] == 1
    # The answer is sent without the schema's dump (api.schemas.answered): it reads as the schema writes the same row.
    assert [a for a in detail["attendances"] if a["id"] == attendance["id"]] == [attendance]


def test_a_villager_s_check_in_costs_five_statements(api, scene, statements):
    """The hot path of an event morning: the caller (with roles and household), the event, the attendance, the
    event's count and the audit event. One more is a round trip on every scan."""
    event = new_event(api, scene)
    token = checkins.rotating_token(event_row(event))
    api.headers(scene.villagers[0])  # the token is made before counting
    db.session.expunge_all()  # the request finds nothing loaded, as in a server
    statements.clear()
    assert checkin(api, scene.villagers[0], event_id=event["id"], token=token).status_code == 201
    assert statements.summary() == ["SELECT api_tokens", "SELECT events", "INSERT attendances", "UPDATE events",
                                    "INSERT audit_events"]


def test_forged_and_foreign_codes_are_refused(api, scene):
    event = new_event(api, scene)
    other = new_event(api, scene, title="植树")
    token = checkins.rotating_token(event_row(event))
    error_of(checkin(api, scene.villagers[0], event_id=event["id"], token=factories.forged(token)), 400,
             "invalid_code")
    error_of(checkin(api, scene.villagers[0], event_id=event["id"], token="not-a-code"), 400, "invalid_code")
    error_of(checkin(api, scene.villagers[0], event_id=other["id"], token=token), 400, "code_of_other_event")
    error_of(checkin(api, scene.admin, event_id=event["id"], token=token), 403, "not_a_villager")
    error_of(checkin(api, scene.outsider, event_id=event["id"], token=token), 403, "not_resident_here")
    error_of(checkin(api, scene.villagers[0], event_id=event["id"]), 422, "validation_error")
    error_of(checkin(api, scene.villagers[0], event_id=event["id"], token=token, card="HC-x"), 422,
             "validation_error")
    error_of(checkin(api, scene.villagers[0], "bad key é", event_id=event["id"], token=token), 400,
             "invalid_idempotency_header")
    assert api.get(f"/api/v1/events/{event['id']}", scene.admin).get_json()["attendees"] == 0


def test_staff_check_in_by_card_and_by_name(api, scene):
    event = new_event(api, scene)
    card = issue_card(scene.admin, scene.households[1])
    db.session.commit()
    text = card_text(card)

    by_card = checkin(api, scene.admin, event_id=event["id"], card=text)
    assert by_card.status_code == 201, by_card.get_json()
    assert by_card.get_json()["attendance"]["household_id"] == scene.households[1].id
    assert by_card.get_json()["attendance"]["method"] == "card"
    assert checkin(api, scene.admin, event_id=event["id"], card=text).status_code == 200

    by_name = checkin(api, scene.admin, event_id=event["id"], resident_id=scene.households[2].head.id)
    assert by_name.status_code == 201 and by_name.get_json()["attendance"]["method"] == "manual"

    error_of(checkin(api, scene.leader, event_id=event["id"], card=text), 403, "forbidden")
    error_of(checkin(api, scene.admin, event_id=event["id"], card="HC-forged-sig"), 400, "invalid_card")
    error_of(checkin(api, scene.admin, event_id=event["id"], card=text, resident_id=scene.households[0].head.id),
             400, "resident_not_in_household")
    error_of(checkin(api, scene.admin, event_id=event["id"], resident_id=2147483647), 404, "not_found")
    error_of(checkin(api, scene.admin, event_id=2147483647, resident_id=scene.households[0].head.id), 404,
             "not_found")

    issue_card(scene.admin, scene.households[1])  # 补办: the first card is revoked
    db.session.commit()
    error_of(checkin(api, scene.admin, event_id=event["id"], card=text), 409, "card_revoked")

    detail = api.get(f"/api/v1/events/{event['id']}", scene.admin).get_json()
    assert detail["attendees"] == 2
    assert [a["household_id"] for a in detail["attendances"]] == [scene.households[1].id, scene.households[2].id]
    # A villager sees their own household's attendance only.
    mine = api.get(f"/api/v1/events/{event['id']}", scene.villagers[2]).get_json()
    assert [a["household_id"] for a in mine["attendances"]] == [scene.households[2].id]


def snapshot() -> tuple[int, int, int]:
    """Attendances, the events' attendee counts, audit events: what a check-in writes."""
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(Attendance)),
            db.session.scalar(select(func.coalesce(func.sum(Event.attendees), 0))),
            db.session.scalar(select(func.count()).select_from(AuditEvent)))


def test_a_check_in_retried_with_its_key_answers_the_first_time_again(api, scene):
    event = new_event(api, scene)
    card = issue_card(scene.admin, scene.households[1])
    db.session.commit()
    body = {"event_id": event["id"], "card": card_text(card)}
    first = checkin(api, scene.admin, "key-1", **body)
    assert first.status_code == 201, first.get_json()
    after_first = snapshot()

    retry = checkin(api, scene.admin, "key-1", **body)
    assert retry.status_code == 201 and retry.get_json() == first.get_json()
    assert first.get_json()["already"] is False
    assert snapshot() == after_first and after_first[:2] == (1, 1)
    issue_card(scene.admin, scene.households[1])  # 补办: the card of the first request is revoked now
    db.session.commit()
    after_first = snapshot()
    late = checkin(api, scene.admin, "key-1", **body)
    assert late.status_code == 201 and late.get_json() == first.get_json()
    assert snapshot() == after_first

    # Without a key, checking the same person in again is still the 200 of one already there.
    again = checkin(api, scene.admin, event_id=event["id"], resident_id=scene.households[1].head.id)
    assert again.status_code == 200 and again.get_json() == {**first.get_json(), "already": True}
    assert snapshot() == after_first


def test_a_self_check_in_retried_with_its_key_answers_201_again(api, scene):
    event = new_event(api, scene)
    body = {"event_id": event["id"], "token": checkins.rotating_token(event_row(event))}
    first = checkin(api, scene.villagers[0], "scan-1", **body)
    retry = checkin(api, scene.villagers[0], "scan-1", **body)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.get_json() == first.get_json()
    assert snapshot()[:2] == (1, 1)


def test_a_key_used_for_another_check_in_is_a_409_in_chinese_and_writes_nothing(api, scene):
    event = new_event(api, scene)
    other = new_event(api, scene, title="植树")
    cards = [issue_card(scene.admin, h) for h in scene.households[:2]]
    db.session.commit()
    body = {"event_id": event["id"], "card": card_text(cards[0])}
    assert checkin(api, scene.admin, "key-2", **body).status_code == 201
    before = snapshot()

    for changed in ({"event_id": other["id"]}, {"card": card_text(cards[1])}):
        error = error_of(checkin(api, scene.admin, "key-2", **{**body, **changed}), 409, "idempotency_key_reused")
        assert error["message"] == "该幂等键已用于另一个不同的请求"
    error_of(checkin(api, scene.admin, "key-2", event_id=event["id"], resident_id=scene.households[2].head.id), 409,
             "idempotency_key_reused")
    # The same person by name rather than by card is another request too.
    error_of(checkin(api, scene.admin, "key-2", event_id=event["id"], resident_id=scene.households[0].head.id), 409,
             "idempotency_key_reused")
    assert snapshot() == before
    assert [e["attendees"] for e in (api.get(f"/api/v1/events/{e['id']}", scene.admin).get_json()
                                     for e in (event, other))] == [1, 0]


def test_keys_are_kept_per_account(api, scene):
    event = new_event(api, scene, organizer_id=scene.leader.id)
    first = checkin(api, scene.admin, "shared", event_id=event["id"], resident_id=scene.households[0].head.id)
    theirs = checkin(api, scene.leader, "shared", event_id=event["id"], resident_id=scene.households[1].head.id)
    mine = checkin(api, scene.villagers[2], "shared", event_id=event["id"],
                   token=checkins.rotating_token(event_row(event)))
    assert (first.status_code, theirs.status_code, mine.status_code) == (201, 201, 201)
    assert len({r.get_json()["attendance"]["id"] for r in (first, theirs, mine)}) == 3
    assert snapshot()[:2] == (3, 3)


def test_a_key_on_someone_already_checked_in_answers_200_as_without_it(api, scene):
    event = new_event(api, scene)
    body = {"event_id": event["id"], "resident_id": scene.households[0].head.id}
    first = checkin(api, scene.admin, **body)
    keyed = checkin(api, scene.admin, "late-key", **body)
    assert (first.status_code, keyed.status_code) == (201, 200)
    assert keyed.get_json() == {**first.get_json(), "already": True}
    assert snapshot()[:2] == (1, 1)


def _check_in_from_threads(app, headers: dict, bodies: list[dict]) -> list[tuple[int, dict]]:
    """Each body posted at once from its own thread, with its own app context and database session."""

    def post(body):
        with app.app_context():
            response = app.test_client().post("/api/v1/checkins", json=body, headers=headers)
            return response.status_code, response.get_json()

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def test_one_key_from_twenty_threads_checks_in_once(api, app, scene):
    event = new_event(api, scene)
    headers = {**api.headers(scene.admin), "Idempotency-Key": "double-tap"}
    body = {"event_id": event["id"], "resident_id": scene.households[0].head.id}

    answers = _check_in_from_threads(app, headers, [body] * THREADS)

    assert [status for status, _ in answers] == [201] * THREADS, answers
    assert all(answer == answers[0][1] for _, answer in answers)
    assert answers[0][1]["already"] is False
    assert snapshot()[:2] == (1, 1)


def test_one_key_for_two_people_from_twenty_threads_checks_in_one(api, app, scene):
    event = new_event(api, scene)
    headers = {**api.headers(scene.admin), "Idempotency-Key": "reused-key"}
    bodies = [{"event_id": event["id"], "resident_id": scene.households[h].head.id} for h in (0, 1) * (THREADS // 2)]

    answers = _check_in_from_threads(app, headers, bodies)

    assert {status for status, _ in answers} <= {201, 409}, answers
    assert len({answer["attendance"]["id"] for status, answer in answers if status == 201}) == 1
    assert all(answer["error"]["code"] == "idempotency_key_reused" for status, answer in answers if status == 409)
    assert snapshot()[:2] == (1, 1)


def test_the_check_in_documents_its_idempotency_key(openapi_spec):
    operation = openapi_spec["paths"]["/api/v1/checkins"]["post"]
    header = next(p for p in operation["parameters"] if p["in"] == "header")
    assert header["name"] == "Idempotency-Key" and header["required"] is False
    assert header["schema"]["maxLength"] == 64
    assert {"200", "201", "409"} <= set(operation["responses"])
    assert "idempotency_key_reused" in operation["responses"]["409"]["description"]


# Closing


def test_closing_posts_the_rules_points_once(api, scene):
    event = new_event(api, scene)
    token = checkins.rotating_token(event_row(event))
    for user in scene.villagers[:2]:
        assert checkin(api, user, event_id=event["id"], token=token).status_code == 201
    before = [balance(api, scene, h) for h in scene.households]

    error_of(api.post(f"/api/v1/events/{event['id']}/close", scene.leader), 403, "forbidden")
    headers = {"Idempotency-Key": "close-1"}
    closed = api.post(f"/api/v1/events/{event['id']}/close", scene.admin, headers=headers, json={"early": True})
    assert closed.status_code == 200, closed.get_json()
    body = closed.get_json()
    assert body["closed_at"] is not None and body["points_posted"] == 10
    assert [(a["household_id"], a["points"], a["unpaid_reason"]) for a in body["attendances"]] == [
        (scene.households[0].id, 5, ""), (scene.households[1].id, 5, "")]
    assert [balance(api, scene, h) for h in scene.households] == [before[0] + 5, before[1] + 5, before[2]]

    again = api.post(f"/api/v1/events/{event['id']}/close", scene.admin, headers=headers, json={"early": True})
    assert again.status_code == 200 and again.get_json() == body
    assert [balance(api, scene, h) for h in scene.households] == [before[0] + 5, before[1] + 5, before[2]]

    error_of(checkin(api, scene.villagers[2], event_id=event["id"], token=token), 409, "event_closed")
    error_of(api.request("PATCH", f"/api/v1/events/{event['id']}", scene.admin, json={"title": "x"}), 409,
             "event_closed")
    listed = api.get("/api/v1/events?open=false", scene.villagers[0]).get_json()
    assert [e["id"] for e in listed["items"]] == [event["id"]]


def test_an_event_still_to_come_cannot_be_closed_or_checked_in(api, scene):
    tomorrow = now_local() + timedelta(days=1)
    event = new_event(api, scene, starts=tomorrow.isoformat(), ends=(tomorrow + timedelta(hours=1)).isoformat())
    error_of(api.post(f"/api/v1/events/{event['id']}/close", scene.admin), 400, "event_not_over")
    token = checkins.rotating_token(event_row(event))
    error_of(checkin(api, scene.villagers[0], event_id=event["id"], token=token), 400, "event_not_started")


@pytest.mark.parametrize("token", [".", "a.b", "é", "x" * 150, "WzEsInIiLDFd", "WzEsInIiLDFd.bad"])
def test_odd_codes_and_cards_are_invalid_not_errors(api, scene, token):
    event = new_event(api, scene)
    error_of(checkin(api, scene.villagers[0], event_id=event["id"], token=token), 400, "invalid_code")
    error_of(checkin(api, scene.admin, event_id=event["id"], card=token), 400, "invalid_card")


def test_a_series_event_moved_onto_another_of_its_series_is_refused(api, scene):
    first = now_local().replace(hour=9, minute=0, second=0) + timedelta(days=1)
    services.create_series(scene.admin, scene.village.village, services.EventTerms(
        "环境整治日", "村委会广场", first, first + timedelta(hours=2), scene.rule.id), 1, first.weekday(),
        first.date().replace(day=1) + timedelta(days=32), first.date().replace(day=1) + timedelta(days=64))
    db.session.commit()
    one, two = db.session.query(Event).order_by(Event.starts_at).all()
    starts, ends = utc_to_local(one.starts_at).isoformat(), utc_to_local(one.ends_at).isoformat()
    error_of(api.request("PATCH", f"/api/v1/events/{two.id}", scene.admin, json={"starts": starts, "ends": ends}),
             409, "event_series_clash")
    assert api.get(f"/api/v1/events/{two.id}", scene.admin).get_json()["starts"] == utc_to_local(
        two.starts_at).isoformat() + "+08:00"


@pytest.mark.parametrize("starts, ends", [
    ("0001-01-01T00:00:00+14:00", "0001-01-01T02:00:00+14:00"),  # before year 1 once in local time
    ("9999-12-31T20:00:00-12:00", "9999-12-31T22:00:00-12:00"),  # after year 9999 once in local time
    ("0001-01-01T09:00:00", "0001-01-01T11:00:00"),  # local, before year 1 once in UTC
])
def test_a_time_beyond_the_calendar_is_a_422_not_a_server_error(api, scene, starts, ends):
    error_of(create(api, scene, starts=starts, ends=ends), 422, "validation_error")
    event = new_event(api, scene)
    error_of(api.request("PATCH", f"/api/v1/events/{event['id']}", scene.admin, json={"starts": starts, "ends": ends}),
             422, "validation_error")
    assert db.session.scalar(select(func.count()).select_from(Event)) == 1


@pytest.mark.parametrize("body", [{}, None])
def test_an_edit_without_a_body_or_with_nothing_in_it_is_refused(api, scene, body):
    event = new_event(api, scene)
    kwargs = {"json": body} if body is not None else {}
    error_of(api.request("PATCH", f"/api/v1/events/{event['id']}", scene.admin, **kwargs), 400, "nothing_to_change")


def test_an_events_place_and_a_check_ins_position_through_the_api(api, scene):
    """签到范围 set by the village: a villager's own check-in sends where the phone is."""
    services.set_fence(scene.admin, scene.village.village, 200)
    db.session.commit()
    event = new_event(api, scene, latitude=24.7812, longitude=118.5523)
    assert (event["latitude"], event["longitude"]) == (24.7812, 118.5523)
    token = checkins.rotating_token(event_row(event))
    error_of(checkin(api, scene.villagers[0], event_id=event["id"], token=token), 403, "location_needed")
    error_of(checkin(api, scene.villagers[0], event_id=event["id"], token=token, latitude=24.79, longitude=118.56),
             403, "too_far")
    near = checkin(api, scene.villagers[0], event_id=event["id"], token=token, latitude=24.7815, longitude=118.5525)
    assert near.status_code == 201, near.get_json()
    cleared = api.request("PATCH", f"/api/v1/events/{event['id']}", scene.admin, json={"latitude": None,
                                                                                       "longitude": None})
    assert cleared.get_json()["latitude"] is None


def test_closing_before_the_end_needs_early_and_the_refusal_says_how_long_is_left(api, scene, openapi_spec):
    event = new_event(api, scene)  # started ten minutes ago, ends in 1 h 50 min
    assert checkin(api, scene.villagers[0], event_id=event["id"],
                   token=checkins.rotating_token(event_row(event))).status_code == 201
    for body in (None, {}, {"early": False}):
        refused = error_of(api.post(f"/api/v1/events/{event['id']}/close", scene.admin, json=body), 409,
                           "event_not_ended")
        assert refused["message"] in {f"活动还有 1 小时 {m} 分才结束；提前结束要先确认（结束后不能再签到）"
                                      for m in (49, 50)}
    assert api.get(f"/api/v1/events/{event['id']}", scene.admin).get_json()["closed_at"] is None
    assert balance(api, scene, scene.households[0]) == 0
    closed = api.post(f"/api/v1/events/{event['id']}/close", scene.admin, json={"early": True})
    assert closed.status_code == 200 and closed.get_json()["points_posted"] == 5
    early = openapi_spec["paths"]["/api/v1/events/{event_id}/close"]["post"]
    assert "event_not_ended" in early["responses"]["409"]["description"]


def test_an_event_without_a_rule_is_refused(api, scene):
    body = event_body(scene)
    del body["rule_id"]
    refused = api.post("/api/v1/events", scene.admin, json=body)
    assert refused.status_code == 422 and "rule_id" in str(refused.get_json()["error"]["details"])
    error_of(api.post("/api/v1/events", scene.admin, json={**body, "rule_id": None}), 422, "validation_error")
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0


def test_checking_out_before_the_village_s_wait_needs_early(api, scene):
    event = new_event(api, scene, mode="in_out")
    token = checkins.rotating_token(event_row(event))
    villager, other = scene.villagers[:2]
    assert checkin(api, villager, event_id=event["id"], token=token).status_code == 201
    assert checkin(api, scene.admin, event_id=event["id"], resident_id=scene.households[1].head_id).status_code == 201
    refused = error_of(api.post("/api/v1/checkouts", villager, json={"event_id": event["id"], "token": token}), 409,
                       "checkout_too_soon")
    assert refused["message"] == "签到才 0 分钟，满 30 分钟才能签退；确要现在签退请先确认"
    error_of(api.post("/api/v1/checkouts", scene.admin,
                      json={"event_id": event["id"], "resident_id": scene.households[1].head_id}), 409,
             "checkout_too_soon")
    assert db.session.scalar(select(func.count()).select_from(Attendance)
                             .where(Attendance.checked_out_at.is_not(None))) == 0
    out = api.post("/api/v1/checkouts", villager, json={"event_id": event["id"], "token": token, "early": True})
    assert out.status_code == 200 and out.get_json()["attendance"]["checked_out_at"] is not None
    again = api.post("/api/v1/checkouts", villager, json={"event_id": event["id"], "token": token})
    assert again.status_code == 200 and again.get_json() == out.get_json()
    # Staff check out by name once the wait is over; a leader who does not run the event may not.
    db.session.execute(update(Attendance).where(Attendance.resident_id == scene.households[1].head_id)
                       .values(checked_in_at=utcnow() - timedelta(minutes=31)))
    db.session.commit()
    body = {"event_id": event["id"], "resident_id": scene.households[1].head_id}
    error_of(api.post("/api/v1/checkouts", scene.leader, json=body), 403, "forbidden")
    assert api.post("/api/v1/checkouts", scene.admin, json=body).status_code == 200
    error_of(api.post("/api/v1/checkouts", other, json={"event_id": event["id"], "token": token, "card": "x"}), 422,
             "validation_error")


def test_a_villager_lists_the_events_of_the_village_and_of_their_grid_on_both_doors(api, scene, client, login):
    """The API listed every event of the village; the pages only those a villager may check in to. Both read
    events.queries.visible_filter now."""
    whole = new_event(api, scene)
    first = new_event(api, scene, title="第一网格清洁日", grid_id=scene.village.grids[0].id)
    second = new_event(api, scene, title="第二网格清洁日", grid_id=scene.village.grids[1].id)

    def listed(user):
        return {e["id"] for e in api.get("/api/v1/events", user).get_json()["items"]}

    assert listed(scene.villagers[0]) == {whole["id"], first["id"]}  # households[0] is in the first grid
    assert listed(scene.villagers[2]) == {whole["id"], second["id"]}
    assert listed(scene.admin) == {whole["id"], first["id"], second["id"]}
    login(scene.villagers[0])
    page = client.get("/events").get_data(as_text=True)
    assert "第一网格清洁日" in page and "第二网格清洁日" not in page
    # 我的活动 of a grid leader who lives in the second grid: the events they may check in to, not their staff view.
    scene.leader.resident_id = factories.gen_household(scene.village.grids[1], "周七").head_id
    db.session.commit()
    login(scene.leader)
    page = client.get("/events").get_data(as_text=True)
    assert "第二网格清洁日" in page and "第一网格清洁日" not in page
    village = client.get(f"/villages/{scene.village.village.id}/events").get_data(as_text=True)
    assert "第一网格清洁日" in village and "第二网格清洁日" in village  # the village's page: their staff view
