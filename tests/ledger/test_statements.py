"""积分对账单: opening balance, running balance and closing balance by occurred_on, the totals earned, lost and spent,
and the date ranges refused."""
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from points.errors import DomainError
from points.extensions import db
from points.ledger.models import EntrySource, LedgerEntry
from points.ledger.queries import balance_of
from points.ledger.services import post_entry, reverse_entry
from points.ledger.statements import household_statement, parse_range

from .. import factories
from .helpers import rule_versions

DEFAULT = (date(2026, 1, 1), date(2026, 12, 7))


@pytest.fixture
def history(village):
    """A household's January and February: an award, a penalty later taken back, a redemption and its void, and an
    award posted after February began for a day of January."""
    household = factories.gen_household(village.grids[0])
    award, penalty, _ = rule_versions(village)
    kept = post_entry(household.id, 20, EntrySource.MANUAL, "s-award", rule_version=award,
                      occurred_on=date(2026, 1, 5))
    fined = post_entry(household.id, -10, EntrySource.MANUAL, "s-fine", rule_version=penalty,
                       occurred_on=date(2026, 1, 10))
    spent = post_entry(household.id, -5, EntrySource.REDEMPTION, "s-spend", occurred_on=date(2026, 2, 1))
    reverse_entry(fined.id, "s-unfine")  # on the penalty's day, 10 January
    reverse_entry(spent.id, "s-void", voiding=True)  # on the redemption's day, 1 February
    late = post_entry(household.id, 3, EntrySource.MANUAL, "s-late", occurred_on=date(2026, 1, 31))
    post_entry(household.id, -7, EntrySource.REDEMPTION, "s-spend-2", occurred_on=date(2026, 2, 20))
    db.session.commit()
    return household, kept, late


def test_january_opens_at_zero_and_counts_by_the_day_points_belong_to(history):
    household, kept, late = history
    statement = household_statement(household, date(2026, 1, 1), date(2026, 1, 31))
    assert statement.opening == 0
    assert [(line.entry.amount, line.balance) for line in statement.lines] == [(20, 20), (-10, 10), (10, 20), (3, 23)]
    assert statement.lines[0].entry.id == kept.id
    assert statement.lines[-1].entry.id == late.id  # posted last, for 31 January: in January, at its end
    assert statement.closing == 23
    assert (statement.earned, statement.lost, statement.spent) == (33, 10, 0)


def test_february_opens_with_january_and_nets_the_shop(history):
    household, *_ = history
    statement = household_statement(household, date(2026, 2, 1), date(2026, 2, 28))
    assert statement.opening == 23
    assert [(line.entry.amount, line.balance) for line in statement.lines] == [(-5, 18), (5, 23), (-7, 16)]
    assert [line.shop for line in statement.lines] == [True, True, True]
    assert statement.closing == 16
    assert (statement.earned, statement.lost, statement.spent) == (0, 0, 7)
    assert statement.lines[1].undone.source is EntrySource.REDEMPTION


def test_a_range_without_entries_closes_at_its_opening(history):
    household, *_ = history
    statement = household_statement(household, date(2026, 3, 1), date(2026, 3, 31))
    assert (statement.opening, statement.closing, statement.lines) == (16, 16, [])


def test_the_whole_history_closes_at_the_balance(history):
    household, *_ = history
    statement = household_statement(household, date(2000, 1, 1), date(2026, 12, 31))
    assert statement.opening == 0 and statement.closing == balance_of(household.id) == 16


def test_a_range_defaults_to_what_is_missing():
    assert parse_range("", None, DEFAULT) == DEFAULT
    assert parse_range("2026-03-01", "", DEFAULT) == (date(2026, 3, 1), DEFAULT[1])
    assert parse_range(" 2020-02-29 ", "2030-02-27", DEFAULT) == (date(2020, 2, 29), date(2030, 2, 27))
    assert parse_range("2016-12-08", "2026-12-07", DEFAULT) == (date(2016, 12, 8), date(2026, 12, 7))  # 10 years
    assert parse_range("9995-01-01", "9999-12-31", DEFAULT) == (date(9995, 1, 1), date(9999, 12, 31))


@pytest.mark.parametrize(("start", "end", "code", "words"), [
    ("2016-12-07", "2026-12-07", "statement_range_too_long", "最长只能查 10 年"),
    ("0001-01-01", "9999-12-31", "statement_range_too_long", "最长只能查 10 年"),
    ("2026-03-01", "2026-02-28", "statement_reversed_range", "结束日期不能早于开始日期"),
    ("2026-02-30", "2026-03-01", "statement_bad_date", "日期“2026-02-30”不对"),
    ("2026/01/01", "2026-03-01", "statement_bad_date", "2026-01-31 这样的格式"),
    ("2026-01-01", "2026-W10-1", "statement_bad_date", "2026-01-31 这样的格式"),
    ("20260101", "", "statement_bad_date", "2026-01-31 这样的格式"),
])
def test_bad_ranges_are_refused_in_chinese(start, end, code, words):
    with pytest.raises(DomainError) as refused:
        parse_range(start, end, DEFAULT)
    assert refused.value.code == code and refused.value.status == 400
    assert words in refused.value.message


movements = st.lists(st.tuples(st.integers(-50, 80).filter(bool), st.integers(0, 120),
                               st.sampled_from([EntrySource.MANUAL, EntrySource.REDEMPTION, EntrySource.EXPIRY])),
                     max_size=25)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(movements, st.integers(0, 130), st.integers(0, 130), st.data())
def test_opening_plus_the_range_is_the_closing(village, steps, first, length, data):
    household = factories.gen_household(village.grids[0])
    origin = date(2026, 11, 1)
    entries = []
    for index, (amount, day, source) in enumerate(steps):
        entries.append(post_entry(household.id, amount, source, f"p-{household.id}-{index}", correction=True,
                                  occurred_on=origin + timedelta(days=day)))
    for entry in data.draw(st.lists(st.sampled_from(entries), unique=True)) if entries else []:
        reverse_entry(entry.id, f"r-{entry.id}", correction=True, voiding=True)
    db.session.flush()
    start = origin + timedelta(days=first)
    end = start + timedelta(days=length)
    statement = household_statement(household, start, end)
    all_entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.household_id == household.id)).all()
    assert statement.opening == sum(e.amount for e in all_entries if e.occurred_on < start)
    assert statement.closing == statement.opening + sum(e.amount for e in all_entries if start <= e.occurred_on <= end)
    assert statement.closing == sum(e.amount for e in all_entries if e.occurred_on <= end)
    assert statement.closing - statement.opening == statement.earned - statement.lost - statement.spent
    running = statement.opening
    for line in statement.lines:
        running += line.entry.amount
        assert line.balance == running and start <= line.entry.occurred_on <= end
    assert len(statement.lines) == sum(1 for e in all_entries if start <= e.occurred_on <= end)
