"""The rule book as a workbook: export, and an import that creates, revises or leaves alone, all or nothing."""
import io
from dataclasses import replace
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth.models import Role
from points.extensions import db
from points.rules.models import Rule, RuleCategory, RuleUnit, RuleVersion
from points.rules.queries import rule_book, upcoming_versions
from points.rules.services import RuleTerms, create_rule, revise_rule
from points.rules.workbook import COLUMNS, export_workbook, import_rules

MAX_BYTES = 10 * 1048576
JAN, MAR, JUN = date(2026, 1, 1), date(2026, 3, 1), date(2026, 6, 1)
APR = date(2026, 4, 1)
YARD = RuleTerms(
    "庭院整洁（门前三包）", RuleCategory.HYGIENE, 20, cap_week=40, evidence_required=True,
    roles=frozenset({Role.GRID_WORKER, Role.GRID_LEADER}),
)
VOLUNTEER = RuleTerms(
    "志愿服务", RuleCategory.VOLUNTEERING, 5, RuleUnit.HOUR, for_renters=False, cap_day=20, cap_year=500,
    self_claimable=True, roles=frozenset({Role.EVENT_ORGANIZER}),
)


def rule_row(**cells) -> dict:
    """One spreadsheet row: a new hygiene penalty unless cells say otherwise."""
    return {"编码": "HYG-PILE", "名称": "乱堆乱放", "类别": "人居环境", "分值": -10, "单位": "每次",
            "适用户籍村民": "是", "适用外来租住人员": "是", "可使用角色": "网格员、网格长", **cells}


def xlsx(rows: list[dict], header=COLUMNS) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for row in rows:
        sheet.append([row.get(column) for column in header])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def sheet_rows(data: bytes) -> list[dict]:
    """The rows of an exported workbook's first sheet, as {column: value}."""
    rows = list(openpyxl.load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(values_only=True))
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def version_count() -> int:
    return db.session.scalar(select(func.count()).select_from(RuleVersion))


def refused(village, data: bytes, revise_from: date = APR) -> list[tuple[int, str, str]]:
    """The (row, column, message) errors of an import that must write nothing."""
    before = version_count()
    report = import_rules(village.village, data, MAX_BYTES, revise_from, None)
    assert not report.ok
    db.session.rollback()
    assert version_count() == before, "a file with any error imports nothing"
    return [(e.row, e.column, e.message) for e in report.errors]


@pytest.fixture
def book(village):
    """A village whose book holds YARD and VOLUNTEER from January, committed."""
    create_rule(village.village, "HYG-YARD", YARD, JAN)
    create_rule(village.village, "VOL-HOUR", VOLUNTEER, JAN, effective_until=date(2027, 1, 1))
    db.session.commit()
    return village


def test_the_export_writes_one_row_per_rule_in_chinese_words(book):
    rows = sheet_rows(export_workbook(rule_book(book.village.id, MAR)))
    assert [r["编码"] for r in rows] == ["HYG-YARD", "VOL-HOUR"]
    yard, volunteer = rows
    assert (yard["名称"], yard["类别"], yard["分值"], yard["单位"]) == ("庭院整洁（门前三包）", "人居环境", 20, "每次")
    assert (yard["适用户籍村民"], yard["适用外来租住人员"], yard["需要照片"], yard["村民可申报"]) == (
        "是", "是", "是", "否")
    assert (yard["每日上限"], yard["每周上限"], yard["可使用角色"]) == (None, 40, "网格长、网格员")
    assert (volunteer["单位"], volunteer["适用外来租住人员"], volunteer["每年上限"]) == ("每小时", "否", 500)
    assert (volunteer["类别"], volunteer["可使用角色"]) == ("志愿服务", "活动组织者")
    assert volunteer["生效日期"].date() == JAN and volunteer["失效日期"].date() == date(2027, 1, 1)


def test_export_then_import_changes_nothing(book):
    data = export_workbook(rule_book(book.village.id, MAR))
    before = version_count()
    report = import_rules(book.village, data, MAX_BYTES, APR, None)
    assert report.ok, report.errors
    assert (report.created, report.revised, report.unchanged) == ([], [], ["HYG-YARD", "VOL-HOUR"])
    assert version_count() == before


def test_a_changed_row_makes_a_new_version_from_the_chosen_day(book):
    rows = sheet_rows(export_workbook(rule_book(book.village.id, MAR)))
    rows[0].update(分值=30, 可使用角色="网格员")
    report = import_rules(book.village, xlsx(rows), MAX_BYTES, APR, None)
    assert (report.created, report.revised, report.unchanged) == ([], ["HYG-YARD"], ["VOL-HOUR"])
    yard = db.session.scalar(select(Rule).where(Rule.code == "HYG-YARD"))
    assert [(v.version, v.points, v.effective_from, v.effective_until) for v in yard.versions] == [
        (1, 20, JAN, APR), (2, 30, APR, None)
    ]
    assert yard.versions[1].role_set == {Role.GRID_WORKER}
    assert yard.versions[1].name == "庭院整洁（门前三包）", "the name keeps its full-width brackets"


def test_new_codes_are_created_with_their_dates_or_the_chosen_day(village):
    rows = [
        rule_row(编码="hyg-pile", 生效日期="2026-02-01", 失效日期="2026/12/31"),
        rule_row(编码="VOL-1", 名称="参加环境整治日", 类别="志愿服务", 分值="+5", 单位="每小时", 适用外来租住人员="否",
                 每日上限=10, 村民可申报="是", 需要照片="是", 可使用角色="活动组织者"),
    ]
    report = import_rules(village.village, xlsx(rows), MAX_BYTES, APR, None)
    assert report.ok, report.errors
    assert report.created == ["HYG-PILE", "VOL-1"]
    pile, volunteer = db.session.scalars(select(Rule).order_by(Rule.code)).all()
    assert (pile.versions[0].effective_from, pile.versions[0].effective_until) == (date(2026, 2, 1), date(2026, 12, 31))
    assert RuleTerms.of(pile.versions[0]) == RuleTerms(
        "乱堆乱放", RuleCategory.HYGIENE, -10, roles=frozenset({Role.GRID_WORKER, Role.GRID_LEADER})
    )
    assert volunteer.versions[0].effective_from == APR
    assert RuleTerms.of(volunteer.versions[0]) == RuleTerms(
        "参加环境整治日", RuleCategory.VOLUNTEERING, 5, RuleUnit.HOUR, for_renters=False, cap_day=10,
        evidence_required=True, self_claimable=True, roles=frozenset({Role.EVENT_ORGANIZER}),
    )


def test_a_good_import_is_one_audit_event_with_its_counts(book):
    rows = sheet_rows(export_workbook(rule_book(book.village.id, MAR)))
    rows[1]["分值"] = 6
    import_rules(book.village, xlsx(rows + [rule_row()]), MAX_BYTES, APR, None)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "rules.imported"))
    assert (event.subject_type, event.subject_id, event.node_id) == ("village", book.village.id, book.village.id)
    assert event.after == {"created": 1, "revised": 1, "unchanged": 1, "revise_from": "2026-04-01"}


def test_every_bad_row_is_reported_and_nothing_is_written(book):
    rows = [
        rule_row(编码="NEW-1"),
        rule_row(编码="NEW-2", 类别="环境卫生", 分值=0),
        rule_row(编码="NEW-3", 分值="十", 可使用角色="网格员、村长"),
        rule_row(编码="NEW-4", 名称=None, 需要照片="有", 生效日期="2026-13-01"),
        rule_row(编码="new-1", 每周上限=0),
        rule_row(编码="NEW-5", 适用户籍村民="否", 适用外来租住人员="否"),
        rule_row(编码=None, 单位="每天"),
        rule_row(编码="NEW-6", 分值=20000, 生效日期="2026-05-01", 失效日期="2026-05-01"),
    ]
    assert refused(book, xlsx(rows)) == [
        (3, "类别", "未知的类别“环境卫生”，可用：人居环境、志愿服务、村规民约、村民互助、宣传监督、网格员履职"),
        (3, "分值", "分值不能为 0：加分填正数，扣分填负数"),
        (4, "分值", "分值必须是整数，而不是“十”"),
        (4, "可使用角色", "未知的角色“村长”，可用：镇管理员、村管理员、网格长、网格员、积分超市店员、活动组织者"),
        (5, "名称", "请填写细则名称"),
        (5, "需要照片", "应填“是”或“否”，而不是“有”"),
        (5, "生效日期", "日期“2026-13-01”无效，应写成 2026-01-01"),
        (6, "编码", "编码 NEW-1 与第 2 行重复"),
        (6, "每周上限", "上限必须是 1 到 1000000 之间的整数，或留空表示不设上限"),
        (7, "适用户籍村民", "细则至少要适用于户籍村民或外来租住人员之一"),
        (8, "编码", "请填写细则编码"),
        (8, "单位", "未知的单位“每天”，可用：每次、每小时"),
        (9, "分值", "分值必须在 -10000 到 10000 之间"),
    ]


def test_a_revision_on_or_before_the_latest_start_is_reported(book):
    rows = sheet_rows(export_workbook(rule_book(book.village.id, MAR)))
    rows[0]["分值"] = 25
    assert refused(book, xlsx(rows), revise_from=JAN) == [
        (2, "编码", "新版本的生效日期必须晚于 2026-01-01（上一版本的生效日期）")
    ]


def test_a_rule_that_has_ended_cannot_be_revised_by_import(book):
    rows = [dict(r, 分值=7) for r in sheet_rows(export_workbook(rule_book(book.village.id, MAR)))
            if r["编码"] == "VOL-HOUR"]
    assert refused(book, xlsx(rows), revise_from=date(2027, 2, 1)) == [
        (2, "编码", "细则 VOL-HOUR 已于 2027-01-01 失效，不能再修改")
    ]


def test_a_new_rule_ending_before_it_starts_is_reported(village):
    assert refused(village, xlsx([rule_row(失效日期="2026-03-01")])) == [
        (2, "失效日期", "失效日期必须晚于生效日期")
    ]


def test_a_file_without_the_exported_columns_is_refused_whole(village):
    header = [c for c in COLUMNS if c not in ("可使用角色", "单位")]
    assert refused(village, xlsx([rule_row()], header=header)) == [
        (1, "", "缺少列：单位、可使用角色（请先导出细则，在导出的表格上修改后再导入）")
    ]


def test_a_file_with_only_the_header_is_refused(village):
    assert refused(village, xlsx([])) == [(0, "", "表格中没有任何细则")]


def test_a_revision_is_compared_with_the_latest_version(book):
    """A revision already decided for later is what the rule will say: a file repeating it changes nothing."""
    yard = db.session.scalar(select(Rule).where(Rule.code == "HYG-YARD"))
    revise_rule(yard, replace(YARD, points=25), JUN)
    rows = sheet_rows(export_workbook(rule_book(book.village.id, JUN)))
    report = import_rules(book.village, xlsx(rows), MAX_BYTES, date(2026, 7, 1), None)
    assert report.unchanged == ["HYG-YARD", "VOL-HOUR"]
    assert len(yard.versions) == 2


@pytest.mark.parametrize("cap", ["𐩀", "᧚", "9" * 5000])
def test_digits_int_cannot_read_are_a_row_error_not_a_crash(cap):
    from points.rules.workbook import _BadCell, _cap

    with pytest.raises(_BadCell):
        _cap(cap)


@pytest.fixture
def pending(book):
    """book, with a revision of HYG-YARD decided in March to start in June."""
    revise_rule(db.session.scalar(select(Rule).where(Rule.code == "HYG-YARD")), replace(YARD, points=25), JUN)
    db.session.commit()
    return book


def versions() -> list[tuple]:
    db.session.expire_all()
    return db.session.execute(select(RuleVersion.rule_id, RuleVersion.version, RuleVersion.points,
                                     RuleVersion.effective_from, RuleVersion.effective_until)
                              .order_by(RuleVersion.id)).all()


def pending_export(village) -> bytes:
    return export_workbook(rule_book(village.village.id, MAR) + upcoming_versions(village.village.id, MAR))


def test_a_pending_revision_is_its_own_row_with_its_start(pending):
    rows = sheet_rows(pending_export(pending))
    assert [(r["编码"], r["分值"], r["生效日期"].date()) for r in rows] == [
        ("HYG-YARD", 20, JAN), ("HYG-YARD", 25, JUN), ("VOL-HOUR", 5, JAN)
    ]


def test_export_then_import_with_a_pending_revision_changes_nothing(pending):
    before = versions()
    report = import_rules(pending.village, pending_export(pending), MAX_BYTES, APR, None)
    assert report.ok, report.errors
    assert (report.created, report.revised, report.unchanged) == ([], [], ["HYG-YARD", "VOL-HOUR"])
    db.session.commit()
    assert versions() == before


def test_a_changed_pending_row_is_revised_after_its_start_and_refused_before(pending):
    rows = sheet_rows(pending_export(pending))
    rows[1].update(分值=30)
    assert refused(pending, xlsx(rows), APR) == [
        (3, "编码", "新版本的生效日期必须晚于 2026-06-01（上一版本的生效日期）")
    ]
    report = import_rules(pending.village, xlsx(rows), MAX_BYTES, date(2026, 7, 1), None)
    assert (report.revised, report.unchanged) == (["HYG-YARD"], ["VOL-HOUR"])
    yard = db.session.scalar(select(Rule).where(Rule.code == "HYG-YARD"))
    assert [(v.points, v.effective_from) for v in yard.versions] == [(20, JAN), (25, JUN), (30, date(2026, 7, 1))]


def test_two_changed_rows_of_one_code_are_refused(pending):
    rows = sheet_rows(pending_export(pending))
    rows[0].update(分值=21)
    rows[1].update(分值=26)
    assert refused(pending, xlsx(rows), date(2026, 7, 1)) == [(3, "编码", "编码 HYG-YARD 与第 2 行重复")]
