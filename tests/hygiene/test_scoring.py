"""Score sheets: who may save one in a round (交叉检查 grants it for that round only), what a sheet may hold, and
a sheet saved over only by someone who saw the last save."""
import pytest
from sqlalchemy import func, select

from points.auth.models import Role
from points.auth.services import assign_role, create_user
from points.errors import DomainError
from points.extensions import db
from points.grids.models import NodeKind
from points.grids.services import create_node
from points.hygiene import inspection, monthly, publishing, queries, village_settings
from points.hygiene.models import Deduction, Score
from points.periods import month_label, week_label, week_of
from points.timeutil import local_today

from .. import factories
from .helpers import gen_scene, last_month, week_ago, weeks_of_month


def refused(code, call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code
    return caught.value


def grid_index(scene, grid_id) -> int:
    return [g.id for g in scene.village.grids].index(grid_id)


def inspected_by(scene, round_, inspector_index) -> int:
    """The index of the grid that grid inspector_index inspects in round_."""
    return next(grid_index(scene, a.grid_id) for a in round_.assignments
                if a.inspector_grid_id == scene.village.grids[inspector_index].id)


# ---------------------------------------------------------------------------------------------------- who scores


def test_the_inspecting_grids_leader_scores_the_assigned_grid_in_that_round_only():
    scene = gen_scene(grids=3, per_grid=2)
    this, last = scene.round(week_of(local_today())), scene.round(week_ago(1))
    leader = scene.leaders[0]
    target = inspected_by(scene, this, 0)
    assert inspected_by(scene, last, 0) != target  # three grids: the pairing changes every week
    household = scene.households[target][0]
    score = inspection.save_score(leader, this, household.id, {})
    assert (score.scored_by_id, score.grid_id) == (leader.id, scene.village.grids[target].id)
    error = refused("not_your_grid", inspection.save_score, leader, last, household.id, {})
    mine = scene.village.grids[inspected_by(scene, last, 0)].name
    assert error.status == 403 and error.message.endswith(f"你负责检查{mine}，不是{scene.village.grids[target].name}")
    # Every other grid of this round is out of reach too, its own above all.
    for other in range(3):
        if other != target:
            refused("not_your_grid", inspection.save_score, leader, this, scene.households[other][0].id, {})
    # Once the admin gives last week this week's pairing, that round opens to the leader as well.
    inspection.reassign(scene.admin, last, {a.grid_id: a.inspector_grid_id for a in this.assignments})
    assert inspection.save_score(leader, last, household.id, {}).round_id == last.id


def test_a_grid_worker_of_the_inspecting_grid_scores_and_the_inspected_grids_own_staff_do_not():
    scene = gen_scene(grids=3, per_grid=2)
    round_ = scene.round()
    target = inspected_by(scene, round_, 0)
    worker = factories.gen_user(Role.GRID_WORKER, scene.village.grids[0])
    own_worker = factories.gen_user(Role.GRID_WORKER, scene.village.grids[target])
    household = scene.households[target][1]
    assert inspection.save_score(worker, round_, household.id, {}).scored_by_id == worker.id
    refused("not_your_grid", inspection.save_score, scene.leaders[target], round_, household.id, {})
    refused("not_your_grid", inspection.save_score, own_worker, round_, household.id, {})
    # Nor anyone without a role here: a clerk, a villager, another village's admin.
    clerk = factories.gen_user(Role.SHOP_CLERK, scene.village.village)
    villager = factories.gen_villager(scene.households[0][0])
    stranger = factories.gen_user(Role.VILLAGE_ADMIN, factories.gen_village(1).village)
    for user in (clerk, villager, stranger):
        error = refused("not_inspector", inspection.save_score, user, round_, household.id, {})
        assert "只有检查的网格长、网格员和村管理员可以评分" in error.message
    assert inspection.may_score(worker, round_, scene.village.grids[target].id)
    assert not inspection.may_score(scene.leaders[target], round_, scene.village.grids[target].id)


def test_the_village_admin_scores_any_grid_in_any_round_even_after_the_month_is_published():
    scene = gen_scene(grids=3, per_grid=1)
    round_ = scene.round(weeks_of_month(last_month())[0])  # a month over, with nothing to publish first
    monthly.publish_month(scene.admin, scene.village.village, round_.month)
    for grid in scene.households:
        assert inspection.save_score(scene.admin, round_, grid[0].id, {}).revision == 1
    older = scene.round(week_ago(2))
    assert inspection.save_score(scene.admin, older, scene.households[0][0].id, {}).round_id == older.id


def test_inspectors_score_until_their_grids_week_is_published_and_are_told_why_after():
    scene = gen_scene(grids=3, per_grid=2)
    village, month = scene.village.village, last_month()
    round_ = scene.round(weeks_of_month(month)[0])
    target = inspected_by(scene, round_, 0)
    grid = scene.village.grids[target]
    household = scene.households[target][0]
    inspection.save_score(scene.leaders[0], round_, household.id, {})
    # The month waits for the week, and the inspectors keep scoring it meanwhile.
    refused("month_weeks_unpublished", monthly.publish_month, scene.admin, village, month)
    inspection.save_score(scene.leaders[0], round_, scene.households[target][1].id, {})
    publishing.publish_round(scene.leaders[0], round_, grid.id)
    error = refused("round_published", inspection.save_score, scene.leaders[0], round_, household.id, {}, revision=1)
    assert error.status == 409 and error.message.startswith(f"{week_label(round_.monday)}{grid.name}的评分已发布")
    assert not inspection.may_score(scene.leaders[0], round_, grid.id)
    monthly.publish_month(scene.admin, village, month)
    error = refused("month_closed", inspection.save_score, scene.leaders[0], round_, household.id, {}, revision=1)
    assert error.status == 409 and error.message.startswith(f"{month_label(month)}汇总已发布，本周评分已锁定")
    # Someone who never could score the grid is told which one is theirs, not that the month is closed.
    refused("not_your_grid", inspection.save_score, scene.leaders[target], round_, household.id, {})


def test_nobody_scores_their_own_household():
    scene = gen_scene(grids=3, per_grid=2)
    round_ = scene.round()
    target = inspected_by(scene, round_, 0)
    home = scene.households[target][0]
    # A villager of the inspected grid who is also a leader of the inspecting one.
    leader = create_user(factories.unique("leader"), factories.PASSWORD, resident=home.head)
    assign_role(None, leader, Role.GRID_LEADER, scene.village.grids[0])
    # A village admin living in the third grid (which grid grid 0 inspects rotates with the week).
    admins_home = scene.households[3 - target][0]
    admin = create_user(factories.unique("admin"), factories.PASSWORD, resident=admins_home.head)
    assign_role(None, admin, Role.VILLAGE_ADMIN, scene.village.village)
    error = refused("own_household", inspection.save_score, leader, round_, home.id, {})
    assert error.status == 403
    refused("own_household", inspection.save_score, admin, round_, admins_home.id, {})
    assert inspection.save_score(leader, round_, scene.households[target][1].id, {}).scored_by_id == leader.id
    assert db.session.scalar(select(func.count()).select_from(Score)) == 1


def test_a_household_of_another_village_or_of_a_grid_outside_the_round_is_not_found():
    scene = gen_scene(grids=2, per_grid=1)
    round_ = scene.round()
    elsewhere = factories.gen_household(factories.gen_village(1).grids[0])
    refused("not_found", inspection.save_score, scene.admin, round_, elsewhere.id, {})
    refused("not_found", inspection.save_score, scene.admin, round_, 10**9, {})
    refused("not_found", inspection.save_score, scene.admin, round_, "1", {})
    new_grid = create_node("新网格", scene.village.village.code + "-9", NodeKind.GRID, scene.village.village)
    newcomer = factories.gen_household(new_grid)  # the grid got households after the round was made
    error = refused("grid_not_in_round", inspection.save_score, scene.admin, round_, newcomer.id, {})
    assert error.status == 404


# ---------------------------------------------------------------------------------------------------- the sheet


def test_a_sheet_holds_each_items_deduction_and_their_sum():
    scene = gen_scene(grids=2, per_grid=1)
    round_ = scene.round()
    items = village_settings.checklist(scene.village.village.id)
    household = scene.households[0][0]
    score = inspection.save_score(scene.admin, round_, household.id,
                                {items[0].id: 5, items[1].id: 0, items[3].id: 2}, note="  门前有杂物  ")
    assert (score.deductions, score.note, score.revision) == (7, "门前有杂物", 1)
    assert [(d.item_id, d.points) for d in score.items] == [(items[0].id, 5), (items[3].id, 2)]
    again = inspection.save_score(scene.admin, round_, household.id, {items[2].id: 1}, revision=1)
    assert (again.id, again.deductions, again.revision) == (score.id, 1, 2)
    assert [(d.item_id, d.points) for d in again.items] == [(items[2].id, 1)]
    assert db.session.scalar(select(func.count()).select_from(Deduction)) == 1


def test_a_sheet_is_not_saved_over_by_someone_who_did_not_see_the_last_save():
    scene = gen_scene(grids=2, per_grid=1)
    round_ = scene.round()
    item = village_settings.checklist(scene.village.village.id)[0]
    household = scene.households[0][0]
    inspection.save_score(scene.admin, round_, household.id, {item.id: 1}, revision=0)
    error = refused("score_changed", inspection.save_score, scene.admin, round_, household.id, {item.id: 2}, revision=0)
    assert error.status == 409
    inspection.save_score(scene.admin, round_, household.id, {item.id: 3}, revision=1)
    refused("score_changed", inspection.save_score, scene.admin, round_, household.id, {item.id: 4}, revision=1)
    other = scene.households[1][0]
    refused("score_changed", inspection.save_score, scene.admin, round_, other.id, {}, revision=1)  # none saved yet
    assert inspection.save_score(scene.admin, round_, household.id, {item.id: 5}).revision == 3  # None: the last wins
    db.session.expire_all()
    assert db.session.scalar(select(Score.deductions).where(Score.household_id == household.id)) == 5


def test_a_sheet_keeps_its_photo_until_another_is_given():
    scene = gen_scene(grids=2, per_grid=1)
    round_ = scene.round()
    household = scene.households[0][0]
    assert inspection.save_score(scene.admin, round_, household.id, {}, photo="a.jpg").photo == "a.jpg"
    assert inspection.save_score(scene.admin, round_, household.id, {}).photo == "a.jpg"
    assert inspection.save_score(scene.admin, round_, household.id, {}, photo="b.jpg").photo == "b.jpg"


def test_a_sheet_names_only_items_of_the_checklist_within_their_maximum():
    scene = gen_scene(grids=2, per_grid=1)
    round_ = scene.round()
    items = village_settings.checklist(scene.village.village.id)
    household = scene.households[0][0]
    other_village = gen_scene(grids=1, per_grid=1)
    other_village.round()
    foreign = village_settings.checklist(other_village.village.village.id)[0]
    for deductions in ({10**6: 1}, {foreign.id: 1}, {"1": 1}, {None: 1}):
        refused("unknown_item", inspection.save_score, scene.admin, round_, household.id, deductions)
    for points in (-1, items[0].max_deduction + 1, True, "2", 1.5, None):
        error = refused("deduction_out_of_range", inspection.save_score, scene.admin, round_, household.id,
                        {items[0].id: points})
        assert error.params == {"item": items[0].name, "most": items[0].max_deduction}
    refused("note_too_long", inspection.save_score, scene.admin, round_, household.id, {}, note="脏" * 201)
    assert db.session.scalar(select(func.count()).select_from(Score)) == 0
    full = inspection.save_score(scene.admin, round_, household.id, {i.id: i.max_deduction for i in items},
                               note="脏" * 200)
    assert full.deductions == sum(i.max_deduction for i in items) and len(full.note) == 200


def test_a_retired_item_is_refused_on_new_sheets_and_still_named_on_old_ones():
    scene = gen_scene(grids=2, per_grid=2)
    round_ = scene.round()
    items = village_settings.checklist(scene.village.village.id)
    household = scene.households[0][0]
    inspection.save_score(scene.admin, round_, household.id, {items[0].id: 3, items[1].id: 1})
    village_settings.save_checklist(scene.admin, scene.village.village,
                                    [(i.id, i.name, i.max_deduction) for i in items[1:]])
    assert items[0].id not in [i.id for i in village_settings.checklist(scene.village.village.id)]
    refused("unknown_item", inspection.save_score, scene.admin, round_, scene.households[0][1].id, {items[0].id: 1})
    publishing.publish_round(scene.admin, round_)
    week = {line.household_id: line.items for grid in queries.week_results(round_) for line in grid.lines}
    assert sorted(week[household.id]) == sorted([(items[0].name, 3), (items[1].name, 1)])
    history = queries.household_history(household.id)
    assert sorted(history[0].items) == sorted([(items[0].name, 3), (items[1].name, 1)])
