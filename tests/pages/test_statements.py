"""Statements and exports through the pages: a household's 积分对账单 (page and .xlsx), an event's attendance list and
the audit log as .xlsx: their contents read back with openpyxl, the ranges refused, the scope, and who may see what."""
import io
from datetime import date, datetime, timedelta

import openpyxl
import pytest

from points.audit.services import record
from points.auth import services as auth_services
from points.auth.models import Role
from points.events import checkins, services
from points.extensions import db
from points.ledger.models import EntrySource
from points.ledger.services import post_entry, reverse_entry
from points.pages.statements import AUDIT_EXPORT_CAP
from points.timeutil import utc_to_local, utcnow
from points.xlsx import XLSX

from .. import factories
from ..auth.test_policy_matrix import ADMINS, ALLOW, DENY, HOUSEHOLD_VIEWERS, LOGIN, ROLES, build_world, outcome
from ..ledger.helpers import rule_versions
from .test_events import Scene

EVIL = '=HYPERLINK("http://evil.example/","点我")'


@pytest.fixture
def books(village):
    """A household of grid 1 whose January a grid worker recorded: an award, a penalty taken back, a redemption
    voided, and a note that looks like a formula; its villager; a worker of grid 2."""
    household = factories.gen_household(village.grids[0], head_name="张三明")
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    worker.display_name = "王网格"
    award, penalty, _ = rule_versions(village)
    post_entry(household.id, 20, EntrySource.MANUAL, "b-award", actor=worker, rule_version=award,
               occurred_on=date(2026, 1, 5), note=EVIL)
    fined = post_entry(household.id, -10, EntrySource.MANUAL, "b-fine", actor=worker, rule_version=penalty,
                       occurred_on=date(2026, 1, 10), note="+1 -2 @SUM")
    spent = post_entry(household.id, -5, EntrySource.REDEMPTION, "b-spend", actor=worker,
                       occurred_on=date(2026, 1, 20))
    reverse_entry(fined.id, "b-unfine", worker)
    reverse_entry(spent.id, "b-void", worker, voiding=True)
    post_entry(household.id, 4, EntrySource.MANUAL, "b-feb", actor=worker, occurred_on=date(2026, 2, 3))
    villager = factories.gen_villager(household)
    outsider = factories.gen_user(Role.GRID_WORKER, village.grids[1])
    db.session.commit()
    return dict(household=household, worker=worker, villager=villager, outsider=outsider)


def _url(household, suffix="", **args):
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return f"/households/{household.id}/statement{suffix}?{query}"


def test_staff_read_the_statement_with_who_recorded_it(books, client, login):
    login(books["worker"])
    page = client.get(_url(books["household"], **{"from": "2026-02-01", "to": "2026-02-28"}))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "积分对账单" in text and books["household"].number in text
    assert "期初余额" in text and "期末余额" in text and "记分日期" in text
    assert "王网格" in text and "+4" in text
    assert 'class="stat"><b>20</b>期初余额' in text and '<b>24</b>期末余额' in text
    assert "statement.xlsx?from=2026-02-01&amp;to=2026-02-28" in text


def test_villagers_read_their_statement_with_staff_unnamed(books, client, login):
    login(books["villager"])
    text = client.get(_url(books["household"], **{"from": "2026-01-01", "to": "2026-01-31"})).get_data(as_text=True)
    assert "王网格" not in text and "工作人员" in text
    assert "兑换作废，退回积分" in text and "撤销扣分：乱堆乱放" in text
    for figure, label in ((0, "期初余额"), (30, "得分"), (10, "扣分"), (0, "兑换"), (20, "期末余额")):
        assert f'class="stat"><b>{figure}</b>{label}' in text
    points = client.get("/my/points").get_data(as_text=True)
    assert f"/households/{books['household'].id}/statement" in points and "对账单" in points


@pytest.mark.parametrize(("args", "words"), [
    ({"from": "2010-01-01", "to": "2026-01-01"}, "对账单最长只能查 10 年"),
    ({"from": "2026-03-01", "to": "2026-01-01"}, "结束日期不能早于开始日期"),
    ({"from": "2026-13-01", "to": "2026-12-01"}, "请按 2026-01-31 这样的格式填写"),
    ({"from": "yesterday"}, "请按 2026-01-31 这样的格式填写"),
])
@pytest.mark.parametrize("suffix", ["", ".xlsx"])
def test_bad_ranges_are_refused_in_chinese(books, client, login, args, words, suffix):
    login(books["worker"])
    response = client.get(_url(books["household"], suffix, **args))
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert words in response.get_data(as_text=True)


def _book(response) -> openpyxl.Workbook:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == XLSX
    return openpyxl.load_workbook(io.BytesIO(response.data))


def _rows(sheet) -> list[tuple]:
    return list(sheet.iter_rows(values_only=True))


def test_the_statement_workbook_reads_back(books, client, login):
    login(books["worker"])
    book = _book(client.get(_url(books["household"], ".xlsx", **{"from": "2026-01-01", "to": "2026-01-31"})))
    assert book.sheetnames == ["汇总", "积分明细"]
    summary = dict(_rows(book["汇总"])[1:])
    assert summary["户号"] == books["household"].number
    assert summary["开始日期"] == datetime(2026, 1, 1) and book["汇总"]["B5"].is_date
    assert (summary["期初余额"], summary["得分"], summary["扣分"], summary["兑换"], summary["期末余额"]) == \
        (0, 30, 10, 0, 20)
    lines = book["积分明细"]
    assert _rows(lines)[0] == ("日期", "事项", "来源", "记录人", "积分", "余额", "备注")
    body = _rows(lines)[1:]
    assert [(row[4], row[5]) for row in body] == [(20, 20), (-10, 10), (10, 20), (-5, 15), (5, 20)]
    assert all(lines.cell(row=r, column=1).is_date for r in range(2, len(body) + 2))
    assert body[0][0] == datetime(2026, 1, 5) and body[0][3] == "王网格"
    evil = lines["G2"]
    assert evil.value == EVIL and evil.data_type == "s"  # text, never a formula
    assert lines["G3"].value == "+1 -2 @SUM" and lines["G3"].data_type == "s"


def test_villagers_workbook_names_no_staff(books, client, login):
    login(books["villager"])
    book = _book(client.get(_url(books["household"], ".xlsx", **{"from": "2026-01-01", "to": "2026-12-31"})))
    whos = {row[3] for row in _rows(book["积分明细"])[1:]}
    assert whos == {"工作人员"}


def test_the_statement_is_for_the_household_and_staff_in_scope(books, client, login):
    login(books["outsider"])
    assert client.get(_url(books["household"])).status_code == 403
    assert client.get(_url(books["household"], ".xlsx")).status_code == 403
    assert client.get("/households/999999/statement").status_code == 404


def test_the_attendance_list_for_whoever_runs_the_event(client, login):
    scene = Scene()
    scene.households[1].head.name = "=HYPERLINK(1)"
    for household in scene.households:
        checkins.check_in_resident(scene.admin, scene.event, household.head_id)
    services.close_event(scene.admin, scene.event, early=True)
    db.session.commit()
    login(scene.admin)
    assert "导出签到名单" in client.get(f"/events/{scene.event.id}").get_data(as_text=True)
    book = _book(client.get(f"/events/{scene.event.id}/attendance.xlsx"))
    sheet = book["签到名单"]
    rows = _rows(sheet)
    assert rows[0] == ("姓名", "户号", "网格", "签到方式", "签到时间", "签退时间", "小时", "积分", "状态")
    first, second = rows[1], rows[2]
    assert first[0] == "李*明" and first[1] == scene.households[0].number and first[2] == "第1网格"
    assert isinstance(first[4], datetime) and sheet["E2"].is_date
    assert abs(first[4] - utc_to_local(utcnow())) < timedelta(hours=1)
    assert first[7] == 5 and first[8] == "已记分"
    assert second[0].startswith("=") and sheet["A3"].data_type == "s"  # a masked name that looks like a formula
    assert "HYPERLINK" not in second[0]
    for outsider in (scene.other_admin, scene.villager, scene.stranger):
        login(outsider)
        assert client.get(f"/events/{scene.event.id}/attendance.xlsx").status_code == 403
    login(scene.villager)
    assert "导出签到名单" not in client.get(f"/events/{scene.event.id}").get_data(as_text=True)


def test_the_audit_log_exports_the_admins_scope_masked(village, client, login):
    other = factories.gen_village()
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    record(admin, "entry.posted", "entry", 1, village.grids[0].id, after={"amount": 5, "note": "电话13812345678"})
    record(admin, "entry.posted", "entry", 2, village.grids[0].id,
           after={"amount": 6, "note": "身份证350582199001011234"})
    record(admin, "entry.reversed", "entry", 3, village.grids[1].id, after={"amount": -5})
    record(admin, "entry.posted", "entry", 4, other.grids[0].id, after={"amount": 99})
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    db.session.commit()
    login(admin)
    log = client.get("/audit?action=entry.posted").get_data(as_text=True)
    assert "/audit.xlsx?action=entry.posted" in log and f"最多 {AUDIT_EXPORT_CAP} 条" in log
    book = _book(client.get("/audit.xlsx?action=entry.posted"))
    rows = _rows(book["审计日志"])
    assert rows[0] == ("时间", "操作", "操作人", "用户名", "之前", "之后")
    afters = [row[5] for row in rows[1:]]
    assert len(afters) == 2 and all(row[1] == "记积分" for row in rows[1:])  # the other village's is not there
    assert not any("99" in after for after in afters)
    joined = " ".join(afters)
    assert "138****5678" in joined and "13812345678" not in joined
    assert "350***********1234" in joined and "350582199001011234" not in joined
    assert isinstance(rows[1][0], datetime) and book["审计日志"]["A2"].is_date
    assert _rows(book["说明"]) == [("说明",), ("共 2 条，已全部导出",)]
    everything = _rows(_book(client.get("/audit.xlsx"))["审计日志"])
    # Its three, and the roles given in the village (the admin's, the worker's): not the other village's entry.
    assert len(everything) - 1 == 3 + 2 and not any("=99" in (row[5] or "") for row in everything[1:])
    login(worker)
    assert client.get("/audit.xlsx").status_code == 403


def test_the_audit_export_says_its_cap(village, client, login, monkeypatch):
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    for n in range(3):
        record(admin, "entry.posted", "entry", n + 1, village.grids[0].id, after={"amount": n + 1})
    db.session.commit()
    monkeypatch.setattr("points.pages.statements.AUDIT_EXPORT_CAP", 2)
    login(admin)
    book = _book(client.get("/audit.xlsx?action=entry.posted"))
    assert len(_rows(book["审计日志"])) == 3
    assert _rows(book["说明"])[1][0] == "共 3 条，只导出最近的 2 条；请缩小日期范围分次导出"


# ------------------------------------------------------------------------------------------- authorization matrix

RUNNERS = {"town_admin", "village_admin", "event_organizer"}


def expected(role: str, endpoint: str, where: str) -> str:
    if role == "anonymous":
        return LOGIN
    if endpoint in ("statement", "statement_xlsx", "api_statement"):
        allowed = role in HOUSEHOLD_VIEWERS and where == "inside"
    elif endpoint == "attendance_xlsx":
        allowed = role in RUNNERS and where == "inside"
    else:  # audit_xlsx: lists what is in the admin's scope, wherever
        allowed = role in ADMINS
    return ALLOW if allowed else DENY


def _event_in(village):
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village)
    rule = factories.gen_rule(village, "志愿服务", 5)
    now = utc_to_local(utcnow())
    return services.create_event(admin, village, services.EventTerms(
        "清理河道", "村口", now - timedelta(hours=1), now + timedelta(hours=1), rule.id))


@pytest.mark.parametrize("role", list(ROLES))
def test_authorization_matrix(role, client):
    world = build_world()
    kind, node, grid_in, grid_out, hh_in, hh_out, *_ = ROLES[role]
    headers = {}
    if role != "anonymous":
        if role == "villager":
            actor = factories.gen_villager(world.households["A1own"], username="actor")
        else:
            actor = factories.gen_user(kind, world.nodes[node], username="actor")
        token, _ = auth_services.issue_token(actor, 1)
        db.session.commit()
        assert client.post("/login", data={"username": "actor", "password": factories.PASSWORD}).status_code == 302
        headers = {"Authorization": f"Bearer {token}"}
    events = {"inside": _event_in(world.nodes[grid_in].parent), "outside": _event_in(world.nodes[grid_out].parent)}
    db.session.commit()
    mismatches = []
    for where, household in (("inside", world.households[hh_in]), ("outside", world.households[hh_out])):
        urls = {
            "statement": f"/households/{household.id}/statement",
            "statement_xlsx": f"/households/{household.id}/statement.xlsx",
            "api_statement": f"/api/v1/households/{household.id}/statement",
            "attendance_xlsx": f"/events/{events[where].id}/attendance.xlsx",
            "audit_xlsx": "/audit.xlsx",
        }
        for endpoint, url in urls.items():
            api = url.startswith("/api/")
            status = client.get(url, headers=headers if api else {}).status_code
            got, want = outcome(status, api), expected(role, endpoint, where)
            if got != want:
                mismatches.append(f"{role} {endpoint} {where}: expected {want}, got {got} ({status})")
    assert mismatches == []
