"""The rule book's pages: who reads and who edits, the forms, and the .xlsx export and import through the client."""
import io
import re
from dataclasses import replace
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import func, select

from points.auth.models import Role
from points.extensions import db
from points.ledger.models import LedgerEntry
from points.ledger.services import apply_rule
from points.rules.models import Rule, RuleCategory, RuleUnit, RuleVersion
from points.rules.services import RuleTerms, revise_rule
from points.rules.workbook import COLUMNS
from points.timeutil import local_today

from .. import factories

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Relative to today: the book shows what is in force now, and a revision must start after the latest version.
START = local_today() - timedelta(days=60)
END = START + timedelta(days=365)
LATER = local_today() + timedelta(days=10)


@pytest.fixture
def rules(village):
    """Two rules in force for two months: an award anyone may claim, and a penalty for renters only."""
    yard = factories.gen_rule(village.village, "庭院整洁", 20, code="HYG-YARD", effective_from=START, cap_week=40,
                              evidence_required=True, self_claimable=True)
    pile = factories.gen_rule(village.village, "乱堆乱放", -10, RuleCategory.VILLAGE_RULES, code="VR-PILE",
                              effective_from=START, for_registered=False, unit=RuleUnit.HOUR,
                              roles=frozenset({Role.GRID_LEADER}))
    db.session.commit()
    return yard, pile


@pytest.fixture
def admin(village, login):
    return login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))


@pytest.fixture
def worker(village, login):
    return login(factories.gen_user(Role.GRID_WORKER, village.grids[0]))


def html_of(response) -> str:
    return response.get_data(as_text=True)


def text_of(response) -> str:
    """The page's words without tags or runs of white space, to look for what a person reads."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html_of(response)))


def version_count() -> int:
    return db.session.scalar(select(func.count()).select_from(RuleVersion))


def form(**fields) -> dict:
    """What the new-rule form posts for a hygiene award of 10 per occurrence, unless fields say otherwise."""
    data = {"code": "HYG-NEW", "name": "门前三包", "category": "hygiene", "points": "10", "unit": "occurrence",
            "for_registered": "y", "for_renters": "y", "cap_day": "", "cap_week": "", "cap_month": "", "cap_year": "",
            "roles": ["grid_worker", "grid_leader"], "effective_from": START.isoformat(), "effective_until": ""}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def test_the_book_shows_each_rule_in_words(client, village, rules, admin):
    response = client.get(f"/villages/{village.village.id}/rules")
    text = text_of(response)
    assert response.status_code == 200
    assert text.index("人居环境") < text.index("庭院整洁") < text.index("村规民约") < text.index("乱堆乱放")
    assert "每次 +20 分" in text and "每小时 −10 分" in text
    assert "每周上限 40 分" in text and "不设上限" in text
    assert "户籍村民、外来租住人员" in text and "适用 外来租住人员" in text
    assert "需要" in text and "可以自行申报" in text
    assert "村管理员、网格长、网格员" in text
    assert f"{START.isoformat()} 生效" in text
    for link in ("/rules/new", "/rules/import", "/rules.xlsx", f"/rules/{rules[0].id}/edit"):
        assert link in html_of(response)


def test_a_grid_worker_reads_the_book_but_changes_nothing(client, village, rules, worker):
    response = client.get(f"/villages/{village.village.id}/rules")
    assert response.status_code == 200 and "庭院整洁" in html_of(response)
    assert "/edit" not in html_of(response) and "新增细则" not in html_of(response)
    yard = rules[0]
    for url in (f"/villages/{village.village.id}/rules/new", f"/rules/{yard.id}/edit",
                f"/villages/{village.village.id}/rules/import", f"/villages/{village.village.id}/rules.xlsx"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/villages/{village.village.id}/rules/new", data=form()).status_code == 403
    assert client.post(f"/rules/{yard.id}/edit",
                       data=form(points="99", effective_from=LATER.isoformat())).status_code == 403
    assert version_count() == 2


def test_villagers_read_their_own_village_book_only(client, village, rules, login):
    other = factories.gen_village(town=village.town)
    login(factories.gen_villager(factories.gen_household(village.grids[1])))
    response = client.get(f"/villages/{village.village.id}/rules")
    assert response.status_code == 200 and "庭院整洁" in html_of(response)
    assert "/edit" not in html_of(response)
    assert client.get(f"/villages/{other.village.id}/rules").status_code == 403
    assert client.get(f"/villages/{village.village.id}/rules.xlsx").status_code == 403
    assert client.get("/rules").headers["Location"] == f"/villages/{village.village.id}/rules"


def test_staff_elsewhere_may_not_read(client, village, rules, login):
    other = factories.gen_village(town=village.town)
    login(factories.gen_user(Role.GRID_WORKER, other.grids[0]))
    assert client.get(f"/villages/{village.village.id}/rules").status_code == 403
    assert client.get("/rules").headers["Location"] == f"/villages/{other.village.id}/rules"


def test_unknown_villages_and_rules_are_404(client, village, rules, admin):
    assert client.get("/villages/999999/rules").status_code == 404
    assert client.get(f"/villages/{village.grids[0].id}/rules").status_code == 404
    assert client.get("/rules/999999/edit").status_code == 404
    assert client.get("/villages/999999/rules.xlsx").status_code == 404


def test_rules_leads_an_admin_to_the_village_book(client, village, admin):
    response = client.get("/rules")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/villages/{village.village.id}/rules"


def test_an_admin_adds_a_rule_through_the_form(client, village, admin):
    page = client.get(f"/villages/{village.village.id}/rules/new")
    assert page.status_code == 200 and "网格员履职" in html_of(page) and 'type="date"' in html_of(page)
    response = client.post(
        f"/villages/{village.village.id}/rules/new",
        data=form(code="hyg-new", points="-15", unit="hour", for_renters=None, cap_week="30", evidence_required="y",
                  effective_until=END.isoformat()),
    )
    assert response.status_code == 302
    rule = db.session.scalar(select(Rule))
    version = rule.versions[0]
    assert (rule.code, version.effective_from, version.effective_until) == ("HYG-NEW", START, END)
    assert RuleTerms.of(version) == RuleTerms(
        "门前三包", RuleCategory.HYGIENE, -15, RuleUnit.HOUR, for_renters=False, cap_week=30, evidence_required=True,
        roles=frozenset({Role.GRID_WORKER, Role.GRID_LEADER}),
    )
    assert "已新增细则 HYG-NEW" in text_of(client.get(response.headers["Location"]))


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"code": " "}, "请填写细则编码"),
        ({"code": "X" * 33}, "编码不能超过 32 个字符"),
        ({"name": ""}, "请填写细则名称"),
        ({"points": "0"}, "分值不能为 0：加分填正数，扣分填负数"),
        ({"points": "abc"}, "不是有效的整数"),
        ({"points": "10001"}, "分值必须在 -10000 到 10000 之间"),
        ({"points": ""}, "请填写分值"),
        ({"for_registered": None, "for_renters": None}, "细则至少要适用于户籍村民或外来租住人员之一"),
        ({"cap_month": "0"}, "上限必须是 1 到 1000000 之间的整数，或留空表示不设上限"),
        ({"effective_from": ""}, "请选择生效日期"),
        ({"effective_until": START.isoformat()}, "失效日期必须晚于生效日期"),
    ],
)
def test_bad_input_is_answered_in_chinese_and_writes_nothing(client, village, admin, fields, message):
    response = client.post(f"/villages/{village.village.id}/rules/new", data=form(**fields))
    assert response.status_code == 422
    assert message in html_of(response)
    assert version_count() == 0


def test_a_taken_code_is_refused_on_the_form(client, village, rules, admin):
    response = client.post(f"/villages/{village.village.id}/rules/new", data=form(code="hyg-yard"))
    assert response.status_code == 422
    assert "细则编码 HYG-YARD 已存在" in html_of(response)
    assert version_count() == 2


def test_a_revision_makes_a_new_version_and_entries_keep_the_old_one(client, village, rules, admin):
    yard = rules[0]
    household = factories.gen_household(village.grids[0])
    entry = apply_rule(admin, household.id, yard.id, "yard-1", occurred_on=local_today())
    db.session.commit()
    page = client.get(f"/rules/{yard.id}/edit")
    assert page.status_code == 200
    assert 'value="庭院整洁"' in html_of(page) and "第 1 版" in html_of(page)
    start = local_today() + timedelta(days=1)
    response = client.post(
        f"/rules/{yard.id}/edit",
        data=form(code=None, points="25", roles=["grid_leader"], effective_from=start.isoformat(),
                  effective_until=None),
    )
    assert response.status_code == 302, html_of(response)
    db.session.expire_all()
    first, second = yard.versions
    assert (first.points, first.effective_until) == (20, start)
    assert (second.version, second.points, second.effective_from, second.role_set) == (2, 25, start, {Role.GRID_LEADER})
    assert db.session.get(LedgerEntry, entry.id).rule_version_id == first.id
    history = html_of(client.get(f"/rules/{yard.id}/edit"))
    assert history.index("第 2 版") < history.index("第 1 版")
    assert "即将生效" in html_of(client.get(f"/villages/{village.village.id}/rules"))


def test_a_backdated_or_empty_revision_is_refused(client, village, rules, admin):
    yard = rules[0]
    backdated = client.post(f"/rules/{yard.id}/edit",
                            data=form(code=None, points="25", effective_from=START.isoformat()))
    assert backdated.status_code == 422
    assert "新版本最早从明天起生效" in html_of(backdated)  # today's and earlier points keep their version
    far = client.post(f"/rules/{yard.id}/edit", data=form(code=None, points="25", effective_from="9999-12-31"))
    assert far.status_code == 422 and "日期不能超过 10 年以后" in html_of(far)
    same = form(code=None, name="庭院整洁", points="20", cap_week="40", evidence_required="y", self_claimable="y",
                roles=["grid_worker", "grid_leader", "village_admin"], effective_from=LATER.isoformat())
    unchanged = client.post(f"/rules/{yard.id}/edit", data=same)
    assert unchanged.status_code == 422
    assert "内容与当前版本相同" in html_of(unchanged)
    assert version_count() == 2


def test_the_export_is_an_xlsx_of_the_book_in_force(client, village, rules, admin):
    response = client.get(f"/villages/{village.village.id}/rules.xlsx")
    assert response.status_code == 200
    assert response.mimetype == XLSX_TYPE
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0].iter_rows(values_only=True))
    assert rows[0] == COLUMNS
    assert [r[:5] for r in rows[1:]] == [("HYG-YARD", "庭院整洁", "人居环境", 20, "每次"),
                                         ("VR-PILE", "乱堆乱放", "村规民约", -10, "每小时")]


def test_the_file_speaks_chinese_whatever_the_page_language(client, village, rules, admin):
    response = client.get(f"/villages/{village.village.id}/rules.xlsx?lang=en")
    rows = list(openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0].iter_rows(values_only=True))
    assert rows[2][COLUMNS.index("可使用角色")] == "网格长"
    assert rows[2][COLUMNS.index("单位")] == "每小时"


def upload(client, village, data: bytes, effective_from: str | None = None):
    fields = {"file": (io.BytesIO(data), "积分细则.xlsx")}
    if effective_from:
        fields["effective_from"] = effective_from
    return client.post(f"/villages/{village.village.id}/rules/import", data=fields, content_type="multipart/form-data")


def test_exporting_and_importing_again_changes_nothing(client, village, rules, admin):
    page = client.get(f"/villages/{village.village.id}/rules/import")
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    assert page.status_code == 200 and f'value="{tomorrow}"' in html_of(page)
    exported = client.get(f"/villages/{village.village.id}/rules.xlsx").data
    response = upload(client, village, exported, tomorrow)
    assert response.status_code == 200
    assert "导入成功：新增 0 条，修改 0 条，未变 2 条。" in html_of(response)
    assert version_count() == 2


def test_the_export_of_a_book_with_a_pending_revision_imports_again_unchanged(client, village, rules, admin):
    revise_rule(rules[0], replace(RuleTerms.of(rules[0].versions[0]), points=25), LATER)
    db.session.commit()
    exported = client.get(f"/villages/{village.village.id}/rules.xlsx").data
    rows = list(openpyxl.load_workbook(io.BytesIO(exported)).worksheets[0].iter_rows(values_only=True))
    assert [r[:4] for r in rows[1:]] == [("HYG-YARD", "庭院整洁", "人居环境", 20),
                                         ("HYG-YARD", "庭院整洁", "人居环境", 25),
                                         ("VR-PILE", "乱堆乱放", "村规民约", -10)]
    response = upload(client, village, exported, (local_today() + timedelta(days=1)).isoformat())
    assert response.status_code == 200
    assert "导入成功：新增 0 条，修改 0 条，未变 2 条。" in html_of(response)
    assert version_count() == 3


def test_an_imported_change_makes_a_new_version(client, village, rules, admin):
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(f"/villages/{village.village.id}/rules.xlsx").data))
    sheet = workbook.worksheets[0]
    sheet["D2"] = 30
    sheet.append(["HYG-NEW", "门前三包", "人居环境", 5])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = upload(client, village, buffer.getvalue(), LATER.isoformat())
    assert response.status_code == 200
    assert "导入成功：新增 1 条，修改 1 条，未变 1 条。" in text_of(response)
    db.session.expire_all()
    yard = rules[0]
    assert [(v.points, v.effective_from) for v in yard.versions] == [(20, START), (30, LATER)]


def test_a_bad_import_reports_each_row_and_writes_nothing(client, village, rules, admin):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(COLUMNS))
    sheet.append(["NEW-1", "", "人居环境", 5])
    sheet.append(["NEW-2", "帮扶", "互助", 5])
    sheet.append(["NEW-1", "帮扶", "村民互助", "五"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = upload(client, village, buffer.getvalue(), LATER.isoformat())
    text = text_of(response)
    assert response.status_code == 422
    assert "发现 4 处错误，未导入任何数据" in text
    for row, column, message in [(2, "名称", "请填写细则名称"), (3, "类别", "未知的类别“互助”"),
                                 (4, "编码", "编码 NEW-1 与第 2 行重复"), (4, "分值", "分值必须是整数，而不是“五”")]:
        assert f"{row} {column} {message}" in text
    assert version_count() == 2


def test_an_import_without_a_file_asks_for_one(client, village, admin):
    response = client.post(f"/villages/{village.village.id}/rules/import", data={"effective_from": LATER.isoformat()},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert "请选择要导入的文件" in html_of(response)


@pytest.mark.parametrize("csrf", [False, True], ids=["csrf-off", "csrf-on"])
def test_an_upload_over_the_request_limit_shows_the_form_again(client, village, admin, app, monkeypatch, csrf):
    # With CSRF on, as in production, the body is first read by CSRFProtect before the view runs.
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", csrf)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1048576)
    response = upload(client, village, bytes(2 * 1048576), LATER.isoformat())
    assert response.status_code == 413
    assert 'type="file"' in html_of(response) and "文件太大，上限为 1 MB" in html_of(response)
    assert version_count() == 0


def test_villagers_read_rules_by_name_and_staff_by_code_too(client, village, rules, login):
    """A rule's code (HYG-YARD) is staff's shorthand: the villagers' book names each rule in words alone."""
    login(factories.gen_villager(factories.gen_household(village.grids[1])))
    villager = html_of(client.get(f"/villages/{village.village.id}/rules"))
    assert "庭院整洁" in villager and "乱堆乱放" in villager
    assert "HYG-YARD" not in villager and "VR-PILE" not in villager
    for staff in (factories.gen_user(Role.GRID_WORKER, village.grids[0]),
                  factories.gen_user(Role.VILLAGE_ADMIN, village.village)):
        login(staff)
        page = html_of(client.get(f"/villages/{village.village.id}/rules"))
        assert "HYG-YARD" in page and "VR-PILE" in page
