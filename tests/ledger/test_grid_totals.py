"""Property: after any sequence of awards and penalties under rules, batches for several households, reversals,
redemptions, moves between grids, closures and reopenings, postings in savepoints rolled back, on days either side of
a week's, a month's and a year's end, the grid totals are the overall period totals of the households on the register
in each period added up by the grid each household is in now, row for row (a grid a move or a closure empties of a
period has no row for it, as from scratch), whether what the transaction holds for the grids was written between the
steps or not; the boards are the old queries'. And what one posting, commit or move costs, and what a posting's
transaction holds for the grids until it commits."""
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from points.errors import DomainError
from points.extensions import db
from points.leaderboards.queries import grid_board, village_board
from points.ledger.models import EntrySource, GridPeriodTotal
from points.ledger.queries import period_of_key
from points.ledger.services import Movement, post_entries, post_entry, reverse_entry
from points.ledger.totals import write_grid_totals
from points.people.models import Closure
from points.people.services import close_household, move_household, reopen_household
from points.periods import PeriodKind, period_keys, period_of

from .. import factories
from ..leaderboards.old_boards import old_grid_board, old_village_board
from .grid_helpers import assert_grid_totals_consistent, first_day, stored_grid_totals
from .helpers import assert_ledger_consistent, rule_versions

HOUSEHOLDS = 5
START = date(2025, 12, 20)  # 2025-12-29 begins ISO week 2026-W01: a week across a month's, a quarter's and a year's end
REFUSED = {"insufficient_balance", "already_reversed", "cannot_reverse_reversal", "household_closed", "same_grid",
           "household_open"}


class Undone(Exception):
    """Rolls a savepoint back."""


household = st.integers(0, HOUSEHOLDS - 1)
day = st.integers(0, 30)
operation = st.one_of(
    st.tuples(st.just("award"), household, st.integers(1, 60), day),
    st.tuples(st.just("penalty"), household, st.integers(1, 60), day),
    st.tuples(st.just("volunteer"), household, st.integers(1, 4), day),
    st.tuples(st.just("batch"), st.lists(household, min_size=2, max_size=HOUSEHOLDS, unique=True),
              st.integers(1, 30), day),
    st.tuples(st.just("redeem"), household, st.integers(1, 40), day),
    st.tuples(st.just("reverse"), st.integers(0, 40), st.just(0), st.just(0)),
    st.tuples(st.just("reverse"), st.integers(0, 40), st.just(0), st.just(0)),
    st.tuples(st.just("undone"), household, st.integers(1, 60), day),
    st.tuples(st.just("move"), household, st.integers(0, 2), st.just(0)),
    st.tuples(st.just("close"), household, st.just(0), day),
    st.tuples(st.just("close"), household, st.just(0), day),
    st.tuples(st.just("reopen"), household, st.just(0), st.just(0)),
    st.tuples(st.just("reopen"), household, st.just(0), st.just(0)),
)
# Each step, and whether the grid totals are checked after it (which writes what the transaction holds for them).
operations = st.lists(st.tuples(operation, st.booleans()), min_size=4, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations)
def test_grid_totals_equal_the_households_totals_by_their_grids(village, steps):
    award, penalty, volunteer = rule_versions(village)
    savepoint = db.session.begin_nested()  # each example starts from the village alone
    try:
        households = [factories.gen_household(village.grids[i % 3]) for i in range(HOUSEHOLDS)]
        # Points in a week of their own for each household first, so that the first moves take totals along too.
        posted = [post_entry(h.id, 10, EntrySource.MANUAL, f"opening-{h.id}", rule_version=award,
                             occurred_on=START + timedelta(days=7 * i)) for i, h in enumerate(households)]
        days = set()
        for index, ((kind, which, size, offset), check) in enumerate(steps):
            key = f"{index}-{kind}"
            occurred_on = START + timedelta(days=offset)
            days.add(occurred_on)
            try:
                if kind in ("award", "penalty", "volunteer"):
                    version, amount = {"award": (award, size), "penalty": (penalty, -size),
                                       "volunteer": (volunteer, 5 * size)}[kind]
                    target = households[which]
                    posted.append(post_entry(target.id, amount, EntrySource.MANUAL, key, rule_version=version,
                                             resident_id=target.head.id if size % 2 else None,
                                             occurred_on=occurred_on, hours=size if kind == "volunteer" else 0))
                elif kind == "batch":
                    posted += post_entries([Movement(households[h].id, size, EntrySource.MANUAL, f"{key}-{h}",
                                                     rule_version=award, occurred_on=occurred_on) for h in which])
                elif kind == "redeem":
                    post_entry(households[which].id, -size, EntrySource.REDEMPTION, key, occurred_on=occurred_on)
                elif kind == "reverse" and posted:
                    reverse_entry(posted[which % len(posted)].id, key)
                elif kind == "undone":  # posted in a savepoint rolled back: no share of it stays for the grids
                    try:
                        with db.session.begin_nested():
                            post_entry(households[which].id, size, EntrySource.MANUAL, key, rule_version=award,
                                       occurred_on=occurred_on)
                            if size % 2:  # and what was held before it written there, then undone with it
                                write_grid_totals()
                            raise Undone
                    except Undone:
                        pass
                elif kind == "move":
                    move_household(households[which], village.grids[size])
                elif kind == "close":
                    close_household(households[which], Closure.MOVED_OUT, occurred_on)
                elif kind == "reopen":
                    reopen_household(households[which])
            except DomainError as refusal:
                assert refusal.code in REFUSED
            if check:
                db.session.flush()
                assert_grid_totals_consistent()
        assert_grid_totals_consistent()
        for target in households:
            assert_ledger_consistent(target.id)
        # The boards of the village are the old queries' over the households on the register.
        for kind in (PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.ALL):
            for period in {period_of(kind, day) for day in sorted(days)[::4]}:
                assert grid_board(village.village, period) == old_grid_board(village.village, period)
                assert village_board(village.town, period) == old_village_board(village.town, period)
    finally:
        savepoint.rollback()


def test_a_move_takes_the_totals_along_and_empties_the_grid_it_left(village):
    award, penalty, _ = rule_versions(village)
    first, second = village.grids[:2]
    mover, stayer = factories.gen_household(first), factories.gen_household(first)
    post_entry(mover.id, 30, EntrySource.MANUAL, "m1", rule_version=award, occurred_on=date(2026, 11, 2))
    post_entry(mover.id, -10, EntrySource.MANUAL, "m2", rule_version=penalty, occurred_on=date(2026, 12, 1))
    post_entry(stayer.id, 5, EntrySource.MANUAL, "s1", rule_version=award, occurred_on=date(2026, 11, 3))
    month = ("M2026-11", first.id, "")
    assert stored_grid_totals()[month] == (35, 2)

    move_household(mover, second)

    totals = stored_grid_totals()
    assert totals[month] == (5, 1) and totals[("M2026-11", second.id, "")] == (30, 1)
    assert ("M2026-12", first.id, "") not in totals and totals[("M2026-12", second.id, "")] == (-10, 1)
    assert totals[("ALL", first.id, "hygiene")] == (5, 1) and totals[("ALL", second.id, "hygiene")] == (20, 1)
    assert_grid_totals_consistent()


def test_a_household_s_first_entry_of_a_period_makes_it_active_once(village):
    award, _, _ = rule_versions(village)
    grid = village.grids[0]
    a, b = factories.gen_household(grid), factories.gen_household(grid)
    post_entries([Movement(h.id, 10, EntrySource.MANUAL, f"first-{h.id}", rule_version=award,
                           occurred_on=date(2026, 11, 2)) for h in (a, b)])
    post_entry(a.id, 10, EntrySource.MANUAL, "again", rule_version=award, occurred_on=date(2026, 11, 3))
    post_entry(a.id, -5, EntrySource.REDEMPTION, "spent", occurred_on=date(2026, 11, 4))
    assert db.session.get(GridPeriodTotal, ("M2026-11", grid.id, "")) is None  # held for the commit
    write_grid_totals()
    row = db.session.get(GridPeriodTotal, ("M2026-11", grid.id, ""))
    assert (row.total, row.active) == (30, 2)


def test_a_posting_writes_no_grid_total_and_its_commit_one_statement_whatever_the_batches(village, statements):
    award, _, _ = rule_versions(village)
    households = [factories.gen_household(village.grids[i % 3]) for i in range(6)]
    db.session.commit()

    def grid_statements(batches: list[list]) -> tuple[list[str], list[str]]:
        statements.clear()
        for batch in batches:
            post_entries(batch)
        posting = [s for s in statements.summary() if "grid_period_totals" in s]
        statements.clear()
        db.session.commit()
        return posting, [s for s in statements.summary() if "grid_period_totals" in s]

    one = grid_statements([[Movement(households[0].id, 5, EntrySource.MANUAL, "one", rule_version=award)]])
    many = grid_statements([[Movement(h.id, 5, EntrySource.MANUAL, f"many-{n}-{h.id}", rule_version=award,
                                      occurred_on=date(2026, 11, 1 + n)) for h in households] for n in range(3)])
    assert one == many == ([], ["INSERT grid_period_totals"])
    statements.clear()
    db.session.commit()  # nothing held: nothing written
    assert [s for s in statements.summary() if "grid_period_totals" in s] == []
    assert_grid_totals_consistent()


def test_a_move_costs_a_read_and_two_writes(village, statements):
    award, _, _ = rule_versions(village)
    mover = factories.gen_household(village.grids[0])
    for offset in range(40):
        post_entry(mover.id, 5, EntrySource.MANUAL, f"e{offset}", rule_version=award,
                   occurred_on=date(2026, 1, 1) + timedelta(days=9 * offset))
    db.session.commit()  # else the move writes what the postings hold for the grids first
    statements.clear()
    move_household(mover, village.grids[1])
    summary = statements.summary()
    assert [s for s in summary if "grid_period_totals" in s or "ledger_entries" in s] == [
        "SELECT ledger_entries", "INSERT grid_period_totals", "DELETE grid_period_totals"]
    assert db.session.scalar(select(GridPeriodTotal.active).where(
        GridPeriodTotal.period == "ALL", GridPeriodTotal.grid_id == village.grids[1].id,
        GridPeriodTotal.category == "")) == 1
    assert_grid_totals_consistent()


def test_a_posting_in_a_savepoint_rolled_back_leaves_no_share_in_the_grid_totals(village):
    award, _, _ = rule_versions(village)
    home, neighbour = factories.gen_household(village.grids[0]), factories.gen_household(village.grids[0])
    db.session.commit()
    post_entry(neighbour.id, 7, EntrySource.MANUAL, "kept", rule_version=award, occurred_on=date(2026, 11, 2))
    try:
        with db.session.begin_nested():
            post_entry(home.id, 30, EntrySource.MANUAL, "undone", rule_version=award, occurred_on=date(2026, 11, 2))
            with db.session.begin_nested():  # released into the savepoint that is rolled back: undone with it
                post_entry(home.id, 4, EntrySource.MANUAL, "inner", rule_version=award,
                           occurred_on=date(2026, 11, 3))
            raise Undone
    except Undone:
        pass
    with db.session.begin_nested():  # released: kept for the commit
        post_entry(home.id, 2, EntrySource.MANUAL, "released", rule_version=award, occurred_on=date(2026, 11, 4))
    db.session.commit()

    assert stored_grid_totals()[("M2026-11", village.grids[0].id, "")] == (9, 2)
    assert_grid_totals_consistent()
    assert_ledger_consistent(home.id)


def test_a_savepoint_rolled_back_after_writing_the_grid_totals_holds_what_was_posted_before_it_again(village):
    award, _, _ = rule_versions(village)
    home = factories.gen_household(village.grids[0])
    db.session.commit()
    post_entry(home.id, 7, EntrySource.MANUAL, "before", rule_version=award, occurred_on=date(2026, 11, 2))
    try:
        with db.session.begin_nested():
            post_entry(home.id, 30, EntrySource.MANUAL, "undone", rule_version=award, occurred_on=date(2026, 11, 2))
            with db.session.begin_nested():  # written in a savepoint released into the one rolled back
                grid_board(village.village, period_of(PeriodKind.MONTH, date(2026, 11, 2)))
            raise Undone
    except Undone:
        pass
    db.session.commit()

    assert stored_grid_totals()[("M2026-11", village.grids[0].id, "")] == (7, 1)
    assert_grid_totals_consistent()


def test_a_rollback_drops_what_the_transaction_held_for_the_grids(village):
    award, _, _ = rule_versions(village)
    home = factories.gen_household(village.grids[0])
    db.session.commit()
    post_entry(home.id, 30, EntrySource.MANUAL, "rolled-back", rule_version=award, occurred_on=date(2026, 11, 2))
    db.session.rollback()
    post_entry(home.id, 5, EntrySource.MANUAL, "committed", rule_version=award, occurred_on=date(2026, 11, 2))
    db.session.commit()
    assert stored_grid_totals()[("M2026-11", village.grids[0].id, "")] == (5, 1)
    assert_grid_totals_consistent()


def test_postings_then_a_move_close_or_reopen_in_the_same_transaction_count_where_they_were_made(village):
    """What a transaction posted before it moves, closes or reopens the household is written to the grid totals as
    the household was when posted to (in its grid, on the register or not), before the move or the closure takes the
    household's totals (those postings' too) off its grid."""
    award, _, _ = rule_versions(village)
    home = factories.gen_household(village.grids[0])
    factories.gen_household(village.grids[0])
    post_entry(home.id, 10, EntrySource.MANUAL, "a", rule_version=award, occurred_on=date(2026, 11, 2))
    db.session.commit()

    post_entry(home.id, 10, EntrySource.MANUAL, "b", rule_version=award, occurred_on=date(2026, 11, 20))
    move_household(home, village.grids[1])
    db.session.commit()
    assert_grid_totals_consistent()
    assert stored_grid_totals()[("M2026-11", village.grids[1].id, "")] == (20, 1)

    late = post_entry(home.id, 10, EntrySource.MANUAL, "c", rule_version=award, occurred_on=date(2026, 11, 24))
    close_household(home, Closure.MOVED_OUT, date(2026, 11, 10))
    db.session.commit()
    assert_grid_totals_consistent()
    assert stored_grid_totals()[("M2026-11", village.grids[1].id, "")] == (30, 1)
    assert ("W2026-48", village.grids[1].id, "") not in stored_grid_totals()

    reverse_entry(late.id, "undo-c")  # the week of the 24th is after it left: no share of it for the grid
    reopen_household(home)
    db.session.commit()
    assert_grid_totals_consistent()
    assert stored_grid_totals()[("W2026-48", village.grids[1].id, "")] == (0, 1)
    assert stored_grid_totals()[("ALL", village.grids[1].id, "")] == (20, 1)


def test_a_key_names_its_period():
    for offset in range(0, 800, 3):
        day = date(2025, 12, 1) + timedelta(days=offset)
        for kind, key in zip(PeriodKind, period_keys(day)):
            period = period_of_key(key)
            assert period == period_of(kind, day)
            assert period.first == first_day(key)
