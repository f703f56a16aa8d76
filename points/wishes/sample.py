"""The demo village's month of 微心愿."""
import io
from datetime import timedelta

from flask import current_app
from PIL import Image, ImageDraw
from sqlalchemy import select

from ..auth.models import User
from ..extensions import db
from ..grids.models import GridNode
from ..people.models import Household, HouseholdCareTag, Resident
from ..rules.models import RuleUnit
from ..timeutil import utc_to_local, utcnow
from . import services
from .queries import village_has_wishes

# (grid 1–3, who posts, wish, staff-only detail, days ago, adopter, how far it went): 点亮 lights it (the poster
# confirms, or worker1 when the poster adopted), 完成 leaves it fulfilled, 认领 adopted, "" open on the wall.
STORIES = (
    (1, "leader1", "想装一个楼梯扶手", "独居老人，住二楼，楼梯陡", 28, "villager1", "点亮"),
    (2, "leader2", "想有人陪着去镇卫生院复查", "腿脚不便，子女在外地", 25, "villager3", "点亮"),
    (3, "leader3", "孩子想要一套课外书", "三年级，父母在外务工，跟爷爷奶奶住", 22, "organizer", "点亮"),
    (1, "worker1", "想把院子里的杂草清一清", "老人独居，院子里草比人高", 18, "villager2", "点亮"),
    (2, "leader2", "家里的灯泡坏了，想请人换一下", "厨房和卫生间的灯都不亮", 14, "villager4", "完成"),
    (3, "leader3", "孩子想学骑自行车", "周末有空，家里有自行车", 10, "villager5", "认领"),
    (1, "leader1", "想学用智能手机和孙子视频", "手机是新买的，不会用微信", 7, "clerk", "认领"),
    (2, "leader2", "冬天想要一床厚棉被", "被子很薄，已用了十几年", 4, "", ""),
    (1, "worker1", "想请人帮忙修一下漏水的水龙头", "厨房水龙头一直滴水", 2, "", ""),
    (3, "leader3", "孩子想要一个新书包", "书包拉链坏了", 1, "", ""),
)


def _user(name: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == name))


def _care_households(village: GridNode) -> dict[int, list[Household]]:
    """The village's care-tagged households on the register, without accounts of their own, by grid."""
    with_accounts = select(Resident.household_id).join(User, User.resident_id == Resident.id)
    tagged = select(HouseholdCareTag.household_id)
    households = db.session.scalars(
        select(Household).where(Household.village_id == village.id, Household.closed_on.is_(None),
                                Household.id.in_(tagged), Household.id.not_in(with_accounts))
        .order_by(Household.number)
    )
    by_grid: dict[int, list[Household]] = {}
    for household in households:
        by_grid.setdefault(household.grid_id, []).append(household)
    return by_grid


def _rule_id(village: GridNode, day) -> int | None:
    """帮扶困难户、关爱空巢老人 (AID-HELP) if in force, else another occurrence rule a wish may name."""
    versions = [v for v in services.wish_rules(village.id, day) if v.unit is RuleUnit.OCCURRENCE]
    preferred = [v for v in versions if v.rule.code == "AID-HELP"]
    return (preferred or versions)[0].rule_id if versions else None


def _photo() -> bytes:
    """A small picture for the demo's lit wishes: a warm lamp on a wall."""
    image = Image.new("RGB", (480, 360), (244, 236, 220))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 260, 480, 360), fill=(180, 150, 120))
    draw.ellipse((190, 90, 290, 190), fill=(250, 200, 80))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _play(story: tuple, household: Household, rule_id: int, store: services.PhotoStore, now) -> None:
    _grid, poster_name, title, detail, days, adopter_name, ending = story
    poster = _user(poster_name)
    start = now - timedelta(days=days)
    wish = services.post_wish(poster, household.id, title, detail, rule_id, client_key=f"demo:{title}", now=start)
    adopter = _user(adopter_name) if adopter_name else None
    if adopter is None:
        return
    services.adopt_wish(adopter, wish.id, now=start + timedelta(hours=5))
    if ending == "认领":
        return
    services.fulfil(adopter, wish.id, "已经帮忙办好了", now=start + timedelta(days=1, hours=3))
    if ending == "完成":
        return
    confirmer = poster if poster.id != adopter.id else _user("worker1")
    services.light(confirmer, wish.id, _photo(), store, now=start + timedelta(days=1, hours=6))


def sample_wishes(village: GridNode) -> None:
    """Creates the demo's 微心愿 through the services, unless the village has some already. Flushes, never commits."""
    if village_has_wishes(village.id):
        return
    grids = list(db.session.scalars(select(GridNode).where(GridNode.parent_id == village.id).order_by(GridNode.id)))
    now = utcnow()
    rule_id = _rule_id(village, utc_to_local(now - timedelta(days=30)).date())
    if len(grids) < 3 or rule_id is None or any(_user(s[1]) is None for s in STORIES):
        return
    households = _care_households(village)
    store = services.PhotoStore(current_app.config["UPLOAD_FOLDER"], current_app.config["PHOTO_MAX_BYTES"])
    used: dict[int, int] = {}
    for story in STORIES:
        grid = grids[story[0] - 1]
        candidates = households.get(grid.id, [])
        if not candidates:
            continue
        household = candidates[used.get(grid.id, 0) % len(candidates)]
        used[grid.id] = used.get(grid.id, 0) + 1
        _play(story, household, rule_id, store, now)
