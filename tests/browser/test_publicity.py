"""积分公示表 in a browser: the public table on a phone, a villager's objection, the admin's answer, and the table
printed on A4 (print media, about 794 px wide) with no name unmasked and nothing cut off at the side."""
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from points.extensions import db
from points.grids.models import GridNode, NodeKind
from points.timeutil import local_today

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots25/h1")
A4_WIDTH = 794  # 210 mm at 96 px an inch


@pytest.fixture
def in_publicity(monkeypatch):
    """Today is the 3rd of this month: last month's 公示 is on (7 objection days), whatever day the test runs."""
    day = local_today().replace(day=3)
    for module in ("points.pages.publicity", "points.ledger.publicity", "points.claims.objections"):
        monkeypatch.setattr(f"{module}.local_today", lambda: day)
    return day


@pytest.fixture
def village_id(live_server) -> int:
    with live_server.app.app_context():
        return db.session.scalar(select(GridNode.id).where(GridNode.kind == NodeKind.VILLAGE,
                                                           GridNode.name == "瑶前村"))


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def assert_masked(page) -> None:
    """Every head name in the table is masked, and no phone or ID number is on the page."""
    heads = page.locator("table.publicity-table tbody td:first-child").all_inner_texts()
    assert heads and all("*" in name or name == "—" or len(name) == 1 for name in heads)
    text = page.content()
    assert not re.search(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])", text)
    assert not re.search(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])", text)


def test_a_villager_objects_on_a_phone_and_the_admin_answers(phone, village_id, in_publicity):
    phone.open(f"/villages/{village_id}/publicity")
    expect(phone.page.get_by_role("heading", level=1)).to_contain_text("瑶前村")
    expect(phone.page.locator(".publicity-state")).to_contain_text("公示中（异议截止")
    assert_masked(phone.page)
    expect(phone.page.get_by_role("link", name="提出异议")).to_have_count(0)
    shot(phone.page, "phone-public-table")

    phone.log_in("villager1")
    phone.open(f"/villages/{village_id}/publicity")
    shot(phone.page, "phone-villager-table")
    phone.page.get_by_role("link", name="提出异议").nth(3).click()
    phone.check("objection-form")
    shot(phone.page, "phone-objection-form")
    phone.page.get_by_label("异议理由").fill("这户11月的卫生评比分好像漏记了，请核实")
    phone.page.get_by_role("button", name="提交异议").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("确认提出异议")
    phone.check("objection-confirm")
    shot(phone.page, "phone-objection-confirm")
    phone.page.get_by_role("button", name="确认提出异议").click()
    expect(phone.page.get_by_text("异议已提交，村委会会尽快处理")).to_be_visible()
    phone.check("objection-done")
    shot(phone.page, "phone-objection-done")
    objection_path = re.sub(r"^https?://[^/]+", "", phone.page.url)

    phone.log_in("cunwei")
    phone.open("/objections")
    shot(phone.page, "phone-admin-objections")
    phone.open(objection_path)
    expect(phone.page.get_by_role("link", name=re.compile("积分页"))).to_be_visible()
    phone.page.get_by_label("处理结果").select_option("dismiss")
    phone.page.get_by_label("处理说明（异议人会看到）").fill("已核实，评比分已按时记入")
    phone.page.get_by_role("button", name="答复异议").click()
    phone.check("decision-confirm")
    shot(phone.page, "phone-decision-confirm")
    phone.page.get_by_role("button", name="确认不予采纳").click()
    expect(phone.page.get_by_text("已答复：不予采纳")).to_be_visible()
    expect(phone.page.locator(".status")).to_have_text("不予采纳")
    phone.check("decided")
    shot(phone.page, "phone-decided")


def test_the_table_prints_on_a4_with_names_masked(browser, live_server, village_id, in_publicity, artifacts):
    context = browser.new_context(base_url=live_server.url, viewport={"width": A4_WIDTH, "height": 1123},
                                  locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    try:
        page.emulate_media(media="print")
        for name, path in (("a4-print-page", f"/villages/{village_id}/publicity/print"),
                           ("a4-table-page-printed", f"/villages/{village_id}/publicity")):
            page.goto(path)
            expect(page.locator("h1")).to_contain_text("积分公示表")
            expect(page.locator(".publicity-footer")).to_contain_text("如有异议，请于")
            assert_masked(page)
            expect(page.locator("header.top")).to_be_hidden()
            expect(page.locator(".no-print").first).to_be_hidden()
            shot(page, name)
            page.screenshot(path=artifacts / f"test_publicity-{name}.png", full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= A4_WIDTH, f"{path} is {width} px wide printed: it would be cut off on A4"
        pdf = page.pdf(format="A4")
        assert pdf.startswith(b"%PDF")
        (SHOTS / "publicity.pdf").write_bytes(pdf)
    finally:
        context.close()
