"""The 排行榜 pages: public and masked, the 黑榜 only where the village lists one, the villager's own place, every
subject and period, the TV display, and the settings (the village admin's alone)."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from points.audit.models import AuditEvent
from points.auth.models import Role
from points.claims.services import decide_appeal, submit_appeal
from points.events.models import CheckinMode
from points.events.services import EventTerms, create_event
from points.extensions import db
from points.leaderboards.models import BoardSettings
from points.ledger.models import EntrySource, LedgerEntry
from points.ledger.services import post_entry
from points.people.services import add_resident
from points.rules.models import RuleCategory, RuleUnit
from points.timeutil import local_today, utc_to_local, utcnow

from .. import factories


class Scene:
    """A village of three grids: 李四明 with 30 points this month and 10 lost to a penalty, 王五六 with 20, 赵七八
    with 20 and a volunteer, 周九十 with nothing; a villager of 王五六's household; the village admin."""

    def __init__(self):
        self.village = factories.gen_village()
        grids = self.village.grids
        today = local_today()
        self.li = factories.gen_household(grids[0], head_name="李四明", phone="13912345678")
        self.wang = factories.gen_household(grids[1], head_name="王五六")
        self.zhao = factories.gen_household(grids[1], head_name="赵七八")
        self.zhou = factories.gen_household(grids[2], head_name="周九十")
        self.volunteer = add_resident(self.zhao, "钱志愿者", relation="子女")
        post_entry(self.li.id, 40, EntrySource.MANUAL, "li", occurred_on=today)
        post_entry(self.li.id, -10, EntrySource.MANUAL, "li-penalty", occurred_on=today,
                   category=RuleCategory.VILLAGE_RULES)
        post_entry(self.wang.id, 20, EntrySource.MANUAL, "wang", occurred_on=today)
        post_entry(self.zhao.id, 20, EntrySource.MANUAL, "zhao", occurred_on=today, resident_id=self.volunteer.id,
                   category=RuleCategory.VOLUNTEERING, hours=3)
        self.villager = factories.gen_villager(self.wang)
        self.admin = factories.gen_user(Role.VILLAGE_ADMIN, self.village.village)
        self.leader = factories.gen_user(Role.GRID_LEADER, grids[0])
        db.session.commit()


@pytest.fixture
def scene():
    return Scene()


def test_the_board_is_public_ranked_and_masked(client, scene):
    page = client.get(f"/boards/{scene.village.village.id}").get_data(as_text=True)
    assert "红榜" in page
    assert page.index("李*明") < page.index("王*六")
    assert "王*六" in page and "赵*八" in page and "周*十" not in page  # no points, no place
    for secret in ("李四明", "王五六", "13912345678", "钱志愿者"):
        assert secret not in page
    assert "黑榜" not in page  # the village lists none until it says so


def test_the_black_board_appears_when_the_village_sets_one(client, login, scene):
    login(scene.admin)
    response = client.post(f"/villages/{scene.village.village.id}/boards/settings",
                           data={"red_count": "5", "black_count": "3"})
    assert response.status_code == 302
    settings = db.session.get(BoardSettings, scene.village.village.id)
    assert (settings.red_count, settings.black_count) == (5, 3)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "boards.settings")) is not None
    client.post("/logout")
    page = client.get(f"/boards/{scene.village.village.id}").get_data(as_text=True)
    black = page[page.index('class="black-title"'):]
    assert "李*明" in black and "−10" in black and "王*六" not in black


@pytest.mark.parametrize("data", [{"red_count": "0", "black_count": "0"}, {"red_count": "5", "black_count": "51"},
                                  {"red_count": "x", "black_count": "1"}, {}])
def test_bad_settings_are_refused_in_chinese(client, login, scene, data):
    login(scene.admin)
    response = client.post(f"/villages/{scene.village.village.id}/boards/settings", data=data)
    assert response.status_code == 422
    assert "请填写" in response.get_data(as_text=True)
    assert db.session.get(BoardSettings, scene.village.village.id) is None


@pytest.mark.parametrize("who", ["villager", "leader"])
def test_only_the_village_admin_changes_the_settings(client, login, scene, who):
    login(getattr(scene, who))
    url = f"/villages/{scene.village.village.id}/boards/settings"
    assert client.get(url).status_code == 403
    assert client.post(url, data={"red_count": "5", "black_count": "3"}).status_code == 403
    assert db.session.get(BoardSettings, scene.village.village.id) is None


def test_a_villager_sees_their_own_place(client, login, scene):
    login(scene.villager)
    assert client.get("/boards").headers["Location"].endswith(f"/boards/{scene.village.village.id}")
    page = client.get(f"/boards/{scene.village.village.id}").get_data(as_text=True)
    assert "我家排第 2 名" in page and "共 4 户" in page
    assert 'class="mine"' in page
    # a board of one category, or a town's, does not say where the household stands among all its points
    assert "我家" not in client.get(f"/boards/{scene.village.village.id}?category=hygiene").get_data(as_text=True)
    assert "我家" not in client.get(f"/boards/{scene.village.town.id}").get_data(as_text=True)


def test_volunteers_and_grids(client, scene):
    village = scene.village.village.id
    page = client.get(f"/boards/{village}?subject=resident").get_data(as_text=True)
    assert "钱**者" in page and "3 小时" in page and "钱志愿者" not in page
    assert "钱**者" in client.get(f"/boards/{village}?subject=resident&order=hours").get_data(as_text=True)
    page = client.get(f"/boards/{village}?subject=grid").get_data(as_text=True)
    # 第2网格: 40 points over 2 households (20.0); 第1网格: 30 over 1 (30.0); 第3网格: 0
    assert page.index(">30.0<") < page.index(">20.0<") < page.index(">0.0<")


@pytest.mark.parametrize("query", ["kind=week", "kind=quarter", "kind=year", "kind=all", "kind=nonsense",
                                   "period=all", "category=volunteering", "subject=nonsense", "order=nonsense"])
def test_every_period_and_subject_renders(client, scene, query):
    assert client.get(f"/boards/{scene.village.village.id}?{query}").status_code == 200


@pytest.mark.parametrize("query", ["period=month:2026-13", "period=week:2026-W99", "period=year:99999",
                                   "category=nonsense"])
def test_a_bad_period_or_category_says_so(client, scene, query):
    response = client.get(f"/boards/{scene.village.village.id}?{query}")
    assert response.status_code == 422
    assert "有误" in response.get_data(as_text=True) or "没有这个积分类别" in response.get_data(as_text=True)


def test_a_past_month_holds_its_own_points(client, scene):
    before = (local_today().replace(day=1) - timedelta(days=1))
    page = client.get(f"/boards/{scene.village.village.id}?period=month:{before:%Y-%m}").get_data(as_text=True)
    assert "还没有户得分" in page


def test_the_town_board_ranks_its_villages_households(client, scene):
    other = factories.gen_village(town=scene.village.town)
    far = factories.gen_household(other.grids[0], head_name="孙远方")
    post_entry(far.id, 35, EntrySource.MANUAL, "far", occurred_on=local_today())
    db.session.commit()
    page = client.get(f"/boards/{scene.village.town.id}").get_data(as_text=True)
    assert page.index("孙*方") < page.index("李*明") < page.index("王*六")  # 35, 30, 20


def test_unknown_nodes_are_404(client, scene):
    assert client.get("/boards/999999").status_code == 404
    assert client.get("/display/999999").status_code == 404
    assert client.get(f"/display/{scene.village.grids[0].id}").status_code == 404


def test_the_display_shows_every_slide_and_reloads_itself(client, scene):
    organizer = factories.gen_user(Role.VILLAGE_ADMIN, scene.village.village)
    rule = factories.gen_rule(scene.village.village, "参加志愿活动", 5, RuleCategory.VOLUNTEERING, unit=RuleUnit.HOUR)
    starts = utc_to_local(utcnow()).replace(tzinfo=None) + timedelta(days=2)
    create_event(organizer, scene.village.village, EventTerms("河道清理", "村口", starts, starts + timedelta(hours=2),
                                                              rule.id, CheckinMode.IN))
    db.session.commit()
    page = client.get(f"/display/{scene.village.village.id}").get_data(as_text=True)
    for title in ("红榜", "卫生保洁示范户", "流动红旗", "网格排名", "近期活动", "河道清理", "李*明"):
        assert title in page
    assert 'http-equiv="refresh"' in page and "display.js" in page
    assert "李四明" not in page and "13912345678" not in page


def test_a_penalty_under_appeal_is_off_the_black_board_and_the_tv_until_upheld(client, scene):
    db.session.add(BoardSettings(village_id=scene.village.village.id, red_count=10, black_count=3))
    penalty = db.session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == "li-penalty"))
    appeal = submit_appeal(factories.gen_villager(scene.li), penalty.id, "垃圾不是我家的")
    db.session.commit()

    def black_board() -> str:
        page = client.get(f"/boards/{scene.village.village.id}").get_data(as_text=True)
        return page[page.index('class="black-title"'):]

    def tv_black_slide() -> str:
        page = client.get(f"/display/{scene.village.village.id}").get_data(as_text=True)
        return page[page.index('id="slide-black"'):] if 'id="slide-black"' in page else ""

    assert "李*明" not in black_board() and "这一期没有扣分的户" in black_board()
    assert "李*明" not in tv_black_slide()
    decide_appeal(scene.admin, appeal.id, reverse=False)
    db.session.commit()
    assert "李*明" in black_board() and "−10" in black_board()
    assert "李*明" in tv_black_slide()


# ----------------------------------------------------------------------------------------- the 村 board (issue 25)


def _town_with_two_villages(scene):
    """scene's village (70 points this month over 4 households: 17.5) and a neighbour (35 over 1 household)."""
    other = factories.gen_village(town=scene.village.town, name="邻村")
    far = factories.gen_household(other.grids[0], head_name="孙远方")
    post_entry(far.id, 35, EntrySource.MANUAL, "far", occurred_on=local_today())
    db.session.commit()
    return other


def test_the_town_board_ranks_its_villages(client, scene):
    other = _town_with_two_villages(scene)
    town, village = scene.village.town, scene.village.village
    page = client.get(f"/boards/{town.id}?subject=village").get_data(as_text=True)
    assert '>村</a>' in page  # the tab, shown on a town's board
    assert page.index(f'data-village="{other.village.id}"') < page.index(f'data-village="{village.id}"')
    assert "户均 35.0" in page and "户均 17.5" in page and "1 / 1 户有得分 · 总分 35" in page
    assert "3 / 4 户有得分 · 总分 70" in page
    assert f'href="/boards/{village.id}?subject=grid&amp;period=' in page  # each village opens its grids
    by_total = client.get(f"/boards/{town.id}?subject=village&order=total").get_data(as_text=True)
    assert by_total.index(f'data-village="{village.id}"') < by_total.index(f'data-village="{other.village.id}"')
    for secret in ("孙远方", "李四明"):
        assert secret not in page


def test_a_village_board_has_no_village_tab_and_the_grid_tab_is_unchanged(client, scene):
    _town_with_two_villages(scene)
    village = scene.village.village
    page = client.get(f"/boards/{village.id}?subject=village").get_data(as_text=True)
    assert ">村</a>" not in page and "红榜" in page  # no such subject here: the households' board
    grids = client.get(f"/boards/{scene.village.town.id}?subject=grid").get_data(as_text=True)
    assert "data-village" not in grids and "邻村" in grids and ">35.0<" in grids
