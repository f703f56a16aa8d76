"""志愿活动: signed check-in codes, one attendance per person, capacity under concurrency, household cards, and
closing an event into the ledger."""
import io
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from points.auth.cards import cards_of_grid, issue_card, issue_missing_cards
from points.auth.models import Role, User
from points.errors import DomainError, Forbidden
from points.events import checkins, services
from points.events.models import Attendance, CheckinMode, Event
from points.events.services import EventTerms
from points.extensions import db
from points.ledger.models import HouseholdBalance
from points.people.cards import card_text, household_of_card
from points.people.models import Closure, Departure, HouseholdCard, HouseholdKind
from points.people.services import add_resident, close_household, move_household, remove_resident
from points.qr import qr_png, qr_svg
from points.rules.models import RuleCategory, RuleUnit
from points.timeutil import local_today, utc_to_local, utcnow

from .. import factories


@pytest.fixture
def world(village):
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    rule = factories.gen_rule(village.village, "参加志愿活动", 5, category=RuleCategory.VOLUNTEERING)
    return village, admin, rule


def open_event(world, mode=CheckinMode.IN, capacity=None, rule=None, hours=2, grid_id=None) -> Event:
    """An event that started ten minutes ago."""
    village, admin, default_rule = world
    starts = utc_to_local(utcnow()) - timedelta(minutes=10)
    return services.create_event(admin, village.village, EventTerms(
        "环境整治日", "村委会广场", starts, starts + timedelta(hours=hours), (rule or default_rule).id, mode,
        capacity, grid_id))


def villager(village, grid=0, kind=HouseholdKind.REGISTERED) -> User:
    return factories.gen_villager(factories.gen_household(village.grids[grid], kind=kind))


def balance(household_id) -> int:
    db.session.expire_all()
    return db.session.scalar(select(HouseholdBalance.balance).where(HouseholdBalance.household_id == household_id))


# ---------------------------------------------------------------------------------------------------- codes


def test_a_rotating_code_checks_in_once(world):
    event = open_event(world)
    user = villager(world[0])
    first = checkins.check_in_self(user, checkins.rotating_token(event))
    again = checkins.check_in_self(user, checkins.rotating_token(event))
    assert not first.already and again.already and again.attendance.id == first.attendance.id
    assert event.attendees == 1


def test_a_forged_code_is_refused(world):
    event = open_event(world)
    token = checkins.rotating_token(event)
    with pytest.raises(DomainError) as refused:
        checkins.check_in_self(villager(world[0]), factories.forged(token))
    assert refused.value.code == "invalid_code"


def test_a_code_of_another_event_is_refused(world):
    event, other = open_event(world), open_event(world)
    with pytest.raises(DomainError) as refused:
        checkins.check_in_self(villager(world[0]), checkins.rotating_token(other), event_id=event.id)
    assert refused.value.code == "code_of_other_event"


def test_a_rotating_code_lasts_two_slots_and_no_longer(world):
    event = open_event(world)
    now = utcnow()
    token = checkins.rotating_token(event, now)
    checkins.event_of_token(token, now + timedelta(seconds=checkins.ROTATION_SECONDS))
    with pytest.raises(DomainError) as refused:
        checkins.check_in_self(villager(world[0]), token, now=now + timedelta(seconds=2 * checkins.ROTATION_SECONDS))
    assert refused.value.code == "code_expired"


def test_a_printed_code_works_only_inside_the_window(world):
    event = open_event(world)
    token = checkins.static_token(event)
    checkins.check_in_self(villager(world[0]), token)
    with pytest.raises(DomainError) as late:
        checkins.check_in_self(villager(world[0]), token, now=event.ends_at + timedelta(minutes=1))
    assert late.value.code == "event_over"
    with pytest.raises(DomainError) as early:
        checkins.check_in_self(villager(world[0]), token, now=event.starts_at - timedelta(hours=1))
    assert early.value.code == "event_not_started"


def test_someone_checked_in_scanning_after_the_end_is_told_already_and_a_newcomer_why_not(world):
    event = open_event(world)
    token, early_bird = checkins.static_token(event), villager(world[0])
    first = checkins.check_in_self(early_bird, token)
    after = event.ends_at + timedelta(minutes=1)
    again = checkins.check_in_self(early_bird, token, now=after)
    assert again.already and again.attendance.id == first.attendance.id
    with pytest.raises(DomainError) as late:
        checkins.check_in_self(villager(world[0]), token, now=after)
    assert late.value.code == "event_over"
    assert event.attendees == 1


def test_a_retry_with_its_key_answers_the_first_check_in_once_the_code_expired_or_it_was_removed(world):
    village, admin, _ = world
    event, user, now = open_event(world), villager(village), utcnow()
    token = checkins.rotating_token(event, now)
    first = checkins.check_in_self(user, token, now=now, client_key="scan-1", digest="d1")
    expired = now + timedelta(seconds=2 * checkins.ROTATION_SECONDS)
    retry = checkins.check_in_self(user, token, now=expired, client_key="scan-1", digest="d1")
    assert not retry.already and retry.attendance.id == first.attendance.id
    with pytest.raises(DomainError) as other_request:
        checkins.check_in_self(user, token, now=expired, client_key="scan-1", digest="d2")
    assert other_request.value.code == "idempotency_key_reused"
    checkins.remove_attendance(admin, first.attendance)
    retry = checkins.check_in_self(user, checkins.rotating_token(event), client_key="scan-1", digest="d1")
    assert retry.attendance.id == first.attendance.id
    with pytest.raises(DomainError) as removed:  # a new scan (another key) of someone removed
        checkins.check_in_self(user, checkins.rotating_token(event), client_key="scan-2", digest="d1")
    assert removed.value.code == "attendance_removed"
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 1 and event.attendees == 0


def test_a_retry_with_its_key_answers_after_the_household_moved_out_of_the_event_s_grid(world):
    village, admin, _ = world
    event = open_event(world, grid_id=village.grids[0].id)
    user, token = villager(village), checkins.static_token(event)
    first = checkins.check_in_self(user, token, client_key="scan-1", digest="d1")
    move_household(user.resident.household, village.grids[1], admin)
    retry = checkins.check_in_self(user, token, client_key="scan-1", digest="d1")
    assert not retry.already and retry.attendance.id == first.attendance.id
    with pytest.raises(DomainError) as other_request:
        checkins.check_in_self(user, token, client_key="scan-1", digest="d2")
    assert other_request.value.code == "idempotency_key_reused"
    with pytest.raises(DomainError) as moved:
        checkins.check_in_self(user, token, client_key="scan-2", digest="d1")
    assert moved.value.code == "not_resident_here"


def test_a_new_code_version_voids_printed_codes(world):
    event = open_event(world)
    token = checkins.static_token(event)
    event.code_version += 1
    with pytest.raises(DomainError) as refused:
        checkins.check_in_self(villager(world[0]), token)
    assert refused.value.code == "code_expired"


def test_only_residents_of_the_village_or_grid_check_in(world):
    village, _, _ = world
    event = open_event(world, grid_id=village.grids[0].id)
    with pytest.raises(DomainError) as other_grid:
        checkins.check_in_self(villager(village, grid=1), checkins.rotating_token(event))
    assert other_grid.value.code == "not_resident_here"
    stranger = factories.gen_villager(factories.gen_household(factories.gen_village(1).grids[0]))
    with pytest.raises(DomainError) as other_village:
        checkins.check_in_self(stranger, checkins.rotating_token(event))
    assert other_village.value.code == "not_resident_here"


def test_generated_images_decode_to_what_they_carry(world):
    event = open_event(world)
    url = "http://村务.example/c/" + checkins.rotating_token(event)
    assert zxingcpp.read_barcodes(Image.open(io.BytesIO(qr_png(url))))[0].text == url
    card = issue_card(world[1], factories.gen_household(world[0].grids[0]))
    text = card_text(card)
    assert zxingcpp.read_barcodes(Image.open(io.BytesIO(qr_png(text))))[0].text == text
    assert b"<svg" in qr_svg(text)


# ---------------------------------------------------------------------------------------------------- cards


def test_a_card_checks_in_its_head_and_a_reissued_card_voids_the_old_one(world):
    village, admin, _ = world
    event = open_event(world)
    household = factories.gen_household(village.grids[0])
    old = card_text(issue_card(admin, household))
    attendance = checkins.check_in_card(admin, event, old).attendance
    assert attendance.resident_id == household.head_id
    new = issue_card(admin, household)
    assert new.serial == 2
    with pytest.raises(DomainError) as refused:
        checkins.check_in_card(admin, open_event(world), old)
    assert refused.value.code == "card_revoked"
    assert household_of_card(card_text(new)).id == household.id


def test_a_card_holds_no_personal_data_and_a_forged_one_is_refused(world):
    village, admin, _ = world
    household = factories.gen_household(village.grids[0], head_name="王秀英", phone="13912345678")
    text = card_text(issue_card(admin, household))
    # A random code and its signature, nothing else.
    assert re.fullmatch(r"HC-[0-9A-F]{12}\.[A-Za-z0-9_-]+", text) and "13912345678" not in text
    with pytest.raises(DomainError) as refused:
        household_of_card(factories.forged(text))
    assert refused.value.code == "invalid_card"


def test_reading_a_grid_s_cards_issues_none_and_issuing_covers_only_households_without_one(world):
    village, admin, _ = world
    households = [factories.gen_household(village.grids[0]) for _ in range(3)]
    factories.gen_household(village.grids[1])  # another grid's: neither listed nor issued
    carded = issue_card(admin, households[1])
    cards, missing = cards_of_grid(admin, village.grids[0])
    assert [c.id for c in cards] == [carded.id] and {h.id for h in missing} == {households[0].id, households[2].id}
    assert db.session.scalar(select(func.count()).select_from(HouseholdCard)) == 1
    issued = issue_missing_cards(admin, village.grids[0])
    assert sorted(c.household_id for c in issued) == sorted([households[0].id, households[2].id])
    assert all(c.serial == 1 for c in issued) and carded.revoked_at is None
    assert issue_missing_cards(admin, village.grids[0]) == []
    cards, missing = cards_of_grid(admin, village.grids[0])
    assert len(cards) == 3 and missing == []


def test_only_card_managers_of_the_grid_read_or_issue_its_cards(world):
    village, _, _ = world
    factories.gen_household(village.grids[0])
    for user in (villager(village), factories.gen_user(Role.VILLAGE_ADMIN, factories.gen_village().village)):
        for read_or_issue in (cards_of_grid, issue_missing_cards):
            with pytest.raises(Forbidden):
                read_or_issue(user, village.grids[0])
    assert db.session.scalar(select(func.count()).select_from(HouseholdCard)) == 0


# ---------------------------------------------------------------------------------------------------- closing


def test_closing_posts_the_points_once_and_a_removed_attendance_gets_none(world):
    village, admin, _ = world
    event = open_event(world)
    kept, removed = villager(village), villager(village)
    checkins.check_in_self(kept, checkins.rotating_token(event))
    wrong = checkins.check_in_self(removed, checkins.rotating_token(event)).attendance
    checkins.remove_attendance(admin, wrong)
    assert event.attendees == 1
    services.close_event(admin, event, early=True)
    services.close_event(admin, event, early=True)
    assert balance(kept.resident.household_id) == 5
    assert balance(removed.resident.household_id) is None
    with pytest.raises(DomainError) as refused:
        checkins.check_in_self(villager(village), checkins.rotating_token(event))
    assert refused.value.code == "event_closed"


def test_per_hour_points_count_check_out_and_a_missing_check_out_counts_one_hour(world):
    village, admin, _ = world
    hourly = factories.gen_rule(village.village, "志愿服务", 3, category=RuleCategory.VOLUNTEERING,
                                unit=RuleUnit.HOUR)
    event = open_event(world, mode=CheckinMode.IN_OUT, rule=hourly, hours=5)
    stayed, forgot = villager(village), villager(village)
    start, leave = event.starts_at, event.starts_at + timedelta(hours=3, minutes=40)
    checkins.check_in_self(stayed, checkins.rotating_token(event, start), now=start)
    checkins.check_in_self(forgot, checkins.rotating_token(event, start), now=start)
    checkins.check_out_self(stayed, checkins.rotating_token(event, leave), now=leave)
    services.close_event(admin, event, early=True)
    assert balance(stayed.resident.household_id) == 3 * 3
    assert balance(forgot.resident.household_id) == 3 * services.MISSING_CHECKOUT_HOURS


def test_a_rule_for_registered_villagers_pays_renters_nothing_and_says_why(world):
    village, admin, _ = world
    registered_only = factories.gen_rule(village.village, "村民志愿", 5, category=RuleCategory.VOLUNTEERING,
                                         for_renters=False)
    event = open_event(world, rule=registered_only)
    renter = villager(village, kind=HouseholdKind.RENTER)
    attendance = checkins.check_in_self(renter, checkins.rotating_token(event)).attendance
    services.close_event(admin, event, early=True)
    assert attendance.entry_id is None and attendance.unpaid_reason == "rule_not_for_household_kind"


def test_a_series_falls_on_the_third_saturday_of_every_month(world):
    village, admin, rule = world
    starts = datetime(2026, 1, 1, 8, 30)
    series = services.create_series(admin, village.village, EventTerms("环境整治日", "各网格", starts,
                                                                       starts + timedelta(hours=2), rule.id),
                                    nth=3, weekday=5, first_month=date(2026, 12, 1), last_month=date(2027, 2, 1))
    days = [utc_to_local(e.starts_at) for e in db.session.scalars(
        select(Event).where(Event.series_id == series.id).order_by(Event.starts_at))]
    assert days == [datetime(2026, 12, 19, 8, 30), datetime(2027, 1, 16, 8, 30), datetime(2027, 2, 20, 8, 30)]


# ---------------------------------------------------------------------------------------------------- concurrency


def _scan(app, user_id, token):
    with app.app_context():
        try:
            result = checkins.check_in_self(db.session.get(User, user_id), token)
            db.session.commit()
            return result.attendance.id
        except DomainError as refusal:
            db.session.rollback()
            return refusal.code


def test_one_villager_scanning_twenty_times_at_once_is_one_attendance(app, world):
    event = open_event(world)
    user_id = villager(world[0]).id
    token = checkins.rotating_token(event)
    db.session.commit()
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: _scan(app, user_id, token), range(20)))
    assert len(set(results)) == 1 and isinstance(results[0], int)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 1
    assert db.session.get(Event, event.id).attendees == 1


def test_thirty_villagers_at_once_for_ten_places_make_exactly_ten(app, world):
    event = open_event(world, capacity=10)
    users = [villager(world[0]).id for _ in range(30)]
    token = checkins.rotating_token(event)
    db.session.commit()
    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(lambda user_id: _scan(app, user_id, token), users))
    assert sum(isinstance(r, int) for r in results) == 10
    assert sorted(r for r in results if not isinstance(r, int)) == ["event_full"] * 20
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 10
    assert db.session.get(Event, event.id).attendees == 10


def test_a_scanned_rotating_code_carries_the_check_in_on_for_ten_minutes(world):
    event = open_event(world)
    now = utcnow()
    scanned = checkins.scanned_token(checkins.rotating_token(event, now), now)
    later = now + checkins.SCAN_GRACE - timedelta(seconds=checkins.ROTATION_SECONDS)
    assert checkins.check_in_self(villager(world[0]), scanned, now=later, passes=[scanned]).already is False
    with pytest.raises(DomainError) as refused:
        checkins.event_of_token(scanned, now + checkins.SCAN_GRACE + timedelta(minutes=1))
    assert refused.value.code == "code_expired"
    assert checkins.scanned_token(checkins.static_token(event)) is None


def test_a_pass_opens_check_in_only_where_the_code_was_scanned(world):
    """A forwarded link: another villager at home opened it 75 s later and was checked in."""
    event = open_event(world)
    scanned = checkins.scanned_token(checkins.rotating_token(event))
    at_home = villager(world[0])
    for passes in ((), ["another-pass"]):
        with pytest.raises(DomainError) as refused:
            checkins.check_in_self(at_home, scanned, passes=passes)
        assert refused.value.code == "scan_here"
    checkins.require_scanned_here(checkins.rotating_token(event), ())  # the codes themselves are not bound
    checkins.require_scanned_here(checkins.static_token(event), ())


def test_a_household_or_resident_that_left_checks_in_no_more_and_closing_leaves_them_unpaid(world):
    village, admin, _ = world
    event = open_event(world)
    stays, leaves, moves_out = villager(village), villager(village), villager(village)
    for user in (stays, leaves):
        checkins.check_in_self(user, checkins.rotating_token(event))
    close_household(leaves.resident.household, Closure.RENTER_LEFT, local_today())
    spouse = add_resident(moves_out.resident.household, "李小红", "配偶")
    remove_resident(spouse, Departure.MOVED_OUT, local_today())
    for refused_code, call in (
        ("household_closed", lambda: checkins.check_in_resident(admin, event, leaves.resident_id)),
        ("resident_left", lambda: checkins.check_in_resident(admin, event, spouse.id)),
    ):
        with pytest.raises(DomainError) as refused:
            call()
        assert refused.value.code == refused_code
    event.ends_at = utcnow() - timedelta(minutes=1)
    services.close_event(admin, event)
    paid = {a.household_id: (a.entry_id is not None, a.unpaid_reason)
            for a in db.session.scalars(select(Attendance).where(Attendance.event_id == event.id))}
    assert paid == {stays.resident.household_id: (True, ""), leaves.resident.household_id: (False, "household_closed")}


# ---------------------------------------------------------------------------------------------------- issue 21


def test_closing_before_the_end_is_refused_naming_the_time_left_unless_early(world):
    village, admin, _ = world
    event = open_event(world, hours=3)  # started ten minutes ago: 2 h 50 min left
    checkins.check_in_self(villager(village), checkins.rotating_token(event))
    with pytest.raises(DomainError) as refused:
        services.close_event(admin, event)
    assert refused.value.code == "event_not_ended"
    assert re.fullmatch(r"活动还有 2 小时 (49|50) 分才结束；提前结束要先确认（结束后不能再签到）",
                        refused.value.message)
    assert event.closed_at is None
    services.close_event(admin, event, early=True)
    assert event.closed_at is not None and event.attendees == 1


def test_an_event_without_a_chosen_rule_is_refused(world):
    village, admin, _ = world
    starts = utc_to_local(utcnow()) + timedelta(days=1)
    with pytest.raises(DomainError) as refused:
        services.create_event(admin, village.village, EventTerms("敬老院打扫", "敬老院", starts,
                                                                 starts + timedelta(hours=1), None))
    assert refused.value.code == "event_rule_required" and refused.value.message == "请选择本活动按哪条积分细则记分"
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0


def test_a_check_out_before_the_village_s_wait_is_refused_unless_early(world):
    village, admin, _ = world
    hourly = factories.gen_rule(village.village, "志愿服务", 3, category=RuleCategory.VOLUNTEERING,
                                unit=RuleUnit.HOUR)
    event = open_event(world, mode=CheckinMode.IN_OUT, rule=hourly, hours=5)
    tapped_twice, stayed = villager(village), villager(village)
    start = event.starts_at
    for user in (tapped_twice, stayed):
        checkins.check_in_self(user, checkins.rotating_token(event, start), now=start)
    three_seconds = start + timedelta(seconds=3)
    with pytest.raises(DomainError) as refused:
        checkins.check_out_self(tapped_twice, checkins.rotating_token(event, three_seconds), now=three_seconds)
    assert refused.value.code == "checkout_too_soon"
    assert refused.value.message == "签到才 0 分钟，满 30 分钟才能签退；确要现在签退请先确认"
    assert checkins.check_out_self(stayed, checkins.rotating_token(event, three_seconds), now=three_seconds,
                                   early=True).checked_out_at == three_seconds
    later = start + timedelta(minutes=30)
    attendance = checkins.check_out_self(tapped_twice, checkins.rotating_token(event, later), now=later)
    assert attendance.checked_out_at == later


def test_the_desk_checks_out_by_card_after_the_village_s_wait(world):
    village, admin, _ = world
    event = open_event(world, mode=CheckinMode.IN_OUT)
    household = factories.gen_household(village.grids[0])
    text = card_text(issue_card(admin, household))
    start = event.starts_at
    checkins.check_in_card(admin, event, text, now=start)
    with pytest.raises(DomainError) as refused:
        checkins.check_out_card(admin, event, text, now=start + timedelta(minutes=29))
    assert refused.value.code == "checkout_too_soon"
    services.set_checkout_after(admin, village.village, 10)
    out = checkins.check_out_card(admin, event, text, now=start + timedelta(minutes=10))
    assert out.resident_id == household.head_id and out.checked_out_at == start + timedelta(minutes=10)


def test_the_wait_before_check_out_is_the_village_s_audited_setting(world):
    from points.audit.models import AuditEvent
    village, admin, _ = world
    assert services.checkout_after(village.village.id) == 30
    services.set_checkout_after(admin, village.village, 45)
    assert services.checkout_after(village.village.id) == 45
    logged = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "events.checkout_after"))
    assert (logged.before, logged.after) == ({"checkout_after": 30}, {"checkout_after": 45})
    for minutes in (0, -5, 721, "30"):
        with pytest.raises(DomainError) as refused:
            services.set_checkout_after(admin, village.village, minutes)
        assert refused.value.code == "invalid_checkout_after"
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    with pytest.raises(Forbidden):
        services.set_checkout_after(worker, village.village, 10)
    assert services.checkout_after(village.village.id) == 45
