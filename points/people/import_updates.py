"""导入 as update: the 花名册 file compared with the register (households by 户号, residents by 身份证号, else name),
and the changes applied, each audited as an edit on its page is."""
from collections.abc import Callable

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..audit.services import record
from ..errors import DomainError
from ..extensions import db
from ..grids.models import GridNode
from ..grids.queries import grids_of_village
from ..timeutil import utcnow
from ..uploads import RowError, normalize_text
from .import_table import (
    CHUNK,
    HEAD_RELATION,
    KIND_LABELS,
    Change,
    House,
    HouseUpdate,
    ImportReport,
    Known,
    KnownPerson,
    Person,
    Unmentioned,
    tag_words,
)
from .models import Household, HouseholdCareTag, Resident
from .privacy import mask_id_number, mask_phone
from .services import hold_households, take_figures_along

# Notes one change for the preview: row, name, column, before, after.
Note = Callable[[int, str, str, str, str], None]


def read_register(village: GridNode) -> dict[str, Known]:
    """The village's households by 户号, with their care tags and the residents who live in them: three queries."""
    # Text as a file would give it (full-width letters and digits half-width), so that what was typed on a page and
    # the same text read back from a file are not a change.
    known = {
        row.number: Known(row.id, row.number, row.grid_id, normalize_text(row.address), row.kind, row.head_id,
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
            KnownPerson(row.id, normalize_text(row.name), normalize_text(row.relation), row.phone, row.id_number)
        )
    return known


def compare(village: GridNode, houses: list[House], columns: set[str], report: ImportReport,
            own_household_id: int | None) -> list[HouseUpdate]:
    """Match each household of the file with the register, by 户号 or else by grid, address and head, and list what
    the file changes; the households it does not mention are listed too. Nobody changes their own household: a
    change to it is an error of its row (the same row unchanged is not)."""
    known = read_register(village)
    grid_names = {g.id: g.name for g in grids_of_village(village.id)}
    places: dict[tuple, Known | None] = {}
    for k in known.values():
        if not k.closed:
            place = (k.grid_id, k.address, k.head_name)
            places[place] = None if place in places else k  # two alike: the file must give the 户号
    mentioned: dict[str, House] = {}
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


def _differences(house: House, k: Known, columns: set[str], grid_names: dict,
                 report: ImportReport) -> HouseUpdate | None:
    """What the file says differently of one household on the register; its residents are matched by 身份证号, then by
    name. Columns the file leaves out are not compared."""

    def note(row: int, name: str, column: str, before: str, after: str) -> None:
        report.changes.append(Change(row, k.number, name, column, before, after))

    household = _household_differences(house, k, columns, grid_names, note)
    people = house.people
    unmatched = _match_residents(people, k.residents)
    head = people[0]
    new_head = head.match is None or head.match.id != k.head_id
    if new_head:
        note(head.row, head.name, "户主", k.head_name, head.name)
    changed = []
    for person in people:
        if person.match is None:
            note(person.row, person.name, _("成员"), "", _("新增"))
            continue
        values = _person_differences(person, person is head, columns, note)
        if values:
            changed.append((person.match, values))
    for resident in unmatched:
        report.absent.append(Unmentioned(k.number, resident.name, grid_names.get(k.grid_id, "")))
    joining = [p for p in people if p.match is None]
    if not (household or changed or joining or new_head):
        return None
    return HouseUpdate(house, k, household, changed, joining, head)


def _household_differences(house: House, k: Known, columns: set[str], grid_names: dict, note: Note) -> dict:
    """The household's own columns the file changes: column → new value (grid_id, address, kind, tags)."""
    household: dict = {}
    if house.grid.id != k.grid_id:
        household["grid_id"] = house.grid.id
        note(house.row, k.head_name, "所属网格", grid_names.get(k.grid_id, ""), house.grid.name)
    if house.address != k.address:
        household["address"] = house.address
        note(house.row, k.head_name, "门牌号", k.address, house.address)
    if "户籍类型" in columns and house.kind != k.kind:
        household["kind"] = house.kind
        note(house.row, k.head_name, "户籍类型", KIND_LABELS[k.kind], KIND_LABELS[house.kind])
    if "关爱标签" in columns and set(house.tags) != k.tags:
        household["tags"] = set(house.tags)
        note(house.row, k.head_name, "关爱标签", tag_words(k.tags), tag_words(house.tags))
    return household


def _match_residents(people: list[Person], residents: list[KnownPerson]) -> list[KnownPerson]:
    """Sets each person's match among the residents, by 身份证号 first, then by name; returns the residents nobody
    in the file matched."""
    unmatched = list(residents)
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
    return unmatched


def _person_differences(person: Person, is_head: bool, columns: set[str], note: Note) -> dict:
    """What the file changes of a resident on the register: column → new value (name, relation, phone, id_number)."""
    known_person = person.match
    values = {}
    if person.name != known_person.name:
        values["name"] = person.name
        note(person.row, person.name, "姓名", known_person.name, person.name)
    if is_head:
        relation = HEAD_RELATION
    elif "与户主关系" in columns:
        relation = person.relation
    else:  # the file does not say: a member keeps theirs, a head who is no more one becomes a member
        relation = "家庭成员" if known_person.relation == HEAD_RELATION else known_person.relation
    if relation != known_person.relation:
        values["relation"] = relation
        note(person.row, person.name, "与户主关系", known_person.relation, relation)
    # A blank phone or ID number leaves the registered one: an import adds and corrects, it does not erase.
    if person.phone and person.phone != known_person.phone:
        values["phone"] = person.phone
        note(person.row, person.name, "手机号", mask_phone(known_person.phone), mask_phone(person.phone))
    if person.id_number and person.id_number != known_person.id_number:
        values["id_number"] = person.id_number
        note(person.row, person.name, "身份证号", mask_id_number(known_person.id_number),
             mask_id_number(person.id_number))
    return values


def _held_households(updates: list[HouseUpdate]) -> dict[int, Household]:
    """The households to update, by id. Those that move to another grid are held first, as move_household holds one,
    and all are read under the holds: what a move takes along goes from the grid each is really in."""
    hold_households(sorted(u.known.id for u in updates if "grid_id" in u.household))
    ids = [u.known.id for u in updates]
    households = {}
    for start in range(0, len(ids), CHUNK):
        households.update((h.id, h) for h in db.session.scalars(
            select(Household).where(Household.id.in_(ids[start:start + CHUNK]))
            .options(selectinload(Household.residents), selectinload(Household.care_tags), selectinload(Household.grid))
            .execution_options(populate_existing=True)
        ))
    closed = next((h for h in households.values() if h.closed_on is not None), None)
    if closed is not None:  # closed since the file was compared: its grid's figures left with it (leave_totals)
        raise DomainError("closed_since_preview", status=409, number=closed.number)
    return households


def apply_updates(updates: list[HouseUpdate], actor) -> None:
    """Apply the changes of households on the register, each audited as an edit on its page is; a household moved to
    another grid takes its figures kept per grid along. Raises DomainError("closed_since_preview") when one of them
    left the register since the file was compared."""
    households = _held_households(updates)
    grids = {g.id: g for g in db.session.scalars(select(GridNode).where(
        GridNode.id.in_({u.household["grid_id"] for u in updates if "grid_id" in u.household})))}
    now = utcnow()
    moves = {}
    for planned in updates:
        household = households[planned.known.id]
        residents = {r.id: r for r in household.residents}
        before, after = {}, {}
        if "grid_id" in planned.household and planned.household["grid_id"] != household.grid_id:
            before["grid"], after["grid"] = household.grid.name, grids[planned.household["grid_id"]].name
            moves[household.id] = (household.grid_id, planned.household["grid_id"])
            household.grid = grids[planned.household["grid_id"]]
        if "address" in planned.household:
            before["address"], after["address"] = household.address, planned.household["address"]
            household.address = planned.household["address"]
        if "kind" in planned.household:
            before["kind"], after["kind"] = household.kind.value, planned.household["kind"].value
            household.kind = planned.household["kind"]
        if "tags" in planned.household:
            before["care_tags"], after["care_tags"] = (tag_words(planned.known.tags),
                                                       tag_words(planned.household["tags"]))
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
            person.match = KnownPerson(resident.id, resident.name, resident.relation, None, None)
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
    take_figures_along(moves)


def _masked(values: dict) -> dict:
    """A resident's changed facts as the log keeps them: phone and ID number masked."""
    masks = {"phone": mask_phone, "id_number": mask_id_number}
    return {k: masks[k](v) if k in masks else v for k, v in values.items()}
