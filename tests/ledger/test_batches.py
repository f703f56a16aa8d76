"""post_entries: many entries in one batch, all or none, with the rules of a single posting applied in order."""
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth.models import Role, User
from points.errors import DomainError
from points.extensions import db
from points.ledger.models import EntrySource, HouseholdBalance, LedgerEntry
from points.ledger.services import Movement, apply_rule_to_many, post_entries, post_entry, reversal_of
from points.rules.models import RuleCategory, RuleVersion
from points.rules.services import RuleTerms, create_rule

from .. import factories
from .helpers import assert_ledger_consistent, rule_versions

DAY = date(2026, 11, 23)


@pytest.fixture
def households(village):
    return [factories.gen_household(village.grids[0]) for _ in range(3)]


def balance_of(household_id):
    db.session.expire_all()
    return db.session.scalar(select(HouseholdBalance.balance).where(HouseholdBalance.household_id == household_id))


def award(household, key, amount=20, **details):
    return Movement(household.id, amount, EntrySource.INSPECTION, key, category=RuleCategory.HYGIENE,
                    occurred_on=DAY, **details)


def test_a_batch_posts_every_entry_in_order_with_balances_totals_and_audit(households):
    a, b, c = households
    entries = post_entries([award(c, "c1"), award(a, "a1"), award(a, "a2", 5), award(b, "b1")])
    assert [e.idempotency_key for e in entries] == ["c1", "a1", "a2", "b1"]
    assert [balance_of(h.id) for h in households] == [25, 20, 20]
    for household in households:
        assert_ledger_consistent(household.id)
    # Each audit event names the balance before and after its own entry, in the order the entries were given.
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.subject_type == "entry",
                                                         AuditEvent.subject_id.in_([e.id for e in entries[1:3]]))
                                .order_by(AuditEvent.id)).all()
    assert [(e.before["balance"], e.after["balance"]) for e in events] == [(0, 20), (20, 25)]


def test_a_batch_posted_again_returns_the_same_entries_and_posts_nothing(households):
    a, b, _ = households
    first = post_entries([award(a, "a1"), award(b, "b1")])
    again = post_entries([award(a, "a1"), award(b, "b1"), award(b, "b2", 1)])
    assert [e.id for e in again[:2]] == [e.id for e in first]
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 3
    assert balance_of(b.id) == 21


def test_one_key_twice_in_a_batch_is_one_entry_and_a_key_with_other_terms_is_refused(households):
    a, b, _ = households
    entries = post_entries([award(a, "same"), award(a, "same")])
    assert entries[0] is entries[1] and balance_of(a.id) == 20
    with pytest.raises(DomainError) as refused:
        post_entries([award(b, "other"), award(b, "other", 5)])
    assert refused.value.code == "idempotency_key_reused"


def test_the_balance_check_follows_the_batch_in_order(village, households):
    a, _, _ = households
    post_entries([award(a, "a1", 10), Movement(a.id, -10, EntrySource.MANUAL, "spend")])
    assert balance_of(a.id) == 0
    with pytest.raises(DomainError) as refused:
        post_entries([Movement(a.id, -1, EntrySource.MANUAL, "too-much"), award(a, "late", 10)])
    assert refused.value.code == "insufficient_balance"


def test_a_refused_movement_refuses_the_whole_batch(households):
    a, b, _ = households
    with pytest.raises(DomainError):
        post_entries([award(a, "fine"), Movement(b.id, -5, EntrySource.MANUAL, "b-spends")])
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


def capped_rule(village):
    return create_rule(village.village, "CAPPED", RuleTerms("门前卫生", RuleCategory.HYGIENE, 10, cap_week=20),
                       date(2026, 1, 1)).versions[0]


def test_a_refused_batch_leaves_the_balances_as_they_were(households):
    a, b, _ = households
    post_entries([award(a, "a1", 10)])
    with pytest.raises(DomainError):
        post_entries([award(a, "a2", 10), award(b, "b1"), Movement(b.id, -50, EntrySource.MANUAL, "b-spends")])
    db.session.flush()
    assert balance_of(a.id) == 10 and balance_of(b.id) in (None, 0)


def test_caps_count_the_entries_posted_before(village, households):
    a, _, _ = households
    capped = capped_rule(village)
    post_entries([award(a, f"cap-{i}", 10, rule_version=capped) for i in range(2)])
    with pytest.raises(DomainError) as refused:
        post_entries([award(a, "cap-2", 10, rule_version=capped)])
    assert refused.value.code == "cap_exceeded"


def test_caps_count_the_entries_earlier_in_the_batch(village, households):
    a, b, _ = households
    capped = capped_rule(village)
    with pytest.raises(DomainError) as refused:
        post_entries([award(b, "other-household", 10, rule_version=capped)] +
                     [award(a, f"cap-{i}", 10, rule_version=capped) for i in range(3)])
    assert refused.value.code == "cap_exceeded"


def test_a_reversal_and_its_repost_in_one_batch(households):
    a, _, _ = households
    original = post_entry(a.id, 20, EntrySource.INSPECTION, "first", category=RuleCategory.HYGIENE)
    reversal, again = post_entries([reversal_of(original.id, "undo"), award(a, "second", 15)])
    assert reversal.reverses_id == original.id and again.amount == 15
    assert balance_of(a.id) == 15
    with pytest.raises(DomainError) as refused:
        post_entries([reversal_of(original.id, "undo-again")])
    assert refused.value.code == "already_reversed"
    assert_ledger_consistent(a.id)


def test_batches_over_the_same_households_in_opposite_orders_do_not_deadlock(app, village):
    ids = [factories.gen_household(village.grids[0]).id for _ in range(6)]
    version_id = rule_versions(village)[0].id
    db.session.commit()

    def post(worker):
        with app.app_context():
            order = ids if worker % 2 else list(reversed(ids))
            version = db.session.get(RuleVersion, version_id)
            for batch in range(5):
                post_entries([Movement(h, 1, EntrySource.MANUAL, f"w{worker}-b{batch}-h{h}", rule_version=version)
                              for h in order])
                db.session.commit()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(post, range(4)))
    for household_id in ids:
        assert balance_of(household_id) == 4 * 5
        assert_ledger_consistent(household_id)


def test_a_batch_sent_twice_at_once_posts_once_and_both_answer(app, village):
    """A double tap on the 批量加分 page: the second waits for the first's key and answers as a retry."""
    ids = [factories.gen_household(village.grids[0]).id for _ in range(3)]
    actor_id = factories.gen_user(Role.VILLAGE_ADMIN, village.village).id
    rule_id = factories.gen_rule(village.village, "参加会议", 5, category=RuleCategory.VILLAGE_RULES).id
    db.session.commit()

    def send(_):
        with app.app_context():
            entries = apply_rule_to_many(db.session.get(User, actor_id), ids, rule_id, "web:tap")
            answer = sorted(e.id for e in entries)
            db.session.commit()
            return answer

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(send, range(2))
    assert first == second and len(first) == 3
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 3
    for household_id in ids:
        assert balance_of(household_id) == 5
