"""The grid and village boards read the ledger's grid totals: after random activity with households moving between
grids, leaving the register (整户迁出) and coming back, they give exactly what the queries over the totals of every
household on the register gave before (old_boards), for every kind of period, category and order; a household counts
in its grid's figures only in the periods it is on the register in, its points posted while it is closed too."""
import random
from datetime import date, timedelta

import pytest

from points.errors import DomainError
from points.extensions import db
from points.grids.models import GridNode
from points.leaderboards import queries
from points.leaderboards.queries import GridOrder
from points.ledger.models import EntrySource
from points.ledger.services import Movement, post_entries, post_entry, reverse_entry
from points.people.models import Closure, Household
from points.people.services import close_household, move_household, reopen_household
from points.periods import PeriodKind, parse_period, period_of
from points.rules.models import RuleCategory

from .. import factories
from ..ledger.grid_helpers import assert_grid_totals_consistent, stored_grid_totals
from .old_boards import old_grid_board, old_village_board

DAY = date(2026, 11, 18)
CATEGORIES = [None, *RuleCategory]
REFUSED = {"insufficient_balance", "already_reversed", "cannot_reverse_reversal", "same_grid", "household_closed",
           "household_open"}


@pytest.fixture
def town():
    """A town of two villages (three grids and two), and a village of another town; five households in each grid."""
    first = factories.gen_village(3)
    second = factories.gen_village(2, town=first.town)
    elsewhere = factories.gen_village(2)
    households = [factories.gen_household(grid) for grid in first.grids + second.grids + elsewhere.grids
                  for _ in range(5)]
    return first, second, elsewhere, households


def _activity(villages, households: list[Household], seed: int, count: int = 300) -> None:
    """Random awards and penalties in every category, batches, shopping, reversals (a closed household's too), moves
    to another grid of the household's village, closures (整户迁出, on a day of the activity) and reopenings, over six
    weeks either side of a month's end."""
    rng = random.Random(seed)
    grids = {v.village.id: v.grids for v in villages}
    posted = []
    for index in range(count):
        household = rng.choice(households)
        day = DAY + timedelta(days=rng.randint(-40, 12))
        kind = rng.random()
        try:
            if kind < 0.07:
                move_household(household, rng.choice(grids[household.village_id]))
            elif kind < 0.10:
                close_household(household, Closure.MOVED_OUT, day)
            elif kind < 0.12:
                reopen_household(household)
            elif kind < 0.18 and posted:
                reverse_entry(rng.choice(posted).id, f"r{seed}-{index}", voiding=True)
            elif kind < 0.26:
                key = f"b{seed}-{index}"
                open_ = [h for h in households if h.closed_on is None]
                posted += post_entries([Movement(h.id, rng.choice([5, 10]), EntrySource.MANUAL, f"{key}:{h.id}",
                                                 category=rng.choice(CATEGORIES), occurred_on=day)
                                        for h in rng.sample(open_, min(6, len(open_)))])
            elif kind < 0.33:
                post_entry(household.id, -rng.randint(1, 30), EntrySource.REDEMPTION, f"s{seed}-{index}",
                           occurred_on=day)
            else:
                amount = -rng.choice([5, 10, 20]) if kind < 0.5 else rng.choice([2, 5, 10, 20, 50])
                posted.append(post_entry(household.id, amount, EntrySource.MANUAL, f"e{seed}-{index}",
                                         occurred_on=day, category=rng.choice(CATEGORIES)))
        except DomainError as refusal:  # not enough points; reversed already; moved to the grid it is in; closed
            assert refusal.code in REFUSED
    db.session.flush()
    db.session.expire_all()


def _figures(board, grid_id) -> list[tuple[int, int, int]]:
    return [(p.households, p.active, p.total) for p in board if p.grid_id == grid_id]


def _assert_boards_as_before(scopes, town_, periods) -> None:
    for period in periods:
        for category in (None, RuleCategory.HYGIENE):
            for scope in scopes:
                assert queries.grid_board(scope, period, category) == old_grid_board(scope, period, category), (
                    scope.name, period.key, category)
            assert queries.village_board(town_, period, category) == old_village_board(town_, period, category)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_grid_and_village_boards_read_what_the_households_totals_make(town, seed):
    first, second, elsewhere, households = town
    _activity([first, second, elsewhere], households, seed)
    assert_grid_totals_consistent()
    assert any(h.closed_on for h in households)  # the activity left some off the register
    scopes = [first.town, first.village, second.village, first.grids[0], elsewhere.town]
    compared = 0
    for kind in PeriodKind:
        for day in (DAY, DAY - timedelta(days=30)):
            period = period_of(kind, day)
            for category in (None, RuleCategory.HYGIENE, RuleCategory.VOLUNTEERING):
                for order in GridOrder:
                    for scope in scopes:
                        board = queries.grid_board(scope, period, category, order)
                        assert board == old_grid_board(scope, period, category, order), (scope.name, period.key)
                        compared += sum(1 for place in board if place.total)
                    assert queries.village_board(first.town, period, category, order) == old_village_board(
                        first.town, period, category, order)
    assert compared > 300  # the activity filled the boards: the comparisons above were not of empty lists


NOVEMBER, DECEMBER, ALL_TIME = (parse_period(text) for text in ("month:2026-11", "month:2026-12", "all"))


def test_a_household_closed_before_the_period_is_not_in_its_grid_s_figures(town):
    """A household that left the register (整户迁出 on 19 November) is among November's households and figures, but
    neither among December's nor all time's: nor are its points of December (posted before the register caught up)
    and of all time in its grid's figures, as the query over the households on the register had it."""
    first, _, _, households = town
    home, neighbour = households[:2]
    for day in (DAY, date(2026, 12, 2)):
        post_entry(home.id, 50, EntrySource.MANUAL, f"home-{day}", occurred_on=day)
        post_entry(neighbour.id, 10, EntrySource.MANUAL, f"neighbour-{day}", occurred_on=day)
    close_household(home, Closure.MOVED_OUT, DAY + timedelta(days=1))
    grid = db.session.get(GridNode, home.grid_id)

    assert _figures(queries.grid_board(grid, NOVEMBER), grid.id) == _figures(old_grid_board(grid, NOVEMBER),
                                                                             grid.id) == [(5, 2, 60)]
    assert _figures(queries.grid_board(grid, DECEMBER), grid.id) == _figures(old_grid_board(grid, DECEMBER),
                                                                             grid.id) == [(4, 1, 10)]
    assert _figures(queries.grid_board(grid, ALL_TIME), grid.id) == _figures(old_grid_board(grid, ALL_TIME),
                                                                             grid.id) == [(4, 1, 20)]
    village_figures = [(p.households, p.active, p.total) for p in queries.village_board(first.town, ALL_TIME)
                       if p.village_id == first.village.id]
    assert village_figures == [(14, 1, 20)]
    assert_grid_totals_consistent()


def test_closing_and_reopening_a_household_takes_its_later_periods_off_its_grid_and_back(town):
    """Points in October, November (either side of the day it leaves, 19 November) and December: its grid's totals
    are the households' on the register added up after each step, committed or not, and the boards are the old
    queries'."""
    first, second, _, households = town
    home, neighbour = households[:2]
    for day in (date(2026, 10, 5), DAY - timedelta(days=2), DAY + timedelta(days=5), date(2026, 12, 2)):
        post_entry(home.id, 40, EntrySource.MANUAL, f"home-{day}", occurred_on=day, category=RuleCategory.HYGIENE)
        post_entry(neighbour.id, 7, EntrySource.MANUAL, f"neighbour-{day}", occurred_on=day)
    db.session.commit()
    grid = db.session.get(GridNode, home.grid_id)
    periods = [period_of(kind, day) for kind in PeriodKind
               for day in (date(2026, 10, 5), DAY - timedelta(days=2), DAY + timedelta(days=5), date(2026, 12, 2))]
    scopes = [first.town, first.village, grid]
    before = stored_grid_totals()

    close_household(home, Closure.MOVED_OUT, DAY + timedelta(days=1))
    assert_grid_totals_consistent()
    _assert_boards_as_before(scopes, first.town, periods)
    db.session.commit()
    closed = stored_grid_totals()
    assert closed[("M2026-11", grid.id, "")] == before[("M2026-11", grid.id, "")]  # it left during November
    assert closed[("M2026-12", grid.id, "")] == (7, 1) and closed[("ALL", grid.id, "")] == (28, 1)
    assert ("ALL", grid.id, "hygiene") not in closed  # its grid has no other household's hygiene points
    assert _figures(queries.grid_board(grid, DECEMBER), grid.id) == [(4, 1, 7)]

    reopen_household(home)
    assert_grid_totals_consistent()
    _assert_boards_as_before(scopes, first.town, periods)
    db.session.commit()
    assert stored_grid_totals() == before
    assert _figures(queries.grid_board(grid, DECEMBER), grid.id) == [(5, 2, 47)]

    # Closed again on an earlier day, in the same transaction as a posting before it: the posting counts as made.
    post_entry(home.id, 3, EntrySource.MANUAL, "home-again", occurred_on=date(2026, 10, 20))
    close_household(home, Closure.MOVED_OUT, date(2026, 10, 31))
    assert_grid_totals_consistent()
    _assert_boards_as_before(scopes, first.town, periods)
    db.session.commit()
    assert _figures(queries.grid_board(grid, NOVEMBER), grid.id) == [(4, 1, 14)]
    assert _figures(queries.grid_board(grid, period_of(PeriodKind.MONTH, date(2026, 10, 1))), grid.id) == [
        (5, 2, 50)]
    reopen_household(home)
    db.session.commit()
    assert_grid_totals_consistent()
    _assert_boards_as_before(scopes + [second.village], first.town, periods)


def test_a_reversal_posted_to_a_closed_household_changes_its_grid_only_where_it_is_on_the_register(town):
    """整户迁出 on 19 November; an entry of 20 November (posted before the register caught up) and one of 18 November
    are reversed after it left: November's figures lose them (it is on the register in November), the week of the 20th
    (which begins on the 16th) too; all time's, from which it is gone, do not change."""
    first, _, _, households = town
    home, neighbour = households[:2]
    early = post_entry(home.id, 30, EntrySource.MANUAL, "early", occurred_on=DAY)
    late = post_entry(home.id, 20, EntrySource.MANUAL, "late", occurred_on=DAY + timedelta(days=2))
    post_entry(neighbour.id, 5, EntrySource.MANUAL, "neighbour", occurred_on=DAY)
    close_household(home, Closure.MOVED_OUT, DAY + timedelta(days=1))
    db.session.commit()
    grid_id = home.grid_id
    before = stored_grid_totals()
    assert before[("M2026-11", grid_id, "")] == (55, 2) and before[("ALL", grid_id, "")] == (5, 1)

    reverse_entry(late.id, "undo-late")
    db.session.commit()
    after = stored_grid_totals()
    assert after[("M2026-11", grid_id, "")] == (35, 2) and after[("W2026-47", grid_id, "")] == (35, 2)
    assert after[("ALL", grid_id, "")] == (5, 1) and after[("Y2026", grid_id, "")] == (35, 2)
    assert {key: value for key, value in after.items() if key not in before} == {}
    assert_grid_totals_consistent()

    reverse_entry(early.id, "undo-early")
    assert_grid_totals_consistent()  # uncommitted: what the transaction holds for the grids, written as at commit
    db.session.commit()
    assert stored_grid_totals()[("M2026-11", grid_id, "")] == (5, 2)  # its total is 0, its entries four
    scopes = [first.town, first.village, db.session.get(GridNode, grid_id)]
    periods = [period_of(kind, DAY) for kind in PeriodKind]
    _assert_boards_as_before(scopes, first.town, periods)

    reopen_household(home)  # back on the register: all time's figures take its totals (0 points, four entries)
    db.session.commit()
    assert stored_grid_totals()[("ALL", grid_id, "")] == (5, 2)
    assert_grid_totals_consistent()
    _assert_boards_as_before(scopes, first.town, periods)


def test_a_posting_then_the_boards_in_the_same_transaction_see_the_posting(town):
    first, _, _, households = town
    home = households[0]
    grid = db.session.get(GridNode, home.grid_id)
    db.session.commit()
    post_entry(home.id, 25, EntrySource.MANUAL, "seen", occurred_on=DAY)

    assert _figures(queries.grid_board(grid, NOVEMBER), grid.id) == [(5, 1, 25)]
    [village] = [p for p in queries.village_board(first.town, NOVEMBER) if p.village_id == first.village.id]
    assert (village.households, village.active, village.total) == (15, 1, 25)
    post_entry(home.id, 5, EntrySource.MANUAL, "seen-too", occurred_on=DAY)
    assert _figures(queries.grid_board(grid, NOVEMBER), grid.id) == [(5, 1, 30)]
    db.session.commit()
    assert _figures(queries.grid_board(grid, NOVEMBER), grid.id) == [(5, 1, 30)]
    assert_grid_totals_consistent()
