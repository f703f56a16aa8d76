"""The 履职 ranking of staff: DutyRecord summed per worker over a month, in a village or every village of a town; a
worker who is not a resident ranked like one who is (whose points are in their household too)."""
from datetime import date, timedelta

from sqlalchemy import select

from points.auth import services as auth_services
from points.auth.models import Role
from points.extensions import db
from points.leaderboards.duty import duty_ranking
from points.ledger.duty import award_duty, reverse_duty
from points.ledger.queries import balance_of
from points.rules.models import Rule, RuleCategory
from points.visits import services

from .. import factories
from ..visits.helpers import DAY, build, log

JUNE = (date(2026, 6, 1), date(2026, 6, 30))


def test_a_non_resident_worker_is_ranked_like_a_resident(village):
    world = build(village, cap_week=None)
    for household in (world.plain, world.elder, world.poor):
        log(world.worker, household, DAY - timedelta(days=1))
    log(world.worker_at_home, world.plain, DAY)
    log(world.other_worker, world.across, DAY)
    log(world.other_worker, world.across, DAY - timedelta(days=1))
    db.session.commit()
    rows = duty_ranking_of(village.village.id)
    assert [(r.rank, r.worker_id, r.points, r.visits) for r in rows] == [
        (1, world.worker.id, 6, 3), (2, world.other_worker.id, 4, 2), (3, world.worker_at_home.id, 2, 1)]
    assert rows[0].name == world.worker.display_name
    assert balance_of(world.home.id) == 2  # the resident worker's points are in their household too


def duty_ranking_of(node_id, start=JUNE[0], end=JUNE[1]):
    return duty_ranking(node_id, start, end)


def test_the_month_bounds_reversals_and_ties(village):
    world = build(village, cap_week=None)
    log(world.worker, world.plain, date(2026, 5, 31), today=date(2026, 6, 1))
    log(world.worker, world.elder, DAY)
    log(world.other_worker, world.across, DAY)
    db.session.commit()
    rows = duty_ranking_of(village.village.id)
    assert [(r.rank, r.points, r.visits) for r in rows] == [(1, 2, 1), (1, 2, 1)]
    rule = factories.gen_rule(village.village, "诉求办结", 3, RuleCategory.GRID_DUTY)
    award_duty(world.other_worker, village.village.id, rule.id, "report:1", DAY)
    reverse_duty("report:1", world.admin, "诉求无效")
    award_duty(world.worker, village.village.id, rule.id, "report:2", DAY)
    db.session.commit()
    rows = duty_ranking_of(village.village.id)
    assert [(r.worker_id, r.points) for r in rows] == [(world.worker.id, 5), (world.other_worker.id, 2)]


def test_a_town_ranks_the_workers_of_every_village_and_no_other(villages):
    village, neighbour, elsewhere = villages
    world = build(village, cap_week=None)
    across_town = factories.gen_household(neighbour.grids[0], "邻村户")
    far = factories.gen_household(elsewhere.grids[0], "外镇户")
    visiting = factories.gen_user(Role.GRID_WORKER, neighbour.grids[0])
    outsider = factories.gen_user(Role.GRID_WORKER, elsewhere.grids[0])
    auth_services.assign_role(None, world.worker, Role.GRID_WORKER, neighbour.grids[0])
    for v in (neighbour, elsewhere):
        factories.gen_rule(v.village, "走访", 2, RuleCategory.GRID_DUTY, code="GRID-VISIT")
    for v in (neighbour, elsewhere):
        rule_id = db.session.scalar(select(Rule.id).where(Rule.village_id == v.village.id, Rule.code == "GRID-VISIT"))
        services.save_settings(factories.gen_user(Role.VILLAGE_ADMIN, v.village), v.village.id, rule_id, 30, {},
                               today=DAY)
    log(world.worker, world.plain, DAY)
    log(world.worker, across_town, DAY)
    log(visiting, across_town, DAY)
    log(outsider, far, DAY)
    db.session.commit()
    town = duty_ranking_of(village.town.id)
    assert [(r.worker_id, r.points, r.visits) for r in town] == [(world.worker.id, 4, 2), (visiting.id, 2, 1)]
    assert {r.worker_id for r in duty_ranking_of(neighbour.village.id)} == {world.worker.id, visiting.id}
    assert [r.worker_id for r in duty_ranking_of(elsewhere.village.id)] == [outsider.id]
    assert duty_ranking_of(village.grids[0].id) == []  # a grid holds no village


def test_a_household_visited_twice_a_day_is_one_visit_in_the_ranking(village):
    world = build(village, cap_week=None)
    log(world.worker, world.plain, DAY)
    log(world.worker, world.plain, DAY)  # a repeat: logged, no points, not a second visit in the ranking
    log(world.worker, world.plain, DAY - timedelta(days=1))
    log(world.worker_at_home, world.plain, DAY)  # another worker's visit is theirs
    db.session.commit()
    rows = duty_ranking_of(village.village.id)
    assert [(r.worker_id, r.points, r.visits) for r in rows] == [
        (world.worker.id, 4, 2), (world.worker_at_home.id, 2, 1)]
