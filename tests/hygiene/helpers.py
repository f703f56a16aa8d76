"""Builders for hygiene tests: a village with households in each grid, its staff, and a round of last week."""
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from points.auth.models import Role, User
from points.extensions import db
from points.grids.models import GridNode
from points.hygiene import inspection, village_settings
from points.hygiene.models import InspectionRound, Outcome, Result
from points.ledger.models import HouseholdBalance, LedgerEntry
from points.people.models import Household
from points.periods import month_weeks_end, parse_month, week_of
from points.timeutil import local_today

from .. import factories


@dataclass
class Scene:
    village: factories.Village
    households: list[list[Household]]  # per grid
    admin: User
    leaders: list[User]  # per grid

    def round(self, week: str | None = None) -> InspectionRound:
        """The round of week, by default last week's: a week over, published whatever is scored."""
        return inspection.round_for(self.village.village, week or week_ago(1))

    def inspector_of(self, round_: InspectionRound, grid_index: int) -> User:
        """The leader of the grid assigned to inspect grid grid_index in round_."""
        inspector = inspection.assignment_of(round_, self.village.grids[grid_index].id).inspector_grid_id
        return self.leaders[[g.id for g in self.village.grids].index(inspector)]


def gen_scene(grids: int = 3, per_grid: int = 5) -> Scene:
    village = factories.gen_village(grids)
    households = [[factories.gen_household(grid, phone=None) for _ in range(per_grid)] for grid in village.grids]
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    leaders = [factories.gen_user(Role.GRID_LEADER, grid) for grid in village.grids]
    db.session.commit()
    return Scene(village, households, admin, leaders)


def score_all(scene: Scene, round_: InspectionRound, grid_index: int, deductions: list[int]) -> None:
    """Score the grid's households in order, each deduction on the first checklist item (as the admin)."""
    item = village_settings.checklist(scene.village.village.id)[0]
    for household, points in zip(scene.households[grid_index], deductions):
        inspection.save_score(scene.admin, round_, household.id, {item.id: points})


def balance(household: Household) -> int:
    row = db.session.get(HouseholdBalance, household.id, populate_existing=True)
    return row.balance if row else 0


def week_ago(weeks: int) -> str:
    """The ISO week that many weeks before this one."""
    return week_of(local_today() - timedelta(weeks=weeks))


def last_month() -> str:
    """The latest month whose last week is over: the one before this, or before that in the first days of a month
    (on 1 January 2027, December's last week runs to the 3rd)."""
    day = local_today().replace(day=1) - timedelta(days=1)
    if month_weeks_end(f"{day.year}-{day.month:02d}") >= local_today():
        day = day.replace(day=1) - timedelta(days=1)
    return f"{day.year}-{day.month:02d}"


def weeks_of_month(month: str) -> list[str]:
    """The ISO weeks that count in month (those whose Thursday falls in it), in order."""
    first, last = parse_month(month)
    thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    weeks = []
    while thursday <= last:
        weeks.append(week_of(thursday))
        thursday += timedelta(weeks=1)
    return weeks


def outcomes(round_: InspectionRound, grid: GridNode) -> dict[int, Outcome | None]:
    """Household → its outcome in the grid's published results of the round."""
    return dict(db.session.execute(
        select(Result.household_id, Result.outcome).where(Result.round_id == round_.id,
                                                          Result.grid_id == grid.id)).all())


def entries_of(household: Household) -> list[LedgerEntry]:
    return list(db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.household_id == household.id).order_by(LedgerEntry.id)))


def entry_count() -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry))
