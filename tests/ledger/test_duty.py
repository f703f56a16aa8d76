"""履职积分: a worker earns a 网格员履职 rule's points once per duty, within the rule's caps counted per worker, into
their household when they live in the village; a reversal undoes both."""
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import func, select

from points.auth import services as auth_services
from points.auth.models import Role, User
from points.errors import DomainError
from points.extensions import db
from points.ledger.duty import award_duty, reverse_duty
from points.ledger.models import DutyRecord, EntrySource, LedgerEntry
from points.ledger.services import post_entry, reverse_by_admin
from points.rules.models import RuleCategory

from .. import factories
from .helpers import assert_ledger_consistent

DAY = date(2026, 11, 16)  # a Monday


def _duty_rule(village, points=2, **caps):
    return factories.gen_rule(village.village, "入户走访", points, RuleCategory.GRID_DUTY, **caps)


def _resident_worker(village):
    """A grid worker who lives in the village: their account is linked to the head of a household."""
    household = factories.gen_household(village.grids[0], head_name="李网格")
    worker = auth_services.create_user(factories.unique("worker"), factories.PASSWORD, resident=household.head)
    auth_services.assign_role(None, worker, Role.GRID_WORKER, village.grids[0])
    return worker, household


def test_a_worker_who_is_not_a_resident_earns_a_record_and_no_entry(village):
    rule = _duty_rule(village)
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    duty = award_duty(worker, village.village.id, rule.id, "visit:1", DAY, "走访")
    assert (duty.amount, duty.worker_id, duty.entry_id) == (2, worker.id, None)
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


def test_a_resident_worker_earns_into_their_household_named_as_the_earner(village):
    rule = _duty_rule(village)
    worker, household = _resident_worker(village)
    duty = award_duty(worker, village.village.id, rule.id, "visit:1", DAY)
    entry = db.session.get(LedgerEntry, duty.entry_id)
    assert (entry.household_id, entry.resident_id, entry.amount) == (household.id, worker.resident_id, 2)
    assert (entry.source, entry.category) == (EntrySource.DUTY, RuleCategory.GRID_DUTY)
    assert_ledger_consistent(household.id)


def test_a_duty_earns_once(village):
    rule = _duty_rule(village)
    worker, household = _resident_worker(village)
    first = award_duty(worker, village.village.id, rule.id, "visit:1", DAY)
    assert award_duty(worker, village.village.id, rule.id, "visit:1", DAY).id == first.id
    assert db.session.scalar(select(func.count()).select_from(DutyRecord)) == 1
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1


def test_the_caps_count_per_worker_and_a_capped_duty_earns_nothing(village):
    rule = _duty_rule(village, cap_week=4)
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    other = factories.gen_user(Role.GRID_WORKER, village.grids[1])
    earned = [award_duty(worker, village.village.id, rule.id, f"visit:{i}", DAY) for i in range(3)]
    assert [d is not None for d in earned] == [True, True, False]
    assert award_duty(other, village.village.id, rule.id, "visit:other", DAY) is not None  # their own cap
    assert award_duty(worker, village.village.id, rule.id, "visit:next-week", date(2026, 11, 23)) is not None


def test_no_rule_or_a_rule_of_another_category_or_village_earns_nothing(village, villages):
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    hygiene = factories.gen_rule(village.village, "庭院整洁", 5)
    elsewhere = _duty_rule(villages[1])
    for rule_id in (None, hygiene.id, elsewhere.id, 10**9):
        assert award_duty(worker, village.village.id, rule_id, f"visit:{rule_id}", DAY) is None
    assert db.session.scalar(select(func.count()).select_from(DutyRecord)) == 0


def test_a_reversal_undoes_the_record_and_the_entry_once(village):
    rule = _duty_rule(village)
    worker, household = _resident_worker(village)
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    award_duty(worker, village.village.id, rule.id, "report:7:duty", DAY)
    reversal = reverse_duty("report:7:duty", admin, "诉求不成立")
    assert reverse_duty("report:7:duty", admin, "诉求不成立").id == reversal.id
    assert reversal.amount == -2
    assert db.session.scalar(select(func.sum(DutyRecord.amount))) == 0
    assert db.session.scalar(select(func.sum(LedgerEntry.amount))) == 0
    assert reverse_duty("never-earned", admin) is None
    assert_ledger_consistent(household.id)


def _award(app, worker_id, rule_id, village_id, key):
    with app.app_context():
        duty = award_duty(db.session.get(User, worker_id), village_id, rule_id, key, DAY)
        db.session.commit()
        return duty.id if duty is not None else None


def test_twenty_duties_of_one_worker_at_once_stay_within_the_cap(app, village):
    rule = _duty_rule(village, cap_week=10)
    worker, household = _resident_worker(village)
    db.session.commit()
    worker_id, rule_id, village_id = worker.id, rule.id, village.village.id
    with ThreadPoolExecutor(20) as pool:
        ids = list(pool.map(lambda i: _award(app, worker_id, rule_id, village_id, f"visit:{i % 10}"), range(20)))
    db.session.expire_all()
    assert len({i for i in ids if i is not None}) == 5  # ten keys, each once; the cap stops at 5 × 2 points
    assert db.session.scalar(select(func.sum(DutyRecord.amount))) == 10
    assert_ledger_consistent(household.id)


def test_a_duty_entry_is_not_reversed_on_its_own(village):
    """冲正 of the household's side alone would leave the worker's 履职记录 standing: only reverse_duty undoes it."""
    rule = _duty_rule(village)
    worker, household = _resident_worker(village)
    entry = db.session.get(LedgerEntry, award_duty(worker, village.village.id, rule.id, "visit:1", DAY).entry_id)
    assert not entry.reversible
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    with pytest.raises(DomainError) as refused:
        reverse_by_admin(admin, entry.id, "r-1", "误记")
    assert refused.value.code == "duty_reversed_with_record"


def test_a_duty_spent_already_is_still_taken_back(village):
    """A report found invalid after the worker spent its points: the correction takes the balance below zero."""
    rule = _duty_rule(village, points=5)
    worker, household = _resident_worker(village)
    award_duty(worker, village.village.id, rule.id, "report:9:duty", DAY)
    post_entry(household.id, -5, EntrySource.REDEMPTION, "spent")
    reverse_duty("report:9:duty", None, "诉求不成立")
    assert db.session.scalar(select(func.sum(LedgerEntry.amount)).where(LedgerEntry.household_id == household.id)) \
        == -5
    assert_ledger_consistent(household.id)
