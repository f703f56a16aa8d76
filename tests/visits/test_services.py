"""走访 through its services: who may log a visit where, what is refused (writing nothing), the 履职 points once
per visit within the rule's caps, idempotency, the settings."""
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth.models import Role, User
from points.errors import DomainError, Forbidden, NotFound
from points.extensions import db
from points.ledger.models import DutyRecord, EntrySource, LedgerEntry
from points.people.models import CareTag, Closure, Household
from points.people.services import close_household
from points.visits import services
from points.visits.models import Unearned, Visit, VisitCadence, VisitKind, VisitSettings
from points.visits.queries import due_households

from .. import factories
from .helpers import DAY, build, log


@pytest.fixture
def world(village):
    return build(village)


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_visit_earns_the_worker_duty_points_once(world):
    visit = log(world.worker, world.elder, DAY - timedelta(days=2), kind="care", note="身体很好")
    db.session.commit()
    assert (visit.grid_id, visit.village_id, visit.kind, visit.note) == (
        world.grid.id, world.village.village.id, VisitKind.CARE, "身体很好")
    duty = db.session.get(DutyRecord, visit.duty_id)
    assert (duty.worker_id, duty.amount, duty.idempotency_key, duty.occurred_on) == (
        world.worker.id, 2, f"visit:{visit.id}", DAY - timedelta(days=2))
    assert duty.entry_id is None  # not a resident: the record only, no household entry
    assert visit.unearned is None
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "visit.logged")).subject_id == visit.id


def test_a_resident_worker_earns_into_their_household(world):
    visit = log(world.worker_at_home, world.plain)
    db.session.commit()
    duty = db.session.get(DutyRecord, visit.duty_id)
    entry = db.session.get(LedgerEntry, duty.entry_id)
    assert (entry.household_id, entry.amount, entry.source) == (world.home.id, 2, EntrySource.DUTY)
    assert entry.resident_id == world.worker_at_home.resident_id


def test_the_cap_reached_the_visit_stands_without_points(world):
    first = log(world.worker, world.plain, DAY)
    second = log(world.worker, world.elder, DAY)
    third = log(world.worker, world.poor, DAY)  # cap_week 4: two visits of +2
    db.session.commit()
    assert first.duty_id and second.duty_id
    assert third.duty_id is None and third.unearned is Unearned.CAP
    assert db.session.scalar(select(func.sum(DutyRecord.amount)).where(DutyRecord.worker_id == world.worker.id)) == 4
    next_week = log(world.worker, world.poor, DAY + timedelta(days=7), today=DAY + timedelta(days=7))
    assert next_week.duty_id is not None


def test_without_a_rule_the_visit_stands_without_points(village):
    world = build(village, rule=False)
    visit = log(world.worker, world.plain)
    assert visit.duty_id is None and visit.unearned is Unearned.NO_RULE
    assert _count(DutyRecord) == 0


def test_a_household_outside_the_workers_grid_is_refused(world):
    with pytest.raises(DomainError) as refused:
        log(world.worker, world.across)
    assert refused.value.code == "visit_outside_grid" and refused.value.status == 403
    assert "不在您负责的网格" in refused.value.message
    assert _count(Visit) == 0


def test_staff_without_grid_work_and_villagers_are_forbidden(world):
    clerk = factories.gen_user(Role.SHOP_CLERK, world.village.village)
    for user in (world.villager, clerk):
        with pytest.raises(Forbidden):
            log(user, world.plain)
    with pytest.raises(NotFound):
        services.log_visit(world.worker, services.VisitAsked(10**6, DAY, "routine"), services.PhotoStore("", 1),
                           today=DAY)


def test_own_household_is_refused(world):
    with pytest.raises(DomainError) as refused:
        log(world.worker_at_home, world.home)
    assert refused.value.code == "visit_own_household"
    assert _count(Visit) == 0


@pytest.mark.parametrize("days", [-1, 31])
def test_a_day_in_the_future_or_too_long_ago_is_refused(world, days):
    with pytest.raises(DomainError) as refused:
        log(world.worker, world.plain, DAY - timedelta(days=days))
    assert refused.value.code == "visit_day_invalid"
    assert _count(Visit) == 0


def test_thirty_days_back_is_accepted(world):
    assert log(world.worker, world.plain, DAY - timedelta(days=30)).id


def test_a_photo_that_is_not_an_image_is_refused(world, tmp_path):
    with pytest.raises(DomainError) as refused:
        log(world.worker, world.plain, tmp_path=tmp_path, photo=b"%PDF-1.4 not a photo")
    assert refused.value.code == "not_an_image"
    assert _count(Visit) == 0 and list(tmp_path.iterdir()) == []


def test_a_photo_is_stored_without_exif(world, tmp_path):
    visit = log(world.worker, world.plain, tmp_path=tmp_path, photo=factories.gen_photo())
    path = services.photo_path(visit, str(tmp_path))
    assert max(visit.photo_width, visit.photo_height) < 2400
    with Image.open(path) as image:
        assert not image.getexif().get(0x8825)


def test_other_refusals(world):
    for kwargs, code in ((dict(kind="party"), "visit_kind_invalid"), (dict(note="长" * 301), "visit_note_too_long")):
        with pytest.raises(DomainError) as refused:
            log(world.worker, world.plain, **kwargs)
        assert refused.value.code == code
    close_household(world.poor, Closure.MOVED_OUT, DAY - timedelta(days=3))
    with pytest.raises(DomainError) as refused:
        log(world.worker, world.poor)
    assert refused.value.code == "visit_household_closed"


def test_the_same_client_key_logs_one_visit(world):
    first = log(world.worker, world.plain, key="k1", note="一切正常")
    again = log(world.worker, world.plain, key="k1", note="一切正常")
    assert again.id == first.id and _count(Visit) == 1 and _count(DutyRecord) == 1
    with pytest.raises(DomainError) as refused:
        log(world.worker, world.elder, key="k1")
    assert refused.value.code == "idempotency_key_reused"
    # another worker's key is theirs
    assert log(world.worker_at_home, world.plain, key="k1", note="一切正常").id != first.id


def test_visible_visit_is_grid_staffs(world):
    visit = log(world.worker, world.plain)
    db.session.commit()
    assert services.visible_visit(world.admin, visit.id) is visit
    for user in (world.other_worker, world.villager):
        with pytest.raises(Forbidden):
            services.visible_visit(user, visit.id)


def test_settings_are_saved_and_audited(world):
    services.save_settings(world.admin, world.village.village.id, None, 0,
                           {CareTag.EMPTY_NEST: 7, CareTag.LOW_INCOME: 0}, today=DAY)
    db.session.commit()
    saved = db.session.get(VisitSettings, world.village.village.id)
    assert (saved.rule_id, saved.knock_days) == (None, 0)
    assert {c.tag: c.days for c in db.session.scalars(select(VisitCadence))} == {CareTag.EMPTY_NEST: 7}
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "visit.settings_saved")
                               .order_by(AuditEvent.id.desc())).first()
    assert event.before["knock_days"] == 30 and event.after["knock_days"] == 0
    assert (event.before["cadences"], event.after["cadences"]) == ("低保 30 天、空巢老人 14 天", "空巢老人 7 天")
    assert (event.before["duty_rule"], event.after["duty_rule"]) == ("GRID-VISIT", "—")


def test_settings_refusals(world):
    other_rule = factories.gen_rule(world.village.village, "庭院整洁", 5)
    for rule_id, days, code in ((other_rule.id, 30, "visit_rule_invalid"), (None, 400, "visit_days_invalid"),
                                (None, -1, "visit_days_invalid")):
        with pytest.raises(DomainError) as refused:
            services.save_settings(world.admin, world.village.village.id, rule_id, days, {}, today=DAY)
        assert refused.value.code == code
    with pytest.raises(Forbidden):
        services.save_settings(world.worker, world.village.village.id, None, 30, {}, today=DAY)


def _duty_sum(worker) -> int:
    return db.session.scalar(select(func.coalesce(func.sum(DutyRecord.amount), 0))
                             .where(DutyRecord.worker_id == worker.id))


def test_one_household_earns_once_a_day_however_often_it_is_visited(village):
    world = build(village, cap_week=None)  # no cap: only the once-a-day rule stops the points
    visits = [log(world.worker, world.plain, DAY, kind=kind, key=f"k{i}")
              for i, kind in enumerate(("routine", "care", "policy", "other", "routine"))]
    db.session.commit()
    assert visits[0].duty_id is not None and visits[0].unearned is None
    assert all(v.duty_id is None and v.unearned is Unearned.REPEAT for v in visits[1:])
    assert _duty_sum(world.worker) == 2 and _count(DutyRecord) == 1
    # the same day a back-dated visit is a repeat too; another household, another day, another worker earn
    assert log(world.worker, world.plain, DAY, today=DAY + timedelta(days=1)).unearned is Unearned.REPEAT
    assert log(world.worker, world.elder, DAY).duty_id is not None
    assert log(world.worker, world.plain, DAY + timedelta(days=1), today=DAY + timedelta(days=1)).duty_id is not None
    assert log(world.worker_at_home, world.plain, DAY).duty_id is not None
    assert _duty_sum(world.worker) == 6
    assert {d.idempotency_key for d in db.session.scalars(select(DutyRecord))} == {
        f"visit:{v.id}" for v in db.session.scalars(select(Visit).where(Visit.duty_id.is_not(None)))}


def test_a_visit_of_an_ended_month_is_logged_but_earns_nothing(village):
    world = build(village, cap_week=None)
    may_31, june_1 = DAY.replace(month=5, day=31), DAY.replace(day=1)
    late = log(world.worker, world.elder, may_31, today=DAY)
    assert late.duty_id is None and late.unearned is Unearned.PAST_MONTH
    assert _count(DutyRecord) == 0
    assert log(world.worker, world.poor, june_1, today=DAY).duty_id is not None  # this month's earliest day earns
    # logged the same day it earns, even in a month now ended (the month was not ended then)
    assert log(world.worker, world.plain, may_31, today=may_31).duty_id is not None
    # it counts for the due list all the same
    rows = {r.household.id: r for r in due_households(Household.id == world.elder.id, DAY)}
    assert rows[world.elder.id].last_visit == may_31


def test_the_ended_month_is_said_before_the_repeat(village):
    world = build(village, cap_week=None)
    may_31 = DAY.replace(month=5, day=31)
    assert log(world.worker, world.plain, may_31, today=may_31).duty_id is not None
    assert log(world.worker, world.plain, may_31, today=DAY).unearned is Unearned.PAST_MONTH


def _log_in_thread(app, worker_id, household_id, key):
    with app.app_context():
        visit = log(db.session.get(User, worker_id), db.session.get(Household, household_id), DAY, key=key)
        db.session.commit()
        return visit.duty_id is not None


def test_visits_logged_at_once_to_one_household_earn_once(app, village):
    world = build(village, cap_week=None)
    worker_id, household_id = world.worker.id, world.plain.id
    with ThreadPoolExecutor(4) as pool:
        earned = list(pool.map(lambda i: _log_in_thread(app, worker_id, household_id, f"t{i}"), range(4)))
    assert sorted(earned) == [False, False, False, True]
    db.session.expire_all()
    assert _count(Visit) == 4 and _count(DutyRecord) == 1
