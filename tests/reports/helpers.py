"""A village with what 民情诉求 needs: a reporter, the grid's staff, an admin, the reward and duty rules set (its
categories not stored yet: its first report stores them)."""
from datetime import datetime

from points.auth.models import Role
from points.claims.services import PhotoStore
from points.extensions import db
from points.reports import services, settings
from points.rules.models import RuleCategory

from .. import factories

T0 = datetime(2026, 11, 2, 1, 0)  # 09:00 in Asia/Shanghai, a Monday


def build_world(village, tmp_path) -> dict:
    grid, other_grid = village.grids[0], village.grids[1]
    home = factories.gen_household(grid)
    villager = factories.gen_villager(home)
    elder = factories.gen_household(grid, head_name="李老伯", phone=None)
    worker = factories.gen_user(Role.GRID_WORKER, grid)
    leader = factories.gen_user(Role.GRID_LEADER, grid)
    other_worker = factories.gen_user(Role.GRID_WORKER, other_grid)
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    reward = factories.gen_rule(village.village, "反映安全隐患", 5, RuleCategory.PUBLICITY, code="PUB-HAZARD",
                                cap_month=15)
    duty = factories.gen_rule(village.village, "及时办结民情诉求", 3, RuleCategory.GRID_DUTY, code="GRID-REPORT",
                              cap_month=15)
    settings.update_settings(admin, village.village, 24, 3, reward.id, duty.id)
    db.session.commit()
    return dict(village=village, grid=grid, home=home, villager=villager, elder=elder, worker=worker, leader=leader,
                other_worker=other_worker, admin=admin, reward=reward, duty=duty,
                store=PhotoStore(str(tmp_path), 8 * 1024 * 1024))


def file_report(world, user=None, text="村口路灯坏了，晚上很黑", photos=(), now=T0, category="路灯", **kwargs):
    report = services.submit_report(user or world["villager"], category, text, list(photos),
                                    world["store"], place="村口", now=now, **kwargs)
    db.session.commit()
    return report
