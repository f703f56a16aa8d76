"""每月汇总: monthly totals from the published weeks, the 流动红旗 per grid with ties per the village's setting,
corrections, grids ranked by average, and a household that moved to another grid during the month."""
import pytest
from sqlalchemy import func, select

from points.errors import DomainError
from points.extensions import db
from points.hygiene import queries
from points.hygiene.inspection import save_score
from points.hygiene.models import MonthlyResult, MonthlySummary, Outcome, Result, Score, TiePolicy, UnscoredPolicy
from points.hygiene.monthly import publish_month
from points.hygiene.publishing import publish_round
from points.hygiene.village_settings import checklist, update_settings
from points.people.services import move_household
from points.periods import parse_month
from points.timeutil import local_today

from ..ledger.helpers import assert_ledger_consistent
from .helpers import balance, entries_of, gen_scene, last_month, score_all, weeks_of_month


def refused(code, call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code
    return caught.value


def monthly(summary) -> dict[int, tuple[int, int, int, bool, int]]:
    """Household → (grid, total, weeks, flag, rank)."""
    return {r.household_id: (r.grid_id, r.total, r.weeks, r.flag, r.rank) for r in db.session.scalars(
        select(MonthlyResult).where(MonthlyResult.summary_id == summary.id))}


def month_scene(**values):
    """A scene with model awards off (so balances show the flag alone) and the rounds of last month."""
    scene = gen_scene()
    update_settings(scene.admin, scene.village.village, model_points=0, **values)
    month = last_month()
    return scene, month, [scene.round(week) for week in weeks_of_month(month)]


def test_each_grids_highest_monthly_total_gets_the_red_flag():
    scene, month, rounds = month_scene()
    score_all(scene, rounds[0], 0, [0, 1, 2, 3, 4])
    score_all(scene, rounds[1], 0, [2, 0, 0, 3, 5])  # household 1: 1 + 0, the fewest over the month
    score_all(scene, rounds[0], 1, [5, 5, 5, 5, 4])
    for round_ in rounds[:2]:
        publish_round(scene.admin, round_)
    summary = publish_month(scene.admin, scene.village.village, month)
    assert (summary.month, summary.published_by_id) == (month, scene.admin.id)
    g0, g1 = scene.village.grids[0].id, scene.village.grids[1].id
    h0, h1 = scene.households[0], scene.households[1]
    found = monthly(summary)
    assert [found[h.id] for h in h0] == [(g0, 198, 2, False, 2), (g0, 199, 2, True, 1), (g0, 198, 2, False, 2),
                                         (g0, 194, 2, False, 4), (g0, 191, 2, False, 5)]
    assert found[h1[4].id] == (g1, 96, 1, True, 1)
    assert not any(h.id in found for h in scene.households[2])  # a grid never inspected has no month
    assert [balance(h) for h in h0 + h1] == [0, 50, 0, 0, 0] + [0, 0, 0, 0, 50]
    entry = entries_of(h0[1])[0]
    assert entry.occurred_on == parse_month(month)[1] and month in entry.note
    _, holders = queries.flag_holders(scene.village.village.id)
    assert [(grid.id, number) for grid, number, _ in holders] == [(g0, h0[1].number), (g1, h1[4].number)]
    assert queries.household_flags(h0[1].id) == [month]


def test_a_tie_for_the_flag_gives_it_to_all_or_to_none():
    for ties, flags in ((TiePolicy.ALL, [50, 50, 0, 0, 0]), (TiePolicy.NONE, [0, 0, 0, 0, 0])):
        scene, month, rounds = month_scene(ties=ties)
        score_all(scene, rounds[0], 0, [1, 1, 2, 3, 4])
        publish_round(scene.admin, rounds[0])
        summary = publish_month(scene.admin, scene.village.village, month)
        assert [balance(h) for h in scene.households[0]] == flags
        assert [monthly(summary)[h.id][3] for h in scene.households[0]] == [f > 0 for f in flags]


def test_only_published_weeks_of_the_month_count_and_a_skipped_week_adds_nothing():
    scene, month, rounds = month_scene(unscored=UnscoredPolicy.SKIP)
    score_all(scene, rounds[0], 0, [0, 0, 0, 0, 0])
    score_all(scene, rounds[1], 0, [1, 1, 1])  # households 3 and 4 were not home in the second week
    # rounds[2] was opened and never scored: nothing in it to publish, and it adds nothing
    for round_ in rounds[:2]:
        publish_round(scene.admin, round_)
    this_month = scene.round()  # a week of another month is not this month's
    if this_month.month != month:
        score_all(scene, this_month, 0, [0, 0, 0, 0, 0])
        publish_round(scene.admin, this_month)
    found = monthly(publish_month(scene.admin, scene.village.village, month))
    assert [found[h.id][1:3] for h in scene.households[0]] == [(199, 2)] * 3 + [(100, 1)] * 2
    assert [balance(h) for h in scene.households[0]] == [50, 50, 50, 0, 0]


def test_unscored_households_counted_clean_count_in_the_month_too():
    scene, month, rounds = month_scene(unscored=UnscoredPolicy.CLEAN, ties=TiePolicy.NONE)
    score_all(scene, rounds[0], 0, [1, 1, 1, 1])  # household 4 not home: counted as full marks
    publish_round(scene.admin, rounds[0])
    found = monthly(publish_month(scene.admin, scene.village.village, month))
    assert [found[h.id][1:4] for h in scene.households[0]] == [(99, 1, False)] * 4 + [(100, 1, True)]


def test_the_month_published_twice_posts_once_and_a_correction_moves_the_flag():
    scene, month, rounds = month_scene()
    score_all(scene, rounds[0], 0, [0, 1, 2, 3, 4])
    publish_round(scene.admin, rounds[0])
    village = scene.village.village
    summary = publish_month(scene.admin, village, month, client_key="m-1")
    again = publish_month(scene.admin, village, month)
    assert again.id == summary.id and again.publications == 2
    assert [p.posted for p in queries.publications(village.id, "M" + month)] == [1, 0]
    assert publish_month(scene.admin, village, month, client_key="m-1").id == summary.id
    assert len(queries.publications(village.id, "M" + month)) == 2  # the retry published nothing
    refused("idempotency_key_reused", publish_round, scene.admin, rounds[0], client_key="m-1")

    item = checklist(village.id)[0]
    first, second = scene.households[0][:2]
    save_score(scene.admin, rounds[0], first.id, {item.id: 3})  # the admin still may, month closed or not
    publish_round(scene.admin, rounds[0])
    publish_month(scene.admin, village, month)
    assert [balance(h) for h in scene.households[0]] == [0, 50, 0, 0, 0]
    reversal = entries_of(first)[-1]
    assert reversal.amount == -50 and reversal.reverses_id == entries_of(first)[0].id
    assert [p.posted for p in queries.publications(village.id, "M" + month)][-1] == 1
    assert db.session.scalar(select(func.count()).select_from(MonthlySummary)) == 1
    for household in scene.households[0]:
        assert_ledger_consistent(household.id)


def test_the_month_is_the_admins_and_not_one_to_come():
    scene = gen_scene()
    village = scene.village.village
    today = local_today()
    next_month = f"{today.year + today.month // 12}-{today.month % 12 + 1:02d}"
    refused("month_in_future", publish_month, scene.admin, village, next_month)
    refused("invalid_month", publish_month, scene.admin, village, "2026-13")
    refused("forbidden", publish_month, scene.leaders[0], village, last_month())
    empty = publish_month(scene.admin, village, last_month())  # nothing published: no flag, no entry
    assert monthly(empty) == {} and sum(balance(h) for grid in scene.households for h in grid) == 0


def test_a_zero_flag_award_marks_the_holder_and_posts_nothing():
    scene, month, rounds = month_scene(flag_points=0)
    score_all(scene, rounds[0], 0, [0, 1, 2, 3, 4])
    publish_round(scene.admin, rounds[0])
    found = monthly(publish_month(scene.admin, scene.village.village, month))
    assert found[scene.households[0][0].id][3] is True
    assert sum(len(entries_of(h)) for h in scene.households[0]) == 0


def test_grids_are_ranked_by_their_average_household_total_not_by_size():
    scene, month, rounds = month_scene(unscored=UnscoredPolicy.SKIP)
    score_all(scene, rounds[0], 0, [0, 0, 0, 0, 5])  # average 99
    score_all(scene, rounds[0], 1, [0])  # one household counted: 100, the best average
    score_all(scene, rounds[0], 2, [1, 1, 1, 1, 1])  # 99 as well: shares second place
    publish_round(scene.admin, rounds[0])
    grids = queries.month_results(publish_month(scene.admin, scene.village.village, month))
    ids = [g.id for g in scene.village.grids]
    assert [(ids.index(g.grid.id), g.average, g.rank) for g in grids] == [(1, 100.0, 1), (0, 99.0, 2), (2, 99.0, 2)]


# ---------------------------------------------------------------------------------------------------- moving


def moved_scene():
    """Household 0 of grid 0 moves to grid 1 between the first and second week of last month."""
    scene, month, rounds = month_scene(ties=TiePolicy.NONE)
    mover = scene.households[0][0]
    score_all(scene, rounds[0], 0, [0, 3, 3, 3, 3])
    score_all(scene, rounds[0], 1, [2, 2, 2, 2, 2])
    publish_round(scene.admin, rounds[0])
    move_household(mover, scene.village.grids[1])
    db.session.commit()
    item = checklist(scene.village.village.id)[0]
    save_score(scene.admin, rounds[1], mover.id, {item.id: 1})
    for household in scene.households[0][1:]:
        save_score(scene.admin, rounds[1], household.id, {item.id: 2})
    score_all(scene, rounds[1], 1, [2, 2, 2, 2, 2])
    publish_round(scene.admin, rounds[1])
    return scene, month, rounds, mover


def test_a_moved_household_keeps_its_weeks_where_inspected_and_counts_its_month_once_where_it_lives():
    scene, month, rounds, mover = moved_scene()
    g0, g1 = scene.village.grids[0].id, scene.village.grids[1].id
    where = dict(db.session.execute(
        select(Result.round_id, Result.grid_id).where(Result.household_id == mover.id)).all())
    assert where == {rounds[0].id: g0, rounds[1].id: g1}
    assert [row.household.id for row in queries.sheet_rows(rounds[0].id, g0)][0] == mover.id
    found = monthly(publish_month(scene.admin, scene.village.village, month))
    assert found[mover.id] == (g1, 100 + 99, 2, True, 1)  # the best of grid 1: 199 against 196
    assert db.session.scalar(select(func.count()).select_from(MonthlyResult)
                             .where(MonthlyResult.household_id == mover.id)) == 1
    assert [found[h.id][3] for h in scene.households[0][1:]] == [False] * 4  # all 195: none alone at the top
    assert balance(mover) == 50


def test_a_moved_households_sheet_is_corrected_where_it_was_inspected():
    scene, month, rounds, mover = moved_scene()
    g0 = scene.village.grids[0].id
    item = checklist(scene.village.village.id)[0]
    inspector = scene.inspector_of(rounds[0], 0)
    # The inspectors' part ended when the grid's week was published; the admin corrects.
    refused("round_published", save_score, inspector, rounds[0], mover.id, {item.id: 4}, revision=1)
    score = save_score(scene.admin, rounds[0], mover.id, {item.id: 5}, revision=1)
    assert (score.grid_id, score.deductions) == (g0, 5)
    publish_round(scene.admin, rounds[0])
    assert db.session.scalar(select(Result.grid_id).where(Result.round_id == rounds[0].id,
                                                          Result.household_id == mover.id)) == g0
    assert db.session.scalar(select(func.count()).select_from(Score).where(Score.household_id == mover.id)) == 2


def test_a_household_listed_unscored_in_one_grid_and_then_inspected_in_another_places_once():
    for unscored in UnscoredPolicy:
        scene = gen_scene()
        update_settings(scene.admin, scene.village.village, unscored=unscored, ties=TiePolicy.ALL)
        round_ = scene.round()
        mover = scene.households[0][4]
        score_all(scene, round_, 0, [1, 1, 1, 1])  # household 4 not home
        grids = scene.village.grids
        publish_round(scene.admin, round_, grids[0].id)
        move_household(mover, grids[1])
        db.session.commit()
        score_all(scene, round_, 1, [3, 3, 3, 3, 3])
        item = checklist(scene.village.village.id)[0]
        save_score(scene.admin, round_, mover.id, {item.id: 0})
        publish_round(scene.admin, round_, grids[1].id)
        placed = db.session.execute(select(Result.grid_id, Result.scored, Result.outcome).where(
            Result.round_id == round_.id, Result.household_id == mover.id)).all()
        assert placed == [(grids[1].id, True, Outcome.MODEL)]
        assert balance(mover) == 20  # once, whatever it was given in grid 0 as an unscored household
        assert_ledger_consistent(mover.id)
        publish_round(scene.admin, round_)  # and every grid again: nothing changes
        assert balance(mover) == 20
        assert [balance(h) for h in scene.households[0][:4]] == [20] * 4
