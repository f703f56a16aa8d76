"""Applying a rule: who may, to whom, when, how much, and within which caps."""
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from points.auth.models import Role, User
from points.errors import DomainError
from points.extensions import db
from points.ledger.models import LedgerEntry
from points.ledger.services import apply_rule, reverse_entry
from points.people.models import HouseholdKind
from points.rules.models import RuleCategory, RuleUnit
from points.rules.services import RuleTerms, create_rule
from points.timeutil import local_today

from .. import factories
from .helpers import assert_ledger_consistent

LEADERS = frozenset({Role.GRID_LEADER})
MONDAY, SUNDAY, NEXT_MONDAY = date(2026, 11, 9), date(2026, 11, 15), date(2026, 11, 16)  # past days: no future


@pytest.fixture
def world(village):
    leader = factories.gen_user(Role.GRID_LEADER, village.grids[0])
    household = factories.gen_household(village.grids[0])
    yard = create_rule(village.village, "HYG-YARD", RuleTerms("庭院整洁", RuleCategory.HYGIENE, 5, cap_week=10,
                                                              roles=LEADERS), date(2026, 1, 1))
    return village, leader, household, yard


def test_a_weekly_cap_names_itself_and_resets_next_week(world):
    village, leader, household, yard = world
    apply_rule(leader, household.id, yard.id, "a", occurred_on=MONDAY)
    apply_rule(leader, household.id, yard.id, "b", occurred_on=SUNDAY)
    with pytest.raises(DomainError) as refusal:
        apply_rule(leader, household.id, yard.id, "c", occurred_on=SUNDAY)
    assert refusal.value.code == "cap_exceeded"
    assert refusal.value.message == "超过细则“庭院整洁”的每周上限 10 分（已有 10 分）"
    apply_rule(leader, household.id, yard.id, "d", occurred_on=NEXT_MONDAY)
    assert_ledger_consistent(household.id)


def test_a_reversal_frees_room_under_the_cap(world):
    village, leader, household, yard = world
    first = apply_rule(leader, household.id, yard.id, "a", occurred_on=MONDAY)
    apply_rule(leader, household.id, yard.id, "b", occurred_on=MONDAY)
    reverse_entry(first.id, "undo")
    apply_rule(leader, household.id, yard.id, "c", occurred_on=MONDAY)


def test_points_are_never_posted_for_a_day_to_come(world):
    village, leader, household, yard = world
    with pytest.raises(DomainError) as refusal:
        apply_rule(leader, household.id, yard.id, "future", occurred_on=local_today() + timedelta(days=1))
    assert refusal.value.code == "day_in_future" and refusal.value.message == "日期不能晚于今天"


def test_per_hour_rules_multiply_and_bound_the_hours(world):
    village, leader, household, _ = world
    hours = create_rule(village.village, "VOL-HOUR", RuleTerms("志愿服务", RuleCategory.VOLUNTEERING, 5,
                                                             RuleUnit.HOUR, roles=LEADERS), date(2026, 1, 1))
    assert apply_rule(leader, household.id, hours.id, "h", quantity=3).amount == 15
    for quantity in (0, 25, -1, 2.5):
        with pytest.raises(DomainError) as refusal:
            apply_rule(leader, household.id, hours.id, f"q{quantity}", quantity=quantity)
        assert refusal.value.code == "invalid_quantity"


def test_a_rule_holds_only_within_its_dates(world):
    village, leader, household, _ = world
    later = create_rule(village.village, "LATER", RuleTerms("新细则", RuleCategory.PUBLICITY, 2, roles=LEADERS),
                        date(2026, 3, 1), effective_until=date(2026, 7, 1))
    assert apply_rule(leader, household.id, later.id, "in", occurred_on=date(2026, 3, 1)).amount == 2
    for day in (date(2026, 2, 28), date(2026, 7, 1)):
        with pytest.raises(DomainError) as refusal:
            apply_rule(leader, household.id, later.id, f"x{day}", occurred_on=day)
        assert refusal.value.code == "rule_not_in_force"


def test_the_renters_rule_book_is_not_the_villagers(world):
    village, leader, household, _ = world
    renters_only = create_rule(village.village, "RENT", RuleTerms("外来人员登记", RuleCategory.VILLAGE_RULES, 5,
                                                                for_registered=False, roles=LEADERS),
                               date(2026, 1, 1))
    with pytest.raises(DomainError) as refusal:
        apply_rule(leader, household.id, renters_only.id, "r")
    assert refusal.value.code == "rule_not_for_household_kind"
    renter = factories.gen_household(village.grids[0], kind=HouseholdKind.RENTER)
    assert apply_rule(leader, renter.id, renters_only.id, "r2").amount == 5


def test_only_the_rules_roles_inside_their_scope_may_apply_it(world):
    village, leader, household, yard = world
    elsewhere = factories.gen_household(village.grids[1])
    with pytest.raises(DomainError) as outside:
        apply_rule(leader, elsewhere.id, yard.id, "o")
    assert outside.value.code == "rule_not_for_role"
    clerk = factories.gen_user(Role.SHOP_CLERK, village.village)
    with pytest.raises(DomainError) as wrong_role:
        apply_rule(clerk, household.id, yard.id, "c")
    assert wrong_role.value.code == "rule_not_for_role"


def test_a_rule_of_another_village_is_unknown_here(world):
    village, leader, household, _ = world
    other = factories.gen_village(town=village.town)
    foreign = create_rule(other.village, "HYG-YARD", RuleTerms("庭院整洁", RuleCategory.HYGIENE, 5, roles=LEADERS),
                          date(2026, 1, 1))
    with pytest.raises(DomainError) as refusal:
        apply_rule(leader, household.id, foreign.id, "f")
    assert refusal.value.code == "unknown_rule"


def test_a_penalty_cap_bounds_deductions_too(world):
    village, leader, household, _ = world
    pile = create_rule(village.village, "HYG-PILE", RuleTerms("乱堆乱放", RuleCategory.HYGIENE, -10, cap_month=20,
                                                            roles=LEADERS), date(2026, 1, 1))
    apply_rule(leader, household.id, pile.id, "p1", occurred_on=MONDAY)
    apply_rule(leader, household.id, pile.id, "p2", occurred_on=MONDAY)
    with pytest.raises(DomainError) as refusal:
        apply_rule(leader, household.id, pile.id, "p3", occurred_on=MONDAY)
    assert refusal.value.code == "cap_exceeded"


def test_twenty_threads_against_a_cap_post_exactly_up_to_it(app, world):
    village, leader, household, yard = world
    db.session.commit()
    leader_id, household_id, rule_id = leader.id, household.id, yard.id

    def attempt(index):
        with app.app_context():
            try:
                apply_rule(db.session.get(User, leader_id), household_id, rule_id, f"t{index}", occurred_on=MONDAY)
                db.session.commit()
                return "posted"
            except DomainError as refusal:
                db.session.rollback()
                return refusal.code

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(attempt, range(20)))
    assert outcomes.count("posted") == 2 and outcomes.count("cap_exceeded") == 18
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 2
    assert_ledger_consistent(household_id)
