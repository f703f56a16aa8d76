"""Importing a 花名册 on a phone: a file with mistakes is refused whole, with a report row by row in Chinese; the
exported register, edited, is previewed change by change and applied on confirmation."""
import io
import re

import openpyxl
import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from points.extensions import db
from points.people.models import Household, Resident

pytestmark = pytest.mark.browser

BAD_FILE = "\n".join(
    [
        "户号,户主姓名,姓名,与户主关系,手机号,身份证号,所属网格,门牌号,户籍类型,关爱标签",
        "9001,林国强,,户主,13912345678,,第一网格,瑶前村前街200号,户籍,",
        "9001,林国强,陈丽娟,配偶,1391234,,第一网格,瑶前村前街200号,户籍,",
        "9002,黄志明,,户主,,,第九网格,瑶前村后街201号,外来租住,",
    ]
).encode("utf-8")


def _counts(live_server) -> tuple[int, int]:
    with live_server.app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Household)),
            db.session.scalar(select(func.count()).select_from(Resident)),
        )


def test_import_with_errors_shows_the_report_and_changes_nothing(phone, live_server):
    before = _counts(live_server)
    phone.log_in("cunwei")
    phone.page.locator("header nav").get_by_role("link", name="管理", exact=True).click()
    phone.page.get_by_role("link", name="导入花名册").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("导入住户和村民")
    phone.check("form")

    phone.page.get_by_label("选择文件").set_input_files(
        files=[{"name": "花名册.csv", "mimeType": "text/csv", "buffer": BAD_FILE}]
    )
    phone.page.get_by_role("button", name="上传并预览").click()

    report = phone.page.locator("#report")
    expect(report.get_by_role("alert")).to_have_text("发现 2 处错误，未导入任何数据。请修改后重新上传。")
    rows = report.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td")).to_have_text(["3", "手机号", "手机号格式不正确，应为 11 位手机号"])
    expect(rows.nth(1).locator("td")).to_have_text(["4", "所属网格", "找不到网格“第九网格”"])
    phone.check("report")

    assert _counts(live_server) == before
    phone.open("/households?q=林国强")
    expect(phone.page.get_by_text("共 0 户")).to_be_visible()
    phone.open("/households")
    expect(phone.page.get_by_text(f"共 {before[0]} 户")).to_be_visible()


def test_import_without_a_file_is_stopped_by_the_phone(phone):
    phone.log_in("cunwei")
    phone.open("/import")
    file_input = phone.page.get_by_label("选择文件")

    phone.page.get_by_role("button", name="上传并预览").click()

    # The file input is required, so the browser itself asks for a file and nothing is sent.
    assert file_input.evaluate("input => input.validity.valueMissing")
    expect(phone.page.locator("#report")).to_have_count(0)
    phone.check("no-file")


def test_the_exported_register_edited_in_a_spreadsheet_is_previewed_then_applied(phone, live_server):
    phone.log_in("cunwei")
    phone.open("/import")
    with phone.page.expect_download() as download:
        phone.page.get_by_role("link", name="导出瑶前村花名册").click()
    workbook = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes()))
    sheet = workbook.worksheets[0]
    last = [list(row) for row in sheet.iter_rows(min_row=2, values_only=True)][-1]
    number, old_address = last[0], last[7]
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == number:
            row[7].value = old_address + "之二"
    sheet.append([number, last[1], "林新苗", "孙子女", "", "", last[6], old_address + "之二", last[8], ""])
    edited = io.BytesIO()
    workbook.save(edited)

    before = _counts(live_server)
    phone.page.get_by_label("选择文件").set_input_files(
        files=[{"name": "花名册.xlsx", "mimeType": "application/octet-stream", "buffer": edited.getvalue()}]
    )
    phone.page.get_by_role("button", name="上传并预览").click()
    report = phone.page.locator("#report")
    expect(report.get_by_role("status")).to_have_text("新增 0 户、1 人，变更 2 处。尚未写入，请核对后确认。")
    changes = report.locator("ul.changes li")
    expect(changes.nth(0)).to_contain_text(f"户号 {number}")
    expect(changes.nth(0)).to_contain_text(f"门牌号：{old_address} → {old_address}之二")
    expect(changes.nth(1)).to_contain_text("林新苗")
    expect(changes.nth(1)).to_contain_text("成员：新增")
    phone.check("preview")
    assert _counts(live_server) == before, "the preview writes nothing"

    phone.page.get_by_role("button", name="确认导入：新增 0 户、1 人，变更 2 处").click()
    expect(phone.page.locator("#report").get_by_role("status")).to_have_text("导入成功：新增 0 户、1 人，变更 2 处。")
    phone.check("applied")
    assert _counts(live_server) == (before[0], before[1] + 1)


def test_grid_leader_has_no_import(phone):
    phone.log_in("leader1")

    nav = phone.page.locator("header nav")
    expect(nav.get_by_role("link", name="户", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="管理", exact=True)).to_have_count(0)

    response = phone.open("/import")

    assert response.status == 403
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("您没有权限执行此操作")
    expect(phone.page.get_by_text(re.compile(r"错误代码：403"))).to_be_visible()
