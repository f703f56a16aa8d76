"""导入: households and residents from .xlsx or .csv, all or nothing, with a row-by-row report in Chinese.

A row is a person. Rows with the same 户号 (or, without one, the same 所属网格, 门牌号 and 户主姓名) form one
household. A row whose 姓名 is blank (or equals 户主姓名) describes the head; a household with only member
rows gets its head from 户主姓名. So a file with one row per household needs only the household columns.

The file also keeps the register current: a household whose 户号 is on the register (or, without a 户号, whose grid,
address and head match one) is updated to what the file says (import_updates.py), and its residents are matched by
身份证号, else by name. A column the file leaves out is left alone. Nothing is closed or removed by an import: the
households and residents the file does not mention are listed, for people to deal with on their pages. The export
(register_workbook.py) writes the same workbook filled with the register, so that export, edit in Excel, import is
the way to maintain it.
"""
import hashlib
import json

from flask_babel import gettext as _
from sqlalchemy import func, insert, select, update

from ..audit.services import record
from ..errors import DomainError
from ..extensions import db
from ..grids.models import GridNode
from ..timeutil import utcnow
from ..uploads import RowError, read_columns
from .import_table import (
    CARE_WORDS,
    CHUNK,
    COLUMNS,
    HEAD_RELATION,
    KIND_WORDS,
    MAX_LENGTHS,
    REQUIRED,
    TAG_SEPARATORS,
    Change,
    GridIndex,
    House,
    ImportReport,
    Person,
)
from .import_updates import apply_updates, compare
from .models import Household, HouseholdCareTag, Resident
from .services import next_household_number, normalize_id_number, normalize_phone


def import_households(village: GridNode, data: bytes, max_bytes: int, *, actor=None,
                      own_household_id: int | None = None, apply: bool = True) -> ImportReport:
    """Check every row and compare the file with the register. With apply, write all of it (new households and
    residents, and the changes) if no row has an error; without, write nothing: the preview. A change to the
    household own_household_id (the importer's own) is an error of its row. Flushes, never commits; the permission
    is auth.register.import_households's to check. Raises DomainError("closed_since_preview") when a household it
    updates left the register while it ran."""
    report = ImportReport()
    table = read_columns(data, max_bytes, COLUMNS, REQUIRED, report.errors)
    if table is None:
        return report
    position, rows = table
    report.rows = len(rows)
    houses = list(_check_rows(village, rows, position, report.errors).values())
    updates = compare(village, houses, set(position), report, own_household_id)
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
        apply_updates(updates, actor)
        record(actor, "households.imported", "village", village.id, village.id,
               after={"households": report.households, "residents": report.residents, "changes": len(report.changes)})
    return report


class _Row:
    """One row of the file: its cells by column, and the errors found in it."""

    def __init__(self, number: int, cells: list[str], position: dict[str, int], errors: list[RowError]):
        self.number = number
        self._cells, self._position, self._errors = cells, position, errors
        self._errors_before = len(errors)

    def cell(self, column: str) -> str:
        index = self._position.get(column)
        return self._cells[index] if index is not None and index < len(self._cells) else ""

    def fail(self, column: str, message: str) -> None:
        self._errors.append(RowError(self.number, column, message))

    @property
    def failed(self) -> bool:
        return len(self._errors) > self._errors_before


def _check_rows(village: GridNode, rows: list[tuple[int, list[str]]], position: dict[str, int],
                errors: list[RowError]) -> dict[tuple, House]:
    """The file's households, by 户号 (or by grid, address and head); a row with an error is reported and left out."""
    grids = GridIndex(village)
    houses: dict[tuple, House] = {}
    id_rows: dict[str, int] = {}  # 身份证号 → the first row giving it
    for number, cells in rows:
        row = _Row(number, cells, position, errors)
        house = _house_of(row, grids)
        person = _person_of(row, id_rows)
        if house is not None and person is not None:
            _gather(houses, row, house, person)
    for house in houses.values():
        if house.head is None:  # only member rows: the head is known by 户主姓名 alone
            house.head = Person(house.row, house.head_name, HEAD_RELATION, None, None)
    return houses


def _house_of(row: _Row, grids: GridIndex) -> House | None:
    """The household as this row describes it (its tags this row's only); None, with the errors noted, if one of its
    cells is wrong."""
    head_name = row.cell("户主姓名")
    if not head_name:
        row.fail("户主姓名", _("户主姓名不能为空"))
    address = row.cell("门牌号")
    if not address:
        row.fail("门牌号", _("门牌号不能为空"))
    grid = None
    if not row.cell("所属网格"):
        row.fail("所属网格", _("所属网格不能为空"))
    else:
        try:
            grid = grids.find(row.cell("所属网格"))
        except DomainError as refusal:
            row.fail("所属网格", refusal.message)
    kind = KIND_WORDS.get(row.cell("户籍类型"))
    if kind is None:
        row.fail("户籍类型", _("户籍类型“%(value)s”无效，应为“户籍”或“外来租住”", value=row.cell("户籍类型")))
    tags = []
    for word in filter(None, TAG_SEPARATORS.split(row.cell("关爱标签"))):
        if word in CARE_WORDS:
            tags.append(CARE_WORDS[word])
        else:
            row.fail("关爱标签", _("未知的关爱标签“%(value)s”，可用：%(known)s", value=word,
                                   known="、".join(CARE_WORDS)))
    if row.failed:
        return None
    return House(row.number, row.cell("户号"), head_name, grid, address, kind, tags)


def _person_of(row: _Row, id_rows: dict[str, int]) -> Person | None:
    """The person the row describes (the head if 姓名 is blank or the head's own); None, with the errors noted, if a
    cell of the row is wrong. A 身份证号 another row gave already is an error; a new one is noted in id_rows."""
    phone = id_number = None
    try:
        phone = normalize_phone(row.cell("手机号"))
    except DomainError as refusal:
        row.fail("手机号", refusal.message)
    try:
        id_number = normalize_id_number(row.cell("身份证号"))
    except DomainError as refusal:
        row.fail("身份证号", refusal.message + _("（Excel 中请把该列设为文本格式）"))
    if id_number:
        if id_number in id_rows:
            row.fail("身份证号", _("身份证号与第 %(row)d 行重复", row=id_rows[id_number]))
        else:
            id_rows[id_number] = row.number
    for column, limit in MAX_LENGTHS.items():
        if len(row.cell(column)) > limit:
            row.fail(column, _("%(column)s不能超过 %(limit)d 个字符", column=column, limit=limit))
    head_name, name, relation = row.cell("户主姓名"), row.cell("姓名"), row.cell("与户主关系")
    if not name and relation not in ("", HEAD_RELATION):
        row.fail("姓名", _("姓名不能为空（与户主关系为“%(relation)s”）", relation=relation))
    elif name not in ("", head_name) and relation == HEAD_RELATION:
        row.fail("姓名", _("与户主关系为“户主”，但姓名与户主姓名“%(head)s”不同", head=head_name))
    if row.failed:
        return None
    name = name or head_name
    is_head = name == head_name and relation in ("", HEAD_RELATION)
    return Person(row.number, name, HEAD_RELATION if is_head else (relation or "家庭成员"), phone, id_number)


def _gather(houses: dict[tuple, House], row: _Row, house: House, person: Person) -> None:
    """The row's person joins their household, which the household's first row makes; a row that disagrees with
    that first one about the household, or a second head, is an error."""
    key = ("number", house.number) if house.number else ("address", house.grid.id, house.address, house.head_name)
    household = houses.setdefault(key, house)
    if household is not house:
        if (household.grid.id, household.address, household.kind, household.head_name) != (
                house.grid.id, house.address, house.kind, house.head_name):
            row.fail(
                "户号" if house.number else "户籍类型",
                _("与第 %(row)d 行同属一户，但户主姓名、所属网格、门牌号或户籍类型不一致", row=household.row),
            )
            return
        # Tags belong to the household, but a 留守儿童 is naturally marked on the child's own row.
        household.tags.extend(house.tags)
    if person.relation == HEAD_RELATION:
        if household.head is not None:
            row.fail("姓名", _("同一户有两行户主（另见第 %(row)d 行）", row=household.head.row))
            return
        household.head = person
    else:
        household.members.append(person)


def _check_id_numbers(village: GridNode, houses: list[House], errors: list[RowError]) -> None:
    """A 身份证号 the file gives someone must not belong to anyone else on the register (including those who left)."""
    given = {
        p.id_number: p
        for h in houses
        for p in h.people
        if p.id_number and (p.match is None or p.match.id_number != p.id_number)
    }
    wanted = list(given)
    for start in range(0, len(wanted), CHUNK):
        for id_number, number, village_id in db.session.execute(
            select(Resident.id_number, Household.number, Household.village_id)
            .join(Household, Household.id == Resident.household_id)
            .where(Resident.id_number.in_(wanted[start:start + CHUNK]))
        ):
            if village_id == village.id:
                message = _("该身份证号已登记在本村户号 %(number)s", number=number)
            else:
                message = _("该身份证号已登记在系统中")
            errors.append(RowError(given[id_number].row, "身份证号", message))


def _digest(new: list[House], changes: list[Change]) -> str:
    """What applying the file would do, in a few bytes: the confirmation of a preview applies the same."""
    facts = [[h.number, h.head_name, h.grid.id, h.address, len(h.people)] for h in new]
    facts += [[c.number, c.name, c.column, c.before, c.after] for c in changes]
    return hashlib.sha256(json.dumps(facts, ensure_ascii=False).encode()).hexdigest()[:32]


def _write(village: GridNode, houses: list[House]) -> tuple[int, int]:
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


def _number_households(village: GridNode, houses: list[House]) -> None:
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
    for start in range(0, len(numbers), CHUNK):
        ids.update(
            db.session.execute(
                select(Household.number, Household.id).where(
                    Household.village_id == village.id, Household.number.in_(numbers[start:start + CHUNK])
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
    for start in range(0, len(household_ids), CHUNK):
        db.session.execute(
            update(Household).where(Household.id.in_(household_ids[start:start + CHUNK])).values(head_id=head),
            execution_options={"synchronize_session": False},
        )

