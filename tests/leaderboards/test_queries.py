"""Rankings: each one equals a ranking made from scratch out of the ledger's entries after random activity, in a
grid, a village and a town (which the queries read another way), for every kind of period; and the rules one by
one: competition ranks, a period's bounds, categories, penalties given back by a reversal, hours, shopping left
out, averages over every household of a grid."""
import random
from collections import defaultdict
from datetime import date, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import select

from points.auth.models import Role
from points.claims.services import decide_appeal, submit_appeal
from points.errors import DomainError
from points.extensions import db
from points.grids.models import GridNode
from points.leaderboards import queries
from points.leaderboards.queries import GridOrder, ResidentOrder
from points.ledger.models import EntrySource, LedgerEntry
from points.ledger.queries import OwnPlace, household_place
from points.ledger.services import post_entry, reverse_entry
from points.people.models import Closure, Departure, Household, Resident
from points.people.services import add_resident, close_household, remove_resident
from points.periods import PeriodKind, parse_period, period_keys, period_of
from points.rules.models import RuleCategory

from .. import factories

CATEGORIES = [None, *RuleCategory]
DAY = date(2026, 11, 18)


@pytest.fixture
def town():
    """A town of two villages, the first with three grids and the second with two, and a village of another town
    (whose points a town's walk must step over); a few households in each grid, some with a second resident."""
    first = factories.gen_village(3)
    second = factories.gen_village(2, town=first.town)
    elsewhere = factories.gen_village(2)
    households = []
    for grid in first.grids + second.grids + elsewhere.grids:
        for index in range(4):
            household = factories.gen_household(grid, head_name=f"王{grid.id}{index}明")
            if index % 2:
                add_resident(household, f"李{grid.id}{index}华", relation="配偶")
            households.append(household)
    return first, second, households


def _activity(households: list[Household], seed: int, count: int = 240) -> None:
    """Random awards, penalties, hours, shopping, voids and reversals over six weeks either side of a month's end."""
    rng = random.Random(seed)
    posted = []
    for index in range(count):
        household = rng.choice(households)
        residents = [r.id for r in household.residents]
        day = DAY + timedelta(days=rng.randint(-40, 20))
        kind = rng.random()
        try:
            if kind < 0.12 and posted:
                reverse_entry(rng.choice(posted).id, f"r{seed}-{index}", voiding=True)
                continue
            if kind < 0.2:
                amount, source, category = -rng.randint(1, 30), EntrySource.REDEMPTION, None
            elif kind < 0.4:
                amount, source, category = -rng.choice([5, 10, 20]), EntrySource.MANUAL, rng.choice(list(RuleCategory))
            else:
                amount, category = rng.choice([2, 5, 10, 20, 20, 50]), rng.choice(CATEGORIES)
                source = EntrySource.MANUAL
            resident = rng.choice([None, *residents])
            hours = rng.randint(1, 4) if category is RuleCategory.VOLUNTEERING and amount > 0 else 0
            posted.append(post_entry(household.id, amount, source, f"e{seed}-{index}", resident_id=resident,
                                     occurred_on=day, category=category, hours=hours))
        except DomainError as refusal:  # not enough points to spend, lose or take back; an entry reversed already
            assert refusal.code in {"insufficient_balance", "already_reversed", "cannot_reverse_reversal"}
    db.session.flush()
    db.session.expire_all()


def _scratch(period_key: str, category: str = "") -> dict[tuple[int, int], list[int]]:
    """(household, resident or 0) → [points, points lost, hours] in the period and category, from the entries."""
    entries = list(db.session.scalars(select(LedgerEntry)))
    by_id = {e.id: e for e in entries}
    sums: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for entry in entries:
        original = by_id.get(entry.reverses_id) or entry
        if original.source is EntrySource.REDEMPTION or period_key not in period_keys(entry.occurred_on):
            continue
        if category and (entry.category is None or entry.category.value != category):
            continue
        lost = -entry.amount if original.amount < 0 else 0
        for resident in {0, entry.resident_id or 0}:
            figures = sums[(entry.household_id, resident)]
            figures[0] += entry.amount
            figures[1] += lost
            figures[2] += entry.hours
    return sums


def _competition(values: list[tuple[int, object]], limit: int) -> list[tuple[int, int]]:
    """(rank, value) pairs of (id, value) sorted best first, cut at rank limit; ids left out, ties in any order."""
    ordered = sorted(values, key=lambda pair: -pair[1])
    ranked = [(1 + sum(1 for _id, other in ordered if other > value), value) for _id, value in ordered]
    return [pair for pair in ranked if pair[0] <= limit]


def _members(scope_id: int) -> set[int]:
    from points.grids.models import GridPath

    return set(db.session.scalars(select(Household.id).join(GridPath, GridPath.descendant_id == Household.grid_id)
                                  .where(GridPath.ancestor_id == scope_id)))


@pytest.mark.parametrize("seed, walk", [(1, queries.WALK), (2, queries.WALK), (3, 4)])
def test_every_board_equals_a_ranking_from_scratch(town, seed, walk, monkeypatch):
    """walk 4: a town's walk gives up at once, and its households are joined to their totals instead."""
    monkeypatch.setattr(queries, "WALK", walk)
    first, second, households = town
    _activity(households, seed)
    scopes = [first.town, first.village, second.village, first.grids[0]]
    listed = 0
    for kind in PeriodKind:
        for day in (DAY, DAY - timedelta(days=30)):
            period = period_of(kind, day)
            for category in (None, RuleCategory.HYGIENE, RuleCategory.VOLUNTEERING):
                sums = _scratch(period.key, category.value if category else "")
                for scope in scopes:
                    members = _members(scope.id)
                    where = f"{scope.name} {period.key} {category}"
                    # 红榜 and 黑榜
                    for worst in (False, True):
                        figure = 1 if worst else 0
                        expected = _competition([(h, f[figure]) for (h, r), f in sums.items()
                                                 if r == 0 and h in members and f[figure] > 0], 5)
                        board = queries.household_board(scope, period, 5, category, worst=worst)
                        got = [(p.rank, p.deducted if worst else p.total) for p in board]
                        assert got == expected, where
                        listed += len(board)
                        for place in board:
                            assert [place.total, place.deducted] == sums[(place.household_id, 0)][:2], where
                    # volunteers, by points and by hours
                    for order, figure in ((ResidentOrder.POINTS, 0), (ResidentOrder.HOURS, 2)):
                        homes = dict(db.session.execute(select(Resident.id, Resident.household_id)).all())
                        expected = _competition([(r, f[figure]) for (h, r), f in sums.items()
                                                 if r and h in members and f[figure] > 0], 4)
                        board = queries.resident_board(scope, period, 4, category, order)
                        assert [(p.rank, p.hours if figure else p.total) for p in board] == expected, where
                        for place in board:
                            assert [place.total, place.hours] == [sums[(homes[place.resident_id],
                                                                         place.resident_id)][i] for i in (0, 2)]
                    # grids, by their households' average (households without entries count 0)
                    grids = defaultdict(list)
                    for household in households:
                        if household.id in members:
                            grids[household.grid_id].append(sums.get((household.id, 0), [0])[0])
                    board = queries.grid_board(scope, period, category)
                    expected = _competition([(g, Fraction(sum(t), len(t))) for g, t in grids.items()], 99)
                    assert [(p.rank, p.average) for p in board] == expected, where
                    assert {p.grid_id: (p.households, p.total) for p in board} == {
                        g: (len(t), sum(t)) for g, t in grids.items()}
    assert listed > 500  # the activity filled the boards: the comparisons above were not of empty lists


def test_equal_totals_share_a_place_and_the_next_place_skips(town):
    first, _second, households = town
    grid = first.grids[0]
    for household, amount in zip([h for h in households if h.grid_id == grid.id], [30, 20, 20, 10]):
        post_entry(household.id, amount, EntrySource.MANUAL, factories.unique("k"), occurred_on=DAY)
    board = queries.household_board(grid, period_of(PeriodKind.MONTH, DAY))
    assert [(p.rank, p.total) for p in board] == [(1, 30), (2, 20), (2, 20), (4, 10)]


def test_ties_at_the_last_place_are_all_listed(town):
    first, _second, households = town
    members = [h for h in households if h.grid_id == first.grids[0].id]
    for household, amount in zip(members, [30, 20, 20, 20]):
        post_entry(household.id, amount, EntrySource.MANUAL, factories.unique("k"), occurred_on=DAY)
    board = queries.household_board(first.grids[0], period_of(PeriodKind.MONTH, DAY), limit=2)
    assert [p.rank for p in board] == [1, 2, 2, 2]


def test_a_period_counts_only_its_own_days(town):
    first, _second, households = town
    household = households[0]
    post_entry(household.id, 10, EntrySource.MANUAL, "in", occurred_on=date(2026, 11, 30))
    post_entry(household.id, 99, EntrySource.MANUAL, "out", occurred_on=date(2026, 12, 1))
    board = queries.household_board(first.village, parse_period("month:2026-11"))
    assert [(p.household_id, p.total) for p in board] == [(household.id, 10)]
    # 2026-11-30 is a Monday: ISO week 49 holds both days
    assert queries.household_board(first.village, parse_period("week:2026-W49"))[0].total == 109


def test_shopping_leaves_the_boards_alone_and_a_reversed_penalty_leaves_the_black_board(town):
    first, _second, households = town
    household = households[0]
    post_entry(household.id, 50, EntrySource.MANUAL, "award", occurred_on=DAY)
    post_entry(household.id, -30, EntrySource.REDEMPTION, "shop", occurred_on=DAY)
    penalty = post_entry(household.id, -10, EntrySource.MANUAL, "penalty", occurred_on=DAY,
                         category=RuleCategory.VILLAGE_RULES)
    month = period_of(PeriodKind.MONTH, DAY)
    place = queries.household_board(first.village, month)[0]
    assert (place.total, place.deducted) == (40, 10)
    assert [p.household_id for p in queries.household_board(first.village, month, worst=True)] == [household.id]
    reverse_entry(penalty.id, "undo")
    assert queries.household_board(first.village, month, worst=True) == []
    assert queries.household_board(first.village, month)[0].total == 50


def test_an_award_reversed_is_no_penalty(town):
    first, _second, households = town
    award = post_entry(households[0].id, 20, EntrySource.MANUAL, "award", occurred_on=DAY)
    reverse_entry(award.id, "undo")
    month = period_of(PeriodKind.MONTH, DAY)
    assert queries.household_board(first.village, month, worst=True) == []
    assert queries.household_board(first.village, month) == []


def test_names_are_masked(town):
    first, _second, households = town
    post_entry(households[0].id, 20, EntrySource.MANUAL, "award", occurred_on=DAY,
               resident_id=households[0].head.id, category=RuleCategory.VOLUNTEERING, hours=2)
    month = period_of(PeriodKind.MONTH, DAY)
    head = households[0].head.name
    assert queries.household_board(first.town, month)[0].name == head[0] + "*" * (len(head) - 2) + head[-1]
    volunteer = queries.resident_board(first.town, month)[0]
    assert (volunteer.name, volunteer.hours) == (head[0] + "*" * (len(head) - 2) + head[-1], 2)


def test_a_grid_is_ranked_by_the_average_over_all_its_households(town):
    first, _second, households = town
    small, big = first.grids[1], first.grids[2]
    factories.gen_household(small)  # five households in small
    for household in [h for h in households if h.grid_id == small.id]:
        post_entry(household.id, 10, EntrySource.MANUAL, factories.unique("k"), occurred_on=DAY)
    one = next(h for h in households if h.grid_id == big.id)
    post_entry(one.id, 35, EntrySource.MANUAL, "big", occurred_on=DAY)
    month = period_of(PeriodKind.MONTH, DAY)
    by_average = queries.grid_board(first.village, month)
    assert [(p.grid_id, p.average, p.households, p.active) for p in by_average[:2]] == [
        (big.id, Fraction(35, 4), 4, 1), (small.id, 8, 5, 4)]
    by_total = queries.grid_board(first.village, month, order=GridOrder.TOTAL)
    assert [(p.grid_id, p.total) for p in by_total[:2]] == [(small.id, 40), (big.id, 35)]


def test_own_place_counts_the_households_ahead(town):
    first, _second, households = town
    members = [h for h in households if h.village_id == first.village.id]
    for household, amount in zip(members, [30, 20, 20, 10]):
        post_entry(household.id, amount, EntrySource.MANUAL, factories.unique("k"), occurred_on=DAY)
    month = period_of(PeriodKind.MONTH, DAY)
    assert household_place(members[2], first.village, month) == OwnPlace(2, len(members), 20)
    assert household_place(members[3], first.village, month).rank == 4
    assert household_place(members[5], first.village, month) == OwnPlace(None, len(members), 0)


@pytest.mark.parametrize("text, key", [
    ("week:2026-W47", "W2026-47"), ("week:2026-W53", "W2026-53"), ("month:2026-02", "M2026-02"),
    ("quarter:2026-Q4", "Q2026-4"), ("year:2026", "Y2026"), ("all", "ALL"),
])
def test_periods_read_as_the_ledger_keys_them(text, key):
    period = parse_period(text)
    assert (period.key, period.text) == (key, text)
    if period.first:
        assert key in period_keys(period.first) and key in period_keys(period.last)
        assert key not in period_keys(period.first - timedelta(days=1))
        assert key not in period_keys(period.last + timedelta(days=1))


@pytest.mark.parametrize("text", ["", "week", "week:2025-W53", "week:2026-W0", "month:2026-13", "month:2026-1x",
                                  "quarter:2026-Q5", "year:99999", "year:1999", "all:2026", "day:2026-11-01",
                                  "month:２０２６-11", "year:+2026"])
def test_a_bad_period_is_refused(text):
    with pytest.raises(DomainError) as refusal:
        parse_period(text)
    assert refusal.value.code == "invalid_period"


def test_previous_and_next_periods_meet():
    week = parse_period("week:2026-W01")
    assert week.previous().text == "week:2025-W52" and week.next().text == "week:2026-W02"
    assert parse_period("month:2026-12").next().text == "month:2027-01"
    assert parse_period("quarter:2026-Q1").previous().text == "quarter:2025-Q4"
    assert parse_period("all").previous() is None


def test_a_household_that_left_the_register_is_on_the_boards_until_it_left(town):
    """整户迁出 on 19 November: on November's boards still (it left during the month), on December's and all time's
    no more, though an entry of December was posted before the register caught up; a resident who left likewise."""
    first, _, households = town
    home, neighbour = households[1], households[0]  # one grid; home has a second resident
    member = [r for r in home.residents if r.id != home.head_id][0]
    for day in (DAY, date(2026, 12, 2)):
        post_entry(home.id, 50, EntrySource.MANUAL, f"home-{day}", occurred_on=day, resident_id=member.id,
                   category=RuleCategory.VOLUNTEERING, hours=2)
        post_entry(neighbour.id, 10, EntrySource.MANUAL, f"neighbour-{day}", occurred_on=day)
    close_household(home, Closure.MOVED_OUT, DAY + timedelta(days=1))
    remove_resident(member, Departure.MOVED_OUT, DAY + timedelta(days=1))
    november, december = parse_period("month:2026-11"), parse_period("month:2026-12")
    grid = db.session.get(GridNode, home.grid_id)
    for scope in (grid, first.village, first.town):
        assert [p.household_id for p in queries.household_board(scope, november)][:2] == [home.id, neighbour.id]
        assert [p.resident_id for p in queries.resident_board(scope, november)] == [member.id]
        for period in (december, parse_period("all")):
            assert home.id not in [p.household_id for p in queries.household_board(scope, period)]
            assert queries.resident_board(scope, period) == []
    assert household_place(neighbour, grid, december).households == 3
    [place] = [p for p in queries.grid_board(grid, december)]
    assert (place.households, place.active, place.total) == (3, 1, 10)


def test_a_penalty_under_appeal_stays_off_the_black_board_until_decided(town):
    first, _second, households = town
    a, b, c = households[:3]
    admin = factories.gen_user(Role.VILLAGE_ADMIN, first.village)
    for household in (a, b, c):
        post_entry(household.id, 100, EntrySource.MANUAL, f"award-{household.id}", occurred_on=DAY)

    def penalty(household, amount, key):
        return post_entry(household.id, amount, EntrySource.MANUAL, key, occurred_on=DAY,
                          category=RuleCategory.VILLAGE_RULES)

    def appeal(household, entry):
        return submit_appeal(factories.gen_villager(household), entry.id, "已经整改")

    on_a = appeal(a, penalty(a, -30, "a-appealed"))
    penalty(a, -5, "a")
    penalty(b, -10, "b")
    on_c = appeal(c, penalty(c, -20, "c-appealed"))
    month = period_of(PeriodKind.MONTH, DAY)

    def black(scope=first.village, **options) -> list[tuple[int, int, int]]:
        return [(p.rank, p.household_id, p.deducted) for p in
                queries.household_board(scope, month, worst=True, **options)]

    assert black() == [(1, b.id, 10), (2, a.id, 5)]
    assert black(limit=1) == [(1, b.id, 10)]
    assert black(category=RuleCategory.VILLAGE_RULES) == black(first.town) == black()
    assert black(category=RuleCategory.HYGIENE) == []
    assert queries.household_board(first.village, period_of(PeriodKind.MONTH, DAY + timedelta(days=40)),
                                   worst=True) == []
    decide_appeal(admin, on_a.id, reverse=False)
    decide_appeal(admin, on_c.id, reverse=True)
    assert black() == [(1, a.id, 35), (2, b.id, 10)]
