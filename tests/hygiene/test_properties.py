"""Property: whatever the sheets, the settings and the corrections, once the round is published the ledger holds
exactly what the results say (示范户 award, 晾晒 penalty where the rule applies), every balance is the sum of its
entries, and the 示范户 and 晾晒 of each grid are those the tie rule picks."""
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from points.auth.models import Role
from points.errors import DomainError
from points.extensions import db
from points.hygiene.inspection import round_for, save_score
from points.hygiene.models import Outcome, Result, TiePolicy, UnscoredPolicy
from points.hygiene.publishing import publish_round
from points.hygiene.village_settings import checklist, settings_of, update_settings
from points.ledger.models import EntrySource
from points.ledger.services import post_entry
from points.people.models import HouseholdKind
from points.periods import week_of
from points.timeutil import local_today

from .. import factories
from ..ledger.helpers import assert_ledger_consistent
from .helpers import entries_of

GRIDS = 3
PENALTY = -5

sheet = st.one_of(st.none(), st.tuples(st.integers(0, 5), st.integers(0, 5)))  # None: never scored
village_settings = st.fixed_dictionaries({
    "model_count": st.integers(0, 4),
    "model_points": st.integers(0, 30),
    "shame_count": st.integers(0, 3),
    "shame_extra": st.integers(0, 2),  # shame_max = shame_count + this
    "ties": st.sampled_from(TiePolicy),
    "shame_ties": st.sampled_from(TiePolicy),
    "unscored": st.sampled_from(UnscoredPolicy),
    "penalty": st.booleans(),
})
grid_households = st.lists(st.tuples(st.sampled_from(HouseholdKind), sheet), min_size=1, max_size=5)
steps = st.lists(st.one_of(
    st.tuples(st.just("correct"), st.integers(0, 99), st.tuples(st.integers(0, 5), st.integers(0, 5))),
    st.tuples(st.just("settings"), village_settings),
    st.tuples(st.just("publish"), st.one_of(st.none(), st.integers(0, GRIDS - 1))),
    st.tuples(st.just("spend"), st.integers(0, 99), st.integers(1, 40)),
), max_size=8)


def chosen(values: dict[int, int], n: int, ties: TiePolicy) -> set[int]:
    """The n households with the lowest values, those tied at the cut-off all in (ALL) or all out (NONE)."""
    ordered = sorted(values.values())
    if n <= 0 or not ordered:
        return set()
    if len(ordered) <= n:
        return set(values)
    cutoff = ordered[n - 1]
    if ordered[n] != cutoff or ties is TiePolicy.ALL:
        return {h for h, v in values.items() if v <= cutoff}
    return {h for h, v in values.items() if v < cutoff}


def apply_settings(scene_admin, village, rule, values):
    values = dict(values)
    values["penalty_rule_id"] = rule.id if values.pop("penalty") else None
    values["shame_max"] = values["shame_count"] + values.pop("shame_extra")
    update_settings(scene_admin, village, **values)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(st.lists(grid_households, min_size=GRIDS, max_size=GRIDS), village_settings, steps)
def test_the_ledger_holds_what_the_published_results_say(grids, first_settings, later_steps):
    place = factories.gen_village(GRIDS)
    village = place.village
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village)
    rule = factories.gen_rule(village, "卫生评比晾晒", PENALTY, for_renters=False)
    households = [(grid_index, factories.gen_household(place.grids[grid_index], kind=kind, phone=None), first)
                  for grid_index, grid in enumerate(grids) for kind, first in grid]
    apply_settings(admin, village, rule, first_settings)
    round_ = round_for(village, week_of(local_today() - timedelta(weeks=1)))  # over: publishable
    items = checklist(village.id)
    sheets: dict[int, int] = {}  # household → deductions, for households with a sheet

    def save(household, deduction):
        save_score(admin, round_, household.id, {items[0].id: deduction[0], items[1].id: deduction[1]})
        sheets[household.id] = sum(deduction)

    for _, household, first in households:
        if first is not None:
            save(household, first)
    publish_round(admin, round_)
    for step in later_steps:
        if step[0] == "correct":
            save(households[step[1] % len(households)][1], step[2])
        elif step[0] == "settings":
            apply_settings(admin, village, rule, step[1])
        elif step[0] == "publish":
            publish_round(admin, round_, None if step[1] is None else place.grids[step[1]].id)
        else:
            household = households[step[1] % len(households)][1]
            try:
                post_entry(household.id, -step[2], EntrySource.REDEMPTION, factories.unique("spend-"))
            except DomainError as refusal:
                assert refusal.code == "insufficient_balance"
        for _, household, _ in households:
            assert_ledger_consistent(household.id)
    publish_round(admin, round_)

    now = settings_of(village.id)
    results = {r.household_id: r for r in db.session.scalars(select(Result).where(Result.round_id == round_.id))}
    for grid_index, grid in enumerate(place.grids):
        members = [h for g, h, _ in households if g == grid_index]
        if not any(h.id in sheets for h in members):  # not inspected: not published
            assert not any(h.id in results for h in members)
            continue
        counted = {h.id: sheets.get(h.id, 0) for h in members
                   if h.id in sheets or now.unscored is UnscoredPolicy.CLEAN}
        models = chosen(counted, now.model_count, now.ties)
        cutoff = sorted(counted.values())[min(now.model_count, len(counted)) - 1] if now.model_count and counted else 0
        rest = {h: -v for h, v in counted.items() if h not in models and v > cutoff}
        shamed = chosen(rest, now.shame_count, now.shame_ties)
        if len(shamed) > now.shame_max:  # ties never widen the list beyond its stated most
            shamed = chosen(rest, now.shame_count, TiePolicy.NONE)
        assert {h.id for h in members if results[h.id].outcome is Outcome.MODEL} == models
        assert {h.id for h in members if results[h.id].outcome is Outcome.SHAME} == shamed
        assert {h.id for h in members if results[h.id].rank is not None} == set(counted)
    for _, household, _ in households:
        assert_ledger_consistent(household.id)
        result = results.get(household.id)
        outcome = result.outcome if result is not None else None
        expected = now.model_points if outcome is Outcome.MODEL else 0
        if (outcome is Outcome.SHAME and now.penalty_rule_id is not None
                and household.kind is HouseholdKind.REGISTERED):
            expected += PENALTY
        inspection = [e for e in entries_of(household) if e.source in (EntrySource.INSPECTION, EntrySource.REVERSAL)]
        assert sum(e.amount for e in inspection) == expected
        originals = {e.id for e in inspection if e.reverses_id is None}
        assert all(e.reverses_id in originals for e in inspection if e.reverses_id is not None)
