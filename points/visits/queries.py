"""Reads of 走访: who is due (and overdue) in the grids a worker serves, with one grouped query for the last visits;
visits listed. Staff-only: care tags appear here, for those with GRID_WORK (who see care tags) only."""
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import selectinload

from ..auth import policy
from ..auth.models import User
from ..extensions import db
from ..limits import MAX_PAGE
from ..paging import Page
from ..people.models import CareTag, Household, HouseholdCareTag
from ..timeutil import utc_to_local
from .models import Visit, VisitCadence, VisitSettings
from .services import DEFAULT_KNOCK_DAYS, due_day

SOON_DAYS = 7  # 7天内到期


@dataclass(frozen=True)
class DueHousehold:
    """A household's next visit: when it is due (due_on), why (the care tag whose cadence is strictest, or None for
    the 敲门 round), its last visit."""

    household: Household
    tags: tuple[CareTag, ...]
    last_visit: date | None
    due_on: date
    because: CareTag | None
    today: date

    @property
    def overdue_days(self) -> int:
        return (self.today - self.due_on).days

    @property
    def overdue(self) -> bool:
        return self.due_on < self.today


@dataclass(frozen=True)
class DueList:
    overdue: list[DueHousehold]
    soon: list[DueHousehold]


def _rules_of(village_ids: set[int]) -> tuple[dict, dict]:
    """Per village: (knock_days, since) and {tag: (days, since)}."""
    settings = {s.village_id: s for s in db.session.scalars(
        select(VisitSettings).where(VisitSettings.village_id.in_(village_ids)))}
    cadences: dict[int, dict] = {v: {} for v in village_ids}
    for row in db.session.scalars(select(VisitCadence).where(VisitCadence.village_id.in_(village_ids))):
        cadences[row.village_id][row.tag] = (row.days, row.since)
    knock = {v: ((settings[v].knock_days, settings[v].since) if v in settings else (DEFAULT_KNOCK_DAYS, None))
             for v in village_ids}
    return knock, cadences


def due_households(where: ColumnElement[bool], today: date) -> list[DueHousehold]:
    """Every open household matching where with a visit due: its due day under the strictest of its care tags'
    cadences and the 敲门 round. Four queries, whatever the number of households."""
    households = list(db.session.scalars(
        select(Household).where(where, Household.closed_on.is_(None)).order_by(Household.number)
        .options(selectinload(Household.head), selectinload(Household.grid))))
    if not households:
        return []
    ids = [h.id for h in households]
    scope = select(Household.id).where(where, Household.closed_on.is_(None))
    last = dict(db.session.execute(
        select(Visit.household_id, func.max(Visit.visited_on)).where(Visit.household_id.in_(scope))
        .group_by(Visit.household_id)).all())
    tags: dict[int, list[CareTag]] = {i: [] for i in ids}
    tagged = select(HouseholdCareTag.household_id, HouseholdCareTag.tag).where(HouseholdCareTag.household_id.in_(scope))
    for household_id, tag in db.session.execute(tagged):
        tags[household_id].append(tag)
    knock, cadences = _rules_of({h.village_id for h in households})
    due = []
    for household in households:
        row = _due_of(household, sorted(tags[household.id], key=lambda t: t.value), last.get(household.id),
                      knock[household.village_id], cadences[household.village_id], today)
        if row is not None:
            due.append(row)
    return due


def _due_of(household: Household, tags: list[CareTag], last: date | None, knock: tuple, cadences: dict,
            today: date) -> DueHousehold | None:
    created = utc_to_local(household.created_at).date()
    candidates = []
    knock_days, knock_since = knock
    if knock_days:
        candidates.append((due_day(last, max(created, knock_since or created), knock_days), 1, None))
    for tag in tags:
        if tag in cadences:
            days, since = cadences[tag]
            candidates.append((due_day(last, max(created, since), days), 0, tag))
    if not candidates:
        return None
    due_on, _order, because = min(candidates, key=lambda c: (c[0], c[1]))
    return DueHousehold(household, tuple(tags), last, due_on, because, today)


def due_list(where: ColumnElement[bool], today: date) -> DueList:
    """已超期 and 7天内到期, care-tagged households first, then the longest overdue or the soonest due."""
    rows = due_households(where, today)
    order = lambda r: (not r.tags, r.due_on, r.household.number)  # noqa: E731
    overdue = sorted((r for r in rows if r.overdue), key=order)
    soon = sorted((r for r in rows if not r.overdue and r.due_on <= today + timedelta(days=SOON_DAYS)), key=order)
    return DueList(overdue, soon)


def worker_due_list(user: User, today: date) -> DueList:
    """The due list of the households in the grids where user does grid work (their own household aside: a
    colleague visits it)."""
    where = policy.node_filter(user, policy.Permission.GRID_WORK, Household.grid_id)
    own = policy.own_household_id(user)
    return due_list(where & (Household.id != own) if own else where, today)


def visits_of(where: ColumnElement[bool], page: int, per_page: int) -> Page:
    """Visits matching where, newest first (page: from 1 to MAX_PAGE, an absurd one brought within)."""
    page = min(max(1, page), MAX_PAGE)
    total = db.session.scalar(select(func.count(Visit.id)).where(where))
    items = list(db.session.scalars(select(Visit).where(where).order_by(Visit.visited_on.desc(), Visit.id.desc())
                                    .limit(per_page).offset((page - 1) * per_page)))
    return Page(items, total, page, per_page)


def my_visits(user: User, page: int, per_page: int) -> Page:
    """The visits the user logged."""
    return visits_of(Visit.worker_id == user.id, page, per_page)


def visits_in_scope(user: User, page: int, per_page: int, household_id: int | None = None) -> Page:
    """Visits at the grids where user does grid work (of one household, if given)."""
    where = policy.node_filter(user, policy.Permission.GRID_WORK, Visit.grid_id)
    if household_id is not None:
        where = where & (Visit.household_id == household_id)
    return visits_of(where, page, per_page)
