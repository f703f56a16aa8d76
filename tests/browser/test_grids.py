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


def test_the_town_admin_imports_a_village_with_its_grids_and_staff_who_activate_from_the_slip(phone):
    """The town admin adds a rule to the town's template; from the town's tree, a workbook with a mistake is refused
    row by row, the corrected one previewed and applied, the new accounts' slips printed; a 网格员 opens hers on her
    phone, lands on her grid, and finds the template's rule in her new village's rule book (without the comparison
    with the template, which is for those who keep the book)."""
    from points.auth.tree_workbook import COLUMNS
    from tests.factories import gen_workbook

    rows = [["anhai", "xinqiao", "新桥村", "村", "陈立新 13700000101", "", ""],
            ["xinqiao", "xinqiao-1", "新桥第一网格", "", "", "林海 13700000102", "黄小梅 13700000103"],
            ["xinqiao-1", "xinqiao-1-1", "1号微网格", "微网格", "", "", "黄小梅 13700000103"]]
    phone.log_in("admin")
    phone.open("/manage")
    phone.page.get_by_role("link", name="安海镇积分细则模板").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("积分细则模板")
    phone.page.get_by_role("link", name="新增细则").click()
    phone.page.get_by_label("名称").fill("护河巡查")
    phone.page.get_by_label(re.compile("^编码")).fill("TPL-RIVER")
    phone.page.get_by_label(re.compile("^分值")).fill("5")
    phone.page.get_by_role("button", name="保存").click()
    expect(phone.page.locator("main, body").first).to_contain_text("护河巡查")
    phone.check("template-rule-added")
    phone.open("/grids/manage")
    phone.page.get_by_role("link", name="从表格导入网格和工作人员").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("导入网格和工作人员")
    wrong = [*rows, ["nowhere", "xinqiao-9", "第九网格", "", "", "", ""]]
    phone.page.get_by_label("选择文件").set_input_files(
        files=[{"name": "网格.xlsx", "mimeType": "application/octet-stream", "buffer": gen_workbook(COLUMNS, wrong)}])
    phone.page.get_by_role("button", name="上传并预览").click()
    expect(phone.page.locator("table.errors")).to_contain_text("找不到上级编码 nowhere")
    phone.check("tree-import-refused")

    phone.page.get_by_label("选择文件").set_input_files(
        files=[{"name": "网格.xlsx", "mimeType": "application/octet-stream", "buffer": gen_workbook(COLUMNS, rows)}])
    phone.page.get_by_role("button", name="上传并预览").click()
    expect(phone.page.locator(".summary")).to_contain_text(
        "新增 1 个村（社区）、2 个网格，开通 3 个账号，分配 4 项职务")
    expect(phone.page.locator("#report")).to_contain_text("黄小梅（137****0103）")
    phone.check("tree-import-preview")
    phone.page.get_by_role("button", name=re.compile("^确认导入")).click()
    expect(phone.page.get_by_role("status")).to_contain_text("导入成功")
    phone.page.get_by_role("link", name="打印新账号的激活单（3 张）").click()
    phone.check("staff-slips")
    slip = phone.page.locator(".hcard.slip").filter(has_text="黄*梅")
    expect(slip).to_contain_text("网格员 · 新桥第一网格")
    link = slip.locator("a.qr-box").get_attribute("href")

    phone.page.context.clear_cookies()
    phone.open(link)
    expect(phone.page.locator(".login")).to_contain_text("黄*梅，设置一个密码")
    phone.page.get_by_label("设置密码（至少 8 位）").fill("huang-pass-1")
    phone.page.get_by_label("再输入一次").fill("huang-pass-1")
    phone.page.get_by_role("button", name="设置密码并登录").click()
    expect(phone.page.get_by_role("heading", level=1)).to_contain_text("你好，黄小梅")  # her home: her grid below
    expect(phone.page.locator("main")).to_contain_text("新桥第一网格")
    phone.check("staff-activated")
    phone.open("/rules")
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("积分细则")
    expect(phone.page.locator("#template-differences")).to_have_count(0)
    expect(phone.page.get_by_text("护河巡查").first).to_be_visible()
    phone.check("village-rules-from-template")
