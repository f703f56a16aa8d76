"""签到范围 on phones: the village admin sets a fence and records an event's place with the phone's position; a
villager scanning the code from home is told how far away they are, and checks in once at the place."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from points.events import checkins
from points.events.models import Event, EventSettings
from points.extensions import db
from points.timeutil import local_now

from .conftest import PHONE, Phone

pytestmark = pytest.mark.browser

SQUARE = {"latitude": 24.7812, "longitude": 118.5523}
NEARBY = {"latitude": 24.7815, "longitude": 118.5525}  # about 40 m away
HOME = {"latitude": 24.7900, "longitude": 118.5600}  # about 1.2 km away


def phone_at(browser, live_server, artifacts, name: str, place: dict) -> Phone:
    context = browser.new_context(base_url=live_server.url, geolocation=place, permissions=["geolocation"], **PHONE)
    context.set_default_timeout(15_000)
    return Phone(context.new_page(), artifacts, name)


def test_a_fenced_event_is_checked_in_at_its_place(browser, live_server, artifacts):
    admin = phone_at(browser, live_server, artifacts, "fence-admin", SQUARE)
    try:
        admin.log_in("cunwei")
        admin.page.locator("header nav").get_by_role("link", name="活动", exact=True).click()
        admin.page.get_by_label("签到须在活动地点多少米之内（不限请留空）").fill("200")
        admin.page.get_by_role("button", name="保存签到范围").click()
        expect(admin.page.locator(".flash")).to_have_text("签到须在活动地点 200 米之内")
        admin.page.locator("details summary").first.click()
        starts = local_now() - timedelta(minutes=5)
        admin.page.get_by_label("活动名称").fill("村口植树")
        admin.page.get_by_label("地点", exact=True).fill("村委会广场")
        admin.page.get_by_label("开始时间").fill(starts.strftime("%Y-%m-%dT%H:%M"))
        admin.page.get_by_label("结束时间").fill((starts + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
        admin.page.get_by_label("积分细则").select_option(index=1)  # the first rule after "请选择…"
        admin.page.get_by_role("button", name="用这台手机现在的位置作为活动地点").click()
        expect(admin.page.get_by_text("已记下这台手机现在的位置")).to_be_visible()
        admin.check("event-form")
        admin.page.get_by_role("button", name="新建活动").click()
        expect(admin.page.locator(".flash")).to_have_text("活动已创建：村口植树")
        event_id = int(re.search(r"/events/(\d+)", admin.page.url).group(1))
    finally:
        admin.page.context.close()
    with live_server.app.app_context():
        event = db.session.get(Event, event_id)
        assert (round(event.latitude, 4), round(event.longitude, 4)) == (SQUARE["latitude"], SQUARE["longitude"])
        code = checkins.rotating_token(event)

    for name, place, answer in (("fence-home", HOME, re.compile(r"您离活动地点约 \d+ 米，须在 200 米之内才能签到")),
                                ("fence-near", NEARBY, "签到成功")):
        villager = phone_at(browser, live_server, artifacts, name, place)
        try:
            villager.log_in("villager2")
            villager.open(f"/c/{code}")
            expect(villager.page.get_by_text("已获取位置，可以签到")).to_be_visible()
            villager.check("located")
            villager.page.get_by_role("button", name="签到").click()
            expect(villager.page.locator(".result")).to_have_text(answer)
            villager.check("answer")
            assert not villager.problems, villager.problems
        finally:
            villager.page.context.close()
    with live_server.app.app_context():
        db.session.delete(db.session.scalar(select(EventSettings)))  # the other tests' events are not fenced
        db.session.commit()
