"""志愿活动 on a phone: the village admin creates an event with the form, opens its desk, display and printed code
and the household cards; a villager scans the code, checks in, and shows on the admin's list."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from points.events import services
from points.events.models import Event
from points.extensions import db
from points.grids.models import GridNode
from points.timeutil import local_now

pytestmark = pytest.mark.browser


def test_the_admin_makes_an_event_and_a_villager_checks_in(phone, live_server):
    with live_server.app.app_context():
        village_id = db.session.scalar(select(GridNode.id).where(GridNode.code == "yaoqian"))
        grid_id = db.session.scalar(select(GridNode.id).where(GridNode.code == "yaoqian-3"))
    now = local_now().replace(second=0, microsecond=0)

    phone.log_in("cunwei")
    phone.page.locator("header nav").get_by_role("link", name="活动").click()
    expect(phone.page.get_by_role("heading", level=1)).to_contain_text("志愿活动")
    phone.page.get_by_text("新建活动", exact=True).first.click()
    phone.page.get_by_label("活动名称").fill("清理河道（浏览器）")
    phone.page.get_by_label("地点").fill("村委会门口")
    phone.page.get_by_label("开始时间").fill((now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M"))
    phone.page.get_by_label("结束时间").fill((now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    phone.check("new-event")
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="新建活动").click()
    expect(phone.page.locator(".flash")).to_contain_text("活动已创建")
    phone.check("event")
    with live_server.app.app_context():
        event = db.session.scalar(select(Event).where(Event.title == "清理河道（浏览器）"))
        event_id, token = event.id, services.static_token(event)
    for path in (f"/events/{event_id}/checkin-desk", f"/events/{event_id}/display", f"/events/{event_id}/print",
                 f"/grids/{grid_id}/cards", f"/villages/{village_id}/events"):
        assert phone.open(path).status == 200, path
    expect(phone.page.locator("ul.list")).to_contain_text("清理河道（浏览器）")

    phone.log_in("villager5")
    phone.open(f"/c/{token}")
    phone.page.get_by_role("button", name="签到").click()
    expect(phone.page.locator(".result")).to_have_text("签到成功")
    phone.check("checked-in")

    phone.log_in("cunwei")
    phone.open(f"/events/{event_id}")
    expect(phone.page.get_by_role("heading", level=2)).to_contain_text("1 人")
