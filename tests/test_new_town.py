"""A town that is not the demo, from an empty database, as its admins and villagers would run it: only the command line
(init-town, import-grids, import-households, verify) and HTTP (the pages and /api/v1), nothing of the app's Python.

清溪镇 starts with its admin 张三 (zhangsan), who writes the town's template rule book, imports the grid tree with its
staff (东坑村 of four grids, 南岭社区 of three grids of two 微网格 each) and both villages' 花名册; a villager
of 东坑村 is
activated from a printed slip, checks in at a 志愿活动 by its code and is paid when it closes; the 村管理员 and one
网格长, activated from their slips, run a week of 卫生评比 by cross-inspection and publish it; a household moves out and
is in no later round; and `verify` finds every balance and total in order.
"""
import io
import re
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import time_machine
import zxingcpp
from PIL import Image

from points.auth.tree_workbook import COLUMNS as TREE_COLUMNS
from points.people.import_table import COLUMNS as REGISTER_COLUMNS

from .factories import gen_workbook

START = datetime(2027, 3, 10, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Wednesday, ISO week 2027-W10
TODAY = "2027-03-10"
ADMIN_PASSWORD = "清溪镇-admin-2027"

VILLAGE_A, CODE_A = "东坑村", "dongkeng"
VILLAGE_B, CODE_B = "南岭社区", "nanling"
GRIDS_A = {"第一网格": 3, "第二网格": 12, "第三网格": 25, "第四网格": 60}  # households in each
SMALL_GRID = "第一网格"
CUNWEI = "王建国 13800000001"  # 村管理员 of 东坑村
LEADERS = {"第一网格": "李秀英 13800000002", "第二网格": "陈志强 13800000003", "第三网格": "赵桂兰 13800000004",
           "第四网格": "周海涛 13800000005"}
VILLAGER_PHONE = "13900000001"  # the head of 东坑村's first household: the villager of this story

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["建华", "秀兰", "志明", "丽娟", "国强", "春梅", "海波", "桂芳", "永红", "德胜"]


# ------------------------------------------------------------------------------------------------------ helpers


def head_name(n: int) -> str:
    return SURNAMES[n % len(SURNAMES)] + GIVEN[(n // len(SURNAMES)) % len(GIVEN)]


def write(tmp_path, name: str, data: bytes | str) -> str:
    path = tmp_path / name
    path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data, encoding="utf-8")
    return str(path)


def cli(runner, *args: str) -> str:
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def log_in(client, username: str, password: str) -> None:
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)


def page(client, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return response.get_data(as_text=True)


def api(client, token: str, path: str):
    response = client.get("/api/v1" + path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def api_token(client, username: str, password: str) -> str:
    response = client.post("/api/v1/tokens", json={"username": username, "password": password})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def balance(client) -> int:
    """The balance on 我的积分 of the villager logged in on this client."""
    return int(re.search(r'<b class="balance">(-?\d+)</b>', page(client, "/my/points")).group(1))


def slips(client, node_id: int) -> list[tuple[str, str]]:
    """The activation slips below a node, as (the slip's text, the path its QR opens)."""
    sheet = page(client, f"/admin/accounts/slips?node={node_id}")
    found = re.findall(r'<a class="qr-box" href="([^"]+)">.*?</a>\s*<div class="hcard-text">(.*?)</div>', sheet, re.S)
    return [(re.sub(r"<[^>]+>|\s+", " ", text), urlsplit(href).path) for href, text in found]


def activate(app, slip_path: str, password: str):
    """A fresh phone opens the slip's QR and sets its password: logged in, and remembered."""
    phone = app.test_client()
    assert "设置密码" in page(phone, slip_path)
    response = phone.post(slip_path, data={"password": password, "again": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return phone


def tree_rows() -> list[list[str]]:
    """东坑村 with a 村管理员 and four grids led by their 网格长; 南岭社区 of three grids, each of two 微网格."""
    rows = [["qingxi", CODE_A, VILLAGE_A, "", CUNWEI, "", ""]]
    for number, (grid, leader) in enumerate(LEADERS.items(), 1):
        rows.append([CODE_A, f"{CODE_A}-{number}", grid, "", "", leader, ""])
    rows.append(["qingxi", CODE_B, VILLAGE_B, "", "", "", ""])
    for number in range(1, 4):
        rows.append([CODE_B, f"{CODE_B}-{number}", f"南岭第{number}网格", "", "", "", ""])
        for micro in range(1, 3):
            rows.append([f"{CODE_B}-{number}", f"{CODE_B}-{number}-{micro}", f"南岭{number}-{micro}微网格",
                         "", "", "", ""])
    return [dict(zip(TREE_COLUMNS, row)) for row in rows]


def register_rows(households: list[tuple[str, str]], phone_first: str = "") -> list[dict]:
    """One row per household (its head), in (grid, address) order; the first head has a mobile number if given."""
    rows = []
    for n, (grid, address) in enumerate(households):
        name = head_name(n)
        rows.append({"户主姓名": name, "姓名": name, "与户主关系": "户主", "手机号": phone_first if n == 0 else "",
                     "所属网格": grid, "门牌号": address, "户籍类型": "户籍"})
    return rows


def workbook(columns, rows: list[dict]) -> bytes:
    return gen_workbook(columns, [[row.get(column, "") for column in columns] for row in rows])


def week_grids(week_page: str) -> dict[str, tuple[str, int, int]]:
    """The week page's grids: name → (the grid inspecting it, scored, households)."""
    found = re.findall(r"<h2>(\S+)</h2>\s*<p class=\"muted\">由 (\S+) 检查 · (\d+)/(\d+) 已评", week_page)
    return {grid: (inspector, int(done), int(total)) for grid, inspector, done, total in found}


def sheet_households(client, round_id: int, grid_id: int) -> list[int]:
    listing = page(client, f"/hygiene/rounds/{round_id}/grids/{grid_id}")
    return [int(h) for h in dict.fromkeys(re.findall(rf"/hygiene/rounds/{round_id}/households/(\d+)", listing))]


def score(client, round_id: int, household_id: int, deduction: int = 0) -> None:
    """Saves a household's sheet: the first checklist item deducted (0: 不扣), the rest not."""
    sheet = page(client, f"/hygiene/rounds/{round_id}/households/{household_id}")
    items = list(dict.fromkeys(re.findall(r'name="item-(\d+)"', sheet)))
    data = {f"item-{item}": 0 for item in items} | {f"item-{items[0]}": deduction, "revision": 0, "note": ""}
    response = client.post(f"/hygiene/rounds/{round_id}/households/{household_id}", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)


# ------------------------------------------------------------------------------------------------------ the town


def test_a_new_town_from_an_empty_database(app, client, runner, tmp_path):
    with time_machine.travel(START, tick=True) as clock:
        # 1. The town and its first admin, who logs in.
        said = cli(runner, "init-town", "清溪镇", "--code", "qingxi", "--admin", "zhangsan",
                   "--password-file", write(tmp_path, "password.txt", ADMIN_PASSWORD + "\n"))
        assert "已创建 清溪镇（编码 qingxi）和镇管理员 zhangsan" in said
        admin = client
        log_in(admin, "zhangsan", ADMIN_PASSWORD)
        tree = admin.get("/grids/manage")
        assert tree.status_code == 302
        town_id = int(re.fullmatch(r"/grids/(\d+)/tree", tree.headers["Location"]).group(1))

        # 2. The town's template rule book: 志愿服务, an award an event can pay.
        response = admin.post(f"/villages/{town_id}/rules/new", data={
            "code": "ZY-01", "name": "志愿服务", "category": "volunteering", "points": 10, "unit": "occurrence",
            "for_registered": "y", "for_renters": "y", "roles": ["village_admin", "grid_leader", "grid_worker"],
            "effective_from": TODAY,
        })
        assert response.status_code == 302, response.get_data(as_text=True)
        template = page(admin, f"/villages/{town_id}/rules")
        assert "ZY-01" in template and "志愿服务" in template

        # 3. The grid tree and its staff, from the workbook.
        said = cli(runner, "import-grids", write(tmp_path, "tree.xlsx", workbook(TREE_COLUMNS, tree_rows())),
                   "--town", "qingxi")
        assert "已导入：新增 2 个村（社区）、13 个网格，开通 5 个账号，分配 5 项职务" in said
        token = api_token(admin, "zhangsan", ADMIN_PASSWORD)
        nodes = {node["name"]: node for node in api(admin, token, "/grids?per_page=100")["items"]}
        village_a, village_b = nodes[VILLAGE_A]["id"], nodes[VILLAGE_B]["id"]
        grid_ids = {grid: nodes[grid]["id"] for grid in GRIDS_A}
        grids_b = {node["id"] for node in nodes.values() if node["parent_id"] == village_b}
        assert len(grids_b) == 3 and sum(1 for node in nodes.values() if node["parent_id"] in grids_b) == 6

        # 4. 东坑村's rule book began as the town's template.
        book = page(admin, f"/villages/{village_a}/rules")
        assert "ZY-01" in book and "志愿服务" in book
        rule_id = next(rule["id"] for rule in api(admin, token, f"/rules?village_id={village_a}")["items"]
                       if rule["code"] == "ZY-01")

        # 5. Both villages' 花名册.
        homes_a = [(grid, f"{VILLAGE_A}{grid}{n}号") for grid, count in GRIDS_A.items() for n in range(1, count + 1)]
        said = cli(runner, "import-households", write(tmp_path, "dongkeng.xlsx", workbook(
            REGISTER_COLUMNS, register_rows(homes_a, VILLAGER_PHONE))), "--village", CODE_A)
        assert "已导入：新增 100 户、100 人，变更 0 处" in said
        homes_b = [(f"{CODE_B}-{g}-{m}", f"南岭{g}-{m}巷{n}号")
                   for g in range(1, 4) for m in range(1, 3) for n in (1, 2)]
        said = cli(runner, "import-households", write(tmp_path, "nanling.xlsx", workbook(
            REGISTER_COLUMNS, register_rows(homes_b))), "--village", CODE_B)
        assert "已导入：新增 12 户、12 人，变更 0 处" in said
        assert api(admin, token, f"/households?grid_id={village_b}")["total"] == 12
        home = api(admin, token, f"/households?q={VILLAGER_PHONE}")["items"]
        assert len(home) == 1 and home[0]["grid_id"] == grid_ids[SMALL_GRID]
        home = home[0]

        # 6. Villager accounts for 第一网格, and its head's slip activated on their phone.
        small = grid_ids[SMALL_GRID]
        assert "将为 3 位村民开通账号" in page(admin, f"/admin/accounts?node_id={small}")
        response = admin.post("/admin/accounts", data={"node_id": small})
        assert response.status_code == 302 and response.headers["Location"] == f"/admin/accounts/slips?node={small}"
        sheet = slips(admin, small)
        assert len(sheet) == 4 and "网格长" in sheet[0][0], "the grid's leader first, then its three villagers"
        villager_slip = next(path for text, path in sheet if f"户号 {home['number']}" in text)
        villager = activate(app, villager_slip, "huacun-2027-mima")
        assert balance(villager) == 0
        villager.post("/logout")
        log_in(villager, VILLAGER_PHONE, "huacun-2027-mima")  # a villager logs in by their mobile number too

        # 7. A 志愿活动 in 东坑村: the villager scans the TV's code and taps 签到; closing it pays.
        response = admin.post(f"/villages/{village_a}/events", data={
            "title": "清溪河道保洁", "place": "东坑村文化礼堂", "rule_id": rule_id, "mode": "in", "capacity": "",
            "grid_id": 0, "starts": "2027-03-10T09:00", "ends": "2027-03-10T12:00",
        })
        assert response.status_code == 302, response.get_data(as_text=True)
        event_id = int(re.fullmatch(r"/events/(\d+)", response.headers["Location"]).group(1))
        code = admin.get(f"/api/v1/events/{event_id}/qr?kind=rotating&format=png",
                         headers={"Authorization": f"Bearer {token}"})
        assert code.status_code == 200
        scanned = urlsplit(zxingcpp.read_barcodes(Image.open(io.BytesIO(code.data)))[0].text).path
        assert scanned.startswith("/c/")
        response = villager.get(scanned)
        assert response.status_code == 302  # the 30-second code, exchanged for a pass of this phone
        checkin = response.headers["Location"]
        assert "清溪河道保洁" in page(villager, checkin)
        done = villager.post(checkin, data={"action": "in"})
        assert done.status_code == 200 and "签到成功" in done.get_data(as_text=True)
        assert "您已签到" in page(villager, f"/events/{event_id}")
        assert "签到名单（1 人）" in page(admin, f"/events/{event_id}")
        assert admin.post(f"/events/{event_id}/close", data={"confirmed": "1"}).status_code == 302
        assert "已得 10 分" in page(villager, f"/events/{event_id}")
        assert balance(villager) == 10

        # 8. This week's 卫生评比: the 村管理员 starts it; the leader of the grid assigned to 第一网格 scores it there,
        # the 村管理员 scores a few households elsewhere and publishes every grid.
        staff = dict(slips(admin, village_a))
        cunwei_slip = next(path for text, path in staff.items() if f"村管理员 · {VILLAGE_A}" in text)
        cunwei = activate(app, cunwei_slip, "村委密码2027")
        response = cunwei.post(f"/villages/{village_a}/hygiene/rounds", data={"week": "2027-W10"})
        assert response.status_code == 302
        week_page = page(cunwei, response.headers["Location"])
        round_id = int(re.search(r"/hygiene/rounds/(\d+)/", week_page).group(1))
        week = week_grids(week_page)
        assert {grid: total for grid, (_by, _done, total) in week.items()} == GRIDS_A
        assert all(inspector != grid and inspector in GRIDS_A for grid, (inspector, _d, _t) in week.items())
        inspector = week[SMALL_GRID][0]
        leader_slip = next(path for text, path in staff.items() if f"网格长 · {inspector}" in text)
        leader = activate(app, leader_slip, "网格长密码2027")
        small_homes = sheet_households(leader, round_id, small)
        assert len(small_homes) == 3
        for household_id in small_homes:
            score(leader, round_id, household_id)
        assert leader.get(f"/hygiene/rounds/{round_id}/grids/{grid_ids[inspector]}").status_code == 403, \
            "a leader does not inspect their own grid"
        for grid in GRIDS_A:
            if grid != SMALL_GRID:
                for deduction, household_id in enumerate(sheet_households(cunwei, round_id, grid_ids[grid])[:4]):
                    score(cunwei, round_id, household_id, deduction)
        # The week is not over and the grids are not fully scored: the 村管理员 chooses 提前发布 and confirms it.
        response = cunwei.post(f"/hygiene/rounds/{round_id}/publish",
                               data={"key": uuid.uuid4().hex, "early": "1", "confirmed": "1"})
        assert response.status_code == 302
        published = page(cunwei, f"/villages/{village_a}/hygiene?week=2027-W10")
        assert published.count("卫生保洁示范户</h3>") == 4 and published.count("已发布 ") == 4
        assert "未发布" not in published
        assert balance(villager) == 30, "10 for the event, 20 as a 示范户 of 第一网格"

        # 9. A household of 第二网格 moves out; next week's round leaves it out.
        second = grid_ids["第二网格"]
        leaving = sheet_households(cunwei, round_id, second)[-1]
        response = admin.post(f"/households/{leaving}/close", data={"reason": "moved_out", "day": TODAY})
        assert response.status_code == 302, response.get_data(as_text=True)
        assert api(admin, token, f"/households/{leaving}")["closed_on"] == TODAY

        clock.shift(timedelta(days=7))  # Wednesday of 2027-W11
        response = cunwei.post(f"/villages/{village_a}/hygiene/rounds", data={"week": "2027-W11"})
        assert response.status_code == 302
        week_page = page(cunwei, response.headers["Location"])
        next_round = int(re.search(r"/hygiene/rounds/(\d+)/", week_page).group(1))
        assert next_round != round_id
        assert week_grids(week_page)["第二网格"][1:] == (0, 11)
        assert leaving not in sheet_households(cunwei, next_round, second)
        refused = cunwei.post(f"/hygiene/rounds/{next_round}/households/{leaving}", data={"revision": 0})
        assert refused.status_code == 409 and "整户迁出" in refused.get_data(as_text=True)

        # 10. Every balance and total is the sum of its entries.
        assert cli(runner, "verify").startswith("核对通过")
