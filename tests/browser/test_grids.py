"""网格管理 on a phone: the village admin adds a micro-grid under a grid, is told a taken code in Chinese, renames it,
moves it under another grid, cannot retire a grid that still has households, and retires the empty one after the
confirmation."""
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def node_row(phone, name: str):
    return phone.page.locator("ul.tree .node").filter(has=phone.page.get_by_role("link", name=name, exact=True))


def test_the_village_admin_keeps_the_grid_tree_on_a_phone(phone):
    phone.log_in("cunwei")
    phone.page.locator("header nav").get_by_role("link", name="管理", exact=True).click()
    phone.page.get_by_role("link", name="网格管理").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("网格树")
    phone.check("tree")

    node_row(phone, "第一网格").get_by_role("link", name="＋下级").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("在 第一网格 下新增网格")
    phone.page.get_by_label("名称").fill("第一网格东片")
    phone.page.get_by_label(re.compile("^编码")).fill("yaoqian")  # the village's own code
    phone.page.get_by_role("button", name="新增").click()
    expect(phone.page.locator(".field-error")).to_have_text("编码 yaoqian 已被使用")
    phone.check("code-taken")
    phone.page.get_by_label(re.compile("^编码")).fill("yaoqian-1-east")
    phone.page.get_by_role("button", name="新增").click()
    expect(phone.page.locator(".flash")).to_have_text("已新增 第一网格东片（编码 yaoqian-1-east）")
    expect(node_row(phone, "第一网格东片")).to_contain_text("0 户 · 0 人")
    phone.check("added")

    node_row(phone, "第一网格东片").get_by_role("link", name="修改").click()
    phone.page.get_by_label("名称").fill("东片微网格")
    second = phone.page.locator("#parent_id option", has_text="第二网格").get_attribute("value")
    phone.page.get_by_label("上级").select_option(value=second)
    phone.check("edit")
    phone.page.get_by_role("button", name="保存").click()
    expect(phone.page.locator(".flash")).to_have_text("已保存 东片微网格")
    moved = phone.page.locator("ul.tree li").filter(has=phone.page.get_by_role("link", name="第二网格", exact=True))
    expect(moved.get_by_role("link", name="东片微网格", exact=True)).to_be_visible()

    node_row(phone, "第三网格").get_by_role("link", name="修改").click()
    phone.page.get_by_role("link", name="撤销网格").click()
    expect(phone.page.get_by_role("alert")).to_contain_text(re.compile(r"第三网格 里还有 \d+ 户"))
    phone.check("retire-refused")

    phone.page.go_back()
    phone.page.go_back()
    node_row(phone, "东片微网格").get_by_role("link", name="修改").click()
    phone.page.get_by_role("link", name="撤销网格").click()
    phone.check("retire-confirm")
    phone.page.get_by_role("button", name="确认撤销 东片微网格").click()
    expect(phone.page.locator(".flash")).to_have_text("已撤销 东片微网格")
    expect(phone.page.get_by_role("link", name="东片微网格", exact=True)).to_have_count(0)
    phone.check("retired")
