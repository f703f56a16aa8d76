"""The village's numbers for the round and the month, and its checklist: what the admin may set, and what is
refused before it could make a weekly score negative or a sheet unreadable."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from points.errors import DomainError
from points.extensions import db
from points.hygiene import village_settings
from points.hygiene.models import ChecklistItem, HygieneSettings, TiePolicy, UnscoredPolicy
from points.timeutil import local_today

from .. import factories
from .helpers import gen_scene


def refused(code, call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code
    return caught.value


def stored(village) -> HygieneSettings | None:
    db.session.expire_all()
    return db.session.get(HygieneSettings, village.id)


def test_a_village_that_never_changed_its_settings_has_the_defaults():
    scene = gen_scene(grids=1, per_grid=1)
    settings = village_settings.settings_of(scene.village.village.id)
    assert (settings.full_score, settings.model_count, settings.model_points, settings.shame_count,
            settings.flag_points, settings.ties, settings.unscored, settings.penalty_rule_id) == (
        100, 3, 20, 0, 50, TiePolicy.ALL, UnscoredPolicy.SKIP, None)
    assert stored(scene.village.village) is None


def test_the_admin_changes_some_settings_and_keeps_the_rest():
    scene = gen_scene(grids=1, per_grid=1)
    village = scene.village.village
    village_settings.update_settings(scene.admin, village, model_count=5, ties="none", unscored=UnscoredPolicy.CLEAN)
    village_settings.update_settings(scene.admin, village, flag_points=0, model_points=1000)
    settings = stored(village)
    assert (settings.model_count, settings.ties, settings.unscored, settings.flag_points, settings.model_points,
            settings.full_score) == (5, TiePolicy.NONE, UnscoredPolicy.CLEAN, 0, 1000, 100)
    refused("forbidden", village_settings.update_settings, scene.leaders[0], village, model_count=1)


@pytest.mark.parametrize("name, value", [
    ("full_score", 0), ("full_score", 1001), ("model_count", -1), ("model_count", 1001), ("model_points", -5),
    ("shame_count", -1), ("flag_points", 1001), ("model_count", "3"), ("model_count", 2.0), ("model_count", True),
    ("model_points", None),
])
def test_a_setting_out_of_range_is_refused_and_nothing_changes(name, value):
    scene = gen_scene(grids=1, per_grid=1)
    village = scene.village.village
    village_settings.update_settings(scene.admin, village, model_count=4)
    db.session.commit()
    refused("setting_out_of_range", village_settings.update_settings, scene.admin, village, **{name: value})
    db.session.rollback()
    assert stored(village).model_count == 4


def test_the_ends_of_each_range_are_accepted():
    scene = gen_scene(grids=1, per_grid=1)
    village_settings.save_checklist(scene.admin, scene.village.village, [(None, "门前卫生", 1)])
    settings = village_settings.update_settings(scene.admin, scene.village.village, full_score=1, model_count=0,
                                        model_points=0, shame_count=1000, flag_points=1000)
    assert (settings.full_score, settings.model_count, settings.shame_count) == (1, 0, 1000)


def test_the_full_score_never_falls_below_what_the_checklist_can_deduct():
    scene = gen_scene(grids=1, per_grid=1)
    village = scene.village.village
    most = sum(m for _, m in village_settings.DEFAULT_CHECKLIST)  # the unsaved default checklist counts too
    error = refused("full_score_too_low", village_settings.update_settings, scene.admin, village, full_score=most - 1)
    assert error.params == {"full": most - 1, "most": most}
    assert village_settings.update_settings(scene.admin, village, full_score=most).full_score == most
    refused("full_score_too_low", village_settings.save_checklist, scene.admin, village,
            [(None, "门前卫生", most), (None, "庭院整洁", 1)])
    village_settings.save_checklist(scene.admin, village, [(None, "门前卫生", most - 1), (None, "庭院整洁", 1)])


def test_the_penalty_rule_is_a_penalty_of_the_village_in_force():
    scene = gen_scene(grids=1, per_grid=1)
    village = scene.village.village
    penalty = factories.gen_rule(village, "乱堆乱放", -5)
    award = factories.gen_rule(village, "庭院整洁", 5)
    foreign = factories.gen_rule(factories.gen_village(1).village, "乱堆乱放", -5)
    later = factories.gen_rule(village, "乱倒垃圾", -5, effective_from=local_today() + timedelta(days=1))
    for rule_id in (award.id, foreign.id, later.id, 10**9, "1", True):
        refused("penalty_rule_invalid", village_settings.update_settings, scene.admin, village, penalty_rule_id=rule_id)
    assert village_settings.update_settings(
        scene.admin, village, penalty_rule_id=penalty.id).penalty_rule_id == penalty.id
    assert village_settings.update_settings(scene.admin, village, penalty_rule_id=None).penalty_rule_id is None


# ---------------------------------------------------------------------------------------------------- checklist


def test_the_checklist_is_replaced_in_order_and_items_left_out_are_retired():
    scene = gen_scene(grids=1, per_grid=1)
    village = scene.village.village
    first = village_settings.save_checklist(scene.admin, village, [(None, "门前卫生", 5), (None, "庭院整洁", 10)])
    kept, dropped = first
    after = village_settings.save_checklist(scene.admin, village, [(None, " 禽畜圈养 ", 3), (kept.id, "庭院干净", 8)])
    assert [(i.name, i.max_deduction) for i in after] == [("禽畜圈养", 3), ("庭院干净", 8)]
    assert after[1].id == kept.id  # renamed, not replaced: old sheets follow the new name
    retired = db.session.get(ChecklistItem, dropped.id)
    assert retired.name == "庭院整洁" and not retired.active
    assert {i.id for i in village_settings.checklist(village.id, with_retired=True)} == {
        kept.id, dropped.id, after[0].id}
    # A retired item may come back under its id.
    again = village_settings.save_checklist(scene.admin, village, [(dropped.id, "庭院整洁", 5)])
    assert [i.id for i in again] == [dropped.id]


@pytest.mark.parametrize("lines, code", [
    ([], "checklist_empty"),
    ([(None, f"项目{i}", 1) for i in range(village_settings.MAX_ITEMS + 1)], "checklist_too_long"),
    ([(None, "门前卫生", 5), (None, "门前卫生", 5)], "item_name_taken"),
    ([(None, "门前卫生", 5), (None, " 门前卫生", 5)], "item_name_taken"),
    ([(None, "", 5)], "item_name_invalid"),
    ([(None, "   ", 5)], "item_name_invalid"),
    ([(None, None, 5)], "item_name_invalid"),
    ([(None, "长" * 31, 5)], "item_name_invalid"),
    ([(None, "门前卫生", 0)], "max_deduction_invalid"),
    ([(None, "门前卫生", village_settings.MAX_DEDUCTION + 1)], "max_deduction_invalid"),
    ([(None, "门前卫生", -5)], "max_deduction_invalid"),
    ([(None, "门前卫生", "5")], "max_deduction_invalid"),
    ([(None, "门前卫生", True)], "max_deduction_invalid"),
])
def test_a_checklist_that_cannot_be_is_refused(lines, code):
    scene = gen_scene(grids=1, per_grid=1)
    village = scene.village.village
    village_settings.ensure_checklist(village.id)
    db.session.commit()
    refused(code, village_settings.save_checklist, scene.admin, village, lines)
    db.session.rollback()
    assert [i.name for i in village_settings.checklist(village.id)] == [
        n for n, _ in village_settings.DEFAULT_CHECKLIST]


def test_the_longest_checklist_with_the_longest_names_and_deductions_is_saved():
    scene = gen_scene(grids=1, per_grid=1)
    village = scene.village.village
    village_settings.update_settings(scene.admin, village, full_score=1000)
    lines = [(None, f"{i:02d}" + "长" * 28, village_settings.MAX_DEDUCTION) for i in range(village_settings.MAX_ITEMS)]
    assert len(village_settings.save_checklist(scene.admin, village, lines)) == village_settings.MAX_ITEMS
    refused("forbidden", village_settings.save_checklist, scene.leaders[0], village, lines[:1])
    assert db.session.scalar(select(ChecklistItem.name).where(ChecklistItem.position == 0)) == lines[0][1]


def test_the_shame_list_states_a_most_no_smaller_than_its_count():
    scene = gen_scene(grids=1, per_grid=1)
    village = scene.village.village
    village_settings.update_settings(scene.admin, village, shame_count=2, shame_max=4, shame_ties="none")
    settings = stored(village)
    assert (settings.shame_count, settings.shame_max, settings.shame_ties) == (2, 4, TiePolicy.NONE)
    error = refused("shame_max_below_count", village_settings.update_settings, scene.admin, village, shame_max=1)
    assert error.message == "晾晒最多列出的户数不能少于晾晒户数（2 户）"
    village_settings.update_settings(scene.admin, village, shame_count=6)  # the most follows a count raised past it
    assert stored(village).shame_max == 6
