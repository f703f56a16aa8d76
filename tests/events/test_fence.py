"""签到范围: a village may ask that a villager's own check-in at an event with a place on the map be made near it (the
phone's location); off by default, never for events without a place, nor for staff checking people in."""
from datetime import timedelta

import pytest

from points.auth.models import Role
from points.errors import DomainError, Forbidden
from points.events import checkins, services
from points.events.models import CheckinMode
from points.extensions import db
from points.rules.models import RuleCategory
from points.timeutil import utc_to_local, utcnow

from .. import factories

SQUARE = (24.78120, 118.55230)  # the village square
NEARBY = (24.78150, 118.55250)  # about 40 m away
HOME = (24.79000, 118.56000)  # about 1.2 km away


@pytest.fixture
def scene(village):
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    rule = factories.gen_rule(village.village, "参加志愿活动", 5, category=RuleCategory.VOLUNTEERING)
    villager = factories.gen_villager(factories.gen_household(village.grids[0]))
    db.session.commit()
    return village, admin, rule, villager


def event_at(scene, place=SQUARE):
    village, admin, rule, _ = scene
    starts = utc_to_local(utcnow()) - timedelta(minutes=10)
    latitude, longitude = place if place else (None, None)
    return services.create_event(admin, village.village, services.EventTerms(
        "清理河道", "村委会门口", starts, starts + timedelta(hours=2), rule.id, CheckinMode.IN,
        latitude=latitude, longitude=longitude))


def test_the_distance_is_measured_on_the_globe():
    assert 30 < checkins.meters_between(SQUARE, NEARBY) < 45
    assert 1_100 < checkins.meters_between(SQUARE, HOME) < 1_300


def test_without_a_fence_a_check_in_is_made_anywhere(scene):
    event = event_at(scene)
    assert checkins.fenced(event) is None
    assert checkins.check_in_self(scene[3], checkins.rotating_token(event), position=None).already is False


def test_with_a_fence_a_check_in_is_made_near_the_place(scene):
    village, admin, _, villager = scene
    services.set_fence(admin, village.village, 200)
    event = event_at(scene)
    token = checkins.rotating_token(event)
    with pytest.raises(DomainError) as unknown:
        checkins.check_in_self(villager, token)
    assert unknown.value.code == "location_needed"
    with pytest.raises(DomainError) as far:
        checkins.check_in_self(villager, token, position=HOME)
    assert far.value.code == "too_far" and "须在 200 米之内" in far.value.message
    assert checkins.check_in_self(villager, token, position=NEARBY).already is False


def test_an_event_without_a_place_and_staff_check_ins_are_never_fenced(scene):
    village, admin, _, villager = scene
    services.set_fence(admin, village.village, 200)
    unplaced = event_at(scene, place=None)
    assert checkins.check_in_self(villager, checkins.rotating_token(unplaced)).already is False
    placed = event_at(scene)
    assert checkins.check_in_resident(admin, placed, villager.resident_id).already is False


def test_only_event_managers_set_the_fence_within_bounds(scene):
    village, admin, _, villager = scene
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    with pytest.raises(Forbidden):
        services.set_fence(worker, village.village, 200)
    for meters in (0, 5, 100_001):
        with pytest.raises(DomainError) as refused:
            services.set_fence(admin, village.village, meters)
        assert refused.value.code == "invalid_fence"
    services.set_fence(admin, village.village, None)
    assert services.fence_of(village.village.id) is None


@pytest.mark.parametrize("place", [(91.0, 118.5), (24.7, 181.0), (24.7, None)])
def test_a_place_off_the_globe_or_half_given_is_refused(scene, place):
    village, admin, rule, _ = scene
    starts = utc_to_local(utcnow())
    with pytest.raises(DomainError) as refused:
        services.create_event(admin, village.village, services.EventTerms(
            "清理河道", "村委会门口", starts, starts + timedelta(hours=1), rule.id, latitude=place[0],
            longitude=place[1]))
    assert refused.value.code == "invalid_location"


def test_the_pages_set_the_fence_and_the_check_in_page_sends_the_position(client, login, scene):
    village, admin, _, villager = scene
    login(admin)
    saved = client.post(f"/villages/{village.village.id}/events/fence", data={"fence": "150"}, follow_redirects=True)
    assert "签到须在活动地点 150 米之内" in saved.get_data(as_text=True)
    event = event_at(scene)
    db.session.commit()
    login(villager)
    link = client.get(f"/c/{checkins.rotating_token(event)}").headers["Location"]  # this browser scanned
    page = client.get(link).get_data(as_text=True)
    assert "data-needs-location" in page and "本活动须在现场 150 米之内签到" in page and "location.js" in page
    far = client.post(link, data={"action": "in", "latitude": HOME[0], "longitude": HOME[1]})
    assert far.status_code == 403 and "须在 150 米之内才能签到" in far.get_data(as_text=True)
    near = client.post(link, data={"action": "in", "latitude": NEARBY[0], "longitude": NEARBY[1]})
    assert near.status_code == 200 and "签到成功" in near.get_data(as_text=True)
