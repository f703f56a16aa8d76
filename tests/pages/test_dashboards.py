"""The 数据看板 through the client: who may open it and for which scope, what the page shows and hands to the
charts' script, the picker, and each chart's .xlsx opened with openpyxl."""
import io
import json
import re
from datetime import timedelta

import openpyxl
import pytest

from points.auth.models import Role
from points.extensions import db
from points.periods import week_label
from points.timeutil import local_today

from .. import factories
from ..dashboards.test_queries import Scene

NOVEMBER = {"month": "2026-11", "week": "2026-W47"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def scene():
    result = Scene()
    db.session.commit()
    return result


def _page(client, **args):
    response = client.get("/dashboards", query_string=args)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def _charts(page: str) -> dict:
    block = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', page, re.S)
    return json.loads(block.group(1))


def _sheet(client, chart, **args):
    response = client.get(f"/dashboards/{chart}.xlsx", query_string=args)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == XLSX and "attachment" in response.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert len(book.worksheets) == 1
    sheet = book.worksheets[0]
    return sheet.title, [tuple(row) for row in sheet.iter_rows(values_only=True)]


def _row(page: str, attribute: str) -> list[str]:
    """The cells of the data table's row marked attribute (data-week="W2026-46" …)."""
    row = re.search(rf'<tr {attribute}>(.*?)</tr>', page, re.S).group(1)
    return re.findall(r"<td[^>]*>(.*?)</td>", row)


def test_the_village_admin_sees_the_village_by_default(client, login, scene):
    login(scene.admin)
    page = _page(client, **NOVEMBER)
    village = scene.village.village
    assert f"{village.name} 数据看板" in page
    assert 'src="/static/vendor/echarts-6.1.0/echarts.min.js?v=' in page and 'src="/static/dashboards.js?v=' in page
    # The CSP forbids inline scripts: every script is a file, or data.
    for tag in re.findall(r"<script[^>]*>", page):
        assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
    assert sorted(re.findall(r'data-chart="(\w+)"', page)) == ["categories", "grids", "participation", "weekly"]
    for chart in ("weekly", "categories", "participation", "grids"):
        assert f'href="/dashboards/{chart}.xlsx?node={village.id}&amp;month=2026-11&amp;week=2026-W47"' in page
    assert page.count("导出 Excel") == 4


def test_the_page_shows_each_figure_and_hands_it_to_the_charts(client, login, scene):
    login(scene.admin)
    page = _page(client, node=scene.village.village.id, **NOVEMBER)
    # The month's headline: 20 + 16 + 7 awarded, 3 deducted, 3 of 4 households; twelve weeks' redemptions 5 + 12.
    assert '<b id="stat-awarded">43</b>' in page and '<b id="stat-deducted">3</b>' in page
    assert '<b id="stat-participation">75.0%</b>' in page and '<b id="stat-redeemed">17</b>' in page
    assert _row(page, 'data-week="W2026-46"')[1:] == ["10", "3", "7", "1", "5"]
    assert _row(page, 'data-week="W2026-47"')[1:] == ["6", "0", "6", "1", "12"]
    assert _row(page, 'data-category="village_rules"') == ["村规民约", "0", "3", "-3", "1"]
    assert _row(page, 'data-category=""') == ["未分类", "7", "0", "7", "1"]
    assert _row(page, 'data-month="M2026-10"')[1:] == ["4", "1", "25.0%"]
    grid1 = scene.village.grids[0]
    assert _row(page, f'data-grid="{grid1.id}"') == ["1", "第1网格", "2", "2", "33", "16.5"]

    charts = _charts(page)
    weekly = charts["weekly"]
    assert weekly["labels"][0] == "9月第1周" and weekly["labels"][-1] == "11月第3周" and len(weekly["labels"]) == 12
    assert [s["name"] for s in weekly["series"]] == ["发放", "扣减", "兑换"]
    assert [s["data"][-4:] for s in weekly["series"]] == [[0, 27, 10, 6], [0, 0, 3, 0], [0, 0, 5, 12]]
    assert weekly["titles"][-1] == "2026年11月第3周（11.16–11.22）"
    categories = charts["categories"]
    assert categories["horizontal"] and categories["labels"] == [
        "人居环境", "志愿服务", "村规民约", "村民互助", "宣传监督", "网格员履职", "未分类"]
    assert categories["series"][0]["data"] == [20, 16, 0, 0, 0, 0, 7]
    assert categories["series"][1]["data"] == [0, 0, 3, 0, 0, 0, 0]
    participation = charts["participation"]
    assert participation["percent"] and participation["labels"] == ["6月", "7月", "8月", "9月", "10月", "11月"]
    assert participation["titles"][-1] == "2026年11月"
    assert participation["series"][0]["data"] == [0.0, 0.0, 0.0, 0.0, 25.0, 75.0]
    assert charts["grids"]["labels"] == ["第1网格", "第2网格", "第3网格"]
    assert charts["grids"]["series"][0]["data"] == [16.5, 7.0, 0.0]


def test_the_picker_offers_the_scope_above_and_the_grids_below(client, login, scene):
    login(scene.admin)
    page = _page(client, **NOVEMBER)
    picker = re.search(r'<select name="node"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'<option value="(\d+)"', picker) == [str(n.id) for n in [scene.village.village,
                                                                                  *scene.village.grids]]
    assert scene.village.town.name not in picker  # the village admin holds nothing above the village
    assert '<option value="2026-11" selected>' in page and '<option value="2026-W47" selected>' in page
    grid_page = _page(client, node=scene.village.grids[1].id, **NOVEMBER)
    assert '<b id="stat-awarded">7</b>' in grid_page and '<b id="stat-participation">100.0%</b>' in grid_page
    assert f'<a href="/dashboards?node={scene.village.village.id}&amp;month=2026-11&amp;week=2026-W47">' in grid_page


def test_the_town_admin_sees_the_town_with_each_grid_named_by_its_village(client, login, scene):
    town_admin = factories.gen_user(Role.TOWN_ADMIN, scene.village.town)
    login(town_admin)
    page = _page(client, **NOVEMBER)
    assert f"{scene.village.town.name} 数据看板" in page
    assert '<b id="stat-awarded">143</b>' in page and '<b id="stat-redeemed">47</b>' in page
    grids = _charts(page)["grids"]
    neighbours = scene.neighbour.village.name
    assert grids["labels"] == [f"{neighbours} 第1网格", *(f"{scene.village.village.name} 第{n}网格" for n in (1, 2, 3))]
    assert grids["series"][0]["data"] == [100.0, 16.5, 7.0, 0.0]
    assert _page(client, node=scene.village.village.id, **NOVEMBER).count('<b id="stat-awarded">43</b>') == 1


@pytest.mark.parametrize("who", ["grid leader", "grid worker", "clerk", "organizer", "villager",
                                 "other village's admin", "no role"])
def test_everyone_but_the_admins_of_the_scope_is_refused(client, login, scene, who):
    village = scene.village.village
    other = factories.gen_village(town=scene.village.town)
    user = {
        "grid leader": lambda: factories.gen_user(Role.GRID_LEADER, scene.village.grids[0]),
        "grid worker": lambda: factories.gen_user(Role.GRID_WORKER, scene.village.grids[0]),
        "clerk": lambda: scene.clerk,
        "organizer": lambda: factories.gen_user(Role.EVENT_ORGANIZER, village),
        "villager": lambda: factories.gen_villager(scene.zhang),
        "other village's admin": lambda: factories.gen_user(Role.VILLAGE_ADMIN, other.village),
        "no role": lambda: factories.gen_user(),
    }[who]()
    login(user)
    for node in (village, scene.village.grids[0], scene.village.town):
        assert client.get("/dashboards", query_string={"node": node.id}).status_code == 403
        for chart in ("weekly", "categories", "participation", "grids"):
            assert client.get(f"/dashboards/{chart}.xlsx", query_string={"node": node.id}).status_code == 403
    if who != "other village's admin":
        assert client.get("/dashboards").status_code == 403
        assert "数据看板" not in client.get("/manage").get_data(as_text=True)


def test_a_village_admin_may_not_look_above_the_village_or_into_another(client, login, scene):
    other = factories.gen_village(town=scene.village.town)
    login(scene.admin)
    assert client.get("/dashboards", query_string={"node": scene.village.town.id}).status_code == 403
    assert client.get("/dashboards", query_string={"node": other.village.id}).status_code == 403
    assert client.get("/dashboards", query_string={"node": other.grids[0].id}).status_code == 403
    assert client.get("/dashboards.xlsx").status_code == 404
    assert "数据看板" in client.get("/manage").get_data(as_text=True)


def test_signing_in_comes_first(client, scene):
    response = client.get("/dashboards")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/dashboards/weekly.xlsx").status_code == 302


@pytest.mark.parametrize("args, status", [
    ({"month": "2026-13"}, 400), ({"week": "2026-W60"}, 400), ({"month": "11"}, 400), ({"week": "x"}, 400),
    ({"node": "999999"}, 404), ({"node": "abc"}, 404), ({"node": "-1"}, 404),
])
def test_a_mistyped_address_is_refused_not_an_error(client, login, scene, args, status):
    login(scene.admin)
    assert client.get("/dashboards", query_string=args).status_code == status
    assert client.get("/dashboards/weekly.xlsx", query_string=args).status_code == status
    assert client.get("/dashboards/other.xlsx").status_code == 404


def test_each_chart_exports_its_figures(client, login, scene):
    login(scene.admin)
    village = scene.village.village.id
    title, rows = _sheet(client, "weekly", node=village, **NOVEMBER)
    assert title == "每周积分" and rows[0] == ("周", "日期", "发放积分", "扣减积分", "净得分", "兑换笔数", "兑换积分")
    assert len(rows) == 13 and rows[1][0] == "2026年9月第1周"
    assert rows[-2] == ("2026年11月第2周", "2026-11-09 至 2026-11-15", 10, 3, 7, 1, 5)
    assert rows[-1] == ("2026年11月第3周", "2026-11-16 至 2026-11-22", 6, 0, 6, 1, 12)

    title, rows = _sheet(client, "categories", node=village, **NOVEMBER)
    assert title == "分类积分" and rows[0] == ("月份", "类别", "发放积分", "扣减积分", "净得分", "记分笔数")
    assert rows[1:] == [("2026-11", "人居环境", 20, 0, 20, 3), ("2026-11", "志愿服务", 16, 0, 16, 2),
                        ("2026-11", "村规民约", 0, 3, -3, 1), ("2026-11", "村民互助", 0, 0, 0, 0),
                        ("2026-11", "宣传监督", 0, 0, 0, 0), ("2026-11", "网格员履职", 0, 0, 0, 0),
                        ("2026-11", "未分类", 7, 0, 7, 1)]

    title, rows = _sheet(client, "participation", node=village, **NOVEMBER)
    assert title == "参与率" and rows[0] == ("月份", "户数", "有积分变动的户数", "参与率（%）")
    assert rows[1:] == [("2026-06", 4, 0, 0), ("2026-07", 4, 0, 0), ("2026-08", 4, 0, 0), ("2026-09", 4, 0, 0),
                        ("2026-10", 4, 1, 25), ("2026-11", 4, 3, 75)]

    title, rows = _sheet(client, "grids", node=village, **NOVEMBER)
    assert title == "网格对比"
    assert rows[0] == ("月份", "名次", "网格", "所属村", "户数", "有积分户数", "参与率（%）", "总积分", "户均积分")
    name = scene.village.village.name
    assert rows[1:] == [("2026-11", 1, "第1网格", name, 2, 2, 100, 33, 16.5),
                        ("2026-11", 2, "第2网格", name, 1, 1, 100, 7, 7),
                        ("2026-11", 3, "第3网格", name, 1, 0, 0, 0, 0)]


def test_the_workbook_is_chinese_even_for_an_english_page(client, login, scene):
    login(scene.admin)
    client.get("/lang/en")
    page = _page(client, **NOVEMBER)
    assert 'lang="en"' in page and "导出 Excel" not in page
    _title, rows = _sheet(client, "categories", node=scene.village.village.id, **NOVEMBER)
    assert rows[0][1] == "类别" and rows[1][1] == "人居环境"


def test_a_grid_name_that_looks_like_a_formula_stays_text(client, login, scene):
    grid = scene.village.grids[0]
    grid.name = "=HYPERLINK(\"http://evil.example\",\"点我\")"
    db.session.commit()
    login(scene.admin)
    response = client.get("/dashboards/grids.xlsx", query_string={"node": scene.village.village.id, **NOVEMBER})
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0]
    cell = sheet.cell(row=2, column=3)
    assert cell.value == grid.name and cell.data_type == "s"
    page = _page(client, node=scene.village.village.id, **NOVEMBER)
    assert '<td>=HYPERLINK(&#34;http://evil.example&#34;,&#34;点我&#34;)</td>' in page


def test_a_grid_name_cannot_end_the_charts_data_block(client, login, scene):
    scene.village.grids[1].name = "</script><script>alert(1)</script>"
    db.session.commit()
    login(scene.admin)
    page = _page(client, node=scene.village.village.id, **NOVEMBER)
    assert "<script>alert(1)" not in page
    assert _charts(page)["grids"]["labels"][1] == "</script><script>alert(1)</script>"


def test_the_page_defaults_to_this_month_and_week(client, login, village):
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    factories.gen_household(village.grids[0])
    login(admin)
    today = local_today()
    year, week, _day = today.isocalendar()
    page = _page(client)
    assert f'<option value="{today:%Y-%m}" selected>' in page
    assert f'<option value="{year}-W{week:02d}" selected>' in page
    assert _charts(page)["weekly"]["labels"][-1] == week_label(today - timedelta(days=today.weekday()), dates=False)


# ------------------------------------------------------------------------------------------------- 各村对比 (issue 25)


@pytest.fixture
def town():
    from ..dashboards.test_villages import Town
    result = Town()
    result.town_admin = factories.gen_user(Role.TOWN_ADMIN, result.town)
    db.session.commit()
    return result


def test_the_town_admin_compares_the_villages_and_drills_down(client, login, town):
    login(town.town_admin)
    page = _page(client, node=town.town.id, **NOVEMBER)
    assert 'id="villages"' in page and "2026年11月 各村对比" in page
    east = _row(page, f'data-village="{town.east.id}"')
    link = f'<a href="/dashboards?node={town.east.id}&amp;month=2026-11&amp;week=2026-W47">东村</a>'
    assert east == ["1", link, "3", "5.7", "66.7%", "385.0", "5", "2"]
    assert _row(page, f'data-village="{town.west.id}"')[1:] == [
        f'<a href="/dashboards?node={town.west.id}&amp;month=2026-11&amp;week=2026-W47">西村</a>',
        "2", "5.0", "50.0%", "—", "0", "0"]
    assert page.index(f'data-village="{town.east.id}"') < page.index(f'data-village="{town.west.id}"')
    footer = re.search(r'<tr data-village="town">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", footer) == ["", "全镇", "5", "5.4", "60.0%", "385.0", "5", "2"]
    assert _charts(page)["villages"]["labels"] == ["东村", "西村"]
    assert _charts(page)["villages"]["series"][0]["data"] == [5.7, 5.0]
    drilled = _page(client, node=town.east.id, **NOVEMBER)  # the link opens the village's dashboard
    assert "东村 数据看板" in drilled and 'id="villages"' not in drilled


def test_the_villages_workbook(client, login, town):
    login(town.town_admin)
    title, rows = _sheet(client, "villages", node=town.town.id, **NOVEMBER)
    assert title == "各村对比"
    assert rows[0] == ("月份", "名次", "村", "户数", "有积分变动的户数", "参与率（%）", "总积分", "户均积分",
                       "卫生评比月均分", "兑换笔数", "兑换积分", "办理中诉求")
    assert [row[2] for row in rows[1:]] == ["东村", "西村", town.town.name]
    response = client.get("/dashboards/villages.xlsx", query_string={"node": town.east.id, **NOVEMBER})
    assert response.status_code == 404  # a village's dashboard has no such section


def test_a_village_admin_sees_no_town_section_and_cannot_open_the_town(client, login, town):
    login(town.admin)
    page = _page(client, node=town.east.id, **NOVEMBER)
    assert 'id="villages"' not in page and "villages" not in _charts(page)
    assert client.get("/dashboards", query_string={"node": town.town.id, **NOVEMBER}).status_code == 403
    assert client.get("/dashboards/villages.xlsx",
                      query_string={"node": town.town.id, **NOVEMBER}).status_code == 403


def test_the_town_admin_of_another_town_is_refused(client, login, town):
    stranger = factories.gen_user(Role.TOWN_ADMIN, factories.gen_village().town)
    db.session.commit()
    login(stranger)
    assert client.get("/dashboards", query_string={"node": town.town.id, **NOVEMBER}).status_code == 403
    assert client.get("/dashboards/villages.xlsx",
                      query_string={"node": town.town.id, **NOVEMBER}).status_code == 403
    assert client.get("/dashboards", query_string={"node": town.east.id, **NOVEMBER}).status_code == 403


def test_the_town_page_sends_as_many_statements_for_more_villages(client, login, town, statements):
    login(town.town_admin)
    statements.clear()
    _page(client, node=town.town.id, **NOVEMBER)
    few = len(statements)
    for index in range(3):
        more = factories.gen_village(grids=2, town=town.town, name=f"新村{index}")
        factories.gen_household(more.grids[0])
    db.session.commit()
    statements.clear()
    page = _page(client, node=town.town.id, **NOVEMBER)
    assert page.count('<tr data-village="') == 6  # five villages and the town
    assert len(statements) == few, statements.summary()
