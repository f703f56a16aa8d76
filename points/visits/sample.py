"""The demo village's month of 走访."""
from datetime import timedelta

from sqlalchemy import select

from ..auth.models import User
from ..extensions import db
from ..grids.models import GridNode
from ..people.models import CareTag, Household, HouseholdCareTag
from ..rules.models import Rule
from ..timeutil import local_today
from .models import Visit, VisitKind, VisitSettings
from .services import PhotoStore, VisitAsked, log_visit, save_settings

CADENCES = {CareTag.EMPTY_NEST: 14, CareTag.LOW_INCOME: 30, CareTag.DISABLED: 30}
VISITS_PER_WORKER = 10
NOTES = {
    VisitKind.CARE: ("身体状况良好，了解了近期的生活需求", "帮忙检查了家里的用电安全", "提醒按时服药，留下了联系电话"),
    VisitKind.ROUTINE: ("家中一切正常", "核对了家庭成员信息", "听取了对村里环境整治的意见"),
    VisitKind.POLICY: ("宣传了垃圾分类和积分兑换规则", "讲解了医保缴费政策"),
}


def _households(grid_id: int, count: int) -> list[Household]:
    """The grid's open households, care-tagged ones first."""
    tagged = select(HouseholdCareTag.household_id).where(HouseholdCareTag.household_id == Household.id).exists()
    return list(db.session.scalars(
        select(Household).where(Household.grid_id == grid_id, Household.closed_on.is_(None))
        .order_by(tagged.desc(), Household.number).limit(count)))


def sample_visits(village: GridNode) -> None:
    """Creates the demo's 走访 through the services, unless the village has some already. Flushes, never commits."""
    if db.session.get(VisitSettings, village.id) is not None or db.session.scalar(
            select(Visit.id).where(Visit.village_id == village.id).limit(1)):
        return
    users = {u.username: u for u in db.session.scalars(
        select(User).where(User.username.in_(("cunwei", "leader1", "leader2", "leader3", "worker1"))))}
    if "cunwei" not in users:
        return
    today = local_today()
    rule_id = db.session.scalar(select(Rule.id).where(Rule.village_id == village.id, Rule.code == "GRID-VISIT"))
    # The round started five weeks ago: households nobody has visited since are overdue.
    save_settings(users["cunwei"], village.id, rule_id, 30, CADENCES, today=today - timedelta(days=35))
    grids = list(db.session.scalars(select(GridNode).where(GridNode.parent_id == village.id).order_by(GridNode.id)))
    staff = [(name, grids[index]) for name, index in (("leader1", 0), ("worker1", 0), ("leader2", 1), ("leader3", 2))
             if name in users and index < len(grids)]
    store = PhotoStore("", 0)  # the demo's visits carry no photo
    for w, (name, grid) in enumerate(staff):
        sharing = [n for n, g in staff if g.id == grid.id]  # a grid's staff share its households
        households = _households(grid.id, VISITS_PER_WORKER * len(sharing))[sharing.index(name)::len(sharing)]
        for i, household in enumerate(households):
            kind = VisitKind.CARE if household.care_tags else (VisitKind.POLICY if i % 3 == 0 else VisitKind.ROUTINE)
            day = today - timedelta(days=1 + ((VISITS_PER_WORKER - 1 - i) * 3 + w) % 28)  # the first longest ago
            notes = NOTES[kind]
            # Logged on its day, as a worker would: it earns (one back-dated into an ended month would not).
            log_visit(users[name], VisitAsked(household.id, day, kind, notes[(i + w) % len(notes)]), store,
                      client_key=f"demo:{name}:{i}", today=day)
