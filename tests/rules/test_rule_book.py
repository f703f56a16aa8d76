"""The rule book: versions by effective date, and terms no village could mean are refused."""
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import func, select

from points.auth.models import Role
from points.errors import DomainError
from points.extensions import db
from points.rules.models import RuleCategory, RuleUnit, RuleVersion
from points.rules.queries import rule_book, version_in_force
from points.rules.services import RuleTerms, create_rule, revise_rule

from .. import factories

PILE = RuleTerms("乱堆乱放", RuleCategory.HYGIENE, -10, roles=frozenset({Role.GRID_LEADER}))
JAN, MAR, JUN = date(2026, 1, 1), date(2026, 3, 1), date(2026, 6, 1)


def test_an_edit_makes_a_new_version_and_ends_the_old_one(village):
    rule = create_rule(village.village, "hyg-pile", PILE, JAN)
    assert rule.code == "HYG-PILE"
    second = revise_rule(rule, replace(PILE, points=-15), MAR)
    first = rule.versions[0]
    assert (first.version, first.points, first.effective_until) == (1, -10, MAR)
    assert (second.version, second.points, second.effective_from, second.effective_until) == (2, -15, MAR, None)
    assert version_in_force(rule.id, date(2026, 2, 28)).points == -10
    assert version_in_force(rule.id, MAR).points == -15
    assert version_in_force(rule.id, date(2025, 12, 31)) is None


def test_terms_round_trip_through_a_version(village):
    terms = RuleTerms(
        "志愿服务", RuleCategory.VOLUNTEERING, 5, RuleUnit.HOUR, for_registered=True, for_renters=False, cap_day=20,
        evidence_required=True, self_claimable=True, roles=frozenset({Role.EVENT_ORGANIZER, Role.GRID_LEADER}),
    )
    rule = create_rule(village.village, "VOL-HOUR", terms, JAN)
    assert RuleTerms.of(rule.versions[0]) == terms


def test_a_rule_with_an_end_keeps_it_across_a_revision(village):
    rule = create_rule(village.village, "TEMP", PILE, JAN, effective_until=JUN)
    revise_rule(rule, replace(PILE, points=-5), MAR)
    assert [(v.effective_from, v.effective_until) for v in rule.versions] == [(JAN, MAR), (MAR, JUN)]
    assert version_in_force(rule.id, JUN) is None


def test_the_rule_book_shows_what_holds_on_a_day(village):
    create_rule(village.village, "OLD", PILE, JAN, effective_until=MAR)
    create_rule(village.village, "NOW", replace(PILE, name="乱扔垃圾"), JAN)
    create_rule(village.village, "LATER", replace(PILE, name="禽畜散养"), JUN)
    assert [v.rule.code for v in rule_book(village.village.id, date(2026, 4, 1))] == ["NOW"]


@pytest.mark.parametrize(
    "terms, code",
    [
        (replace(PILE, points=0), "rule_points_zero"),
        (replace(PILE, for_registered=False, for_renters=False), "rule_applies_to_no_one"),
        (replace(PILE, cap_week=0), "rule_cap_invalid"),
        (replace(PILE, cap_month=-5), "rule_cap_invalid"),
        (replace(PILE, name="  "), "rule_name_required"),
    ],
)
def test_meaningless_terms_are_refused(village, terms, code):
    with pytest.raises(DomainError) as refusal:
        create_rule(village.village, "X", terms, JAN)
    assert refusal.value.code == code
    assert db.session.scalar(select(func.count()).select_from(RuleVersion)) == 0


def test_codes_are_unique_within_a_village_only(village):
    create_rule(village.village, "HYG-PILE", PILE, JAN)
    with pytest.raises(DomainError) as refusal:
        create_rule(village.village, "hyg-pile", PILE, JAN)
    assert refusal.value.code == "rule_code_taken"
    other = factories.gen_village(town=village.town)
    assert create_rule(other.village, "HYG-PILE", PILE, JAN).code == "HYG-PILE"


def test_a_revision_cannot_be_backdated(village):
    rule = create_rule(village.village, "HYG-PILE", PILE, MAR)
    for day in (MAR, JAN):
        with pytest.raises(DomainError) as refusal:
            revise_rule(rule, replace(PILE, points=-20), day)
        assert refusal.value.code == "rule_revision_backdated"
    assert len(rule.versions) == 1


def test_rule_books_belong_to_villages_and_town_templates(village):
    with pytest.raises(DomainError) as refusal:
        create_rule(village.grids[0], "X", PILE, JAN)
    assert refusal.value.code == "rule_book_is_per_village"


def test_in_force_on_agrees_with_the_query(village):
    rule = create_rule(village.village, "HYG-PILE", PILE, JAN, effective_until=JUN)
    version = rule.versions[0]
    for day in (date(2025, 12, 31), JAN, MAR, date(2026, 5, 31), JUN):
        assert version.in_force_on(day) is (version_in_force(rule.id, day) is not None), day
