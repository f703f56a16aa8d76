"""Property: after any sequence of awards, penalties, reversals, debits and retried requests, the balance is the
sum of the entries and every period total the sum over its entries."""
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from points.errors import DomainError
from points.extensions import db
from points.ledger.models import EntrySource
from points.ledger.services import post_entry, reverse_entry

from .. import factories
from .helpers import assert_ledger_consistent, rule_versions

operations = st.lists(
    st.one_of(
        st.tuples(st.just("award"), st.integers(1, 60), st.integers(0, 400)),
        st.tuples(st.just("penalty"), st.integers(1, 60), st.integers(0, 400)),
        st.tuples(st.just("debit"), st.integers(1, 80), st.integers(0, 400)),
        st.tuples(st.just("reverse"), st.integers(0, 30), st.just(0)),
        st.tuples(st.just("retry"), st.integers(0, 30), st.just(0)),
    ),
    max_size=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations)
def test_balance_and_totals_equal_the_entries(village, steps):
    household = factories.gen_household(village.grids[0])
    award, penalty, _ = rule_versions(village)
    posted = []  # (key, amount, source, rule_version, resident, entry)
    start = date(2026, 12, 20)  # days around a new year and an ISO week 53
    for index, (kind, size, day) in enumerate(steps):
        key = f"{household.id}-{index}"
        try:
            if kind in ("award", "penalty", "debit"):
                amount, source, version = {
                    "award": (size, EntrySource.MANUAL, award),
                    "penalty": (-size, EntrySource.MANUAL, penalty),
                    "debit": (-size, EntrySource.REDEMPTION, None),
                }[kind]
                resident = household.head.id if size % 2 else None
                entry = post_entry(household.id, amount, source, key, rule_version=version, resident_id=resident,
                                   occurred_on=start + timedelta(days=day % 30), hours=size % 3 if amount > 0 else 0)
                posted.append((key, amount, source, version, resident, entry))
            elif kind == "reverse" and posted:
                reverse_entry(posted[size % len(posted)][-1].id, key, voiding=True)  # a debit's void too
            elif kind == "retry" and posted:
                # The same request again, but for its day: left to the posting, which a retry may do on another.
                old_key, amount, source, version, resident, entry = posted[size % len(posted)]
                assert post_entry(household.id, amount, source, old_key, rule_version=version,
                                  resident_id=resident).id == entry.id
        except DomainError as refusal:
            assert refusal.code in {"insufficient_balance", "already_reversed", "cannot_reverse_reversal"}
        db.session.flush()
        assert_ledger_consistent(household.id)
