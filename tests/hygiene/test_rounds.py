"""Weeks and months as the village writes them, the round of a week, the rotating cross-inspection and the
village admin's override of it."""
from datetime import date, timedelta

import pytest

from points.auth.models import Role
from points.errors import DomainError
from points.extensions import db
from points.grids.models import NodeKind
from points.grids.services import create_node
from points.hygiene import inspection, publishing, village_settings
from points.periods import month_of_week, parse_month, parse_week, week_of
from points.timeutil import local_today

from .. import factories
from .helpers import gen_scene, week_ago


def refused(code, call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code
    return caught.value


# ---------------------------------------------------------------------------------------------------- weeks


def test_a_week_is_read_as_its_monday():
    assert parse_week("2026-W47") == date(2026, 11, 16)
    assert parse_week("2026-w47") == date(2026, 11, 16)
    assert parse_week("2026-W01") == date(2025, 12, 29)  # ISO week 1 starts in the year before
    assert parse_week("2026-W53") == date(2026, 12, 28)  # 2026 has 53 ISO weeks


@pytest.mark.parametrize("text", [
    "2026-W99", "2026-W00", "2026-W54", "2025-W53", "2026-W1", "2026-W047", "2026-47", "2026W47", "W47", "",
    "abcd-W10", "1999-W10", "2101-W01", None, 202647,
])
def test_a_week_that_is_not_one_is_refused(text):
    refused("invalid_week", parse_week, text)


def test_a_week_belongs_to_the_month_and_year_of_its_thursday():
    assert week_of(date(2026, 12, 31)) == "2026-W53"
    assert week_of(date(2027, 1, 3)) == "2026-W53"
    assert week_of(date(2027, 1, 4)) == "2027-W01"
    assert month_of_week(parse_week("2026-W49")) == "2026-12"  # Monday 30 November
    assert month_of_week(parse_week("2026-W44")) == "2026-10"  # Sunday 1 November
    assert month_of_week(parse_week("2026-W53")) == "2026-12"
    assert month_of_week(parse_week("2026-W01")) == "2026-01"  # Monday 29 December 2025


def test_a_month_is_read_as_its_first_and_last_day():
    assert parse_month("2026-11") == (date(2026, 11, 1), date(2026, 11, 30))
    assert parse_month("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    assert parse_month("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
    assert parse_month("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))
    for text in ("2026-13", "2026-00", "2026-1", "26-11", "2026/11", "2026-11-01", "", None, "1999-12", "2101-01"):
        refused("invalid_month", parse_month, text)


# ---------------------------------------------------------------------------------------------------- rounds


def test_the_round_of_a_week_is_made_once_with_that_weeks_rotation():
    scene = gen_scene(grids=4, per_grid=1)
    village = scene.village.village
    assert inspection.round_for(village, week_ago(1), create=False) is None
    round_ = inspection.round_for(village, week_ago(1))
    assert round_.week == week_ago(1)
    assert round_.month == month_of_week(round_.monday)
    assert inspection.round_for(village, week_ago(1).lower()).id == round_.id
    assert inspection.round_for(village, week_ago(1), create=False).id == round_.id
    grids = [g.id for g in scene.village.grids]
    assert {a.grid_id: a.inspector_grid_id for a in round_.assignments} == inspection.rotation(grids, round_.monday)
    assert [c.name for c in village_settings.checklist(village.id)] == [
        name for name, _ in village_settings.DEFAULT_CHECKLIST]
    assert all(c.id is not None for c in village_settings.checklist(village.id))  # saved with the first round


def test_a_round_is_refused_for_a_week_to_come_a_week_that_is_not_one_and_a_grid():
    scene = gen_scene(grids=2, per_grid=1)
    village = scene.village.village
    refused("week_in_future", inspection.round_for, village, week_of(local_today() + timedelta(weeks=1)))
    refused("invalid_week", inspection.round_for, village, "2026-W99")
    refused("not_a_village", inspection.round_for, scene.village.grids[0], week_ago(0))
    assert inspection.round_for(village, week_of(local_today())) is not None  # this week is open


def test_only_grids_that_hold_households_are_inspected():
    scene = gen_scene(grids=3, per_grid=2)
    create_node("第4网格", scene.village.village.code + "-4", NodeKind.GRID, scene.village.village)  # no households
    db.session.commit()
    round_ = scene.round()
    assert sorted(a.grid_id for a in round_.assignments) == sorted(g.id for g in scene.village.grids)


# ---------------------------------------------------------------------------------------------------- rotation


@pytest.mark.parametrize("n", range(2, 11))
def test_the_rotation_never_sends_a_grid_to_itself_and_changes_every_week(n):
    grids = [100 + 7 * i for i in range(n)]  # ids need not be consecutive
    monday = date(2026, 1, 5)
    previous = None
    for week in range(3 * n + 10):
        this = inspection.rotation(grids, monday + timedelta(weeks=week))
        assert sorted(this) == grids  # every grid inspected, once
        assert sorted(this.values()) == grids  # every grid inspects, once
        assert all(inspected != inspector for inspected, inspector in this.items())
        if previous is not None:
            if n > 2:
                assert all(this[g] != previous[g] for g in grids)
            else:
                assert this == previous
        previous = this


@pytest.mark.parametrize("n", range(3, 11))
def test_over_n_minus_1_weeks_each_grid_inspects_every_other_once(n):
    grids = list(range(1, n + 1))
    monday = date(2026, 3, 2)
    for start in (0, 5):
        pairs = [(inspector, inspected) for week in range(start, start + n - 1)
                 for inspected, inspector in inspection.rotation(grids, monday + timedelta(weeks=week)).items()]
        assert sorted(pairs) == sorted((a, b) for a in grids for b in grids if a != b)


def test_two_grids_inspect_each_other_every_week():
    for week in range(10):
        assert inspection.rotation([3, 8], date(2026, 1, 5) + timedelta(weeks=week)) == {3: 8, 8: 3}


def test_a_lone_grid_is_inspected_by_the_village_committee_and_only_the_admin_scores_it():
    scene = gen_scene(grids=1, per_grid=2)
    assert inspection.rotation([5], date(2026, 1, 5)) == {5: None}
    assert inspection.rotation([], date(2026, 1, 5)) == {}
    round_ = scene.round()
    assert [(a.grid_id, a.inspector_grid_id) for a in round_.assignments] == [(scene.village.grids[0].id, None)]
    worker = factories.gen_user(Role.GRID_WORKER, scene.village.grids[0])
    household = scene.households[0][0]
    for user in (scene.leaders[0], worker):
        error = refused("not_inspector", inspection.save_score, user, round_, household.id, {})
        assert "由村两委检查" in error.message
        refused("forbidden", publishing.publish_round, user, round_, scene.village.grids[0].id)
    assert inspection.save_score(scene.admin, round_, household.id, {}).deductions == 0


# ---------------------------------------------------------------------------------------------------- override


def test_reassign_overrides_the_rotation_and_scoring_follows_it():
    scene = gen_scene(grids=3, per_grid=1)
    round_ = scene.round()
    a, b, c = (g.id for g in scene.village.grids)
    current = {x.grid_id: x.inspector_grid_id for x in round_.assignments}
    # Grid c's inspector and another swap what they inspect: every grid still inspected by one other grid.
    swapped = {a: b, b: c, c: a} if current[a] == c else {a: c, c: b, b: a}
    inspection.reassign(scene.admin, round_, swapped)
    db.session.expire_all()
    assert {x.grid_id: x.inspector_grid_id for x in round_.assignments} == swapped
    household = scene.households[0][0]
    new_leader, old_leader = scene.leaders[[a, b, c].index(swapped[a])], scene.leaders[[a, b, c].index(current[a])]
    refused("not_your_grid", inspection.save_score, old_leader, round_, household.id, {})
    assert inspection.save_score(new_leader, round_, household.id, {}).scored_by_id == new_leader.id


def test_reassign_refuses_a_grid_inspecting_itself_or_two_grids():
    scene = gen_scene(grids=3, per_grid=1)
    round_ = scene.round()
    a, b, c = (g.id for g in scene.village.grids)
    before = {x.grid_id: x.inspector_grid_id for x in round_.assignments}
    refused("inspects_itself", inspection.reassign, scene.admin, round_, {a: a})
    refused("inspector_twice", inspection.reassign, scene.admin, round_, {a: c, b: c})
    # One change alone leaves the grid's old inspectee with the same inspector: c would inspect two.
    other = next(g for g in (b, c) if g != before[a])
    refused("inspector_twice", inspection.reassign, scene.admin, round_, {a: other})
    assert {x.grid_id: x.inspector_grid_id for x in round_.assignments} == before


def test_reassign_stays_inside_the_round_and_the_village_and_is_for_the_admin():
    scene = gen_scene(grids=3, per_grid=1)
    round_ = scene.round()
    a, b, _ = (g.id for g in scene.village.grids)
    elsewhere = factories.gen_village(2)
    db.session.commit()
    refused("assignment_invalid", inspection.reassign, scene.admin, round_, {elsewhere.grids[0].id: a})
    refused("assignment_invalid", inspection.reassign, scene.admin, round_, {a: elsewhere.grids[0].id})
    refused("assignment_invalid", inspection.reassign, scene.admin, round_, {a: scene.village.village.id})
    refused("forbidden", inspection.reassign, scene.leaders[0], round_, {a: b, b: a})
    # The village committee may take a grid over: only the admin scores it then.
    inspection.reassign(scene.admin, round_, {a: None})
    assert inspection.assignment_of(round_, a).inspector_grid_id is None
    for leader in scene.leaders:  # told the grid they inspect instead, or that they inspect none
        error = pytest.raises(DomainError, inspection.save_score, leader, round_, scene.households[0][0].id, {}).value
        assert error.code in ("not_your_grid", "not_inspector") and error.status == 403
