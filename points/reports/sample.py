"""The demo village's month of 民情诉求."""
from datetime import datetime, timedelta

from sqlalchemy import select

from ..auth.models import User
from ..claims.services import PhotoStore
from ..extensions import db
from ..grids.models import GridNode
from ..people.models import Household, Resident
from ..rules.models import Rule
from ..timeutil import utcnow
from . import services, settings
from .models import Report
from .sweep import sweep_reports

NO_PHOTOS = PhotoStore("", 0)  # the demo's reports are words only

# (who files, category, text, place, days ago, handler, what happens): 满意 closes it; 不满意 reopens it; 办结
# leaves it finished; 受理 leaves it accepted; 处置 adds a note; 驳回 rejects it; "" leaves it waiting.
STORIES = (
    ("villager1", "路灯", "村口第二根路灯不亮了，晚上走路看不清", "村口", 27, "leader1", "满意"),
    ("villager2", "道路", "路面塌了一个坑，电动车容易摔", "水井边", 20, "worker1", "满意"),
    ("elder", "安全隐患", "老人家后墙有裂缝，下雨天怕倒", "后山路", 15, "leader1", "满意"),
    ("villager1", "环境卫生", "垃圾桶满了好几天没人清", "祠堂前", 8, "leader1", "不满意"),
    ("villager2", "邻里纠纷", "邻居家狗半夜一直叫", "", 3, None, ""),
    ("villager1", "路灯", "桥头路灯白天也亮着", "桥头", 0.12, None, ""),
    ("villager3", "道路", "下水道盖板松了", "小学门口", 25, "leader2", "满意"),
    ("villager4", "环境卫生", "河边有人倒建筑垃圾", "河边", 18, "leader2", "迟办结"),
    ("villager3", "其他", "想问问医保怎么交", "", 10, "leader2", "驳回"),
    ("villager4", "路灯", "篮球场的灯坏了两盏", "篮球场", 1, "leader2", "处置"),
    ("villager3", "安全隐患", "电线杆歪了", "菜市场", 0.2, None, ""),
    ("villager5", "道路", "田间小路被水冲断了", "田间", 22, "leader3", "满意"),
    ("villager5", "环境卫生", "公厕没人打扫", "活动中心", 12, "leader3", "办结"),
    ("villager5", "安全隐患", "废弃鱼塘没有护栏", "鱼塘", 4, "leader3", "处置"),
    ("villager5", "邻里纠纷", "宅基地边界有争议", "", 0.25, None, ""),
)


def _user(name: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == name))


def _elder(village: GridNode, worker: User) -> Household | None:
    """A household of worker1's grid whose people have no account: who worker1 reports for."""
    grid_id = worker.assignments[0].node_id
    with_accounts = select(Resident.household_id).join(User, User.resident_id == Resident.id)
    return db.session.scalar(select(Household).where(Household.village_id == village.id, Household.grid_id == grid_id,
                                                     Household.closed_on.is_(None), Household.id.not_in(with_accounts))
                             .order_by(Household.number).limit(1))


def _settings(village: GridNode, admin: User) -> None:
    rules = {r.code: r.id for r in db.session.scalars(select(Rule).where(
        Rule.village_id == village.id, Rule.code.in_(("PUB-HAZARD", "GRID-REPORT"))))}
    settings.update_settings(admin, village, 24, 3, rules.get("PUB-HAZARD"), rules.get("GRID-REPORT"))


def _play(index: int, story: tuple, elder: Household | None, now: datetime) -> None:
    who, category, text, place, days, handler_name, ending = story
    filer = _user("worker1" if who == "elder" else who)
    start = now - timedelta(days=days)
    report = services.submit_report(filer, category, text, [], NO_PHOTOS, place=place, now=start,
                                    household_id=elder.id if who == "elder" else None,
                                    client_key=f"demo:{index}")
    if handler_name is None:
        return
    handler = _user(handler_name)
    if ending == "驳回":
        services.reject_report(handler, report.id, "属于个人事务，请到村委会窗口咨询", now=start + timedelta(hours=3))
        return
    services.accept_report(handler, report.id, now=start + timedelta(hours=2))
    if ending == "受理":
        return
    if ending == "处置":
        services.add_progress(handler, report.id, "已到现场查看，联系了相关部门", [], NO_PHOTOS,
                              now=start + timedelta(hours=5))
        return
    late = ending == "迟办结"
    services.finish_report(handler, report.id, "已处理完毕，现场已恢复", [], NO_PHOTOS,
                           now=start + timedelta(days=5 if late else 1))
    reporter = filer
    if ending in ("满意", "迟办结"):
        services.give_feedback(reporter, report.id, True, now=start + timedelta(days=6 if late else 2))
    elif ending == "不满意":
        services.give_feedback(reporter, report.id, False, "清了一次又满了，希望增加清运次数",
                               now=start + timedelta(days=2))


def sample_reports(village: GridNode) -> None:
    """Creates the demo's 民情诉求 through the services, unless the village has some already. Flushes, never commits."""
    if db.session.scalar(select(Report.id).where(Report.village_id == village.id).limit(1)):
        return
    admin, worker = _user("cunwei"), _user("worker1")
    if admin is None or worker is None:
        return
    _settings(village, admin)
    elder = _elder(village, worker)
    now = utcnow()
    for index, story in enumerate(STORIES):
        if story[0] == "elder" and elder is None:
            continue
        _play(index, story, elder, now)
    sweep_reports(now)  # what waited too long has moved up already
