"""Publishing a round: 示范户 and 晾晒 per grid, ties per the village's setting, the ledger brought to the results
once, and corrections that reverse and re-post only what changed."""
from sqlalchemy import func, select

from points.extensions import db
from points.hygiene import services
from points.hygiene.models import Outcome, Result, TiePolicy, UnscoredPolicy
from points.ledger.models import LedgerEntry

from ..ledger.helpers import assert_ledger_consistent
from .helpers import balance, gen_scene, score_all


def outcomes(round_, grid) -> dict[int, Outcome | None]:
    return dict(db.session.execute(
        select(Result.household_id, Result.outcome).where(Result.round_id == round_.id, Result.grid_id == grid.id)).all())


def test_the_three_with_fewest_deductions_get_20_points():
    scene = gen_scene()
    round_ = scene.round()
    score_all(scene, round_, 0, [0, 1, 2, 3, 4])
    services.publish_round(scene.admin, round_)
    grid = scene.households[0]
    assert [balance(h) for h in grid] == [20, 20, 20, 0, 0]
    assert outcomes(round_, scene.village.grids[0])[grid[0].id] is Outcome.MODEL
    for household in grid:
        assert_ledger_consistent(household.id)


def test_publishing_twice_posts_once_and_a_correction_reposts_only_what_changed():
    scene = gen_scene()
    round_ = scene.round()
    score_all(scene, round_, 0, [0, 1, 2, 3, 4])
    services.publish_round(scene.admin, round_)
    again = services.publish_round(scene.admin, round_)
    assert (again.posted, again.reversed) == (0, 0)
    item = services.checklist(scene.village.village.id)[0]
    grid = scene.households[0]
    services.save_score(scene.admin, round_, grid[2].id, {item.id: 5})  # the third was wrongly scored
    correction = services.publish_round(scene.admin, round_)
    assert (correction.posted, correction.reversed) == (1, 1)
    assert [balance(h) for h in grid] == [20, 20, 0, 20, 0]
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 5
    for household in grid:
        assert_ledger_consistent(household.id)


def test_ties_at_the_cut_off_all_or_none():
    for ties, expected in ((TiePolicy.ALL, [20, 20, 20, 20, 0]), (TiePolicy.NONE, [20, 20, 0, 0, 0])):
        scene = gen_scene()
        services.update_settings(scene.admin, scene.village.village, ties=ties)
        round_ = scene.round()
        score_all(scene, round_, 0, [0, 1, 2, 2, 4])
        services.publish_round(scene.admin, round_)
        assert [balance(h) for h in scene.households[0]] == expected


def test_unscored_households_are_left_out_or_counted_clean():
    for unscored, expected in ((UnscoredPolicy.SKIP, [20, 20, 20, 0, 0]), (UnscoredPolicy.CLEAN, [20, 0, 0, 20, 20])):
        scene = gen_scene()
        services.update_settings(scene.admin, scene.village.village, unscored=unscored, ties=TiePolicy.NONE)
        round_ = scene.round()
        score_all(scene, round_, 0, [0, 3, 4])
        services.publish_round(scene.admin, round_)
        assert [balance(h) for h in scene.households[0]] == expected


def test_the_month_gives_each_grid_a_red_flag():
    scene = gen_scene()
    round_ = scene.round()
    for grid in range(3):
        score_all(scene, round_, grid, [5, 0, 1, 2, 3])
    services.publish_round(scene.admin, round_)
    summary = services.publish_month(scene.admin, scene.village.village, round_.month)
    assert [balance(g[1]) for g in scene.households] == [70, 70, 70]
    again = services.publish_month(scene.admin, scene.village.village, round_.month)
    assert again.id == summary.id
    assert [balance(g[1]) for g in scene.households] == [70, 70, 70]
