"""数据看板 on a phone and on a PC: the village admin opens it from 管理, every chart is drawn by the vendored ECharts
(a canvas with something on it), nothing is refused by the CSP, and an 导出 Excel link answers a workbook."""
import pytest
from playwright.sync_api import expect

from .conftest import PHONE_WIDTH

pytestmark = pytest.mark.browser

CHARTS = ("weekly", "categories", "participation", "grids")
# Whether the chart's canvas has a size and any pixel drawn on it.
DRAWN = """box => {
  const canvas = box.querySelector("canvas");
  if (!canvas || !canvas.width || !canvas.height) { return false; }
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) { return true; } }
  return false;
}"""

PICTURE = "box => Array.from(box.querySelectorAll('canvas'), canvas => canvas.toDataURL()).join()"


def _check_charts(page) -> None:
    for chart in CHARTS:
        box = page.locator(f'.chart[data-chart="{chart}"]')
        canvas = box.locator("canvas")
        expect(canvas).to_have_count(1)
        size = canvas.bounding_box()
        assert size["width"] > 200 and size["height"] > 150, (chart, size)
        assert size["width"] <= box.bounding_box()["width"] + 1, chart
        assert box.evaluate(DRAWN), f"the {chart} chart is blank"


def test_the_dashboard_draws_every_chart_on_a_phone_and_a_pc(phone, artifacts):
    phone.log_in("cunwei")
    phone.open("/manage")
    with phone.page.expect_navigation():
        phone.page.get_by_role("link", name="数据看板").click()
    expect(phone.page.get_by_role("heading", level=1)).to_contain_text("数据看板")
    _check_charts(phone.page)
    expect(phone.page.locator("#stat-awarded")).not_to_have_text("0")  # the demo's month of activity
    phone.check("dashboard")

    # A tap on a week shows its figures: ECharts' tooltip, drawn on the canvas (its HTML one would need inline styles).
    weekly = phone.page.locator('.chart[data-chart="weekly"]')
    before = weekly.evaluate(PICTURE)
    size = weekly.bounding_box()
    weekly.tap(position={"x": size["width"] - 30, "y": size["height"] - 60})
    for _ in range(50):
        if weekly.evaluate(PICTURE) != before:
            break
        phone.page.wait_for_timeout(100)
    else:
        raise AssertionError("tapping the weekly chart showed nothing")
    phone.check("dashboard-tooltip")

    link = phone.page.locator("#weekly").get_by_role("link", name="导出 Excel")
    answer = phone.page.request.get(link.get_attribute("href"))
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert answer.body()[:2] == b"PK"

    # Another month from the picker, then the same page as wide as a PC's.
    picker = phone.page.locator("#dashboard-picker")
    picker.locator('select[name="month"]').select_option(index=1)
    with phone.page.expect_navigation():
        picker.get_by_role("button", name="查看").click()
    _check_charts(phone.page)
    phone.check("dashboard-last-month")
    phone.page.set_viewport_size({"width": 1280, "height": 900})
    for _ in range(50):  # static/dashboards.js redraws the charts a moment after the window is resized
        if phone.page.locator(".chart canvas").first.bounding_box()["width"] > 600:
            break
        phone.page.wait_for_timeout(100)
    _check_charts(phone.page)
    phone.page.screenshot(path=artifacts / f"{phone.test_name}-pc.png", full_page=True)
    phone.page.set_viewport_size({"width": PHONE_WIDTH, "height": 740})
