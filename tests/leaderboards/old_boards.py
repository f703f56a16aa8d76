"""The grid and village boards as they were read before the ledger kept grid totals: every household on the register
in the period (people.queries.on_register) joined to its overall total. The boards read from the grid totals must give
exactly these."""
from dataclasses import replace

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased

from points.extensions import db
from points.grids.models import GridNode, GridPath
from points.leaderboards import queries
from points.leaderboards.queries import GridOrder, GridPlace, VillagePlace
from points.ledger.models import PeriodTotal
from points.people.models import Household
from points.people.queries import on_register
from points.ranking import competition_ranks


def old_grid_board(scope, period, category=None, order=GridOrder.AVERAGE) -> list[GridPlace]:
    """The grid board as it was read before the grid totals: every household on the register joined to its total."""
    db.session.flush()
    totals = select(PeriodTotal.household_id, PeriodTotal.total).where(
        PeriodTotal.period == period.key, PeriodTotal.resident_id == 0,
        PeriodTotal.category == (category.value if category else "")).subquery()
    rows = db.session.execute(
        select(Household.grid_id, func.count(Household.id), func.count(totals.c.household_id),
               func.coalesce(func.sum(totals.c.total), 0))
        .join(GridPath, and_(GridPath.descendant_id == Household.grid_id, GridPath.ancestor_id == scope.id))
        .outerjoin(totals, totals.c.household_id == Household.id)
        .where(on_register(period))
        .group_by(Household.grid_id)
    ).all()
    village = aliased(GridNode)
    names = {id_: (name, village_name) for id_, name, village_name in db.session.execute(
        select(GridNode.id, GridNode.name, village.name).outerjoin(village, village.id == GridNode.village_id)
        .where(GridNode.id.in_([row[0] for row in rows])))} if rows else {}
    places = [GridPlace(0, grid_id, *names[grid_id], households, active, total)
              for grid_id, households, active, total in rows]
    key = (lambda p: p.average) if order is GridOrder.AVERAGE else (lambda p: p.total)
    places.sort(key=lambda p: (-key(p), p.grid_id))
    ranks = competition_ranks([key(p) for p in places])
    return [replace(place, rank=rank) for rank, place in zip(ranks, places)]


def old_village_board(scope, period, category=None, order=GridOrder.AVERAGE) -> list[VillagePlace]:
    """The village board as it was read before the grid totals: every household on the register joined to its
    total."""
    db.session.flush()
    villages = queries.villages_in_use(scope)
    totals = select(PeriodTotal.household_id, PeriodTotal.total, PeriodTotal.entries).where(
        PeriodTotal.period == period.key, PeriodTotal.resident_id == 0,
        PeriodTotal.category == (category.value if category else "")).subquery()
    sums = {village_id: (int(households), int(active or 0), int(total or 0))
            for village_id, households, active, total in db.session.execute(
                select(Household.village_id, func.count(Household.id),
                       func.sum(case((totals.c.entries > 0, 1), else_=0)), func.coalesce(func.sum(totals.c.total), 0))
                .outerjoin(totals, totals.c.household_id == Household.id)
                .where(Household.village_id.in_([v.id for v in villages]), on_register(period))
                .group_by(Household.village_id))}
    places = [VillagePlace(0, v.id, v.name, *sums.get(v.id, (0, 0, 0))) for v in villages]
    key = (lambda p: p.average) if order is GridOrder.AVERAGE else (lambda p: p.total)
    places.sort(key=lambda p: (-key(p), p.village_id))
    ranks = competition_ranks([key(p) for p in places])
    return [replace(place, rank=rank) for rank, place in zip(ranks, places)]
