"""排行榜 in a browser: the village TV at 1920×1080 (one slide at a time, large type, the next slide after a while),
the same page on a phone (every slide, one under another), and a villager's board at 360 px wide."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from points.extensions import db
from points.grids.models import GridNode

from .conftest import PHONE_WIDTH

pytestmark = pytest.mark.browser
TV = dict(viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai")


def _village_id(live_server) -> int:
    with live_server.app.app_context():
        return db.session.scalar(select(GridNode.id).where(GridNode.code == "yaoqian"))


def test_the_village_tv_cycles_its_boards_in_large_type(browser, live_server, artifacts):
    context = browser.new_context(base_url=live_server.url, **TV)
    page = context.new_page()
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.clock.install()
    page.goto(f"/display/{_village_id(live_server)}")
    expect(page.locator("body")).to_have_class(re.compile("cycling"))
    titles = page.locator(".slide h2").all_inner_texts()
    assert [t.split()[0] for t in titles][:3] == ["红榜", "黑榜", "卫生保洁示范户"]
    for index, title in enumerate(titles):
        shown = page.locator(".slide.on")
        expect(shown).to_have_count(1)
        expect(shown.locator("h2")).to_have_text(title)
        page.screenshot(path=artifacts / f"tv-1920x1080-{index + 1:02d}.png")
        # Readable across a room: headings over 54 px, each line over 40 px, and the slide fits the screen.
        assert page.evaluate("parseFloat(getComputedStyle(document.querySelector('.slide.on h2')).fontSize)") > 54
        assert page.evaluate("parseFloat(getComputedStyle(document.querySelector('.slide.on li')).fontSize)") > 40
        assert page.evaluate("document.documentElement.scrollHeight") <= 1080
        assert page.evaluate("document.documentElement.scrollWidth") <= 1920
        page.clock.run_for(12_500)
    expect(page.locator(".slide.on h2")).to_have_text(titles[0])  # round again
    for name in page.locator(".slide.red .who").all_inner_texts():  # masked: 张*明
        assert "*" in name.split("\n")[0]
    assert page.locator('meta[http-equiv="refresh"]').get_attribute("content") == "300"
    context.close()
    assert not problems, problems


def test_a_villager_finds_the_board_on_a_phone(phone, live_server):
    village_id = _village_id(live_server)
    phone.log_in("villager1")
    phone.page.get_by_role("link", name="排行榜").click()
    expect(phone.page.get_by_role("heading", level=1)).to_contain_text("排行榜")
    expect(phone.page.locator(".own-place")).to_contain_text("我家")
    phone.check("board-households")
    expect(phone.page.locator("ol.board.red li").first.locator(".rank")).to_have_text("1")
    phone.page.get_by_role("link", name="个人", exact=True).click()
    expect(phone.page.locator("ol.board li").first).to_contain_text("小时")
    phone.check("board-volunteers")
    phone.page.get_by_role("link", name="网格", exact=True).click()
    expect(phone.page.locator("table.grids tbody tr")).to_have_count(3)
    phone.check("board-grids")
    phone.page.get_by_role("link", name="本周", exact=True).click()
    expect(phone.page.locator(".period")).to_contain_text("周")
    phone.check("board-grids-week")
    # The TV's page on a phone: every slide, stacked, nothing wider than the screen.
    phone.open(f"/display/{village_id}")
    expect(phone.page.locator("body")).not_to_have_class(re.compile("cycling"))
    for slide in phone.page.locator(".slide").all():
        expect(slide).to_be_visible()
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
