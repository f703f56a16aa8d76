"""Postings to one household at once, from threads and from processes, lose nothing and post a key once."""
import multiprocessing
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from points import create_app
from points.extensions import db
from points.ledger.models import EntrySource, HouseholdBalance, LedgerEntry
from points.ledger.services import post_entry
from points.rules.models import RuleVersion

from .. import factories
from .helpers import assert_ledger_consistent, rule_versions

THREADS = 20


def _ready(village):
    household = factories.gen_household(village.grids[0])
    award, _, _ = rule_versions(village)
    db.session.commit()
    return household.id, award.id


def _post(app, household_id, version_id, key, amount=5):
    with app.app_context():
        entry = post_entry(household_id, amount, EntrySource.MANUAL, key,
                           rule_version=db.session.get(RuleVersion, version_id))
        db.session.commit()
        return entry.id


def _balance(household_id):
    db.session.expire_all()
    return db.session.scalar(select(HouseholdBalance.balance).where(HouseholdBalance.household_id == household_id))


def test_twenty_threads_posting_to_one_household_lose_nothing(app, village):
    household_id, version_id = _ready(village)
    with ThreadPoolExecutor(THREADS) as pool:
        ids = list(pool.map(lambda i: _post(app, household_id, version_id, f"thread-{i}"), range(THREADS)))
    assert len(set(ids)) == THREADS
    assert _balance(household_id) == 5 * THREADS
    assert_ledger_consistent(household_id)


def test_one_key_sent_from_twenty_threads_posts_once(app, village):
    household_id, version_id = _ready(village)
    with ThreadPoolExecutor(THREADS) as pool:
        ids = list(pool.map(lambda _: _post(app, household_id, version_id, "the-same-key"), range(THREADS)))
    assert len(set(ids)) == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    assert _balance(household_id) == 5
    assert_ledger_consistent(household_id)


def _process_posts(uri, household_id, version_id, worker, count):
    """Runs in a separate process: its own app, engine and connections."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "test"})
    for index in range(count):
        _post(app, household_id, version_id, f"process-{worker}-{index}")
    _post(app, household_id, version_id, "shared-by-every-process", amount=1)


def test_several_processes_posting_to_one_household_lose_nothing(app, village, database_uri):
    household_id, version_id = _ready(village)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_process_posts, args=(database_uri, household_id, version_id, w, 10))
               for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    assert _balance(household_id) == 4 * 10 * 5 + 1
    assert_ledger_consistent(household_id)
