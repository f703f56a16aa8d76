"""The import page: upload, the report of a refused file, the size limit and the template download."""
import io
import re

import openpyxl
import pytest

from points.auth.models import Role
from points.extensions import db

from .. import factories
from ..people.test_imports import counts, person, xlsx

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def admin(village, login):
    user = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    db.session.commit()
    return login(user)


def upload(client, village, data: bytes, filename: str = "花名册.xlsx"):
    return client.post(
        "/import",
        data={"village_id": village.village.id, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def report_rows(html: str) -> list[tuple[str, ...]]:
    """The (行, 列, 问题) cells of each row of the error table."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        tuple(re.findall(r"<td[^>]*>\s*(.*?)\s*</td>", row, re.S))
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def test_the_page_offers_the_form_and_the_template(client, village, admin):
    response = client.get("/import")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in html and 'type="file"' in html
    assert f'<option value="{village.village.id}">{village.village.name}</option>' in html
    assert "/import/template.xlsx" in html and "下载导入模板" in html


def test_a_bad_file_is_answered_with_the_report_and_imports_nothing(client, village, admin):
    rows = [person(), person(户主姓名="", 门牌号="前街2号"), person(门牌号="前街3号", 所属网格="第9网格", 手机号="138")]
    response = upload(client, village, xlsx(rows))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "发现 3 处错误，未导入任何数据" in html
    assert report_rows(html) == [
        ("3", "户主姓名", "户主姓名不能为空"),
        ("4", "手机号", "手机号格式不正确，应为 11 位手机号"),
        ("4", "所属网格", "找不到网格“第9网格”"),
    ]
    assert counts() == (0, 0)


def confirm_fields(html: str) -> dict:
    """The hidden fields of the preview's confirmation form."""
    form = html.split('action="/import/confirm"', 1)[1].split("</form>", 1)[0]
    return dict(re.findall(r'name="(village_id|upload|digest)"[^>]*value="([^"]*)"', form))


def test_a_good_file_is_previewed_then_imported_on_confirmation(client, village, admin):
    rows = [person(户号="0001"), person(户号="0001", 姓名="李秀英", 与户主关系="配偶"),
            person(户号="0002", 门牌号="前街2号")]
    response = upload(client, village, xlsx(rows))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "新增 2 户、3 人，变更 0 处。尚未写入" in html and "确认导入：新增 2 户、3 人，变更 0 处" in html
    assert counts() == (0, 0), "the preview writes nothing"
    response = client.post("/import/confirm", data=confirm_fields(html))
    assert "导入成功：新增 2 户、3 人，变更 0 处。" in response.get_data(as_text=True)
    assert counts() == (2, 3)
    again = client.post("/import/confirm", data=confirm_fields(html), follow_redirects=True)
    assert "预览已过期，请重新上传文件" in again.get_data(as_text=True) and counts() == (2, 3)


def test_a_changed_household_is_listed_with_before_and_after(client, village, admin):
    factories.gen_household(village.grids[0])  # 户号 0001
    db.session.commit()
    html = upload(client, village, xlsx([person(户号="0001", 门牌号="后街5号")])).get_data(as_text=True)
    assert "变更 1 处" in html
    assert re.search(r"门牌号：<del>门牌\d+</del> → <strong>后街5号</strong>", html)


def test_a_register_changed_after_the_preview_is_previewed_again(client, village, admin):
    html = upload(client, village, xlsx([person(户号="0001")])).get_data(as_text=True)
    factories.gen_household(village.grids[0], head_name="李四")  # 户号 0001 taken meanwhile
    db.session.commit()
    response = client.post("/import/confirm", data=confirm_fields(html))
    html = response.get_data(as_text=True)
    assert "花名册在预览之后有了变动" in html and "户主：<del>李四</del> → <strong>张三明</strong>" in html
    assert counts() == (1, 1)


def test_the_same_file_twice_shows_nothing_to_change(client, village, admin):
    data = xlsx([person(户号="0001")])
    client.post("/import/confirm", data=confirm_fields(upload(client, village, data).get_data(as_text=True)))
    html = upload(client, village, data).get_data(as_text=True)
    assert "文件与花名册一致，没有要新增或变更的内容。" in html and "/import/confirm" not in html


def test_the_export_is_the_register_in_the_import_workbook(client, village, admin):
    factories.gen_household(village.grids[0], id_number=factories.gen_id_number())
    db.session.commit()
    response = client.get(f"/import/register.xlsx?village={village.village.id}")
    assert response.status_code == 200 and response.mimetype == XLSX_TYPE
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0]
    assert [c.value for c in sheet[2]][:4] == ["0001", "张三明", "张三明", "户主"]
    html = upload(client, village, response.data).get_data(as_text=True)
    assert "文件与花名册一致" in html
    log = client.get("/audit").get_data(as_text=True)
    assert "导出花名册" in log


def test_a_file_over_the_import_limit_is_reported_on_the_page(client, village, admin, app):
    data = xlsx([person()]) + bytes(20 * 1048576)  # a 20 MB file: under the request limit, over the import limit
    response = upload(client, village, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    mb = app.config["IMPORT_MAX_BYTES"] // 1048576
    assert report_rows(html) == [("文件", "", f"文件太大（{len(data) / 1048576:.1f} MB），上限为 {mb} MB")]
    assert counts() == (0, 0)


@pytest.mark.parametrize("csrf", [False, True], ids=["csrf-off", "csrf-on"])
def test_an_upload_over_the_request_limit_shows_the_form_again_with_the_limit(client, village, admin, app,
                                                                             monkeypatch, csrf):
    # With CSRF on, as in production, the body is first read by CSRFProtect before the view runs.
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", csrf)
    response = upload(client, village, xlsx([person()]) + bytes(app.config["MAX_CONTENT_LENGTH"] + 1))
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert 'type="file"' in html
    assert f"文件太大，上限为 {app.config['MAX_CONTENT_LENGTH'] // 1048576} MB" in html
    assert counts() == (0, 0)


def test_an_upload_without_a_file_asks_for_one(client, village, admin):
    response = client.post("/import", data={"village_id": village.village.id}, content_type="multipart/form-data")
    assert response.status_code == 200
    assert "请选择要导入的文件" in response.get_data(as_text=True)


def test_the_template_download_is_an_xlsx_with_chinese_headers(client, village, admin):
    response = client.get(f"/import/template.xlsx?village={village.village.id}")
    assert response.status_code == 200
    assert response.mimetype == XLSX_TYPE
    assert "attachment" in response.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0]
    header = [c.value for c in sheet[1]]
    for column in ("户号", "户主姓名*", "姓名", "与户主关系", "手机号", "身份证号", "所属网格*", "门牌号*",
                   "户籍类型", "关爱标签"):
        assert column in header


def test_a_grid_leader_may_not_import(client, village, login):
    leader = factories.gen_user(Role.GRID_LEADER, village.grids[0])
    db.session.commit()
    login(leader)
    assert client.get("/import").status_code == 403
    assert client.get("/import/template.xlsx").status_code == 403
    assert client.get("/import/register.xlsx").status_code == 403
    assert upload(client, village, xlsx([person()])).status_code == 403
    assert client.post("/import/confirm", data={"village_id": village.village.id}).status_code == 403
    assert counts() == (0, 0)


def test_an_admin_of_another_village_may_not_import_into_this_one(client, village, login):
    other = factories.gen_village()
    other_admin = factories.gen_user(Role.VILLAGE_ADMIN, other.village)
    db.session.commit()
    login(other_admin)
    response = upload(client, village, xlsx([person()]))
    assert response.status_code == 200
    assert "导入成功" not in response.get_data(as_text=True)
    assert counts() == (0, 0)
    factories.gen_household(village.grids[0], head_name="李四")
    db.session.commit()
    assert client.get(f"/import/register.xlsx?village={village.village.id}").status_code == 403
    own = upload(client, other, xlsx([person(所属网格="第1网格")])).get_data(as_text=True)
    fields = {**confirm_fields(own), "village_id": village.village.id}
    assert client.post("/import/confirm", data=fields).status_code == 403
    assert counts() == (1, 1)
