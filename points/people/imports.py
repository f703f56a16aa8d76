"""导入: households and residents from .xlsx or .csv, all or nothing, with a row-by-row report in Chinese.

A row is a person. Rows with the same 户号 (or, without one, the same 所属网格, 门牌号 and 户主姓名) form one
household. A row whose 姓名 is blank (or equals 户主姓名) describes the head; a household with only member
rows gets its head from 户主姓名. So a file with one row per household needs only the household columns.
"""
import csv
import io
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field

import openpyxl
from flask_babel import gettext as _
from sqlalchemy import func, insert, select, update

from ..audit.services import record
from ..errors import DomainError
from ..extensions import db
from ..grids.models import GridNode
from ..grids.queries import grids_of_village
from ..timeutil import utcnow
from .models import CareTag, Household, HouseholdCareTag, HouseholdKind, Resident
from .services import CARE_TAG_WORDS, next_household_number, normalize_id_number, normalize_phone, normalize_text

COLUMNS = ("户号", "户主姓名", "姓名", "与户主关系", "手机号", "身份证号", "所属网格", "门牌号", "户籍类型", "关爱标签")
REQUIRED = ("户主姓名", "所属网格", "门牌号")
HEAD_RELATION = "户主"

KIND_WORDS = {
    "": HouseholdKind.REGISTERED,
    "户籍": HouseholdKind.REGISTERED,
    "户籍村民": HouseholdKind.REGISTERED,
    "本村": HouseholdKind.REGISTERED,
    "外来": HouseholdKind.RENTER,
    "租住": HouseholdKind.RENTER,
    "外来租住": HouseholdKind.RENTER,
    "外来租住人员": HouseholdKind.RENTER,
}
CARE_WORDS = {word: tag for tag, word in CARE_TAG_WORDS.items()}
# The width of the column each cell is stored in: longer text is reported, not cut or refused by the database.
MAX_LENGTHS = {
    "户号": Household.number.type.length,
    "户主姓名": Resident.name.type.length,
    "姓名": Resident.name.type.length,
    "与户主关系": Resident.relation.type.length,
    "门牌号": Household.address.type.length,
}
_SPLIT = re.compile(r"[,，、;；/\s]+")
_CHUNK = 500


@dataclass(frozen=True)
class RowError:
    row: int  # as numbered in the spreadsheet: the header is row 1
    column: str
    message: str


@dataclass
class ImportReport:
    households: int = 0
    residents: int = 0
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Person:
    row: int
    name: str
    relation: str
    phone: str | None
    id_number: str | None


@dataclass
class _House:
    row: int
    number: str
    head_name: str
    grid: GridNode
    address: str
    kind: HouseholdKind
    tags: list[CareTag]
    head: _Person | None = None
    members: list[_Person] = field(default_factory=list)


def read_table(data: bytes, max_bytes: int) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the rows (numbered as in the file) of an .xlsx or .csv (UTF-8 or GBK).

    Raises DomainError("import_too_large" | "old_excel_format" | "unreadable_xlsx" | "not_spreadsheet" |
    "unknown_encoding" | "bad_csv" | "empty_file").
    """
    if len(data) > max_bytes:
        raise DomainError("import_too_large", size=len(data) / 1048576, limit=max_bytes // 1048576)
    if data.startswith(b"PK\x03\x04"):
        rows = _xlsx_rows(data)
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        raise DomainError("old_excel_format")
    else:
        rows = _csv_rows(data)
    numbered = [(i, [normalize_text(c) for c in row]) for i, row in enumerate(rows, start=1)]
    numbered = [(i, row) for i, row in numbered if any(row)]
    if not numbered:
        raise DomainError("empty_file")
    _, header = numbered[0]
    return [h.replace("*", "").strip() for h in header], numbered[1:]


def _xlsx_rows(data: bytes):
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise DomainError("unreadable_xlsx") from error
    sheet = workbook.worksheets[0]
    rows = [[_cell_text(c) for c in row] for row in sheet.iter_rows(values_only=True)]
    workbook.close()
    return rows


def _cell_text(value) -> str:
    """Excel keeps phone numbers as numbers: 13812345678.0 is read as "13812345678"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _csv_rows(data: bytes):
    """CSV in UTF-8 or GBK, or Excel's "Unicode text" (UTF-16 with a byte-order mark, tab-separated)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)
    elif b"\x00" in data[:8192]:
        raise DomainError("not_spreadsheet")
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DomainError("unknown_encoding")
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    try:
        return list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as error:
        raise DomainError("bad_csv") from error


class _GridIndex:
    """所属网格 → grid node, by name, code or full path (一级网格/第一网格) within one village."""

    def __init__(self, village: GridNode):
        grids = grids_of_village(village.id)
        by_id = {g.id: g for g in grids}
        self.by_key: dict[str, list[GridNode]] = defaultdict(list)
        for grid in grids:
            path, node = [grid.name], grid
            while node.parent_id in by_id:
                node = by_id[node.parent_id]
                path.insert(0, node.name)
            for key in {grid.name, grid.code, "/".join(path)}:
                self.by_key[key].append(grid)

    def find(self, text: str) -> GridNode:
        found = self.by_key.get(text.replace("／", "/").strip(), [])
        if not found:
            raise DomainError("unknown_grid", name=text)
        if len(found) > 1:
            raise DomainError("ambiguous_grid", name=text)
        return found[0]


def import_households(village: GridNode, data: bytes, max_bytes: int, actor=None) -> ImportReport:
    """Check every row; write households and residents only if no row has an error. Flushes, never commits."""
    report = ImportReport()
    try:
        header, rows = read_table(data, max_bytes)
    except DomainError as refusal:
        report.errors.append(RowError(0, "", refusal.message))
        return report
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        report.errors.append(RowError(1, "", _("缺少必填列：%(columns)s（请使用导入模板）", columns="、".join(missing))))
        return report
    position = {name: header.index(name) for name in COLUMNS if name in header}
    report.rows = len(rows)
    houses = _check_rows(village, rows, position, report.errors)
    _check_against_database(village, houses, report.errors)
    if report.errors:
        report.errors.sort(key=lambda e: (e.row, COLUMNS.index(e.column) if e.column in COLUMNS else -1))
        return report
    report.households, report.residents = _write(village, list(houses.values()))
    record(actor, "households.imported", "village", village.id, village.id,
           after={"households": report.households, "residents": report.residents})
    return report


def _check_rows(village, rows, position, errors) -> dict:
    grids = _GridIndex(village)
    houses: dict[tuple, _House] = {}
    id_rows: dict[str, int] = {}

    for number, row in rows:
        def cell(column: str) -> str:
            index = position.get(column)
            return row[index] if index is not None and index < len(row) else ""

        def fail(column: str, message: str) -> None:
            errors.append(RowError(number, column, message))

        before = len(errors)
        head_name = cell("户主姓名")
        if not head_name:
            fail("户主姓名", _("户主姓名不能为空"))
        address = cell("门牌号")
        if not address:
            fail("门牌号", _("门牌号不能为空"))
        grid = None
        if not cell("所属网格"):
            fail("所属网格", _("所属网格不能为空"))
        else:
            try:
                grid = grids.find(cell("所属网格"))
            except DomainError as refusal:
                fail("所属网格", refusal.message)
        kind = KIND_WORDS.get(cell("户籍类型"))
        if kind is None:
            fail("户籍类型", _("户籍类型“%(value)s”无效，应为“户籍”或“外来租住”", value=cell("户籍类型")))
        tags = []
        for word in filter(None, _SPLIT.split(cell("关爱标签"))):
            if word in CARE_WORDS:
                tags.append(CARE_WORDS[word])
            else:
                fail("关爱标签", _("未知的关爱标签“%(value)s”，可用：%(known)s", value=word, known="、".join(CARE_WORDS)))
        phone = id_number = None
        try:
            phone = normalize_phone(cell("手机号"))
        except DomainError as refusal:
            fail("手机号", refusal.message)
        try:
            id_number = normalize_id_number(cell("身份证号"))
        except DomainError as refusal:
            fail("身份证号", refusal.message + _("（Excel 中请把该列设为文本格式）"))
        if id_number:
            if id_number in id_rows:
                fail("身份证号", _("身份证号与第 %(row)d 行重复", row=id_rows[id_number]))
            else:
                id_rows[id_number] = number
        number_text = cell("户号")
        for column, limit in MAX_LENGTHS.items():
            if len(cell(column)) > limit:
                fail(column, _("%(column)s不能超过 %(limit)d 个字符", column=column, limit=limit))
        relation = cell("与户主关系")
        if not cell("姓名") and relation not in ("", HEAD_RELATION):
            fail("姓名", _("姓名不能为空（与户主关系为“%(relation)s”）", relation=relation))
        elif cell("姓名") not in ("", head_name) and relation == HEAD_RELATION:
            fail("姓名", _("与户主关系为“户主”，但姓名与户主姓名“%(head)s”不同", head=head_name))
        if len(errors) > before:
            continue

        name = cell("姓名") or head_name
        is_head = name == head_name and relation in ("", HEAD_RELATION)
        person = _Person(number, name, HEAD_RELATION if is_head else (relation or "家庭成员"), phone, id_number)
        key = ("number", number_text) if number_text else ("address", grid.id, address, head_name)
        house = houses.get(key)
        if house is None:
            house = houses[key] = _House(number, number_text, head_name, grid, address, kind, [])
        elif (house.grid.id, house.address, house.kind, house.head_name) != (grid.id, address, kind, head_name):
            fail(
                "户号" if number_text else "户籍类型",
                _("与第 %(row)d 行同属一户，但户主姓名、所属网格、门牌号或户籍类型不一致", row=house.row),
            )
            continue
        # Tags belong to the household, but a 留守儿童 is naturally marked on the child's own row.
        house.tags.extend(tags)
        if is_head:
            if house.head is not None:
                fail("姓名", _("同一户有两行户主（另见第 %(row)d 行）", row=house.head.row))
                continue
            house.head = person
        else:
            house.members.append(person)
    return houses


def _check_against_database(village, houses: dict, errors) -> None:
    people = [p for h in houses.values() for p in ([h.head] if h.head else []) + h.members if p.id_number]
    by_id = {p.id_number: p for p in people}
    known = list(by_id)
    for start in range(0, len(known), _CHUNK):
        for taken in db.session.scalars(
            select(Resident.id_number).where(Resident.id_number.in_(known[start:start + _CHUNK]))
        ):
            errors.append(RowError(by_id[taken].row, "身份证号", _("该身份证号已登记在系统中")))
    numbers = [h.number for h in houses.values() if h.number]
    for start in range(0, len(numbers), _CHUNK):
        for taken in db.session.scalars(
            select(Household.number).where(
                Household.village_id == village.id, Household.number.in_(numbers[start:start + _CHUNK])
            )
        ):
            house = houses[("number", taken)]
            errors.append(RowError(house.row, "户号", _("户号 %(number)s 已存在", number=taken)))


def _write(village: GridNode, houses: list[_House]) -> tuple[int, int]:
    """Bulk inserts of households, residents and care tags, then each household's head.

    No INSERT … RETURNING: psycopg parses each multi-row batch of one afresh, which made writing 35,000 households
    on PostgreSQL take three times the CPU of these plain executemany calls (bench/import_households.py).
    """
    if not houses:
        return 0, 0
    _number_households(village, houses)
    now = utcnow()
    db.session.execute(
        insert(Household),
        [
            dict(village_id=village.id, grid_id=h.grid.id, number=h.number, address=h.address, kind=h.kind, created_at=now)
            for h in houses
        ],
    )
    ids = _household_ids(village, [h.number for h in houses])
    people = [
        dict(
            household_id=ids[house.number],
            name=person.name,
            relation=person.relation,
            phone=person.phone,
            id_number=person.id_number,
            created_at=now,
        )
        for house in houses
        for person in [house.head or _Person(house.row, house.head_name, HEAD_RELATION, None, None)] + house.members
    ]
    # render_nulls: the ORM otherwise leaves out None columns, so rows with and without a phone or ID number
    # would go to the database as thousands of separate statements.
    db.session.execute(insert(Resident), people, execution_options={"render_nulls": True})
    _set_heads(list(ids.values()))
    tags = [dict(household_id=ids[h.number], tag=t) for h in houses for t in dict.fromkeys(h.tags)]
    if tags:
        db.session.execute(insert(HouseholdCareTag), tags)
    return len(houses), len(people)


def _number_households(village: GridNode, houses: list[_House]) -> None:
    """Each household without a 户号 gets the next free one after the village's largest."""
    next_number = int(next_household_number(village.id))
    taken = {h.number for h in houses if h.number}
    for house in houses:
        while not house.number:
            candidate = f"{next_number:04d}"
            next_number += 1
            if candidate not in taken:
                house.number = candidate


def _household_ids(village: GridNode, numbers: list[str]) -> dict[str, int]:
    """户号 → id of the village's households with these numbers."""
    ids = {}
    for start in range(0, len(numbers), _CHUNK):
        ids.update(
            db.session.execute(
                select(Household.number, Household.id).where(
                    Household.village_id == village.id, Household.number.in_(numbers[start:start + _CHUNK])
                )
            ).all()
        )
    return ids


def _set_heads(household_ids: list[int]) -> None:
    """Each household's head is its resident imported as 户主 (exactly one: _check_rows sees to that)."""
    head = (
        select(func.min(Resident.id))
        .where(Resident.household_id == Household.id, Resident.relation == HEAD_RELATION)
        .scalar_subquery()
    )
    for start in range(0, len(household_ids), _CHUNK):
        db.session.execute(
            update(Household).where(Household.id.in_(household_ids[start:start + _CHUNK])).values(head_id=head),
            execution_options={"synchronize_session": False},
        )


def template_workbook(village: GridNode) -> bytes:
    """The import template: a sheet with only the header (an example left in it would be imported as a real
    household), and a sheet explaining each column, the village's grids and an example household."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "户籍花名册"
    header = [f"{c}*" if c in REQUIRED else c for c in COLUMNS]
    sheet.append(header)
    for column, width in zip("ABCDEFGHIJ", (10, 12, 12, 12, 16, 22, 14, 18, 12, 16)):
        sheet.column_dimensions[column].width = width
        sheet.column_dimensions[column].number_format = "@"  # text, so that Excel keeps phone and ID numbers whole
    grids = grids_of_village(village.id)
    example_grid = grids[0].name if grids else "第一网格"
    notes = workbook.create_sheet("填写说明")
    notes.append(["列", "说明"])
    for row in (
        ("户号", "可空；同一户的每一行填同一个户号。留空时按 所属网格+门牌号+户主姓名 归户，并自动编号"),
        ("户主姓名", "必填"),
        ("姓名", "家庭成员的姓名；留空表示这一行就是户主本人"),
        ("与户主关系", "户主、配偶、子女、父母……"),
        ("手机号", "11 位手机号，可空；全角数字会自动转换"),
        ("身份证号", "18 位，可空；不能与已登记的重复"),
        ("所属网格", "必填；本村的网格：" + "、".join(g.name for g in grids)),
        ("门牌号", "必填"),
        ("户籍类型", "户籍 或 外来租住；留空为户籍"),
        ("关爱标签", "仅工作人员可见，可多个，用顿号分隔：" + "、".join(CARE_WORDS)),
    ):
        notes.append(list(row))
    notes.append([])
    notes.append(["示例", "一户两人：户主一行，配偶一行（请在“户籍花名册”表中填写，不要填在这里）"])
    notes.append(header)
    notes.append(["0001", "张三明", "", "户主", "13812345678", "", example_grid, "瑶前村1号", "户籍", ""])
    notes.append(["0001", "张三明", "李秀英", "配偶", "", "", example_grid, "瑶前村1号", "户籍", ""])
    notes.column_dimensions["A"].width = 12
    notes.column_dimensions["B"].width = 80
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
