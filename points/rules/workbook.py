"""The rule book as a workbook (.xlsx): the export, and the import of the same format, so that export → edit in
Excel → import round-trips.

One row per version in force or decided to start later, so that a pending revision is a second row of its code
with its own 生效日期. On import, a code the village has no rule for is a new rule; a row whose 生效日期 and terms
are those of one of the rule's versions, or whose terms are the latest version's, leaves the rule alone; other
terms make a new version from a date chosen on the form. Every row is checked before anything is written, and a
file with any bad row writes nothing. A workbook exported before the column 限制兑换天数 existed still imports: its
rules keep the days they bar redeeming for.
"""
import io
import re
from dataclasses import dataclass, field, replace
from datetime import date

import openpyxl
from flask_babel import force_locale
from flask_babel import gettext as _
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..audit.services import record
from ..auth.models import ROLE_LABELS, Role, User
from ..errors import DomainError
from ..extensions import db
from ..grids.models import GridNode
from ..timeutil import local_today
from ..uploads import RowError, normalize_text, read_table
from ..xlsx import append_row
from .labels import CODE_LENGTH, MAX_BARS_DAYS, MAX_CAP, MAX_POINTS, NAME_LENGTH, YEARS_AHEAD
from .models import CATEGORY_LABELS, UNIT_LABELS, Rule, RuleCategory, RuleUnit, RuleVersion
from .services import CAPS, RuleTerms, create_rule, revise_rule

BARS_COLUMN = "限制兑换天数"
COLUMNS = (
    "编码", "名称", "类别", "分值", "单位", "适用户籍村民", "适用外来租住人员", "每日上限", "每周上限", "每月上限",
    "每年上限", "需要照片", "村民可申报", BARS_COLUMN, "可使用角色", "生效日期", "失效日期",
)
OPTIONAL_COLUMNS = (BARS_COLUMN,)  # added later: a workbook exported before it lacks it
CAP_COLUMNS = dict(zip(CAPS, ("每日上限", "每周上限", "每月上限", "每年上限")))
YES, NO = "是", "否"
SEPARATOR = "、"  # between the roles in a cell, and in the lists of words on the notes sheet
_ROLE_SPLIT = re.compile(r"[、,，;；/\s]+")
_POINTS = re.compile(r"[+-]?[0-9]{1,9}")  # ASCII digits: str.isdigit() also says yes to digits int() refuses
# 2026-01-01, 2026/1/1, 2026.1.1, 2026年1月1日; a date cell of Excel reads as "2026-01-01 00:00:00".
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?: 00:00:00)?")
_WIDTHS = (12, 24, 12, 8, 8, 8, 10, 9, 9, 9, 9, 9, 9, 12, 26, 12, 12)


@dataclass
class RulesImport:
    """What an import did (the codes created, revised and left alone), or why it did nothing (errors)."""

    created: list[str] = field(default_factory=list)
    revised: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class _Row:
    row: int
    code: str
    terms: RuleTerms
    effective_from: date | None
    effective_until: date | None
    # False for a workbook without the column 限制兑换天数: the rule keeps what its latest version bars (terms say 0).
    bars_given: bool = True


class _BadCell(Exception):
    """A cell that does not say what its column needs; the message is shown in the report."""


def _words(labels: dict) -> dict:
    """Each member's word as the file writes it. The file format is Chinese whatever language the page is in,
    so that a file exported by one person imports for another."""
    with force_locale("zh_CN"):
        return {member: str(label) for member, label in labels.items()}


def _yes_no(flag: bool) -> str:
    return YES if flag else NO


def export_workbook(versions: list[RuleVersion]) -> bytes:
    """The versions (a village's rule book on one day, and the versions decided to start later) as an .xlsx: one row
    per version in the import's format, by category, code and start, and a second sheet explaining what each column
    accepts."""
    categories, units, roles = _words(CATEGORY_LABELS), _words(UNIT_LABELS), _words(ROLE_LABELS)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "积分细则"
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    order = list(RuleCategory)
    for version in sorted(versions, key=lambda v: (order.index(v.category), v.rule.code, v.effective_from)):
        append_row(sheet, [
            version.rule.code,
            version.name,
            categories[version.category],
            version.points,
            units[version.unit],
            _yes_no(version.for_registered),
            _yes_no(version.for_renters),
            *(getattr(version, cap) for cap in CAPS),
            _yes_no(version.evidence_required),
            _yes_no(version.self_claimable),
            version.bars_days or None,
            SEPARATOR.join(roles[r] for r in sorted(version.role_set, key=list(Role).index)),
            version.effective_from,
            version.effective_until,
        ])
    for index, width in enumerate(_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    for (cell,) in sheet.iter_rows(min_row=2, max_col=1):
        cell.number_format = "@"  # text, so that Excel keeps a code such as 001 as typed
    sheet.freeze_panes = "A2"
    _write_notes(workbook.create_sheet("填写说明"), categories, units, roles)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _write_notes(sheet, categories: dict, units: dict, roles: dict) -> None:
    sheet.append(["列", "说明"])
    for row in (
        ("编码", f"必填，最多 {CODE_LENGTH} 个字符。已有的编码表示修改该细则，新的编码表示新增；"
                 "同一编码可有多行（已定好的修订），各行生效日期不同"),
        ("名称", f"必填，最多 {NAME_LENGTH} 个字"),
        ("类别", "必填：" + SEPARATOR.join(categories.values())),
        ("分值", f"必填，不为 0 的整数：加分填正数，扣分填负数；绝对值不超过 {MAX_POINTS}"),
        ("单位", SEPARATOR.join(units.values()) + f"；留空为{units[RuleUnit.OCCURRENCE]}"),
        ("适用户籍村民、适用外来租住人员", f"{YES} 或 {NO}；留空为{YES}；至少一个为{YES}"),
        ("每日、每周、每月、每年上限", "一户在该期间按本细则最多得（或扣）的分数，正整数；留空表示不设上限"),
        ("需要照片、村民可申报", f"{YES} 或 {NO}；留空为{NO}"),
        (BARS_COLUMN, f"只用于扣分细则：扣分当天起，这户多少天内不能兑换，1 到 {MAX_BARS_DAYS} 的整数；"
                      "留空或 0 为不限制"),
        ("可使用角色", "可多个，用顿号分隔：" + SEPARATOR.join(roles.values())),
        ("生效日期、失效日期", "如 2026-01-01；用于新增的细则（生效日期留空则按导入页面所选日期）。"
                               "已有细则按生效日期对应各版，修改从导入页面所选的日期起生效"),
    ):
        sheet.append(list(row))
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 90


def import_rules(village: GridNode, data: bytes, max_bytes: int, revise_from: date, actor: User | None) -> RulesImport:
    """Check every row of the file, then create the new rules and revise the changed ones from revise_from (new
    rules start on their 生效日期, or revise_from when it is blank). Flushes, never commits. When the report has
    errors the caller must roll back: a refusal of a service while writing (another admin took a code a moment
    ago) is reported like a bad row, after the rows before it were written. Raises no DomainError: every refusal,
    the file's own (too large, not a spreadsheet) included, is in the report."""
    report = RulesImport()
    try:
        header, rows = read_table(data, max_bytes)
    except DomainError as refusal:
        report.errors.append(RowError(0, "", refusal.message))
        return report
    missing = [c for c in COLUMNS if c not in header and c not in OPTIONAL_COLUMNS]
    if missing:
        report.errors.append(
            RowError(1, "", _("缺少列：%(columns)s（请先导出细则，在导出的表格上修改后再导入）",
                              columns="、".join(missing)))
        )
        return report
    if not rows:
        report.errors.append(RowError(0, "", _("表格中没有任何细则")))
        return report
    position = {name: header.index(name) for name in COLUMNS if name in header}
    parsed = _parse_rows(rows, position, report.errors)
    plan = _plan(village, parsed, revise_from, report)
    if report.errors:
        report.errors.sort(key=lambda e: (e.row, COLUMNS.index(e.column) if e.column in COLUMNS else -1))
        return report
    for row, rule in plan:
        try:
            if rule is None:
                create_rule(village, row.code, row.terms, row.effective_from or revise_from, row.effective_until, actor)
            else:
                revise_rule(rule, row.terms, revise_from, actor)
        except DomainError as refusal:
            report.errors.append(RowError(row.row, "编码", refusal.message))
            return report
    record(actor, "rules.imported", "village", village.id, village.id, after={
        "created": len(report.created), "revised": len(report.revised), "unchanged": len(report.unchanged),
        "revise_from": revise_from.isoformat(),
    })
    return report


def _parse_rows(rows: list[tuple[int, list[str]]], position: dict[str, int], errors: list[RowError]) -> list[_Row]:
    """The rows whose every cell is good; an error for each bad cell, and for a code already used above."""
    categories = {word: member for member, word in _words(CATEGORY_LABELS).items()}
    units = {word: member for member, word in _words(UNIT_LABELS).items()}
    roles = {word: member for member, word in _words(ROLE_LABELS).items()}
    first_row: dict[tuple[str, date | None], int] = {}
    parsed = []
    for number, cells in rows:
        before = len(errors)

        def read(column: str, parse, *args):
            index = position.get(column, len(cells))
            text = cells[index] if index < len(cells) else ""
            try:
                return parse(text, *args)
            except _BadCell as bad:
                errors.append(RowError(number, column, str(bad)))
                return None

        code = read("编码", _code)
        values = {
            "name": read("名称", _name),
            "category": read("类别", _member, categories, _("类别")),
            "points": read("分值", _points),
            "unit": read("单位", _member, units, _("单位"), RuleUnit.OCCURRENCE),
            "for_registered": read("适用户籍村民", _flag, True),
            "for_renters": read("适用外来租住人员", _flag, True),
            "evidence_required": read("需要照片", _flag, False),
            "self_claimable": read("村民可申报", _flag, False),
            "roles": read("可使用角色", _roles, roles),
            "bars_days": read(BARS_COLUMN, _bars_days),
            **{cap: read(column, _cap) for cap, column in CAP_COLUMNS.items()},
        }
        effective_from = read("生效日期", _date)
        effective_until = read("失效日期", _date)
        # A code may come back on a row of another 生效日期: the export's row of a pending revision.
        if (code, effective_from) in first_row:
            errors.append(RowError(number, "编码", _duplicate(code, first_row[code, effective_from])))
        elif code is not None:
            first_row[code, effective_from] = number
        if len(errors) > before:
            continue
        _check_row(number, values, effective_from, effective_until, errors)
        if len(errors) == before:
            parsed.append(_Row(number, code, RuleTerms(**values), effective_from, effective_until,
                               bars_given=BARS_COLUMN in position))
    return parsed


def _check_row(number: int, values: dict, effective_from: date | None, effective_until: date | None,
               errors: list[RowError]) -> None:
    """An error for each pair of good cells that do not go together."""
    if not (values["for_registered"] or values["for_renters"]):
        errors.append(RowError(number, "适用户籍村民", DomainError("rule_applies_to_no_one").message))
    if values["bars_days"] and values["points"] > 0:
        errors.append(RowError(number, BARS_COLUMN, DomainError("rule_bars_only_penalty").message))
    if effective_from and effective_until and effective_until <= effective_from:
        errors.append(RowError(number, "失效日期", DomainError("rule_window_empty").message))


def _plan(village: GridNode, parsed: list[_Row], revise_from: date,
          report: RulesImport) -> list[tuple[_Row, Rule | None]]:
    """What to write for each good row: (row, None) creates, (row, rule) revises; unchanged rows are only counted.
    Adds an error for each change the services would refuse, so that those refusals are all reported at once."""
    rules = {
        rule.code: rule
        for rule in db.session.scalars(
            select(Rule)
            .where(Rule.village_id == village.id)
            .options(selectinload(Rule.versions).selectinload(RuleVersion.roles))
        )
    }
    plan = []
    changed: dict[str, int] = {}  # the row that changes a code: one change per code and import
    for row in parsed:
        rule = rules.get(row.code)
        if rule is not None and not row.bars_given:
            row = replace(row, terms=replace(row.terms, bars_days=rule.versions[-1].bars_days))
        if rule is not None:
            same_start = next((v for v in rule.versions if v.effective_from == row.effective_from), None)
            if (same_start is not None and _same(row, same_start)) or _same(row, rule.versions[-1]):
                if row.code not in report.unchanged:
                    report.unchanged.append(row.code)
                continue
        if row.code in changed:
            report.errors.append(RowError(row.row, "编码", _duplicate(row.code, changed[row.code])))
            continue
        changed[row.code] = row.row
        if rule is None:
            start = row.effective_from or revise_from
            if row.effective_until is not None and row.effective_until <= start:
                report.errors.append(RowError(row.row, "失效日期", DomainError("rule_window_empty").message))
            else:
                report.created.append(row.code)
                plan.append((row, None))
            continue
        latest = rule.versions[-1]
        row = replace(row, terms=replace(row.terms, name=_stored_name(row.terms.name, latest.name)))
        if revise_from <= latest.effective_from:
            refusal = DomainError("rule_revision_backdated", day=latest.effective_from.isoformat())
            report.errors.append(RowError(row.row, "编码", refusal.message))
        elif latest.effective_until is not None and latest.effective_until <= revise_from:
            report.errors.append(RowError(row.row, "编码", _(
                "细则 %(code)s 已于 %(day)s 失效，不能再修改", code=row.code, day=latest.effective_until.isoformat()
            )))
        else:
            report.revised.append(row.code)
            plan.append((row, rule))
    report.unchanged = [code for code in report.unchanged if code not in changed]
    return plan


def _stored_name(name: str, stored: str) -> str:
    """read_table hands over NFKC text, which turns a name's （） and ，into ( and ,: a name that reads the same
    after that is the stored name, unchanged."""
    return stored if normalize_text(stored) == name else name


def _same(row: _Row, version: RuleVersion) -> bool:
    """Whether the row says what the version says (its dates aside)."""
    return replace(row.terms, name=_stored_name(row.terms.name, version.name)) == RuleTerms.of(version)


def _duplicate(code: str, row: int) -> str:
    return _("编码 %(code)s 与第 %(row)d 行重复", code=code, row=row)


def _code(text: str) -> str:
    code = text.strip().upper()
    if not code:
        raise _BadCell(DomainError("rule_code_required").message)
    if len(code) > CODE_LENGTH:
        raise _BadCell(_("编码不能超过 %(max)d 个字符", max=CODE_LENGTH))
    return code


def _name(text: str) -> str:
    if not text:
        raise _BadCell(DomainError("rule_name_required").message)
    if len(text) > NAME_LENGTH:
        raise _BadCell(_("名称不能超过 %(max)d 个字", max=NAME_LENGTH))
    return text


def _member(text: str, members: dict, column: str, blank=None):
    """The enum member a word names; blank is the member an empty cell means (None: the cell is required)."""
    if not text and blank is not None:
        return blank
    if text not in members:
        if not text:
            raise _BadCell(_("%(column)s不能为空", column=column))
        raise _BadCell(_("未知的%(column)s“%(value)s”，可用：%(known)s", column=column, value=text,
                         known="、".join(members)))
    return members[text]


def _points(text: str) -> int:
    text = text.replace("−", "-")  # the minus sign the rule book page prints
    if not _POINTS.fullmatch(text):
        raise _BadCell(_("分值必须是整数，而不是“%(value)s”", value=text) if text else _("请填写分值"))
    points = int(text)
    if points == 0:
        raise _BadCell(DomainError("rule_points_zero").message)
    if abs(points) > MAX_POINTS:
        raise _BadCell(_("分值必须在 %(min)s 到 %(max)s 之间", min=-MAX_POINTS, max=MAX_POINTS))
    return points


def _cap(text: str) -> int | None:
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{1,9}", text) or not 1 <= int(text) <= MAX_CAP:
        raise _BadCell(_("上限必须是 1 到 %(max)s 之间的整数，或留空表示不设上限", max=MAX_CAP))
    return int(text)


def _bars_days(text: str) -> int:
    """限制兑换天数: blank for none."""
    if not text:
        return 0
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) > MAX_BARS_DAYS:
        raise _BadCell(DomainError("rule_bars_days_invalid", most=MAX_BARS_DAYS).message)
    return int(text)


def _flag(text: str, blank: bool) -> bool:
    if not text:
        return blank
    if text not in (YES, NO):
        raise _BadCell(_("应填“是”或“否”，而不是“%(value)s”", value=text))
    return text == YES


def _roles(text: str, roles: dict) -> frozenset[Role]:
    words = [w for w in _ROLE_SPLIT.split(text) if w]
    unknown = [w for w in words if w not in roles]
    if unknown:
        raise _BadCell(_("未知的角色“%(value)s”，可用：%(known)s", value="、".join(unknown), known="、".join(roles)))
    return frozenset(roles[w] for w in words)


def _date(text: str) -> date | None:
    if not text:
        return None
    match = _DATE.fullmatch(text)
    try:
        if match is None:
            raise ValueError(text)
        day = date(*map(int, match.groups()))
        if day.year > local_today().year + YEARS_AHEAD:
            raise ValueError(text)
        return day
    except ValueError:
        raise _BadCell(_("日期“%(value)s”无效，应写成 2026-01-01", value=text)) from None
