"""The one calendar: months' bounds, the periods a day counts in, weeks in the month of their Thursday, and the
names people use."""
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from points.periods import (
    PeriodKind,
    month_bounds,
    month_of_week,
    month_weeks_end,
    next_month,
    parse_period,
    period_keys,
    period_of,
    week_label,
    week_of,
)
from points.ranking import competition_ranks

DAYS = st.dates(min_value=date(2000, 1, 10), max_value=date(2100, 12, 20))  # weeks and months wholly in 2000–2100


@given(DAYS)
def test_a_month_holds_its_days_and_the_next_begins_the_day_after(day):
    first, last = month_bounds(day)
    assert first.day == 1 and first <= day <= last and (first.year, first.month) == (last.year, last.month)
    assert next_month(day) == last + timedelta(days=1)


@given(DAYS)
def test_a_day_counts_in_the_periods_the_boards_read(day):
    keys = period_keys(day)
    assert keys == [period_of(kind, day).key for kind in PeriodKind]
    for kind in PeriodKind:
        period = period_of(kind, day)
        assert period.first is None or period.first <= day <= period.last
        assert parse_period(period.text) == period


@given(DAYS)
def test_a_week_counts_in_the_month_of_its_thursday_and_a_month_is_over_after_its_last_day_and_week(day):
    monday = day - timedelta(days=day.weekday())
    month = month_of_week(monday)
    end = month_weeks_end(month)
    assert end >= month_bounds(monday + timedelta(days=3))[1] and end >= monday + timedelta(days=6)
    after = end + timedelta(days=1)
    assert month_of_week(after - timedelta(days=after.weekday())) != month
    assert week_of(monday) == f"{monday.isocalendar()[0]}-W{monday.isocalendar()[1]:02d}"


def test_the_hard_days():
    assert month_bounds(date(2028, 2, 29)) == (date(2028, 2, 1), date(2028, 2, 29))
    assert next_month(date(2026, 12, 31)) == date(2027, 1, 1)
    assert period_keys(date(2027, 1, 1)) == ["W2026-53", "M2027-01", "Q2027-1", "Y2027", "ALL"]
    assert month_of_week(date(2026, 12, 28)) == "2026-12" and month_weeks_end("2026-12") == date(2027, 1, 3)


def test_weeks_are_named_by_their_month_not_their_iso_number(app):
    with app.test_request_context():
        assert week_label(date(2026, 12, 7)) == "12月第2周（12.7–12.13）"
        assert week_label(date(2026, 12, 28), year=True) == "2026年12月第5周（12.28–1.3）"
        assert week_label(date(2026, 12, 7), dates=False) == "12月第2周"  # where a page has no room: a chart's axis


def test_a_week_that_starts_in_one_month_and_counts_in_the_next_is_named_by_the_next(app):
    """A week counts in the month of its Thursday: Thursday 1 January 2026 makes the week of Monday 29 December
    January's first, and its days say where it starts."""
    with app.test_request_context():
        assert week_label(date(2025, 12, 29)) == "1月第1周（12.29–1.4）"
        assert week_label(date(2025, 12, 29), year=True) == "2026年1月第1周（12.29–1.4）"
        assert week_label(date(2026, 11, 30)) == "12月第1周（11.30–12.6）"  # Thursday 3 December
        assert week_label(date(2027, 3, 29)) == "4月第1周（3.29–4.4）"  # Thursday 1 April


@given(DAYS)
def test_every_week_is_named_by_its_days_and_its_period_reads_the_same(day):
    from flask import current_app

    monday = day - timedelta(days=day.weekday())
    sunday = monday + timedelta(days=6)
    with current_app.test_request_context():
        name = week_label(monday)
        assert name.endswith(f"（{monday.month}.{monday.day}–{sunday.month}.{sunday.day}）")
        assert name.startswith(week_label(monday, dates=False)) and "W" not in name
        assert period_of(PeriodKind.WEEK, day).label == week_label(monday, year=True)


def test_equal_values_share_a_place_and_the_next_place_skips():
    assert competition_ranks([9, 7, 7, 3]) == [1, 2, 2, 4]
    assert competition_ranks([3, 5, 5, 5, 7]) == [1, 2, 2, 2, 5]
    assert competition_ranks([]) == []
