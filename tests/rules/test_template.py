"""The town's template: a rule book, hygiene checklist and settings kept on the town, copied into each new village,
which then adapts its own; the village's rule book page shows where it differs."""
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from points.auth.models import Role
from points.auth.tree import add_node
from points.extensions import db
from points.grids.models import NodeKind
from points.grids.services import create_node
from points.hygiene import village_settings
from points.hygiene.models import HygieneSettings
from points.rules.models import Rule, RuleCategory
from points.rules.queries import compare_with_template, rule_book
from points.rules.services import RuleTerms, create_rule, revise_rule
from points.timeutil import local_today

from .. import factories

MEETING = RuleTerms("参加村民会议", RuleCategory.VILLAGE_RULES, 2, roles=frozenset({Role.GRID_WORKER}))
PILE = RuleTerms("乱堆乱放", RuleCategory.HYGIENE, -10, roles=frozenset({Role.GRID_LEADER}))


@pytest.fixture
def town():
    town = create_node("清溪镇", "qx", NodeKind.TOWN)
    admin = factories.gen_user(Role.TOWN_ADMIN, town)
    today = local_today()
    create_rule(town, "VR-MEET", MEETING, today - timedelta(days=30), actor=admin)
    pile = create_rule(town, "HY-PILE", PILE, today - timedelta(days=30), actor=admin)
    village_settings.save_checklist(admin, town, [(None, "门前三包", 10), (None, "庭院整洁", 10)])
    village_settings.update_settings(admin, town, model_count=5, shame_count=2, penalty_rule_id=pile.id)
    db.session.commit()
    return town, admin


def test_a_new_village_starts_from_a_copy_of_the_template(town):
    town, admin = town
    village = add_node(admin, town.id, "东村", "dc")
    db.session.commit()
    book = {v.rule.code: v for v in rule_book(village.id, local_today())}
    assert sorted(book) == ["HY-PILE", "VR-MEET"]
    assert (book["VR-MEET"].points, book["VR-MEET"].role_set, book["VR-MEET"].effective_from) == (
        2, frozenset({Role.GRID_WORKER}), local_today())
    assert [(i.name, i.max_deduction) for i in village_settings.checklist(village.id)] == [
        ("门前三包", 10), ("庭院整洁", 10)]
    settings = db.session.get(HygieneSettings, village.id)
    assert (settings.model_count, settings.shame_count) == (5, 2)
    assert settings.penalty_rule.village_id == village.id and settings.penalty_rule.code == "HY-PILE"
    assert compare_with_template(village.id, town.id, local_today()).same == 2


def test_the_village_adapts_its_copy_and_the_template_stays(town):
    town, admin = town
    village = add_node(admin, town.id, "东村", "dc")
    rule = db.session.scalar(select(Rule).where(Rule.village_id == village.id, Rule.code == "VR-MEET"))
    tomorrow = local_today() + timedelta(days=1)
    revise_rule(rule, replace(MEETING, points=3), tomorrow)
    create_rule(village, "OWN-1", RuleTerms("护林防火", RuleCategory.VILLAGE_RULES, 5), local_today())
    db.session.commit()
    comparison = compare_with_template(village.id, town.id, tomorrow)
    assert [(mine.rule.code, model.points, mine.points, fields) for mine, model, fields in comparison.changed] == [
        ("VR-MEET", 2, 3, ["points"])]
    assert [v.rule.code for v in comparison.added] == ["OWN-1"]
    assert comparison.same == 1 and comparison.missing == []
    assert [v.points for v in rule_book(town.id, tomorrow) if v.rule.code == "VR-MEET"] == [2]
    other = add_node(admin, town.id, "西村", "xc")
    assert compare_with_template(other.id, town.id, tomorrow).same == 2, "later villages copy the template, not 东村"


def test_a_town_without_a_template_gives_an_empty_start():
    town = create_node("空白镇", "kb", NodeKind.TOWN)
    village = create_node("一村", "yc", NodeKind.VILLAGE, town)
    assert rule_book(village.id, local_today()) == []
    assert compare_with_template(village.id, town.id, local_today()) is None
    assert village_settings.checklist(village.id)[0].id is None, "the default checklist, unsaved"


def test_the_pages_show_the_template_to_the_town_admin_and_the_differences_to_the_village(town, client, login):
    town, admin = town
    village = add_node(admin, town.id, "东村", "dc")
    rule = db.session.scalar(select(Rule).where(Rule.village_id == village.id, Rule.code == "HY-PILE"))
    revise_rule(rule, replace(PILE, points=-5), local_today() + timedelta(days=1))
    village_admin = factories.gen_user(Role.VILLAGE_ADMIN, village)
    login(admin)
    page = client.get(f"/villages/{town.id}/rules").get_data(as_text=True)
    assert "积分细则模板" in page and "参加村民会议" in page
    assert client.get(f"/villages/{town.id}/hygiene/settings").status_code == 200
    assert "清溪镇积分细则模板" in client.get("/manage").get_data(as_text=True)
    response = client.post(f"/villages/{town.id}/rules/new", data={
        "code": "PB-1", "name": "宣传", "category": "publicity", "points": "1", "unit": "occurrence",
        "for_registered": "y", "for_renters": "y", "effective_from": local_today().isoformat()})
    assert response.status_code == 302
    login(village_admin)
    assert client.get(f"/villages/{town.id}/rules").status_code == 404, "the template is the town admin's"
    assert client.get(f"/villages/{town.id}/hygiene/settings").status_code == 404
    page = client.get(f"/villages/{village.id}/rules").get_data(as_text=True)
    assert "与镇模板的不同" in page and "模板有、本村没有" in page and "PB-1" in page
    login(factories.gen_villager(factories.gen_household(create_node("东一", "dc-1", NodeKind.GRID, village))))
    page = client.get(f"/villages/{village.id}/rules").get_data(as_text=True)
    assert "乱堆乱放" in page and "与镇模板的不同" not in page and "PB-1" not in page, "the template is the admins'"
