"""Posting: one entry per idempotency key, reversals that point at their original, no balance below zero but
by a penalty, and totals kept in the same transaction."""
from datetime import date

import pytest
from sqlalchemy import select

from points.errors import DomainError
from points.extensions import db
from points.ledger.locks import hold
from points.ledger.models import EntrySource, HouseholdBalance, PeriodTotal
from points.ledger.services import post_entry, reverse_entry
from points.periods import period_keys

from .. import factories
from .helpers import assert_ledger_consistent, rule_versions


@pytest.fixture
def setup(village):
    household = factories.gen_household(village.grids[0])
    return household, *rule_versions(village)


def balance_of(household):
    return db.session.get(HouseholdBalance, household.id).balance


def test_an_award_raises_the_balance_and_every_period_total(setup):
    household, award, _, _ = setup
    entry = post_entry(household.id, 20, EntrySource.INSPECTION, "k1", rule_version=award,
                       resident_id=household.head.id, occurred_on=date(2026, 11, 23))
    assert balance_of(household) == 20
    assert entry.category is award.category
    periods = {t.period for t in db.session.scalars(select(PeriodTotal))}
    assert periods == {"W2026-48", "M2026-11", "Q2026-4", "Y2026", "ALL"}
    assert_ledger_consistent(household.id)


def test_an_entry_posted_under_a_savepoint_rolled_back_leaves_the_session(setup):
    """Its id is free again: the next posting takes it, and the session holds no ghost under that id."""
    household, award, _, _ = setup
    with pytest.raises(DomainError):
        with db.session.begin_nested():
            undone = post_entry(household.id, 20, EntrySource.MANUAL, "undone", rule_version=award)
            raise DomainError("insufficient_balance")
    kept = post_entry(household.id, 5, EntrySource.MANUAL, "kept", rule_version=award)
    db.session.commit()
    assert undone not in db.session and balance_of(household) == 5
    assert_ledger_consistent(household.id)
    assert kept.id is not None


def test_iso_weeks_cross_the_new_year():
    assert period_keys(date(2027, 1, 1))[:2] == ["W2026-53", "M2027-01"]
    assert period_keys(date(2025, 12, 29))[0] == "W2026-01"


def test_the_same_idempotency_key_posts_once(setup):
    household, award, _, _ = setup
    first = post_entry(household.id, 20, EntrySource.MANUAL, "same", rule_version=award)
    again = post_entry(household.id, 20, EntrySource.MANUAL, "same", rule_version=award)
    assert again.id == first.id and balance_of(household) == 20
    with pytest.raises(DomainError) as refusal:
        post_entry(household.id, 30, EntrySource.MANUAL, "same", rule_version=award)
    assert refusal.value.code == "idempotency_key_reused"


@pytest.mark.parametrize("other", [{"note": "另一件事"}, {"resident_id": None}, {"occurred_on": date(2026, 11, 2)}])
def test_the_same_key_with_another_note_resident_or_day_is_refused(setup, other):
    household, award, _, _ = setup
    asked = {"rule_version": award, "note": "打扫村道", "resident_id": household.head.id,
             "occurred_on": date(2026, 11, 3)}
    first = post_entry(household.id, 20, EntrySource.MANUAL, "same", **asked)
    # A retry that leaves the day to the posting answers the first, whichever day that was.
    assert post_entry(household.id, 20, EntrySource.MANUAL, "same", **{**asked, "occurred_on": None}).id == first.id
    with pytest.raises(DomainError) as refusal:
        post_entry(household.id, 20, EntrySource.MANUAL, "same", **{**asked, **other})
    assert refusal.value.code == "idempotency_key_reused" and balance_of(household) == 20


def test_a_household_held_then_posted_to_is_locked_once_a_transaction(setup, statements):
    household, award, _, _ = setup
    db.session.commit()

    def locks():
        return statements.summary().count("INSERT household_balances")

    statements.clear()
    assert hold(household.id) == 0
    post_entry(household.id, 20, EntrySource.INSPECTION, "k1", rule_version=award)
    assert locks() == 1
    db.session.commit()
    post_entry(household.id, 20, EntrySource.INSPECTION, "k2", rule_version=award)  # a new transaction
    assert locks() == 2
    with db.session.begin_nested():  # a savepoint lets its locks go with its rollback: it keeps its own
        post_entry(household.id, 20, EntrySource.INSPECTION, "k3", rule_version=award)
    assert locks() == 3
    db.session.rollback()
    assert hold(household.id) == 20 and locks() == 4  # as the last commit left it
    db.session.rollback()
    assert_ledger_consistent(household.id)


def test_a_penalty_may_take_the_balance_below_zero(setup):
    household, _, penalty, _ = setup
    post_entry(household.id, -10, EntrySource.MANUAL, "p1", rule_version=penalty)
    assert balance_of(household) == -10
    assert_ledger_consistent(household.id)


def test_nothing_else_may(setup):
    household, award, _, _ = setup
    awarded = post_entry(household.id, 20, EntrySource.MANUAL, "a1", rule_version=award)
    with pytest.raises(DomainError) as refusal:
        post_entry(household.id, -30, EntrySource.REDEMPTION, "r1")
    assert refusal.value.code == "insufficient_balance" and "现有 20 分" in refusal.value.message
    post_entry(household.id, -20, EntrySource.REDEMPTION, "r2")
    with pytest.raises(DomainError) as spent:
        reverse_entry(awarded.id, "rev")  # an award already spent cannot be taken back below zero
    assert spent.value.code == "insufficient_balance"
    assert balance_of(household) == 0


def test_spending_and_its_void_leave_the_period_totals_alone(setup):
    household, award, _, _ = setup
    day = date(2026, 11, 23)
    post_entry(household.id, 30, EntrySource.MANUAL, "earned", rule_version=award, occurred_on=day)
    spent = post_entry(household.id, -20, EntrySource.REDEMPTION, "spent", occurred_on=day)
    month = db.session.get(PeriodTotal, ("M2026-11", household.id, 0, ""))
    assert (month.total, month.entries, balance_of(household)) == (30, 1, 10)  # 本月得分 is what was earned
    with pytest.raises(DomainError) as at_the_counter:
        reverse_entry(spent.id, "冲正")  # the shop's void returns the stock as well
    assert at_the_counter.value.code == "redemption_voided_at_shop"
    reverse_entry(spent.id, "void", voiding=True)
    db.session.expire_all()
    assert (month.total, month.entries, balance_of(household)) == (30, 1, 30)
    assert_ledger_consistent(household.id)


def test_a_reversal_points_at_its_original_and_happens_once(setup):
    household, _, penalty, _ = setup
    wrong = post_entry(household.id, -10, EntrySource.MANUAL, "p1", rule_version=penalty)
    reversal = reverse_entry(wrong.id, "rev-1", note="误扣")
    assert (reversal.amount, reversal.reverses_id, reversal.source) == (10, wrong.id, EntrySource.REVERSAL)
    assert reverse_entry(wrong.id, "rev-1", note="误扣").id == reversal.id, "a retried reversal returns the first"
    with pytest.raises(DomainError) as other_note:
        reverse_entry(wrong.id, "rev-1", note="另一个理由")
    assert other_note.value.code == "idempotency_key_reused"
    with pytest.raises(DomainError) as twice:
        reverse_entry(wrong.id, "rev-2")
    assert twice.value.code == "already_reversed"
    with pytest.raises(DomainError) as of_reversal:
        reverse_entry(reversal.id, "rev-3")
    assert of_reversal.value.code == "cannot_reverse_reversal"
    assert balance_of(household) == 0
    assert_ledger_consistent(household.id)


@pytest.mark.parametrize("amount", [0, 100_001, -100_001, 2.5, "20"])
def test_zero_huge_or_non_integer_amounts_are_refused(setup, amount):
    household, award, _, _ = setup
    with pytest.raises(DomainError) as refusal:
        post_entry(household.id, amount, EntrySource.MANUAL, "x", rule_version=award)
    assert refusal.value.code == "invalid_amount"


def test_the_resident_must_live_in_the_household(setup, village):
    household, award, _, _ = setup
    neighbour = factories.gen_household(village.grids[0])
    with pytest.raises(DomainError) as refusal:
        post_entry(household.id, 20, EntrySource.MANUAL, "x", rule_version=award, resident_id=neighbour.head.id)
    assert refusal.value.code == "resident_not_in_household"


def test_an_entry_says_itself_whether_it_may_be_appealed_or_reversed(setup):
    """The 我的积分 page shows 申诉 and 冲正 by these, and submit_appeal refuses by is_deduction: one rule each."""
    household, award, penalty, _ = setup
    post_entry(household.id, 50, EntrySource.MANUAL, "start", rule_version=award)
    fine = post_entry(household.id, -10, EntrySource.MANUAL, "fine", rule_version=penalty)
    spent = post_entry(household.id, -5, EntrySource.REDEMPTION, "spent")
    undone = post_entry(household.id, -10, EntrySource.MANUAL, "undone", rule_version=penalty)
    reversal = reverse_entry(undone.id, "undo")
    db.session.flush()
    db.session.expire_all()
    assert [(e.is_deduction, e.reversible) for e in (fine, spent, undone, reversal)] == [
        (True, True), (False, False), (True, False), (False, False)]
