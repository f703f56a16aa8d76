"""The demo's month of 走访: settings, about 40 visits by the grid staff to households of their own grids (care-tagged
first), through the services; a second run adds nothing."""
from sqlalchemy import func, select

from points.auth.models import Role
from points.extensions import db
from points.people.models import CareTag
from points.rules.models import RuleCategory
from points.visits.models import Visit, VisitCadence, VisitSettings
from points.visits.sample import sample_visits

from .. import factories


def test_the_sample_month_is_made_once(village):
    grids = village.grids
    for index, grid in enumerate(grids):
        for n in range(25):
            factories.gen_household(grid, f"户主{index}{n}", care_tags=[CareTag.EMPTY_NEST] if n % 5 == 0 else [])
    factories.gen_user(Role.VILLAGE_ADMIN, village.village, username="cunwei")
    staff = {name: factories.gen_user(role, grids[i], username=name) for name, role, i in (
        ("leader1", Role.GRID_LEADER, 0), ("leader2", Role.GRID_LEADER, 1), ("leader3", Role.GRID_LEADER, 2),
        ("worker1", Role.GRID_WORKER, 0))}
    factories.gen_rule(village.village, "走访", 2, RuleCategory.GRID_DUTY, code="GRID-VISIT", cap_week=10)
    db.session.commit()
    sample_visits(village.village)
    db.session.commit()
    visits = list(db.session.scalars(select(Visit)))
    assert len(visits) == 40
    assert all(v.duty_id is not None for v in visits)
    grid_of = {u.id: grids[i].id for i, u in zip((0, 1, 2, 0), staff.values(), strict=True)}
    assert all(v.grid_id == grid_of[v.worker_id] for v in visits)
    assert db.session.get(VisitSettings, village.village.id).knock_days == 30
    assert {c.tag: c.days for c in db.session.scalars(select(VisitCadence))} == {
        CareTag.EMPTY_NEST: 14, CareTag.LOW_INCOME: 30, CareTag.DISABLED: 30}
    tagged = [v for v in visits if v.household.care_tags]
    assert len(tagged) == 15  # every care-tagged household of the grids, first
    sample_visits(village.village)
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 40
