"""The grid totals checked from scratch: the households' overall period totals (resident 0) added up by the grid each
household is in now, a household counting in the periods it is on the register in (people.queries.on_register: not
closed, or closed on or after the period's first day; all time has no first day, so there only households not
closed)."""
from collections import defaultdict
from datetime import date

from sqlalchemy import select

from points.extensions import db
from points.ledger.models import GridPeriodTotal, PeriodTotal
from points.ledger.totals import write_grid_totals
from points.people.models import Household


def first_day(key: str) -> date | None:
    """The first day of a period key ('W2026-47', 'M2026-11', 'Q2026-4', 'Y2026'; None for 'ALL'), worked out here
    rather than by the code under test."""
    if key == "ALL":
        return None
    year, _dash, number = key[1:].partition("-")
    if key[0] == "W":
        return date.fromisocalendar(int(year), int(number), 1)
    if key[0] == "M":
        return date(int(year), int(number), 1)
    if key[0] == "Q":
        return date(int(year), 3 * int(number) - 2, 1)
    assert key[0] == "Y" and not number, key
    return date(int(year), 1, 1)


def on_register(key: str, closed_on: date | None) -> bool:
    """Whether a household closed on closed_on (None: not closed) is on the register in the period of key."""
    first = first_day(key)
    return closed_on is None or (first is not None and closed_on >= first)


def stored_grid_totals() -> dict[tuple[str, int, str], tuple[int, int]]:
    """(period, grid_id, category) → (total, active), as kept once what the transaction holds for the grids is
    written (as it would be at its commit)."""
    write_grid_totals()
    return {(t.period, t.grid_id, t.category): (t.total, t.active)
            for t in db.session.execute(select(GridPeriodTotal)).scalars()}


def expected_grid_totals() -> dict[tuple[str, int, str], tuple[int, int]]:
    """(period, grid_id, category) → (the sum of the totals, how many households have one) of the households on the
    register in the period, added up here rather than by SQL."""
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for period, grid_id, category, total, closed_on in db.session.execute(
            select(PeriodTotal.period, Household.grid_id, PeriodTotal.category, PeriodTotal.total, Household.closed_on)
            .join(Household, Household.id == PeriodTotal.household_id).where(PeriodTotal.resident_id == 0)):
        if on_register(period, closed_on):
            figures = sums[(period, grid_id, category)]
            figures[0] += total
            figures[1] += 1
    return {key: tuple(figures) for key, figures in sums.items()}


def assert_grid_totals_consistent() -> None:
    """Row for row: a grid a move (or a closure) left without any household's total in a period has no row for it, as
    from scratch."""
    db.session.expire_all()
    assert stored_grid_totals() == expected_grid_totals()
