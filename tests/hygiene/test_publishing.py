"""Publishing a round: 示范户 and 晾晒 per grid, ties per the village's setting, the ledger brought to the results
once, and corrections that reverse and re-post only what changed."""
import pytest
from sqlalchemy import func, select

from points.auth.models import Role
from points.claims import services as claim_services
from points.errors import DomainError
from points.extensions import db
from points.hygiene import inspection, monthly, publishing, queries, village_settings
from points.hygiene.models import Outcome, Posting, Publication, Result, TiePolicy, UnscoredPolicy
from points.ledger.models import EntrySource, LedgerEntry
from points.ledger.services import post_entry
from points.people.models import Closure, HouseholdKind
from points.people.services import close_household
from points.periods import week_of
from points.timeutil import local_today

from .. import factories
from ..ledger.helpers import assert_ledger_consistent
from .helpers import (
    balance,
    entries_of,
    entry_count,
    gen_scene,
    last_month,
    outcomes,
    score_all,
    week_ago,
    weeks_of_month,
)


def test_the_three_with_fewest_deductions_get_20_points():
    scene = gen_scene()
    round_ = scene.round()
    score_all(scene, round_, 0, [0, 1, 2, 3, 4])
    publishing.publish_round(scene.admin, round_)
    grid = scene.households[0]
    assert [balance(h) for h in grid] == [20, 20, 20, 0, 0]
    assert outcomes(round_, scene.village.grids[0])[grid[0].id] is Outcome.MODEL
    for household in grid:
        assert_ledger_consistent(household.id)


def test_publishing_twice_posts_once_and_a_correction_reposts_only_what_changed():
    scene = gen_scene()
    round_ = scene.round()
    score_all(scene, round_, 0, [0, 1, 2, 3, 4])
    publishing.publish_round(scene.admin, round_)
    again = publishing.publish_round(scene.admin, round_)
    assert (again.posted, again.reversed) == (0, 0)
    item = village_settings.checklist(scene.village.village.id)[0]
    grid = scene.households[0]
    inspection.save_score(scene.admin, round_, grid[2].id, {item.id: 5})  # the third was wrongly scored
    correction = publishing.publish_round(scene.admin, round_)
    assert (correction.posted, correction.reversed) == (1, 1)
    assert [balance(h) for h in grid] == [20, 20, 0, 20, 0]
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 5
    for household in grid:
        assert_ledger_consistent(household.id)


def test_ties_at_the_cut_off_all_or_none():
    for ties, expected in ((TiePolicy.ALL, [20, 20, 20, 20, 0]), (TiePolicy.NONE, [20, 20, 0, 0, 0])):
        scene = gen_scene()
        village_settings.update_settings(scene.admin, scene.village.village, ties=ties)
        round_ = scene.round()
        score_all(scene, round_, 0, [0, 1, 2, 2, 4])
        publishing.publish_round(scene.admin, round_)
        assert [balance(h) for h in scene.households[0]] == expected


def test_unscored_households_are_left_out_or_counted_clean():
    for unscored, expected in ((UnscoredPolicy.SKIP, [20, 20, 20, 0, 0]), (UnscoredPolicy.CLEAN, [20, 0, 0, 20, 20])):
        scene = gen_scene()
        village_settings.update_settings(scene.admin, scene.village.village, unscored=unscored, ties=TiePolicy.NONE)
        round_ = scene.round()
        score_all(scene, round_, 0, [0, 3, 4])
        publishing.publish_round(scene.admin, round_)
        assert [balance(h) for h in scene.households[0]] == expected


def test_the_month_gives_each_grid_a_red_flag():
    scene = gen_scene()
    round_ = scene.round(weeks_of_month(last_month())[0])  # a month over, whose only round is this one
    for grid in range(3):
        score_all(scene, round_, grid, [5, 0, 1, 2, 3])
    publishing.publish_round(scene.admin, round_)
    summary = monthly.publish_month(scene.admin, scene.village.village, round_.month)
    assert [balance(g[1]) for g in scene.households] == [70, 70, 70]
    again = monthly.publish_month(scene.admin, scene.village.village, round_.month)
    assert again.id == summary.id
    assert [balance(g[1]) for g in scene.households] == [70, 70, 70]


def refused(code, call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code
    return caught.value


def results(round_, grid) -> list[tuple]:
    """(household, scored, deductions, score, rank, outcome) of the grid's published week, by household."""
    return [tuple(row) for row in db.session.execute(
        select(Result.household_id, Result.scored, Result.deductions, Result.score, Result.rank, Result.outcome)
        .where(Result.round_id == round_.id, Result.grid_id == grid.id).order_by(Result.household_id))]


def settings(scene, **values):
    village_settings.update_settings(scene.admin, scene.village.village, **values)


# ---------------------------------------------------------------------------------------------------- the ranking


def test_a_grids_week_ranks_by_deductions_with_shared_places():
    scene = gen_scene()
    round_ = scene.round()
    score_all(scene, round_, 0, [3, 0, 3, 1, 5])
    publishing.publish_round(scene.admin, round_)
    h = [x.id for x in scene.households[0]]
    assert results(round_, scene.village.grids[0]) == [
        (h[0], True, 3, 97, 3, Outcome.MODEL), (h[1], True, 0, 100, 1, Outcome.MODEL),
        (h[2], True, 3, 97, 3, Outcome.MODEL), (h[3], True, 1, 99, 2, Outcome.MODEL), (h[4], True, 5, 95, 5, None)]
    assert [balance(x) for x in scene.households[0]] == [20, 20, 20, 20, 0]  # both tied for third


def test_ties_at_the_cut_off_of_the_models_all_or_none_with_what_the_results_say():
    for ties, models in ((TiePolicy.ALL, {0, 1, 2, 3}), (TiePolicy.NONE, {0, 1})):
        scene = gen_scene()
        settings(scene, ties=ties)
        round_ = scene.round()
        score_all(scene, round_, 0, [0, 1, 2, 2, 4])
        publishing.publish_round(scene.admin, round_)
        found = outcomes(round_, scene.village.grids[0])
        assert {i for i, h in enumerate(scene.households[0]) if found[h.id] is Outcome.MODEL} == models
        assert sum(len(entries_of(h)) for grid in scene.households for h in grid) == len(models)


def test_a_grid_with_fewer_households_than_models_makes_all_of_them_models():
    for ties in TiePolicy:
        scene = gen_scene(per_grid=2)
        settings(scene, ties=ties, model_count=3)
        round_ = scene.round()
        score_all(scene, round_, 0, [4, 4])
        score_all(scene, round_, 1, [0, 5])
        publishing.publish_round(scene.admin, round_)
        assert [balance(h) for grid in scene.households[:2] for h in grid] == [20, 20, 20, 20]
        assert [balance(h) for h in scene.households[2]] == [0, 0]  # not inspected: nothing


def test_no_models_when_the_village_sets_none_and_none_paid_when_the_award_is_zero():
    scene = gen_scene()
    settings(scene, model_count=0)
    round_ = scene.round()
    score_all(scene, round_, 0, [0, 1, 2, 3, 4])
    publishing.publish_round(scene.admin, round_)
    assert Outcome.MODEL not in outcomes(round_, scene.village.grids[0]).values()
    settings(scene, model_count=3, model_points=0)
    publishing.publish_round(scene.admin, round_)
    assert list(outcomes(round_, scene.village.grids[0]).values()).count(Outcome.MODEL) == 3
    assert entry_count() == 0


def test_ties_at_the_cut_off_of_the_shamed_all_or_none():
    for ties, shamed in ((TiePolicy.ALL, {3, 4}), (TiePolicy.NONE, set())):
        scene = gen_scene()
        settings(scene, shame_ties=ties, model_count=1, shame_count=1, shame_max=2)
        round_ = scene.round()
        score_all(scene, round_, 0, [0, 1, 2, 4, 4])
        publishing.publish_round(scene.admin, round_)
        found = outcomes(round_, scene.village.grids[0])
        assert {i for i, h in enumerate(scene.households[0]) if found[h.id] is Outcome.SHAME} == shamed
    for ties, shamed in ((TiePolicy.ALL, {2, 3, 4}), (TiePolicy.NONE, {4})):
        scene = gen_scene()
        settings(scene, shame_ties=ties, model_count=1, shame_count=2, shame_max=3)
        round_ = scene.round()
        score_all(scene, round_, 0, [0, 1, 3, 3, 5])
        publishing.publish_round(scene.admin, round_)
        found = outcomes(round_, scene.village.grids[0])
        assert {i for i, h in enumerate(scene.households[0]) if found[h.id] is Outcome.SHAME} == shamed


def test_a_household_without_deductions_is_never_shamed_and_a_model_never_shamed_too():
    scene = gen_scene()
    settings(scene, model_count=2, shame_count=5)
    round_ = scene.round()
    score_all(scene, round_, 0, [0, 0, 0, 2, 3])
    publishing.publish_round(scene.admin, round_)
    found = outcomes(round_, scene.village.grids[0])
    assert [found[h.id] for h in scene.households[0]] == [Outcome.MODEL] * 3 + [Outcome.SHAME] * 2


def test_households_tied_at_the_model_cut_off_are_not_shamed_when_ties_leave_them_out():
    scene = gen_scene()
    settings(scene, ties=TiePolicy.NONE, model_count=2, shame_count=2)
    round_ = scene.round()
    score_all(scene, round_, 0, [0, 5, 5])
    publishing.publish_round(scene.admin, round_)
    found = outcomes(round_, scene.village.grids[0])
    assert [found[h.id] for h in scene.households[0][:3]] == [Outcome.MODEL, None, None]


# ---------------------------------------------------------------------------------------------------- unscored


def test_an_empty_week_publishes_nothing_whatever_the_village_does_with_unscored_households():
    for unscored in UnscoredPolicy:
        scene = gen_scene()
        settings(scene, unscored=unscored, shame_count=2)
        round_ = scene.round()
        publication = publishing.publish_round(scene.admin, round_)
        assert (publication.posted, publication.reversed) == (0, 0)
        assert db.session.scalar(select(func.count()).select_from(Result)) == 0
        assert entry_count() == 0
        assert all(a.published_at is None for a in round_.assignments)
        assert all(week.lines == [] for week in queries.week_results(round_))


def test_an_unscored_household_is_listed_but_not_ranked_under_skip():
    scene = gen_scene()
    settings(scene, unscored=UnscoredPolicy.SKIP, ties=TiePolicy.NONE, shame_count=1)
    round_ = scene.round()
    score_all(scene, round_, 0, [2, 3, 4])  # the last two households were not home
    publishing.publish_round(scene.admin, round_)
    h = [x.id for x in scene.households[0]]
    assert results(round_, scene.village.grids[0]) == [
        (h[0], True, 2, 98, 1, Outcome.MODEL), (h[1], True, 3, 97, 2, Outcome.MODEL),
        (h[2], True, 4, 96, 3, Outcome.MODEL), (h[3], False, 0, 0, None, None), (h[4], False, 0, 0, None, None)]
    week = queries.week_results(round_)[0]
    assert [line.household_id for line in week.unscored] == h[3:]
    assert [balance(x) for x in scene.households[0]] == [20, 20, 20, 0, 0]


def test_an_unscored_household_is_ranked_with_no_deductions_under_clean():
    scene = gen_scene()
    settings(scene, unscored=UnscoredPolicy.CLEAN, ties=TiePolicy.ALL, shame_count=1)
    round_ = scene.round()
    score_all(scene, round_, 0, [0, 3, 4])
    publishing.publish_round(scene.admin, round_)
    h = [x.id for x in scene.households[0]]
    assert results(round_, scene.village.grids[0]) == [
        (h[0], True, 0, 100, 1, Outcome.MODEL), (h[1], True, 3, 97, 4, None), (h[2], True, 4, 96, 5, Outcome.SHAME),
        (h[3], False, 0, 100, 1, Outcome.MODEL), (h[4], False, 0, 100, 1, Outcome.MODEL)]
    assert [balance(x) for x in scene.households[0]] == [20, 0, 0, 20, 20]


def test_only_grids_with_at_least_one_sheet_are_published():
    scene = gen_scene()
    settings(scene, unscored=UnscoredPolicy.CLEAN)
    round_ = scene.round()
    score_all(scene, round_, 1, [1])  # a single sheet publishes the whole grid
    publication = publishing.publish_round(scene.admin, round_)
    assert publication.posted == 4  # the four unscored, counted clean, tie for first
    grids = scene.village.grids
    assert {row[0] for row in db.session.execute(select(Result.grid_id))} == {grids[1].id}
    assert [a.published_at is not None for a in round_.assignments] == [False, True, False]
    assert round_.assignments[1].published_by_id == scene.admin.id
    assert sum(balance(h) for h in scene.households[0] + scene.households[2]) == 0


# ---------------------------------------------------------------------------------------------------- the ledger


def test_a_correction_reverses_the_original_and_may_take_a_spent_award_below_zero():
    scene = gen_scene()
    round_ = scene.round()
    grid = scene.households[0]
    score_all(scene, round_, 0, [0, 1, 2, 3, 4])
    first = publishing.publish_round(scene.admin, round_)
    assert (first.posted, first.reversed) == (3, 0)
    originals = {h.id: entries_of(h)[0] for h in grid[:3]}
    assert all(e.source is EntrySource.INSPECTION and e.amount == 20 for e in originals.values())
    post_entry(grid[2].id, -20, EntrySource.REDEMPTION, "spent-at-the-shop")  # the third household spent it
    assert balance(grid[2]) == 0
    item = village_settings.checklist(scene.village.village.id)[0]
    inspection.save_score(scene.admin, round_, grid[2].id, {item.id: 5})
    inspection.save_score(scene.admin, round_, grid[4].id, {item.id: 0})
    correction = publishing.publish_round(scene.admin, round_)
    assert (correction.posted, correction.reversed) == (1, 1)
    assert [balance(h) for h in grid] == [20, 20, -20, 0, 20]
    reversal = entries_of(grid[2])[-1]
    assert (reversal.source, reversal.amount, reversal.reverses_id) == (
        EntrySource.REVERSAL, -20, originals[grid[2].id].id)
    assert [e.id for e in entries_of(grid[0])] == [originals[grid[0].id].id]  # untouched
    assert entry_count() == 3 + 1 + 1 + 1  # awards, the shop, the reversal, the new award
    posting = db.session.scalar(select(Posting).where(Posting.entry_id == originals[grid[2].id].id))
    assert posting.reversal_id == reversal.id
    # Back as it was: the withdrawn award is posted again, as a new entry, and the new one reversed.
    inspection.save_score(scene.admin, round_, grid[2].id, {item.id: 2})
    inspection.save_score(scene.admin, round_, grid[4].id, {item.id: 4})
    back = publishing.publish_round(scene.admin, round_)
    assert (back.posted, back.reversed) == (1, 1)
    assert [balance(h) for h in grid] == [20, 20, 0, 0, 0]
    assert len({e.idempotency_key for e in entries_of(grid[2])}) == len(entries_of(grid[2])) == 4
    for household in grid:
        assert_ledger_consistent(household.id)


def test_a_change_of_the_award_reverses_and_reposts_every_model():
    scene = gen_scene()
    round_ = scene.round()
    score_all(scene, round_, 0, [0, 1, 2, 3, 4])
    publishing.publish_round(scene.admin, round_)
    settings(scene, model_points=30)
    assert (lambda p: (p.posted, p.reversed))(publishing.publish_round(scene.admin, round_)) == (3, 3)
    assert [balance(h) for h in scene.households[0]] == [30, 30, 30, 0, 0]
    settings(scene, model_points=0)
    assert (lambda p: (p.posted, p.reversed))(publishing.publish_round(scene.admin, round_)) == (0, 3)
    assert [balance(h) for h in scene.households[0]] == [0] * 5
    for household in scene.households[0]:
        assert_ledger_consistent(household.id)


def test_the_same_client_key_returns_the_first_publication_and_publishes_nothing_again():
    scene = gen_scene()
    round_ = scene.round()
    score_all(scene, round_, 0, [0, 1, 2, 3, 4])
    first = publishing.publish_round(scene.admin, round_, client_key="tap-1")
    item = village_settings.checklist(scene.village.village.id)[0]
    inspection.save_score(scene.admin, round_, scene.households[0][0].id, {item.id: 5})
    again = publishing.publish_round(scene.admin, round_, client_key="tap-1")
    assert again.id == first.id and (again.posted, again.reversed) == (3, 0)
    assert balance(scene.households[0][0]) == 20  # the retry did not publish the correction
    assert db.session.scalar(select(func.count()).select_from(Publication)) == 1
    error = refused("idempotency_key_reused", publishing.publish_round, scene.admin, round_,
                    scene.village.grids[0].id, client_key="tap-1")
    assert error.status == 409
    # Keys are per account: the inspecting leader's own "tap-1" is a new publication (of the correction).
    leader = scene.inspector_of(round_, 0)
    mine = publishing.publish_round(leader, round_, scene.village.grids[0].id, client_key="tap-1")
    assert mine.id != first.id and (mine.posted, mine.reversed) == (1, 1)


def test_a_leader_publishes_the_grid_their_grid_inspected_and_no_other():
    scene = gen_scene()
    round_ = scene.round()
    for grid in range(3):
        score_all(scene, round_, grid, [0, 1, 2, 3, 4])
    leader = scene.inspector_of(round_, 0)
    grids = scene.village.grids
    publication = publishing.publish_round(leader, round_, grids[0].id)
    assert (publication.grid_id, publication.posted, publication.actor_id) == (grids[0].id, 3, leader.id)
    assert {row[0] for row in db.session.execute(select(Result.grid_id))} == {grids[0].id}
    refused("forbidden", publishing.publish_round, scene.leaders[0], round_, grids[0].id)  # the inspected grid's own
    for grid in (1, 2):
        if scene.inspector_of(round_, grid) is not leader:
            refused("forbidden", publishing.publish_round, leader, round_, grids[grid].id)
    refused("forbidden", publishing.publish_round, leader, round_)  # every grid: the admin's
    worker = factories.gen_user(Role.GRID_WORKER, grids[scene.leaders.index(leader)])
    refused("forbidden", publishing.publish_round, worker, round_, grids[0].id)  # workers score; leaders publish
    refused("grid_not_in_round", publishing.publish_round, scene.admin, round_, scene.village.village.id)
    assert entry_count() == 3


# ---------------------------------------------------------------------------------------------------- 晾晒


def test_the_shame_penalty_is_posted_only_with_a_rule_and_a_count_and_only_where_the_rule_applies():
    scene = gen_scene()
    village = scene.village.village
    renter = factories.gen_household(scene.village.grids[0], kind=HouseholdKind.RENTER, phone=None)
    rule = factories.gen_rule(village, "卫生评比晾晒", -5, for_renters=False)
    db.session.commit()
    households = scene.households[0] + [renter]
    round_ = scene.round()
    item = village_settings.checklist(village.id)[0]
    settings(scene, model_count=1, shame_count=2, ties=TiePolicy.ALL)
    for household, points in zip(households, [0, 1, 2, 3, 5, 5]):
        inspection.save_score(scene.admin, round_, household.id, {item.id: points})
    publishing.publish_round(scene.admin, round_)  # listed only: no rule chosen
    found = outcomes(round_, scene.village.grids[0])
    assert [found[h.id] for h in households] == [Outcome.MODEL, None, None, None, Outcome.SHAME, Outcome.SHAME]
    assert [balance(h) for h in households] == [20, 0, 0, 0, 0, 0]

    settings(scene, penalty_rule_id=rule.id)
    publication = publishing.publish_round(scene.admin, round_)
    assert (publication.posted, publication.reversed) == (1, 0)  # the renter's book has no such rule
    assert [balance(h) for h in households] == [20, 0, 0, 0, -5, 0]
    penalty = entries_of(households[4])[0]
    assert (penalty.rule_version_id, penalty.source) == (rule.versions[0].id, EntrySource.INSPECTION)

    settings(scene, shame_count=0)  # a rule without a count lists nobody and takes nothing
    assert (lambda p: (p.posted, p.reversed))(publishing.publish_round(scene.admin, round_)) == (0, 1)
    assert Outcome.SHAME not in outcomes(round_, scene.village.grids[0]).values()
    assert [balance(h) for h in households] == [20, 0, 0, 0, 0, 0]
    for household in households:
        assert_ledger_consistent(household.id)


def test_a_household_that_left_the_register_is_ranked_no_more_and_keeps_what_it_was_given():
    scene = gen_scene()
    grid = scene.village.grids[0]
    last = scene.round(week_ago(1))
    score_all(scene, last, 0, [0, 1, 2, 3, 4])
    publishing.publish_round(scene.admin, last)
    gone, fourth = scene.households[0][0], scene.households[0][3]
    assert balance(gone) == 20 and outcomes(last, grid)[gone.id] is Outcome.MODEL
    close_household(gone, Closure.MOVED_OUT, local_today())
    # A correction of last week moves the fourth household up; the one that left keeps its award, ranked no more.
    inspection.save_score(scene.admin, last, fourth.id, {village_settings.checklist(scene.village.village.id)[0].id: 0})
    publishing.publish_round(scene.admin, last)
    assert balance(gone) == 20 and gone.id not in outcomes(last, grid)
    assert outcomes(last, grid)[fourth.id] is Outcome.MODEL
    this_week = scene.round(week_of(local_today()))
    assert gone.id not in [row.household.id for row in queries.sheet_rows(this_week.id, grid.id)]
    assert queries.progress(this_week.id)[grid.id] == (0, 4)
    error = pytest.raises(DomainError, inspection.save_score, scene.admin, this_week, gone.id, {}).value
    assert error.code == "household_closed"
    for household in scene.households[0]:
        assert_ledger_consistent(household.id)


# ---------------------------------------------------------------------------------------------------- 晾晒


def shamed_numbers(round_, grid) -> list[str]:
    """The public 晾晒 list of the grid, in its order, by 户号."""
    return [line.number for g in queries.week_results(round_) if g.grid.id == grid.id for line in g.shamed]


def test_the_shame_list_has_its_own_tie_rule_and_never_more_than_its_stated_most():
    scene = gen_scene(per_grid=12)
    grid = scene.village.grids[0]
    round_ = scene.round()
    # The case: ties at the cut-off of 2 once listed 11. The worst alone, then ten tied at 3.
    score_all(scene, round_, 0, [0] + [3] * 10 + [5])
    households = scene.households[0]
    settings(scene, model_count=1, ties=TiePolicy.NONE, shame_count=2, shame_ties=TiePolicy.ALL, shame_max=4)
    publishing.publish_round(scene.admin, round_)
    # Eleven would be listed if ties widened it: over the most of 4, the tied are all left out.
    assert shamed_numbers(round_, grid) == [households[11].number]
    assert outcomes(round_, grid)[households[0].id] is Outcome.MODEL  # the models keep their own rule
    settings(scene, shame_max=11)
    publishing.publish_round(scene.admin, round_)
    assert len(shamed_numbers(round_, grid)) == 11
    settings(scene, shame_ties=TiePolicy.NONE)
    publishing.publish_round(scene.admin, round_)
    assert shamed_numbers(round_, grid) == [households[11].number]


def test_the_shame_list_is_worst_first_then_by_number():
    scene = gen_scene(per_grid=5)
    grid = scene.village.grids[0]
    round_ = scene.round()
    settings(scene, model_count=1, shame_count=3, shame_max=4)
    score_all(scene, round_, 0, [0, 2, 5, 2, 4])
    publishing.publish_round(scene.admin, round_)
    h = scene.households[0]
    assert shamed_numbers(round_, grid) == [h[2].number, h[4].number] + sorted([h[1].number, h[3].number])


def test_the_shame_rule_is_stated_in_plain_words():
    scene = gen_scene(per_grid=1)
    settings(scene, shame_count=2, shame_max=4)
    stated = publishing.shame_rule(village_settings.settings_of(scene.village.village.id))
    assert stated.startswith("每个网格扣分最多的 2 户（有扣分的）列入晾晒名单；并列时全部列出，最多 4 户")
    settings(scene, shame_ties=TiePolicy.NONE)
    assert "名额边上并列的都不列" in publishing.shame_rule(village_settings.settings_of(scene.village.village.id))
    settings(scene, shame_count=0)
    assert publishing.shame_rule(village_settings.settings_of(scene.village.village.id)) == "本村不晾晒。"


def test_a_shame_penalty_under_appeal_stays_off_the_public_list_until_the_appeal_is_decided():
    scene = gen_scene(per_grid=4)
    village, grid = scene.village.village, scene.village.grids[0]
    rule = factories.gen_rule(village, "卫生评比晾晒", -5)
    settings(scene, model_count=1, shame_count=2, shame_max=2, penalty_rule_id=rule.id)
    round_ = scene.round()
    score_all(scene, round_, 0, [0, 1, 4, 5])
    publishing.publish_round(scene.admin, round_)
    h = scene.households[0]
    assert shamed_numbers(round_, grid) == [h[3].number, h[2].number]
    villager = factories.gen_villager(h[3])
    appeal = claim_services.submit_appeal(villager, entries_of(h[3])[0].id, "那天家里在办丧事")
    assert shamed_numbers(round_, grid) == [h[2].number]
    assert next(g for g in queries.week_results(round_) if g.grid.id == grid.id).appealed == 1
    claim_services.decide_appeal(scene.admin, appeal.id, reverse=False)
    assert shamed_numbers(round_, grid) == [h[3].number, h[2].number]
