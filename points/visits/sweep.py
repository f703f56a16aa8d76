"""The sweep of 走访 (run by `flask --app points sweep`): each grid with overdue visits has its staff told once per
local day. Safe to run twice, or twice at once: a VisitReminder row per (grid, day) is taken first."""
from collections import Counter
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import true

from ..extensions import add_unless_taken, db
from ..grids.models import GridNode
from ..messages.services import tell_staff
from ..timeutil import utc_to_local
from .models import VisitReminder
from .queries import due_households


def _local_day(now: datetime):
    moment = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo is not None else now
    return utc_to_local(moment).date()


def sweep_visits(now: datetime) -> dict:
    """Tell the staff of each grid with overdue households how many there are, once per local day of now (naive
    UTC, or aware). Returns {"grids": how many grids were told today by this run, "told": accounts told,
    "overdue": overdue households in all}. Flushes, never commits."""
    today = _local_day(now)
    overdue = Counter(row.household.grid_id for row in due_households(true(), today) if row.overdue)
    grids = told = 0
    for grid_id, count in sorted(overdue.items()):
        reminder = add_unless_taken(VisitReminder, dict(grid_id=grid_id, day=today, overdue=count))
        if reminder is None:  # told already today, by an earlier run or one running now
            continue
        grid = db.session.get(GridNode, grid_id)
        grids += 1
        told += tell_staff(grid_id, "visit", _l("%(grid)s有 %(count)d 户走访已超期", grid=grid.name, count=count),
                           "/visits")
    db.session.flush()
    return {"grids": grids, "told": told, "overdue": sum(overdue.values())}
