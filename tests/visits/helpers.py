"""A village with visit work to do, for the 走访 tests: households of two grids (some care-tagged), workers, a
网格员履职 rule, settings; all on fixed days."""
from dataclasses import dataclass
from datetime import date, datetime

from points.auth import services as auth_services
from points.auth.models import Role
from points.extensions import db
from points.people.models import CareTag
from points.rules.models import RuleCategory
from points.visits import services

from .. import factories

DAY = date(2026, 6, 15)  # a Monday
CREATED = datetime(2026, 4, 1, 2, 0)  # the households' day on the register (UTC)


@dataclass
class VisitWorld:
    village: object
    grid: object
    other_grid: object
    plain: object  # a household of grid 1 without care tags
    elder: object  # 空巢老人, grid 1
    poor: object  # 低保, grid 1
    across: object  # grid 2
    worker: object  # grid 1's worker, not a resident
    worker_at_home: object  # grid 1's worker living in household `home` of grid 1
    home: object
    other_worker: object  # grid 2
    admin: object  # the village admin
    villager: object  # of `plain`
    rule: object


def build(village, *, rule: bool = True, cap_week: int | None = 4, settings: bool = True) -> VisitWorld:
    grid, other_grid = village.grids[0], village.grids[1]
    plain = factories.gen_household(grid, "张三明")
    elder = factories.gen_household(grid, "李老伯", care_tags=[CareTag.EMPTY_NEST])
    poor = factories.gen_household(grid, "王大妈", care_tags=[CareTag.LOW_INCOME, CareTag.DISABLED])
    across = factories.gen_household(other_grid, "赵六")
    home = factories.gen_household(grid, "钱网格")
    for household in (plain, elder, poor, across, home):
        household.created_at = CREATED
    worker_at_home = factories.gen_villager(home)
    auth_services.assign_role(None, worker_at_home, Role.GRID_WORKER, grid)
    duty_rule = factories.gen_rule(village.village, "走访", 2, RuleCategory.GRID_DUTY, code="GRID-VISIT",
                                   cap_week=cap_week) if rule else None
    world = VisitWorld(
        village=village, grid=grid, other_grid=other_grid, plain=plain, elder=elder, poor=poor, across=across,
        worker=factories.gen_user(Role.GRID_WORKER, grid), worker_at_home=worker_at_home, home=home,
        other_worker=factories.gen_user(Role.GRID_WORKER, other_grid),
        admin=factories.gen_user(Role.VILLAGE_ADMIN, village.village), villager=factories.gen_villager(plain),
        rule=duty_rule,
    )
    if settings:
        services.save_settings(world.admin, village.village.id, duty_rule.id if duty_rule else None, 30,
                               {CareTag.EMPTY_NEST: 14, CareTag.LOW_INCOME: 30}, today=date(2026, 4, 1))
    db.session.commit()
    return world


def log(worker, household, day=DAY, tmp_path=None, *, today=DAY, kind="routine", note="", photo=None,
        key=None):
    """A visit logged by worker to household on day (today: DAY)."""
    return services.log_visit(worker, services.VisitAsked(household.id, day, kind, note, photo),
                              services.PhotoStore(str(tmp_path or "/nonexistent"), 5 * 1024 * 1024),
                              client_key=key, today=today)
