"""A transaction posting to several households of a grid in turn (an event's close) and single postings to the same
grid at once: the grid totals are written at each one's commit, the last lock it takes, so that none waits for a
household while holding the grid's rows (on PostgreSQL two such transactions deadlocked); and the totals are the
households' added up. On SQLite, and on PostgreSQL when TEST_DATABASE_URL is set."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from points.extensions import db
from points.ledger.models import EntrySource
from points.ledger.services import post_entry
from points.rules.models import RuleVersion

from .. import factories
from .grid_helpers import assert_grid_totals_consistent, stored_grid_totals
from .helpers import assert_ledger_consistent, rule_versions

DAY = date(2026, 11, 18)
ROUNDS = 5


def _post(household_id: int, version_id: int, key: str, amount: int = 5) -> None:
    post_entry(household_id, amount, EntrySource.MANUAL, key, rule_version=db.session.get(RuleVersion, version_id),
               occurred_on=DAY)


def _a_then_b(app, barrier, a: int, b: int, version_id: int, key: str) -> str:
    """Posts to a, lets the other transaction take b, then posts to b (waiting for it), and commits."""
    with app.app_context():
        try:
            _post(a, version_id, f"{key}-a")
            barrier.wait()
            time.sleep(0.3)  # the other transaction has b by now
            _post(b, version_id, f"{key}-b")
            db.session.commit()
            return "committed"
        finally:
            db.session.rollback()


def _b(app, barrier, b: int, version_id: int, key: str) -> str:
    with app.app_context():
        try:
            barrier.wait()
            _post(b, version_id, f"{key}-b-alone")
            time.sleep(0.1)
            db.session.commit()
            return "committed"
        finally:
            db.session.rollback()


def test_a_transaction_posting_to_two_households_and_a_posting_to_the_second_both_commit(app, village):
    """Transaction 1 posts to A, then (once transaction 2 has posted to B) to B; both in one grid, the same month. Were
    the grid rows written at each posting, transaction 1 would hold them while waiting for B, and transaction 2 hold
    B while waiting for them: PostgreSQL's DeadlockDetected. Written at each commit, transaction 2 commits first and
    transaction 1 after it."""
    award, _, _ = rule_versions(village)
    a, b = factories.gen_household(village.grids[0]), factories.gen_household(village.grids[0])
    db.session.commit()
    for round_ in range(ROUNDS):
        barrier = threading.Barrier(2, timeout=30)
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(_a_then_b, app, barrier, a.id, b.id, award.id, f"r{round_}")
            second = pool.submit(_b, app, barrier, b.id, award.id, f"r{round_}")
            assert (first.result(timeout=60), second.result(timeout=60)) == ("committed", "committed")
    db.session.expire_all()
    assert stored_grid_totals()[("M2026-11", village.grids[0].id, "")] == (15 * ROUNDS, 2)
    assert_grid_totals_consistent()
    for household in (a, b):
        assert_ledger_consistent(household.id)


def _many(app, barrier, household_ids: list[int], version_id: int, key: str) -> str:
    """An event's close: every household in turn, in one transaction."""
    with app.app_context():
        try:
            barrier.wait()
            for household_id in household_ids:
                _post(household_id, version_id, f"{key}-{household_id}")
            db.session.commit()
            return "committed"
        finally:
            db.session.rollback()


def test_transactions_posting_to_several_households_of_two_grids_in_turn_all_commit(app, village):
    """Several transactions at once, each posting in turn to some households of two grids (in id order, as an event's
    close posts them, or one household alone): each holds only the households it posted to while it waits, never a
    grid's rows, which it writes last, at its commit; so they all commit."""
    award, _, _ = rule_versions(village)
    households = [factories.gen_household(village.grids[i % 2]).id for i in range(6)]
    db.session.commit()
    orders = [households, households[2:], households[::2], households[1::2], households[:1], households[-1:]]
    barrier = threading.Barrier(len(orders), timeout=30)
    with ThreadPoolExecutor(len(orders)) as pool:
        jobs = [pool.submit(_many, app, barrier, order, award.id, f"t{index}") for index, order in enumerate(orders)]
        assert [job.result(timeout=120) for job in jobs] == ["committed"] * len(orders)
    db.session.expire_all()
    totals = stored_grid_totals()
    assert totals[("M2026-11", village.grids[0].id, "")][1] == totals[("M2026-11", village.grids[1].id, "")][1] == 3
    assert sum(totals[("M2026-11", grid.id, "")][0] for grid in village.grids[:2]) == 5 * sum(map(len, orders))
    assert_grid_totals_consistent()
    for household_id in households:
        assert_ledger_consistent(household_id)
