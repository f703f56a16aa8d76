"""网格树导入: villages, grids of any depth and their staff from one workbook, all rows or none; staff accounts opened
without a password and activated once from a slip; the same file imported again adds nothing."""
import io

import pytest
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth import slips
from points.auth.models import NO_PASSWORD, Role, RoleAssignment, User
from points.auth.tree_workbook import COLUMNS, import_tree, importable_root
from points.errors import DomainError, Forbidden
from points.extensions import db
from points.grids.models import GridNode, GridPath, NodeKind
from points.grids.services import create_node

from .. import factories

LIMIT = 10 * 1048576


def book(*rows, header=COLUMNS) -> bytes:
    return factories.gen_workbook(header, rows)


def counts() -> tuple[int, int, int, int]:
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (GridNode, GridPath, User, RoleAssignment))


@pytest.fixture
def town():
    town = create_node("清溪镇", "qx", NodeKind.TOWN)
    admin = factories.gen_user(Role.TOWN_ADMIN, town)
    db.session.commit()
    return town, admin


TREE = (
    # 上级编码, 编码, 名称, 层级, 村管理员, 网格长, 网格员 — a child before its parent, on purpose
    ("dc-1", "dc-1-1", "1号微网格", "微网格", "", "", "赵小红 13800000004"),
    ("qx", "dc", "东村", "村", "张立新 13800000001", "", ""),
    ("dc", "dc-1", "第一网格", "一级网格", "", "李四海 13800000002", "王建国 13800000003、钱多多（13800000005）"),
    ("dc-1", "dc-1-2", "2号微网格", "", "", "", "王建国 13800000003"),
)


def test_a_tree_and_its_staff_come_in_whatever_the_order_of_the_rows(town):
    town, admin = town
    report = import_tree(admin, town, book(*TREE), LIMIT)
    db.session.commit()
    assert report.ok, report.errors
    assert (report.count(NodeKind.VILLAGE), report.count(NodeKind.GRID), len(report.accounts), report.roles) == (
        1, 3, 5, 6)
    nodes = {n.code: n for n in db.session.scalars(select(GridNode))}
    assert (nodes["dc"].kind, nodes["dc"].parent_id, nodes["dc"].village_id) == (
        NodeKind.VILLAGE, town.id, nodes["dc"].id)
    micro = nodes["dc-1-2"]
    assert (micro.kind, micro.depth, micro.village_id, micro.parent_id) == (
        NodeKind.GRID, 3, nodes["dc"].id, nodes["dc-1"].id)
    assert set(db.session.scalars(select(GridPath.ancestor_id).where(GridPath.descendant_id == micro.id))) == {
        town.id, nodes["dc"].id, nodes["dc-1"].id, micro.id}
    wang = db.session.scalar(select(User).where(User.username == "13800000003"))
    assert (wang.display_name, wang.password_hash, wang.resident_id) == ("王建国", NO_PASSWORD, None)
    assert sorted((a.role, a.node.code) for a in wang.assignments) == [
        (Role.GRID_WORKER, "dc-1"), (Role.GRID_WORKER, "dc-1-2")], "one account for one person on two rows"
    assert db.session.scalar(select(User).where(User.username == "13800000005")).display_name == "钱多多"
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == admin.id)).all()
    assert (actions.count("node.created"), actions.count("account.created"), actions.count("role.assigned"),
            actions.count("grids.imported")) == (4, 5, 6, 1)


def test_the_same_file_again_adds_nothing_and_a_kept_row_gains_its_new_staff(town):
    town, admin = town
    import_tree(admin, town, book(*TREE), LIMIT)
    db.session.commit()
    before = counts()
    again = import_tree(admin, town, book(*TREE), LIMIT)
    assert again.ok and again.empty and again.kept == 4
    assert counts() == before
    more = import_tree(admin, town, book(*TREE, ("dc", "dc-1", "第一网格", "", "", "",
                                                 "孙七 13800000009、王建国 13800000003")),
                       LIMIT)
    assert not more.ok, "a code given twice in one file"
    more = import_tree(admin, town, book(("dc", "dc-1", "第一网格", "", "", "",
                                          "孙七 13800000009、王建国 13800000003")), LIMIT)
    assert more.ok and (more.kept, len(more.accounts), more.roles, more.nodes) == (1, 1, 1, [])


def refusals(report) -> list[tuple[int, str, str]]:
    return [(e.row, e.column, e.message) for e in report.errors]


def test_every_bad_row_is_reported_and_nothing_is_written(town, villages):
    town, admin = town
    village, neighbour, elsewhere = villages  # a village in another town: its codes are taken
    create_node("西村", "xc", NodeKind.VILLAGE, town)
    db.session.commit()
    before = counts()
    report = import_tree(admin, town, book(
        ("qx", "dc", "东村", "", "", "", ""),
        ("qx", "dc", "东村二", "", "", "", ""),                        # 3: the code again
        ("qx", elsewhere.village.code, "南村", "", "", "", ""),       # 4: a code of another town's village
        ("qx", "xc", "西村改名", "", "", "", ""),                     # 5: an existing code under another name
        ("nowhere", "n1", "北网格", "", "", "", ""),                  # 6: an unknown parent
        (village.village.code, "n2", "外村网格", "", "", "", ""),      # 7: a parent outside this town
        ("c1", "c2", "环一", "", "", "", ""),                         # 8 and 9: a cycle
        ("c2", "c1", "环二", "", "", "", ""),
        ("dc", "g1", "第一网格", "村", "", "", ""),                    # 10: a grid said to be a village
        ("qx", "g2", "南山", "", "", "李四 13800000002", ""),         # 11: a 网格长 on a village's row
        ("dc", "g3", "第三网格", "", "", "", "王五"),                  # 12: no phone number
        ("dc", "g4", "第四网格", "", "", "赵六 13800000007", "钱七 13800000007"),  # 13: one number, two names
        ("dc", "g5 !", "", "", "", "", ""),                           # 14: a code that cannot be typed, no name
        ("dc", "g6", "第六网格", "乡", "", "", ""),                    # 15: a level that is not one
    ), LIMIT)
    assert counts() == before
    got = refusals(report)
    assert [(row, column) for row, column, _ in got] == [
        (3, "编码"), (4, "编码"), (5, "编码"), (6, "上级编码"), (7, "上级编码"), (8, "上级编码"), (10, "层级"),
        (11, "网格长"),
        (12, "网格员"), (13, "网格员"), (14, "编码"), (14, "名称"), (15, "层级")]
    messages = dict(((row, column), message) for row, column, message in got)
    assert messages[3, "编码"] == "编码 dc 与第 2 行重复"
    assert messages[4, "编码"] == f"编码 {elsewhere.village.code} 已被使用", "another town's node is not named"
    assert "已是“西村”" in messages[5, "编码"]
    assert "找不到上级编码 nowhere" in messages[6, "上级编码"]
    assert "找不到上级编码" in messages[7, "上级编码"]
    assert "循环" in messages[8, "上级编码"]
    assert messages[10, "层级"] == "上级是村（社区），这一行只能是网格"
    assert messages[11, "网格长"] == "网格长只能填在网格的一行"
    assert "姓名 手机号" in messages[12, "网格员"]
    assert messages[13, "网格员"] == "手机号 13800000007 在第 13 行是赵六，这里是钱七"


def test_a_number_that_is_someone_elses_account_is_refused(town):
    town, admin = town
    factories.gen_user(Role.TOWN_ADMIN, town, username="13800000002")  # a colleague; display name 13800000002
    db.session.commit()
    report = import_tree(admin, town, book(*TREE), LIMIT)
    assert refusals(report) == [(4, "网格长", "手机号 13800000002 已是13800000002的账号")]


def test_an_account_with_that_name_and_number_is_given_the_role(town):
    town, admin = town
    existing = factories.gen_user(Role.TOWN_ADMIN, town, username="13800000002")
    existing.display_name = "李四海"
    db.session.commit()
    report = import_tree(admin, town, book(*TREE), LIMIT)
    db.session.commit()
    assert report.ok and "李四海" not in [a.name for a in report.accounts]
    assert [a.role for a in existing.assignments] == [Role.TOWN_ADMIN, Role.GRID_LEADER]


def test_files_that_are_not_a_tree_are_refused(town):
    town, admin = town
    assert refusals(import_tree(admin, town, b"\x00\x01not a sheet", LIMIT))[0][0] == 0
    assert refusals(import_tree(admin, town, book(("qx", "dc", "东村"), header=("上级编码", "名称")), LIMIT)) == [
        (1, "", "缺少必填列：编码（请使用导入模板）")]
    gbk = "上级编码,编码,名称,网格长\nqx,dc,东村,\ndc,dc-1,第一网格,李四海 13800000002\n".encode("gbk")
    report = import_tree(admin, town, gbk, LIMIT)
    assert report.ok and report.count(NodeKind.GRID) == 1 and report.accounts[0].name == "李四海"


def test_a_village_admin_imports_inside_their_village_only(town, villages):
    town, _ = town
    village, neighbour, _ = villages
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    leader = factories.gen_user(Role.GRID_LEADER, village.grids[0])
    db.session.commit()
    assert importable_root(admin, village.village.id) == village.village
    for actor, node in ((admin, neighbour.village), (admin, village.town), (leader, village.grids[0])):
        with pytest.raises(Forbidden):
            importable_root(actor, node.id)
    report = import_tree(admin, village.village, book(
        (village.grids[0].code, "m1", "1号微网格", "", "", "", "赵小红 13800000004"),
        (village.village.code, "m2", "新网格", "", "", "", ""),
        (village.village.code, "m3", "村管理员也在", "", "周一 13800000008", "", ""),
    ), LIMIT)
    assert refusals(report) == [(4, "村管理员", "村管理员只能填在村（社区）的一行")]


def test_staff_activate_their_account_once_from_the_slip(town, client):
    town, admin = town
    import_tree(admin, town, book(*TREE), LIMIT)
    db.session.commit()
    pending = slips.pending_slips(admin, town.id, 14)
    assert [s.user.display_name for s in pending] == ["张立新", "李四海", "王建国", "钱多多", "赵小红"]
    slip = pending[2]
    assert slip.resident is None
    page = client.get(f"/admin/accounts/slips?node={town.id}")
    assert page.status_code == 302, "a login first"
    slips.activate(slip.token, "wang-new-pass-1")
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        slips.user_of_slip(slip.token)
    assert refused.value.code == "slip_used"
    assert [s.user.display_name for s in slips.pending_slips(admin, town.id, 14)] == [
        "张立新", "李四海", "钱多多", "赵小红"]
    again = slips.slip_of(slip.user, 14)  # of the account's version now
    with pytest.raises(DomainError) as refused:
        slips.user_of_slip(again.token)
    assert refused.value.code == "not_villager_account", "a slip never sets the password of staff who have one"


def test_the_pages_preview_apply_and_print_the_slips(town, client, login):
    town, admin = town
    login(admin)
    page = client.get(f"/grids/{town.id}/tree").get_data(as_text=True)
    assert f"/grids/{town.id}/import" in page
    template = client.get(f"/grids/{town.id}/import/template.xlsx")
    assert template.status_code == 200 and template.data.startswith(b"PK")
    preview = client.post(f"/grids/{town.id}/import", data={"file": (io.BytesIO(book(*TREE)), "网格.xlsx")},
                          content_type="multipart/form-data")
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "新增 1 个村（社区）、3 个网格，开通 5 个账号，分配 6 项职务" in text
    assert "王建国（138****0003）" in text and "13800000003" not in text
    assert db.session.scalar(select(func.count()).select_from(GridNode)) == 1, "a preview writes nothing"
    upload = text.split('name="upload" type="hidden" value="')[1].split('"')[0]
    digest = text.split('name="digest" type="hidden" value="')[1].split('"')[0]
    done = client.post(f"/grids/{town.id}/import/confirm", data={"upload": upload, "digest": digest})
    assert "导入成功：新增 1 个村（社区）、3 个网格" in done.get_data(as_text=True)
    sheet = client.get(f"/admin/accounts/slips?node={town.id}").get_data(as_text=True)
    assert sheet.count('class="hcard slip"') == 5 and "网格员 · 第一网格" in sheet
    stale = client.post(f"/grids/{town.id}/import/confirm", data={"upload": upload, "digest": digest})
    assert "预览已过期" in client.get(stale.headers["Location"]).get_data(as_text=True)


def test_a_changed_tree_between_preview_and_confirm_previews_again(town, client, login):
    town, admin = town
    login(admin)
    text = client.post(f"/grids/{town.id}/import", data={"file": (io.BytesIO(book(*TREE)), "网格.xlsx")},
                       content_type="multipart/form-data").get_data(as_text=True)
    upload = text.split('name="upload" type="hidden" value="')[1].split('"')[0]
    digest = text.split('name="digest" type="hidden" value="')[1].split('"')[0]
    factories.gen_user(Role.TOWN_ADMIN, town, username="13800000001").display_name = "张立新"  # opened meanwhile
    db.session.commit()
    again = client.post(f"/grids/{town.id}/import/confirm", data={"upload": upload, "digest": digest})
    assert "重新生成的预览" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(GridNode)) == 1


def test_the_command_line_imports_a_towns_tree(town, runner, tmp_path):
    town, _ = town
    path = tmp_path / "tree.xlsx"
    path.write_bytes(book(*TREE))
    result = runner.invoke(args=["import-grids", str(path), "--town", "qx", "--preview"])
    assert "预览：新增 1 个村（社区）、3 个网格，开通 5 个账号，分配 6 项职务" in result.output
    assert db.session.scalar(select(func.count()).select_from(GridNode)) == 1
    result = runner.invoke(args=["import-grids", str(path), "--town", "qx"])
    assert result.exit_code == 0 and "已导入" in result.output and "打印" in result.output
    assert db.session.scalar(select(func.count()).select_from(GridNode)) == 5
    assert runner.invoke(args=["import-grids", str(path), "--town", "nope"]).exit_code == 1
    path.write_bytes(book(("nowhere", "x", "X", "", "", "", "")))
    result = runner.invoke(args=["import-grids", str(path), "--town", "qx"])
    assert result.exit_code == 1 and "第 2 行【上级编码】" in result.output


def test_an_account_beyond_the_importers_reach_is_neither_given_a_role_nor_named(town):
    town, admin = town
    import_tree(admin, town, book(("qx", "dc", "东村", "", "", "", ""),
                                  ("dc", "dc-1", "东一", "", "", "", "王建国 13800000003"),
                                  ("qx", "xc", "西村", "", "", "", ""),
                                  ("xc", "xc-1", "西一", "", "", "", "李红 13900001111")),
                LIMIT)
    east = factories.gen_user(Role.VILLAGE_ADMIN, db.session.scalar(select(GridNode).where(GridNode.code == "dc")),
                              username="13700000007")
    east.display_name = "东村村委"
    db.session.commit()
    before = counts()
    report = import_tree(east, db.session.scalar(select(GridNode).where(GridNode.code == "dc")), book(
        ("dc", "dc-1", "东一", "", "", "", "李红 13900001111、东村村委 13700000007")), LIMIT)
    assert counts() == before
    assert [(e.column, e.message) for e in report.errors] == [
        ("网格员", "手机号 13900001111 已是一个您管理范围以外的账号，不能在这里给它分配职务；请找镇管理员办理"),
        ("网格员", "手机号 13700000007 已是一个您管理范围以外的账号，不能在这里给它分配职务；请找镇管理员办理"),
    ], "西村's worker and the importer's own account; neither named"


def test_a_role_granted_by_an_import_voids_the_slips_printed_before(town):
    town, admin = town
    import_tree(admin, town, book(*TREE), LIMIT)
    db.session.commit()
    slip = next(s for s in slips.pending_slips(admin, town.id, 14) if s.user.display_name == "赵小红")
    report = import_tree(admin, town, book(("dc-1", "dc-1-2", "2号微网格", "", "", "", "赵小红 13800000004")), LIMIT)
    db.session.commit()
    assert report.ok and report.roles == 1
    with pytest.raises(DomainError) as refused:
        slips.user_of_slip(slip.token)
    assert refused.value.code == "slip_used"
    assert [s.user.display_name
            for s in slips.pending_slips(admin, town.id, 14)].count("赵小红") == 1, "a new one prints"
