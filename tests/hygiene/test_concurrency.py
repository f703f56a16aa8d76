"""Two inspectors at one door and two publishers of one round, each in its own thread, app context and session
(as two requests are): a sheet is saved first once, and every award reaches the ledger exactly once."""
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from points.auth.models import Role, User
from points.errors import DomainError
from points.extensions import db
from points.grids.models import GridNode
from points.hygiene import inspection, monthly, publishing, village_settings
from points.hygiene.models import Deduction, InspectionRound, MonthlySummary, Outcome, Posting, Result, Score
from points.ledger.models import LedgerEntry

from .. import factories
from ..ledger.helpers import assert_ledger_consistent
from .helpers import balance, gen_scene, last_month, score_all, week_ago, weeks_of_month


def run_together(app, calls):
    """Run each call (session → result) in its own thread and app context, all released at once; commit what
    succeeds, roll back a refusal. Returns per call ("ok", result) or (code, status)."""
    start = threading.Barrier(len(calls))

    def one(call):
        with app.app_context():
            try:
                start.wait()
                result = call()
                db.session.commit()
                return "ok", result
            except DomainError as refusal:
                db.session.rollback()
                return refusal.code, refusal.status
            finally:
                db.session.remove()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(one, calls))


def saver(user_id, round_id, household_id, item_id, points, revision):
    def call():
        score = inspection.save_score(db.session.get(User, user_id), db.session.get(InspectionRound, round_id),
                                    household_id, {item_id: points}, revision=revision)
        return score.deductions

    return call


def publisher(user_id, round_id, grid_id=None):
    def call():
        publication = publishing.publish_round(db.session.get(User, user_id), db.session.get(InspectionRound, round_id),
                                             grid_id)
        return publication.posted

    return call


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_two_inspectors_saving_a_households_first_sheet_at_once_one_wins(app):
    scene = gen_scene(grids=3, per_grid=5)
    round_ = scene.round()
    item = village_settings.checklist(scene.village.village.id)[0]
    inspector = scene.inspector_of(round_, 0)
    worker = factories.gen_user(Role.GRID_WORKER, scene.village.grids[scene.leaders.index(inspector)])
    db.session.commit()
    households = scene.households[0]
    calls = []
    for index, household in enumerate(households):
        calls += [saver(inspector.id, round_.id, household.id, item.id, 1, 0),
                  saver(worker.id, round_.id, household.id, item.id, 2 + index % 3, 0)]
    outcomes = run_together(app, calls)
    for index, household in enumerate(households):
        pair = outcomes[2 * index: 2 * index + 2]
        assert sorted(o[0] for o in pair) == ["ok", "score_changed"], pair
        assert [o for o in pair if o[0] != "ok"] == [("score_changed", 409)]
        won = next(o[1] for o in pair if o[0] == "ok")
        db.session.expire_all()
        score = db.session.scalar(select(Score).where(Score.household_id == household.id))
        assert (score.deductions, score.revision) == (won, 1)
        assert [(d.item_id, d.points) for d in score.items] == [(item.id, won)]
    assert count(Score) == len(households)
    assert count(Deduction) == len(households)


def test_two_saves_over_the_same_revision_at_once_one_wins(app):
    scene = gen_scene(grids=3, per_grid=5)
    round_ = scene.round()
    item = village_settings.checklist(scene.village.village.id)[0]
    score_all(scene, round_, 0, [0] * 5)
    inspector = scene.inspector_of(round_, 0)
    db.session.commit()
    calls = []
    for household in scene.households[0]:
        calls += [saver(inspector.id, round_.id, household.id, item.id, 3, 1),
                  saver(scene.admin.id, round_.id, household.id, item.id, 4, 1)]
    outcomes = run_together(app, calls)
    for index, household in enumerate(scene.households[0]):
        pair = outcomes[2 * index: 2 * index + 2]
        assert sorted(o[0] for o in pair) == ["ok", "score_changed"], pair
        won = next(o[1] for o in pair if o[0] == "ok")
        db.session.expire_all()
        score = db.session.scalar(select(Score).where(Score.household_id == household.id))
        assert (score.deductions, score.revision) == (won, 2)
        assert count(Deduction, Deduction.score_id == score.id) == 1
    assert count(Score) == 5


def test_publishers_of_one_round_at_once_post_each_award_once(app):
    scene = gen_scene(grids=3, per_grid=5)
    village_settings.update_settings(scene.admin, scene.village.village, shame_count=1)
    rule = factories.gen_rule(scene.village.village, "卫生评比晾晒", -5)
    village_settings.update_settings(scene.admin, scene.village.village, penalty_rule_id=rule.id)
    round_ = scene.round()
    for grid in range(3):
        score_all(scene, round_, grid, [0, 1, 2, 3, 4])
    other_admin = factories.gen_user(Role.VILLAGE_ADMIN, scene.village.village)
    db.session.commit()
    grids = scene.village.grids
    calls = [publisher(scene.admin.id, round_.id), publisher(other_admin.id, round_.id)]
    calls += [publisher(scene.inspector_of(round_, g).id, round_.id, grids[g].id) for g in range(3)]
    calls += [publisher(scene.admin.id, round_.id, grids[g].id) for g in range(3)]
    outcomes = run_together(app, calls)
    assert all(code == "ok" for code, _ in outcomes), outcomes
    assert sum(posted for _, posted in outcomes) == 3 * 4  # three 示范户 and one 晾晒 per grid
    assert count(LedgerEntry) == 3 * 4 and count(Posting) == 3 * 4
    assert count(LedgerEntry, LedgerEntry.reverses_id.is_not(None)) == 0
    assert count(Result, Result.outcome == Outcome.MODEL) == 9
    for grid in scene.households:
        assert [balance(h) for h in grid] == [20, 20, 20, 0, -5]
        for household in grid:
            assert_ledger_consistent(household.id)


def test_publishers_of_a_correction_at_once_reverse_and_repost_it_once(app):
    scene = gen_scene(grids=3, per_grid=5)
    round_ = scene.round()
    score_all(scene, round_, 0, [0, 1, 2, 3, 4])
    publishing.publish_round(scene.admin, round_)
    item = village_settings.checklist(scene.village.village.id)[0]
    inspection.save_score(scene.admin, round_, scene.households[0][0].id, {item.id: 5})
    leader = scene.inspector_of(round_, 0)
    db.session.commit()
    calls = [publisher(scene.admin.id, round_.id), publisher(leader.id, round_.id, scene.village.grids[0].id)] * 2
    outcomes = run_together(app, calls)
    assert all(code == "ok" for code, _ in outcomes), outcomes
    assert sum(posted for _, posted in outcomes) == 1
    assert [balance(h) for h in scene.households[0]] == [0, 20, 20, 20, 0]
    assert count(LedgerEntry) == 3 + 1 + 1
    for household in scene.households[0]:
        assert_ledger_consistent(household.id)


def test_two_publishers_of_one_month_at_once_give_each_flag_once(app):
    scene = gen_scene(grids=3, per_grid=3)
    month = last_month()
    round_ = scene.round(weeks_of_month(month)[0])
    for grid in range(3):
        score_all(scene, round_, grid, [1, 0, 2])
    publishing.publish_round(scene.admin, round_)
    other_admin = factories.gen_user(Role.VILLAGE_ADMIN, scene.village.village)
    db.session.commit()
    village_id = scene.village.village.id

    def month_publisher(user_id):
        def call():
            summary = monthly.publish_month(db.session.get(User, user_id), db.session.get(GridNode, village_id), month)
            return summary.id

        return call

    outcomes = run_together(app, [month_publisher(scene.admin.id), month_publisher(other_admin.id)] * 2)
    assert all(code == "ok" for code, _ in outcomes), outcomes
    assert len({summary for _, summary in outcomes}) == 1
    assert count(MonthlySummary) == 1
    assert [balance(grid[1]) for grid in scene.households] == [20 + 50] * 3
    assert count(LedgerEntry) == 3 * 3 + 3


def test_the_round_of_a_week_asked_for_at_once_is_made_once(app):
    scene = gen_scene(grids=3, per_grid=1)
    village_id = scene.village.village.id
    week = week_ago(3)

    def asker():
        return inspection.round_for(db.session.get(GridNode, village_id), week).id

    outcomes = run_together(app, [asker] * 4)
    assert all(code == "ok" for code, _ in outcomes), outcomes
    assert len({round_id for _, round_id in outcomes}) == 1
    assert count(InspectionRound) == 1
