"""限制兑换 through the pages: the admin's form from the household page, its confirmation naming the household and the
dates, the refusals in Chinese, the bar's page with its status, the household's 申诉 and the admin's 解除限制."""
from datetime import date, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from points.auth.models import Role
from points.extensions import db
from points.ledger.models import RedemptionBar
from points.messages.models import Message
from points.people.services import add_resident
from points.timeutil import LOCAL

from .. import factories


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(datetime(2026, 12, 20, 10, 0, tzinfo=LOCAL)):
        yield


class World:
    """A household of 张三明 (grid 1) with its villager; a household of grid 2 with its villager; the village admin,
    an admin whose own household is 张三明's, and a grid worker."""

    def __init__(self, village):
        self.household = factories.gen_household(village.grids[0], head_name="张三明")
        self.villager = factories.gen_villager(self.household)
        self.other = factories.gen_household(village.grids[1], head_name="李四")
        self.outsider = factories.gen_villager(self.other)
        self.admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
        self.admin_at_home = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
        self.admin_at_home.resident = add_resident(self.household, "张小红", "配偶", "13900001111")
        self.worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
        db.session.commit()

    @property
    def url(self) -> str:
        return f"/households/{self.household.id}/bars"


@pytest.fixture
def world(village):
    return World(village)


def bars_count() -> int:
    return db.session.scalar(select(func.count(RedemptionBar.id)))


def form(**values) -> dict:
    return {"starts_on": "2026-12-20", "ends_on": "2027-01-31", "reason": "参与赌博", **values}


def test_the_household_page_leads_the_admin_to_the_form(client, login, world):
    login(world.admin)
    assert f'href="{world.url}"' in client.get(f"/households/{world.household.id}").get_data(as_text=True)
    page = client.get(world.url).get_data(as_text=True)
    assert 'name="starts_on" value="2026-12-20"' in page and 'name="ends_on"' in page and 'name="reason"' in page
    assert "这户没有被限制过兑换" in page
    login(world.worker)
    assert f'href="{world.url}"' not in client.get(f"/households/{world.household.id}").get_data(as_text=True)
    assert 'name="reason"' not in client.get(world.url).get_data(as_text=True)


def test_a_bar_is_confirmed_naming_the_household_and_its_dates_then_set(client, login, world):
    login(world.admin)
    asked = client.post(world.url, data=form())
    text = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "确认限制兑换" in text
    assert f"户号 {world.household.number}（户主 张三明）从 2026年12月20日 到 2027年1月31日（共 43 天）" in text
    assert "原因：参与赌博" in text and 'name="confirmed" value="1"' in text
    assert bars_count() == 0 and db.session.scalar(select(func.count(Message.id))) == 0

    done = client.post(world.url, data={**form(), "confirmed": "1"})
    found = db.session.scalar(select(RedemptionBar))
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/bars/{found.id}")
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "已限制户号" in page and "生效中" in page and "2027年1月31日" in page and "参与赌博" in page
    assert 'action="/bars/%d/lift"' % found.id in page and 'action="/bars/%d/appeal"' % found.id not in page
    assert "生效中" in client.get(world.url).get_data(as_text=True)


@pytest.mark.parametrize(("values", "words"), [
    ({"starts_on": "2027-01-10", "ends_on": "2027-01-01"}, "限制的结束日期不能早于开始日期"),
    ({"starts_on": "2026-12-01", "ends_on": "2026-12-19"}, "限制的结束日期已经过去了"),
    ({"reason": "  "}, "请写明限制兑换的原因"),
    ({"ends_on": ""}, "请填写开始日期和结束日期"),
    ({"ends_on": "明年"}, "请填写开始日期和结束日期"),
    ({"ends_on": "2029-12-31"}, "一次最多限制兑换 730 天"),
])
def test_bad_bars_are_refused_beside_the_form(client, login, world, values, words):
    login(world.admin)
    response = client.post(world.url, data={**form(**values), "confirmed": "1"})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert words in text and 'name="reason"' in text
    assert bars_count() == 0


def test_nobody_bars_their_own_household_and_a_worker_is_refused(client, login, world):
    login(world.admin_at_home)
    response = client.post(world.url, data={**form(), "confirmed": "1"})
    assert response.status_code == 403 and "自己" in response.get_data(as_text=True)
    assert 'name="reason"' not in client.get(world.url).get_data(as_text=True)
    login(world.worker)
    assert client.post(world.url, data={**form(), "confirmed": "1"}).status_code == 403
    assert bars_count() == 0


def _barred(client, login, world, starts_on="2026-12-20") -> RedemptionBar:
    login(world.admin)
    client.post(world.url, data={**form(starts_on=starts_on), "confirmed": "1"})
    return db.session.scalar(select(RedemptionBar))


def test_the_household_appeals_once_and_the_admins_are_told(client, login, world):
    found = _barred(client, login, world)
    login(world.villager)
    page = client.get(f"/bars/{found.id}").get_data(as_text=True)
    assert "生效中" in page and 'action="/bars/%d/appeal"' % found.id in page and "/lift" not in page
    empty = client.post(f"/bars/{found.id}/appeal", data={"text": " "}, follow_redirects=True)
    assert "请写" in empty.get_data(as_text=True)
    done = client.post(f"/bars/{found.id}/appeal", data={"text": "那天我在外地打工"}, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "申诉已提交" in text and "那天我在外地打工" in text and "已申诉，请等村里处理" in text
    again = client.post(f"/bars/{found.id}/appeal", data={"text": "再说一次"}, follow_redirects=True)
    assert "这项限制已经申诉过了" in again.get_data(as_text=True)
    notices = db.session.scalars(select(Message.text).where(Message.user_id == world.admin.id)).all()
    assert notices == ["有一条限制兑换的申诉等您处理"]
    login(world.admin)
    assert "那天我在外地打工" in client.get(f"/bars/{found.id}").get_data(as_text=True)


def test_a_bar_to_come_may_be_appealed_too(client, login, world):
    found = _barred(client, login, world, starts_on="2027-01-05")
    login(world.villager)
    page = client.get(f"/bars/{found.id}").get_data(as_text=True)
    assert "未开始" in page and 'action="/bars/%d/appeal"' % found.id in page


def test_another_household_neither_sees_nor_appeals_the_bar(client, login, world):
    found = _barred(client, login, world)
    login(world.outsider)
    assert client.get(f"/bars/{found.id}").status_code == 403
    assert client.get(world.url).status_code == 403
    assert client.post(f"/bars/{found.id}/appeal", data={"text": "不对"}).status_code == 403
    db.session.expire_all()
    assert db.session.get(RedemptionBar, found.id).appealed_at is None


def test_lifting_is_confirmed_then_the_bar_reads_lifted(client, login, world):
    found = _barred(client, login, world)
    asked = client.post(f"/bars/{found.id}/lift", data={"note": "已改正"})
    text = asked.get_data(as_text=True)
    assert "确认解除限制" in text and world.household.number in text and "原定到 2027年1月31日" in text
    db.session.expire_all()
    assert db.session.get(RedemptionBar, found.id).lifted_at is None
    done = client.post(f"/bars/{found.id}/lift", data={"note": "已改正", "confirmed": "1"}, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "限制已解除" in text and "已解除" in text and "已改正" in text and "/lift" not in text
    again = client.post(f"/bars/{found.id}/lift", data={"confirmed": "1"}, follow_redirects=True)
    assert "这项限制已经解除了" in again.get_data(as_text=True)
    login(world.villager)
    assert "已解除" in client.get(f"/bars/{found.id}").get_data(as_text=True)


def test_my_points_shows_the_bar_with_a_link_to_appeal(client, login, world):
    found = _barred(client, login, world)
    login(world.villager)
    page = client.get("/my/points").get_data(as_text=True)
    assert "您家被限制兑换到 2027年1月31日" in page and "原因：参与赌博" in page
    assert f'href="/bars/{found.id}"' in page and "查看详情或申诉" in page
    login(world.outsider)
    assert "限制兑换" not in client.get("/my/points").get_data(as_text=True)


def test_villagers_read_no_bar_before_it_starts_on_my_points(client, login, world):
    _barred(client, login, world, starts_on="2027-01-05")
    login(world.villager)
    assert "被限制兑换" not in client.get("/my/points").get_data(as_text=True)
    with time_machine.travel(datetime(2027, 1, 5, 9, 0, tzinfo=LOCAL)):
        assert "您家被限制兑换到 2027年1月31日" in client.get("/my/points").get_data(as_text=True)
    assert date(2027, 1, 5)  # the bar's first day counts
