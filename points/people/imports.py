"""导入: households and residents from .xlsx or .csv, all or nothing, with a row-by-row report in Chinese.

A row is a person. Rows with the same 户号 (or, without one, the same 所属网格, 门牌号 and 户主姓名) form one
household. A row whose 姓名 is blank (or equals 户主姓名) describes the head; a household with only member
rows gets its head from 户主姓名. So a file with one row per household needs only the household columns.

The file also keeps the register current: a household whose 户号 is on the register (or, without a 户号, whose grid,
address and head match one) is updated to what the file says, and its residents are matched by 身份证号, else by
name. A column the file leaves out is left alone. Nothing is closed or removed by an import: the households and
residents the file does not mention are listed, for people to deal with on their pages. The export writes the same
workbook filled with the register, so that export, edit in Excel, import is the way to maintain it.
"""
import csv
import hashlib
import io
import json
import re
import time
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
from flask_babel import gettext as _
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import selectinload

from ..audit.services import record
from ..auth import policy
from ..errors import DomainError
from ..extensions import db
from ..grids.models import GridNode
from ..grids.queries import grids_of_village
from ..timeutil import utcnow
from ..xlsx import append_row
from .models import CareTag, Household, HouseholdCareTag, HouseholdKind, Resident
from .privacy import mask_id_number, mask_phone
from .services import CARE_TAG_WORDS, next_household_number, normalize_id_number, normalize_phone, normalize_text

COLUMNS = ("户号", "户主姓名", "姓名", "与户主关系", "手机号", "身份证号", "所属网格", "门牌号", "户籍类型", "关爱标签")
REQUIRED = ("户主姓名", "所属网格", "门牌号")
HEAD_RELATION = "户主"

KIND_LABELS = {HouseholdKind.REGISTERED: "户籍", HouseholdKind.RENTER: "外来租住"}
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
# What a spreadsheet may hold: far more than a village's 花名册 (35,000 households are about 105,000 rows) or a rule
# book needs, and little enough that a file of empty rows or cells cannot exhaust a worker's memory.
MAX_ROWS = 300_000
MAX_COLUMNS = 64
_SPLIT = re.compile(r"[,，、;；/\s]+")
_CHUNK = 500
_UPLOAD = re.compile(r"[0-9a-f]{64}")
_KEPT_SECONDS = 86400  # an uploaded file waits this long for its preview to be confirmed


@dataclass(frozen=True)
class RowError:
    row: int  # as numbered in the spreadsheet: the header is row 1
    column: str
    message: str


@dataclass(frozen=True)
class Change:
    """One difference between the file and the register, as the preview shows it."""

    row: int
    number: str  # 户号
    name: str  # the resident it is about, or the head for the household's own columns
    column: str
    before: str
    after: str


@dataclass(frozen=True)
class Unmentioned:
    """A household on the register that the file does not mention, or a resident of a household it does."""

    number: str
    name: str
    grid: str


@dataclass
class ImportReport:
    households: int = 0  # new households
    residents: int = 0  # new residents, in new households and in households on the register
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    unmentioned: list[Unmentioned] = field(default_factory=list)  # households, never closed by an import
    absent: list[Unmentioned] = field(default_factory=list)  # residents, never removed by an import
    digest: str = ""  # of what applying the file would do: a confirmation applies what its preview showed

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def empty(self) -> bool:
        return not (self.households or self.residents or self.changes)


@dataclass
class _Person:
    row: int
    name: str
    relation: str
    phone: str | None
    id_number: str | None
    match: "_KnownPerson | None" = None  # the resident on the register this row describes


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
    known: "_Known | None" = None  # the household on the register that the file updates

    @property
    def people(self) -> list[_Person]:
        """The head first (every household has one once its rows are read), then the members."""
        return [self.head] + self.members


@dataclass
class _KnownPerson:
    id: int
    name: str
    relation: str
    phone: str | None
    id_number: str | None


@dataclass
class _Known:
    """A household on the register, as far as an import compares it."""

    id: int
    number: str
    grid_id: int
    address: str
    kind: HouseholdKind
    head_id: int | None
    closed: bool
    tags: set[CareTag] = field(default_factory=set)
    residents: list[_KnownPerson] = field(default_factory=list)

    @property
    def head_name(self) -> str:
        return next((p.name for p in self.residents if p.id == self.head_id), "")


@dataclass
class _Update:
    """What an import changes in one household on the register."""

    house: _House
    known: _Known
    household: dict  # column → new value (grid_id, address, kind, tags)
    people: list[tuple[_KnownPerson, dict]]  # resident → column → new value (name, relation, phone, id_number)
    joining: list[_Person]  # new residents
    head: _Person | _KnownPerson  # who is head after the import


def read_table(data: bytes, max_bytes: int) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the rows (numbered as in the file) of an .xlsx or .csv (UTF-8 or GBK).

    Raises DomainError("import_too_large" | "old_excel_format" | "unreadable_xlsx" | "too_many_rows" |
    "not_spreadsheet" | "unknown_encoding" | "bad_csv" | "empty_file").
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


def read_columns(data: bytes, max_bytes: int, columns: tuple[str, ...], required: tuple[str, ...],
                 errors: list[RowError]) -> tuple[dict[str, int], list[tuple[int, list[str]]]] | None:
    """Where each of a template's columns is in the file (those it has), and its rows; None, with the reason in errors,
    for a file that cannot be read or lacks a required column."""
    try:
        header, rows = read_table(data, max_bytes)
    except DomainError as refusal:
        errors.append(RowError(0, "", refusal.message))
        return None
    missing = [c for c in required if c not in header]
    if missing:
        errors.append(RowError(1, "", _("缺少必填列：%(columns)s（请使用导入模板）", columns="、".join(missing))))
        return None
    return {name: header.index(name) for name in columns if name in header}, rows


def _xlsx_rows(data: bytes):
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise DomainError("unreadable_xlsx") from error
    sheet = workbook.worksheets[0]
    # The size a workbook declares (<dimension ref="A1:XFD2000"/>) is not trusted: openpyxl would pad every row to it,
    # gigabytes for a file of a few bytes. Only the cells present are read, up to MAX_COLUMNS a row.
    sheet.reset_dimensions()
    rows = []
    for number, row in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
        if number > MAX_ROWS:
            workbook.close()
            raise DomainError("too_many_rows", limit=MAX_ROWS)
        rows.append([_cell_text(c) for c in row] if any(c is not None for c in row) else [])
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
    if data.count(b"\n") > MAX_ROWS:  # a row takes a line at least: refused before decoding megabytes of them
        raise DomainError("too_many_rows", limit=MAX_ROWS)
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
    rows = []
    try:
        for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
            if number > MAX_ROWS:
                raise DomainError("too_many_rows", limit=MAX_ROWS)
            rows.append(row[:MAX_COLUMNS])
    except csv.Error as error:
        raise DomainError("bad_csv") from error
    return rows


class _GridIndex:
    """所属网格 → grid node, by name, code or full path (一级网格/第一网格) within one village."""

    def __init__(self, village: GridNode):
        grids = grids_of_village(village.id)
        by_id = {g.id: g for g in grids}
        self.by_key: dict[str, list[GridNode]] = defaultdict(list)
        keys = {}
        for grid in grids:
            path, node = [grid.name], grid
            while node.parent_id in by_id:
                node = by_id[node.parent_id]
                path.insert(0, node.name)
            keys[grid.id] = (grid.name, "/".join(path), grid.code)
            for key in set(keys[grid.id]):
                self.by_key[key].append(grid)
        # How an export names each grid: its name, or where two grids share it, its path or its code.
        self.labels = {
            grid.id: next((k for k in keys[grid.id] if len(self.by_key[k]) == 1), grid.code) for grid in grids
        }

    def find(self, text: str) -> GridNode:
        found = self.by_key.get(text.replace("／", "/").strip(), [])
        if not found:
            raise DomainError("unknown_grid", name=text)
        if len(found) > 1:
            raise DomainError("ambiguous_grid", name=text)
        return found[0]


def import_households(village: GridNode, data: bytes, max_bytes: int, actor=None, apply: bool = True) -> ImportReport:
    """Check every row and compare the file with the register. With apply, write all of it (new households and
    residents, and the changes) if no row has an error; without, write nothing: the preview. Flushes, never commits."""
    report = ImportReport()
    table = read_columns(data, max_bytes, COLUMNS, REQUIRED, report.errors)
    if table is None:
        return report
    position, rows = table
    report.rows = len(rows)
    houses = list(_check_rows(village, rows, position, report.errors).values())
    updates = _compare(village, houses, set(position), report, policy.own_household_id(actor))
    _check_id_numbers(village, houses, report.errors)
    if report.errors:
        report.errors.sort(key=lambda e: (e.row, COLUMNS.index(e.column) if e.column in COLUMNS else -1))
        return report
    new = [h for h in houses if h.known is None]
    report.households = len(new)
    report.residents = sum(len(h.people) for h in new) + sum(len(u.joining) for u in updates)
    report.digest = _digest(new, report.changes)
    if apply and not report.empty:
        _write(village, new)
        _update(updates, actor)
        record(actor, "households.imported", "village", village.id, village.id,
               after={"households": report.households, "residents": report.residents, "changes": len(report.changes)})
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
                fail("关爱标签", _("未知的关爱标签“%(value)s”，可用：%(known)s", value=word,
                                   known="、".join(CARE_WORDS)))
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
    for house in houses.values():
        if house.head is None:  # only member rows: the head is known by 户主姓名 alone
            house.head = _Person(house.row, house.head_name, HEAD_RELATION, None, None)
    return houses


def _register(village: GridNode) -> dict[str, _Known]:
    """The village's households by 户号, with their care tags and the residents who live in them: three queries."""
    # Text as a file would give it (full-width letters and digits half-width), so that what was typed on a page and
    # the same text read back from a file are not a change.
    known = {
        row.number: _Known(row.id, row.number, row.grid_id, normalize_text(row.address), row.kind, row.head_id,
                           row.closed_on is not None)
        for row in db.session.execute(
            select(Household.id, Household.number, Household.grid_id, Household.address, Household.kind,
                   Household.head_id, Household.closed_on).where(Household.village_id == village.id)
        )
    }
    by_id = {k.id: k for k in known.values()}
    for household_id, tag in db.session.execute(
        select(HouseholdCareTag.household_id, HouseholdCareTag.tag)
        .join(Household, Household.id == HouseholdCareTag.household_id)
        .where(Household.village_id == village.id)
    ):
        by_id[household_id].tags.add(tag)
    for row in db.session.execute(
        select(Resident.id, Resident.household_id, Resident.name, Resident.relation, Resident.phone, Resident.id_number)
        .join(Household, Household.id == Resident.household_id)
        .where(Household.village_id == village.id, Resident.left_on.is_(None))
        .order_by(Resident.id)
    ):
        by_id[row.household_id].residents.append(
            _KnownPerson(row.id, normalize_text(row.name), normalize_text(row.relation), row.phone, row.id_number)
        )
    return known


def _compare(village: GridNode, houses: list[_House], columns: set[str], report: ImportReport,
             own_household_id: int | None) -> list[_Update]:
    """Match each household of the file with the register, by 户号 or else by grid, address and head, and list what
    the file changes; the households it does not mention are listed too. Nobody changes their own household: a
    change to it is an error of its row (the same row unchanged is not)."""
    known = _register(village)
    grid_names = {g.id: g.name for g in grids_of_village(village.id)}
    places: dict[tuple, _Known | None] = {}
    for k in known.values():
        if not k.closed:
            place = (k.grid_id, k.address, k.head_name)
            places[place] = None if place in places else k  # two alike: the file must give the 户号
    mentioned: dict[str, _House] = {}
    updates = []
    for house in houses:
        k = known.get(house.number) if house.number else places.get((house.grid.id, house.address, house.head_name))
        if k is None:
            continue
        if k.closed:
            report.errors.append(RowError(house.row, "户号", _(
                "户号 %(number)s 已整户迁出，不能再导入；如已回到本村，请先在该户页面“恢复在册”", number=k.number)))
            continue
        if k.number in mentioned:
            report.errors.append(RowError(house.row, "户号", _(
                "与第 %(row)d 行是同一户（户号 %(number)s），请填写户号", row=mentioned[k.number].row,
                number=k.number)))
            continue
        mentioned[k.number] = house
        house.known, house.number = k, k.number
        update = _differences(house, k, columns, grid_names, report)
        if update is not None and k.id == own_household_id:
            report.errors.append(RowError(house.row, "户号", _(
                "户号 %(number)s 是您自己家，不能由您修改，请由其他管理员导入", number=k.number)))
        elif update is not None:
            updates.append(update)
    report.unmentioned = [
        Unmentioned(k.number, k.head_name, grid_names.get(k.grid_id, ""))
        for k in sorted(known.values(), key=lambda k: k.number)
        if not k.closed and k.number not in mentioned
    ]
    return updates


def _differences(house: _House, k: _Known, columns: set[str], grid_names: dict, report: ImportReport) -> _Update | None:
    """What the file says differently of one household on the register; its residents are matched by 身份证号, then by
    name. Columns the file leaves out are not compared."""

    def change(row: int, name: str, column: str, before: str, after: str) -> None:
        report.changes.append(Change(row, k.number, name, column, before, after))

    household: dict = {}
    if house.grid.id != k.grid_id:
        household["grid_id"] = house.grid.id
        change(house.row, k.head_name, "所属网格", grid_names.get(k.grid_id, ""), house.grid.name)
    if house.address != k.address:
        household["address"] = house.address
        change(house.row, k.head_name, "门牌号", k.address, house.address)
    if "户籍类型" in columns and house.kind != k.kind:
        household["kind"] = house.kind
        change(house.row, k.head_name, "户籍类型", KIND_LABELS[k.kind], KIND_LABELS[house.kind])
    if "关爱标签" in columns and set(house.tags) != k.tags:
        household["tags"] = set(house.tags)
        change(house.row, k.head_name, "关爱标签", _tag_words(k.tags), _tag_words(house.tags))

    people = house.people
    unmatched = list(k.residents)
    for person in people:
        same = next((r for r in unmatched if person.id_number and r.id_number == person.id_number), None)
        if same is not None:
            person.match = same
            unmatched.remove(same)
    for person in people:
        if person.match is None:
            person.match = next((r for r in unmatched if r.name == person.name), None)
            if person.match is not None:
                unmatched.remove(person.match)
    head = people[0]
    new_head = head.match is None or head.match.id != k.head_id
    if new_head:
        change(head.row, head.name, "户主", k.head_name, head.name)

    changed = []
    for person in people:
        known_person = person.match
        if known_person is None:
            change(person.row, person.name, _("成员"), "", _("新增"))
            continue
        values = {}
        if person.name != known_person.name:
            values["name"] = person.name
            change(person.row, person.name, "姓名", known_person.name, person.name)
        if person is head:
            relation = HEAD_RELATION
        elif "与户主关系" in columns:
            relation = person.relation
        else:  # the file does not say: a member keeps theirs, a head who is no more one becomes a member
            relation = "家庭成员" if known_person.relation == HEAD_RELATION else known_person.relation
        if relation != known_person.relation:
            values["relation"] = relation
            change(person.row, person.name, "与户主关系", known_person.relation, relation)
        # A blank phone or ID number leaves the registered one: an import adds and corrects, it does not erase.
        if person.phone and person.phone != known_person.phone:
            values["phone"] = person.phone
            change(person.row, person.name, "手机号", mask_phone(known_person.phone), mask_phone(person.phone))
        if person.id_number and person.id_number != known_person.id_number:
            values["id_number"] = person.id_number
            change(person.row, person.name, "身份证号", mask_id_number(known_person.id_number),
                   mask_id_number(person.id_number))
        if values:
            changed.append((known_person, values))
    for resident in unmatched:
        report.absent.append(Unmentioned(k.number, resident.name, grid_names.get(k.grid_id, "")))
    joining = [p for p in people if p.match is None]
    if not (household or changed or joining or new_head):
        return None
    return _Update(house, k, household, changed, joining, head)


def _tag_words(tags) -> str:
    return "、".join(CARE_TAG_WORDS[t] for t in CareTag if t in tags)


def _check_id_numbers(village: GridNode, houses: list[_House], errors: list[RowError]) -> None:
    """A 身份证号 the file gives someone must not belong to anyone else on the register (including those who left)."""
    given = {
        p.id_number: p
        for h in houses
        for p in h.people
        if p.id_number and (p.match is None or p.match.id_number != p.id_number)
    }
    wanted = list(given)
    for start in range(0, len(wanted), _CHUNK):
        for id_number, number, village_id in db.session.execute(
            select(Resident.id_number, Household.number, Household.village_id)
            .join(Household, Household.id == Resident.household_id)
            .where(Resident.id_number.in_(wanted[start:start + _CHUNK]))
        ):
            if village_id == village.id:
                message = _("该身份证号已登记在本村户号 %(number)s", number=number)
            else:
                message = _("该身份证号已登记在系统中")
            errors.append(RowError(given[id_number].row, "身份证号", message))


def _digest(new: list[_House], changes: list[Change]) -> str:
    """What applying the file would do, in a few bytes: the confirmation of a preview applies the same."""
    facts = [[h.number, h.head_name, h.grid.id, h.address, len(h.people)] for h in new]
    facts += [[c.number, c.name, c.column, c.before, c.after] for c in changes]
    return hashlib.sha256(json.dumps(facts, ensure_ascii=False).encode()).hexdigest()[:32]


def _update(updates: list[_Update], actor) -> None:
    """Apply the changes of households on the register, each audited as an edit on its page is."""
    ids = [u.known.id for u in updates]
    households = {}
    for start in range(0, len(ids), _CHUNK):
        households.update((h.id, h) for h in db.session.scalars(
            select(Household).where(Household.id.in_(ids[start:start + _CHUNK]))
            .options(selectinload(Household.residents), selectinload(Household.care_tags), selectinload(Household.grid))
        ))
    grids = {g.id: g for g in db.session.scalars(select(GridNode).where(
        GridNode.id.in_({u.household["grid_id"] for u in updates if "grid_id" in u.household})))}
    now = utcnow()
    for planned in updates:
        household = households[planned.known.id]
        residents = {r.id: r for r in household.residents}
        before, after = {}, {}
        if "grid_id" in planned.household:
            before["grid"], after["grid"] = household.grid.name, grids[planned.household["grid_id"]].name
            household.grid = grids[planned.household["grid_id"]]
        if "address" in planned.household:
            before["address"], after["address"] = household.address, planned.household["address"]
            household.address = planned.household["address"]
        if "kind" in planned.household:
            before["kind"], after["kind"] = household.kind.value, planned.household["kind"].value
            household.kind = planned.household["kind"]
        if "tags" in planned.household:
            before["care_tags"], after["care_tags"] = (_tag_words(planned.known.tags),
                                                       _tag_words(planned.household["tags"]))
            household.care_tags = [HouseholdCareTag(tag=t)
                                   for t in sorted(planned.household["tags"], key=lambda t: t.value)]
        for known_person, values in planned.people:
            resident = residents[known_person.id]
            facts = {k: getattr(resident, k) for k in values}
            for column, value in values.items():
                setattr(resident, column, value)
            record(actor, "resident.updated", "resident", resident.id, household.grid_id,
                   before=_masked(facts), after={"household": household.number, **_masked(values)})
        for person in planned.joining:
            resident = Resident(household=household, name=person.name, relation=person.relation, phone=person.phone,
                                id_number=person.id_number, created_at=now)
            db.session.add(resident)
            db.session.flush()
            person.match = _KnownPerson(resident.id, resident.name, resident.relation, None, None)
            residents[resident.id] = resident
            record(actor, "resident.added", "resident", resident.id, household.grid_id,
                   after={"household": household.number, "name": resident.name, "relation": resident.relation})
        head = residents[planned.head.match.id]
        if household.head_id != head.id:
            before["head"], after["head"] = planned.known.head_name, head.name
            former = residents.get(household.head_id)
            if former is not None and former.relation == HEAD_RELATION:  # not in the file: a member from now on
                former.relation = "家庭成员"
            household.head = head
        db.session.flush()
        if after:
            record(actor, "household.updated", "household", household.id, household.grid_id,
                   before=before, after={"number": household.number, **after})


def _masked(values: dict) -> dict:
    """A resident's changed facts as the log keeps them: phone and ID number masked."""
    masks = {"phone": mask_phone, "id_number": mask_id_number}
    return {k: masks[k](v) if k in masks else v for k, v in values.items()}


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
            dict(village_id=village.id, grid_id=h.grid.id, number=h.number, address=h.address, kind=h.kind,
                 created_at=now)
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
        for person in house.people
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


def register_rows(village: GridNode) -> list[list[str]]:
    """The village's register as import rows: each household on it, head first, then the residents who live in it.
    Importing them back changes nothing."""
    known = _register(village)
    grids = _GridIndex(village)
    rows = []
    for k in sorted((k for k in known.values() if not k.closed), key=lambda k: k.number):
        grid = grids.labels[k.grid_id]
        people = sorted(k.residents, key=lambda r: r.id != k.head_id)
        for i, resident in enumerate(people):
            rows.append([
                k.number, k.head_name, resident.name, resident.relation, resident.phone or "", resident.id_number or "",
                grid, k.address, KIND_LABELS[k.kind], _tag_words(k.tags) if i == 0 else "",
            ])
    return rows


def export_register(village: GridNode, actor=None) -> bytes:
    """导出花名册: the import workbook filled with the register; audited, as it holds phone and ID numbers."""
    rows = register_rows(village)
    record(actor, "households.exported", "village", village.id, village.id,
           after={"households": len({row[0] for row in rows}), "residents": len(rows)})
    return template_workbook(village, rows)


def template_workbook(village: GridNode, rows: list[list[str]] = ()) -> bytes:
    """The import template: a sheet with the header and the given rows (none for a blank template: an example left
    in it would be imported as a real household), and a sheet explaining each column, the village's grids and an
    example household."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "户籍花名册"
    header = [f"{c}*" if c in REQUIRED else c for c in COLUMNS]
    sheet.append(header)
    for row in rows:
        append_row(sheet, row)
    for column, width in zip("ABCDEFGHIJ", (10, 12, 12, 12, 16, 22, 14, 18, 12, 16)):
        sheet.column_dimensions[column].width = width
        sheet.column_dimensions[column].number_format = "@"  # text, so that Excel keeps phone and ID numbers whole
    grids = grids_of_village(village.id)
    example_grid = grids[0].name if grids else "第一网格"
    notes = workbook.create_sheet("填写说明")
    notes.append(["列", "说明"])
    for row in (
        ("户号", "可空；同一户的每一行填同一个户号。已在册的户号会按文件更新这一户；留空时按 所属网格+门牌号+户主姓名 "
                 "归户：与在册的一户相同就更新它，否则新增并自动编号"),
        ("户主姓名", "必填"),
        ("姓名", "家庭成员的姓名；留空表示这一行就是户主本人"),
        ("与户主关系", "户主、配偶、子女、父母……"),
        ("手机号", "11 位手机号，可空；全角数字会自动转换。留空不会清除已登记的号码"),
        ("身份证号", "18 位，可空；不能与别人已登记的重复。"
                     "在册的村民先按身份证号、再按姓名对应；留空不会清除已登记的号码"),
        ("所属网格", "必填；本村的网格：" + "、".join(g.name for g in grids)),
        ("门牌号", "必填"),
        ("户籍类型", "户籍 或 外来租住；留空为户籍"),
        ("关爱标签", "仅工作人员可见，可多个，用顿号分隔：" + "、".join(CARE_WORDS)),
    ):
        notes.append(list(row))
    notes.append([])
    notes.append(["更新", "导出的花名册改好后再导入即可更新：先预览每一处变更，确认后一次写入。文件中没有的列不会改动；"
                          "文件中没有的户和村民只列出，不会迁出或删除，请到户页面办理"])
    notes.append(["示例", "一户两人：户主一行，配偶一行（请在“户籍花名册”表中填写，不要填在这里）"])
    notes.append(header)
    notes.append(["0001", "张三明", "", "户主", "13812345678", "", example_grid, "瑶前村1号", "户籍", ""])
    notes.append(["0001", "张三明", "李秀英", "配偶", "", "", example_grid, "瑶前村1号", "户籍", ""])
    notes.column_dimensions["A"].width = 12
    notes.column_dimensions["B"].width = 80
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def keep_upload(folder: str, data: bytes) -> str:
    """Keep an uploaded file between its preview and the confirmation; returns its name (its SHA-256). Files kept
    longer than a day are deleted on the way."""
    kept = Path(folder) / "imports"
    kept.mkdir(mode=0o700, parents=True, exist_ok=True)
    for old in kept.glob("*.upload"):
        if old.stat().st_mtime < time.time() - _KEPT_SECONDS:
            old.unlink(missing_ok=True)
    name = hashlib.sha256(data).hexdigest()
    path = kept / f"{name}.upload"
    path.touch(mode=0o600)  # readable by the app's user only: a 花名册 holds phone and ID numbers
    path.write_bytes(data)
    return name


def kept_upload(folder: str, name: str) -> bytes | None:
    """The file kept under that name, or None (deleted, expired or never kept)."""
    if not _UPLOAD.fullmatch(name or ""):
        return None
    path = Path(folder) / "imports" / f"{name}.upload"
    if path.exists() and path.stat().st_mtime < time.time() - _KEPT_SECONDS:
        path.unlink(missing_ok=True)
    return path.read_bytes() if path.exists() else None


def drop_upload(folder: str, name: str) -> None:
    if _UPLOAD.fullmatch(name or ""):
        (Path(folder) / "imports" / f"{name}.upload").unlink(missing_ok=True)
