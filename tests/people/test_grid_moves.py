"""A household that moves to another grid takes its grid totals along, whichever way it moves (调整网格, or an import
of the 花名册 that names another grid), and however its postings race the move: on SQLite, and on PostgreSQL when
TEST_DATABASE_URL is set."""
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

from sqlalchemy import select

from points.errors import DomainError
from points.extensions import db
from points.grids.models import GridNode
from points.ledger.models import EntrySource
from points.ledger.services import post_entry
from points.people.models import Household
from points.people.services import move_household
from points.rules.models import RuleVersion

from .. import factories
from ..ledger.grid_helpers import assert_grid_totals_consistent, stored_grid_totals
from ..ledger.helpers import assert_ledger_consistent, rule_versions
from .test_import_updates import applied, exported, two_households

POSTERS = 12
MOVERS = 8
DAY = date(2026, 11, 28)  # six days across a month's end


def test_an_import_that_moves_households_takes_their_grid_totals_along(village):
    first = two_households(village)
    second = db.session.scalar(select(Household).where(Household.grid_id == village.grids[1].id))
    award, penalty, _ = rule_versions(village)
    post_entry(first.id, 20, EntrySource.MANUAL, "a", rule_version=award, occurred_on=DAY)
    post_entry(second.id, 30, EntrySource.MANUAL, "b", rule_version=award, occurred_on=DAY)
    post_entry(second.id, -5, EntrySource.MANUAL, "c", rule_version=penalty, occurred_on=DAY + timedelta(days=4))
    db.session.commit()
    rows = exported(village)
    for row in rows:
        row["所属网格"] = "第3网格"

    applied(village, rows)

    third = village.grids[2].id
    assert {key: figures for key, figures in stored_grid_totals().items() if key[0] == "M2026-11"} == {
        ("M2026-11", third, ""): (50, 2), ("M2026-11", third, "hygiene"): (50, 2)}
    assert {key[1] for key in stored_grid_totals()} == {third}
    assert_grid_totals_consistent()


def _post(app, start, household_id, version_id, key, day):
    start.wait()
    with app.app_context():
        post_entry(household_id, 5, EntrySource.MANUAL, key, rule_version=db.session.get(RuleVersion, version_id),
                   occurred_on=day)
        db.session.commit()
        return "posted"


def _move(app, start, household_id, grid_ids):
    """A move to the grid other than the one the household was read in: by the time the hold is had, another move
    may have taken it there already."""
    start.wait()
    with app.app_context():
        household = db.session.get(Household, household_id)
        target = grid_ids[1] if household.grid_id == grid_ids[0] else grid_ids[0]
        try:
            move_household(household, db.session.get(GridNode, target))
        except DomainError as refusal:
            db.session.rollback()
            return refusal.code
        db.session.commit()
        return "moved"


def test_postings_racing_moves_of_their_household_leave_the_grid_totals_right(app, village):
    award, _, _ = rule_versions(village)
    mover = factories.gen_household(village.grids[0])
    neighbours = [factories.gen_household(village.grids[0]), factories.gen_household(village.grids[1])]
    post_entry(mover.id, 10, EntrySource.MANUAL, "opening", rule_version=award, occurred_on=DAY)
    db.session.commit()
    grids = [village.grids[0].id, village.grids[1].id]
    start = threading.Barrier(POSTERS + MOVERS)
    with ThreadPoolExecutor(POSTERS + MOVERS) as pool:
        jobs = [pool.submit(_post, app, start, (mover, *neighbours)[i % 3].id, award.id, f"race-{i}",
                            DAY + timedelta(days=i % 6)) for i in range(POSTERS)]
        jobs += [pool.submit(_move, app, start, mover.id, grids) for _ in range(MOVERS)]
        outcomes = [job.result() for job in jobs]

    assert outcomes.count("posted") == POSTERS
    assert outcomes.count("moved") >= 1 and set(outcomes) <= {"posted", "moved", "same_grid"}
    db.session.expire_all()
    assert_grid_totals_consistent()
    for household in (mover, *neighbours):
        assert_ledger_consistent(household.id)
