"""The 履职 ranking of staff (网格员积分, for 评先树优): per worker, the 网格员履职 points they earned in a village, or
in every village of a town, over a period, read from DutyRecord. A worker who is not a resident is ranked the same as
one who is (their household's entries are not read), and a worker serving two villages of a town is one row.
Staff names: staff-only, never public."""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from ..auth.models import User
from ..extensions import db
from ..grids.models import GridNode, GridPath, NodeKind
from ..ledger.models import DutyRecord
from ..ranking import competition_ranks
from ..visits.models import Visit


@dataclass(frozen=True)
class DutyRow:
    rank: int
    worker_id: int
    name: str
    points: int
    visits: int


def villages_under(node_id: int) -> list[int]:
    """The villages at or under node_id (a village: itself; a town: each of its villages)."""
    return list(db.session.scalars(
        select(GridNode.id).join(GridPath, GridPath.descendant_id == GridNode.id)
        .where(GridPath.ancestor_id == node_id, GridNode.kind == NodeKind.VILLAGE).order_by(GridNode.id)))


def duty_ranking(node_id: int, start: date, end: date) -> list[DutyRow]:
    """The ranking of the workers who earned 履职 points or logged visits in the villages under node_id from start to
    end (both included): most points first (reversals count against), then most visits (a household visited twice
    on one day by one worker is one visit); equal points and visits share a place."""
    villages = villages_under(node_id)
    if not villages:
        return []
    points = dict(db.session.execute(
        select(DutyRecord.worker_id, func.sum(DutyRecord.amount))
        .where(DutyRecord.village_id.in_(villages), DutyRecord.occurred_on.between(start, end))
        .group_by(DutyRecord.worker_id)).all())
    visited = (select(Visit.worker_id, Visit.household_id, Visit.visited_on).distinct()
               .where(Visit.village_id.in_(villages), Visit.visited_on.between(start, end)).subquery())
    visits = dict(db.session.execute(
        select(visited.c.worker_id, func.count()).group_by(visited.c.worker_id)).all())
    ids = set(points) | set(visits)
    if not ids:
        return []
    names = dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())
    rows = sorted(((int(points.get(i) or 0), int(visits.get(i) or 0), names.get(i) or "", i) for i in ids),
                  key=lambda r: (-r[0], -r[1], r[2], r[3]))
    ranks = competition_ranks([(r[0], r[1]) for r in rows])
    return [DutyRow(rank, worker_id, name, total, count)
            for rank, (total, count, name, worker_id) in zip(ranks, rows, strict=True)]
