"""A capacity lowered while check-ins race: the edit reads the count under the event's lock, so the event never ends
with more attendees than its capacity (it once ended with 9 at a capacity of 5), and `verify` would say so if it did.
On SQLite and PostgreSQL, threads each with their own session."""
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select

from points.auth.models import Role
from points.errors import DomainError
from points.events import checkins, services
from points.events.models import Attendance, CheckinMode, Event
from points.events.queries import attendance_mismatches
from points.extensions import db
from points.rules.models import RuleCategory
from points.timeutil import utc_to_local, utcnow

from .. import factories

ROUNDS = 6
RACERS = 4


def test_a_capacity_lowered_during_check_ins_is_never_exceeded(app, village):
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    rule = factories.gen_rule(village.village, "参加志愿活动", 5, category=RuleCategory.VOLUNTEERING)
    people = [factories.gen_household(village.grids[0], f"户主{i}").head_id for i in range(10)]
    db.session.commit()
    starts = utc_to_local(utcnow()) - timedelta(minutes=10)
    terms = services.EventTerms("环境整治日", "村委会广场", starts, starts + timedelta(hours=2), rule.id,
                                CheckinMode.IN, 10)
    admin_id = admin.id
    outcomes = []
    for _ in range(ROUNDS):
        event = services.create_event(admin, village.village, terms)
        for resident_id in people[:5]:
            checkins.check_in_resident(admin, event, resident_id)
        db.session.commit()
        event_id = event.id
        barrier = threading.Barrier(RACERS + 1)

        def check_in(resident_id):
            with app.app_context():
                barrier.wait()
                try:
                    checkins.check_in_resident(db.session.get(type(admin), admin_id),
                                               db.session.get(Event, event_id), resident_id)
                    db.session.commit()
                    return "in"
                except DomainError as refusal:
                    db.session.rollback()
                    return refusal.code

        def lower():
            with app.app_context():
                barrier.wait()
                try:
                    services.update_event(db.session.get(type(admin), admin_id), db.session.get(Event, event_id),
                                          replace(terms, capacity=5))
                    db.session.commit()
                    return "lowered"
                except DomainError as refusal:
                    db.session.rollback()
                    return refusal.code

        with ThreadPoolExecutor(RACERS + 1) as pool:
            racing = [pool.submit(check_in, r) for r in people[5:5 + RACERS]] + [pool.submit(lower)]
            results = [f.result() for f in racing]
        db.session.expire_all()
        event = db.session.get(Event, event_id)
        rows = db.session.scalar(select(func.count()).select_from(Attendance).where(Attendance.event_id == event_id))
        assert event.attendees == rows
        assert event.attendees <= event.capacity, (results, event.attendees, event.capacity)
        outcomes.append(results[-1])
    # Each round either lowered the capacity before any racer got in (and they met event_full) or was refused.
    assert set(outcomes) <= {"lowered", "capacity_below_attendees"}
    assert list(attendance_mismatches()) == []


def test_verify_reports_an_event_over_its_capacity_or_off_its_rows(village):
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    rule = factories.gen_rule(village.village, "参加志愿活动", 5, category=RuleCategory.VOLUNTEERING)
    people = [factories.gen_household(village.grids[0], f"户主{i}").head_id for i in range(3)]
    starts = utc_to_local(utcnow()) - timedelta(minutes=10)
    event = services.create_event(admin, village.village, services.EventTerms(
        "环境整治日", "村委会广场", starts, starts + timedelta(hours=2), rule.id, CheckinMode.IN, 3))
    for resident_id in people:
        checkins.check_in_resident(admin, event, resident_id)
    checkins.remove_attendance(admin, db.session.scalars(select(Attendance).where(Attendance.event_id == event.id))
                               .first())
    db.session.commit()
    assert list(attendance_mismatches()) == [], "a removed attendance counts no more"
    event.capacity = 1  # as the race once left it
    db.session.commit()
    assert [(m.event_id, m.attendees, m.rows, m.capacity) for m in attendance_mismatches()] == [(event.id, 2, 2, 1)]
    event.capacity, event.attendees = 3, 3
    db.session.commit()
    assert [(m.attendees, m.rows) for m in attendance_mismatches()] == [(3, 2)]
