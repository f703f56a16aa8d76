"""Who is due a visit: the strictest cadence of a household's care tags and the 敲门 round, from its last visit or
from when it (or the cadence) started; overdue and due within 7 days; care-tagged households first; few queries."""
from datetime import date, timedelta

import pytest

from points.extensions import db
from points.people.models import CareTag, Closure, Household
from points.people.services import close_household
from points.visits import queries, services

from .. import factories
from .helpers import CREATED, DAY, build, log


@pytest.fixture
def world(village):
    return build(village)


def _numbers(rows) -> list[str]:
    return [r.household.number for r in rows]


def test_never_visited_households_are_counted_from_the_start(world):
    due = queries.worker_due_list(world.worker, DAY)
    assert due.soon == []
    by_id = {r.household.id: r for r in due.overdue}
    assert set(by_id) == {world.plain.id, world.elder.id, world.poor.id, world.home.id}  # not grid 2's
    elder, poor, plain = by_id[world.elder.id], by_id[world.poor.id], by_id[world.plain.id]
    assert (elder.due_on, elder.because, elder.last_visit) == (date(2026, 4, 15), CareTag.EMPTY_NEST, None)
    assert (poor.due_on, poor.because) == (date(2026, 5, 1), CareTag.LOW_INCOME)  # 残疾 has no cadence here
    assert (plain.due_on, plain.because) == (date(2026, 5, 1), None)  # the 敲门 round
    assert plain.overdue_days == (DAY - date(2026, 5, 1)).days
    # care-tagged first, then by due day and number
    assert _numbers(due.overdue)[:2] == [world.elder.number, world.poor.number]


def test_a_visit_moves_the_due_day(world):
    log(world.worker, world.elder, DAY - timedelta(days=10))  # 14 days: due in 4 days
    log(world.worker, world.plain, DAY - timedelta(days=1))  # 30 days: due in 29 days
    log(world.worker, world.poor, DAY - timedelta(days=24))  # 30 days: due in 6 days
    db.session.commit()
    due = queries.worker_due_list(world.worker, DAY)
    assert _numbers(due.soon) == [world.elder.number, world.poor.number]
    assert due.soon[0].due_on == DAY + timedelta(days=4) and due.soon[0].last_visit == DAY - timedelta(days=10)
    assert _numbers(due.overdue) == [world.home.number]
    later = queries.worker_due_list(world.worker, DAY + timedelta(days=5))
    assert _numbers(later.overdue) == [world.elder.number, world.home.number]


def test_due_today_is_due_soon_not_overdue(world):
    log(world.worker, world.elder, DAY - timedelta(days=14))
    row = next(r for r in queries.worker_due_list(world.worker, DAY).soon if r.household.id == world.elder.id)
    assert row.due_on == DAY and not row.overdue


def test_a_cadence_set_later_counts_from_its_day(world):
    disabled = factories.gen_household(world.grid, "孙残", care_tags=[CareTag.DISABLED])
    disabled.created_at = CREATED
    services.save_settings(world.admin, world.village.village.id, world.rule.id, 0,
                           {CareTag.EMPTY_NEST: 14, CareTag.LOW_INCOME: 30, CareTag.DISABLED: 7}, today=DAY)
    db.session.commit()
    due = queries.worker_due_list(world.worker, DAY)
    row = next(r for r in due.soon if r.household.id == disabled.id)
    assert (row.due_on, row.because) == (DAY + timedelta(days=7), CareTag.DISABLED)
    poor = next(r for r in due.overdue if r.household.id == world.poor.id)  # its 低保 cadence came first
    assert (poor.due_on, poor.because) == (date(2026, 5, 1), CareTag.LOW_INCOME)
    # knock_days 0: households without a care tag are never due
    assert world.plain.id not in {r.household.id for r in due.overdue + due.soon}


def test_closed_households_are_not_due(world):
    close_household(world.plain, Closure.MOVED_OUT, DAY - timedelta(days=3))
    db.session.commit()
    due = queries.worker_due_list(world.worker, DAY)
    assert world.plain.id not in {r.household.id for r in due.overdue + due.soon}


def test_without_settings_the_round_is_thirty_days_from_the_household(village):
    world = build(village, settings=False)
    rows = queries.due_households(Household.grid_id == world.grid.id, DAY)
    assert {r.due_on for r in rows} == {CREATED.date() + timedelta(days=30)}


def test_admins_see_the_whole_village_and_villagers_nothing(world):
    admin = queries.worker_due_list(world.admin, DAY)
    assert world.across.id in {r.household.id for r in admin.overdue}
    empty = queries.worker_due_list(world.villager, DAY)
    assert empty.overdue == [] and empty.soon == []


def test_the_due_list_takes_the_same_queries_for_many_households(world, statements):
    def count() -> int:
        db.session.expire_all()
        statements.clear()
        queries.worker_due_list(world.worker, DAY)
        return len(statements)

    few = count()
    for n in range(30):
        household = factories.gen_household(world.grid, f"新户{n}", care_tags=[CareTag.EMPTY_NEST] if n % 2 else [])
        log(world.worker, household, DAY - timedelta(days=n % 20))
    db.session.commit()
    assert count() == few


def test_a_workers_own_household_is_left_to_colleagues(world):
    mine = queries.worker_due_list(world.worker_at_home, DAY)
    assert world.home.id not in {r.household.id for r in mine.overdue + mine.soon}
    theirs = queries.worker_due_list(world.worker, DAY)
    assert world.home.id in {r.household.id for r in theirs.overdue}
