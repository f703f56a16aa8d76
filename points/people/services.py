"""Writes to households and residents, and the validation of the personal data they carry."""
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select

from ..audit.services import record
from ..errors import DomainError
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..grids.services import blocks_retirement
from ..timeutil import local_today
from ..uploads import normalize_text
from .models import CareTag, Closure, Departure, Household, HouseholdCareTag, HouseholdKind, Resident
from .privacy import mask_id_number, mask_phone

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
ID_RE = re.compile(r"^\d{17}[\dX]$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

CARE_TAG_LABELS = {
    CareTag.LOW_INCOME: _l("低保"),
    CareTag.POOR: _l("贫困"),
    CareTag.DISABLED: _l("残疾"),
    CareTag.EMPTY_NEST: _l("空巢老人"),
    CareTag.LEFT_BEHIND_CHILD: _l("留守儿童"),
}
CLOSURE_LABELS = {Closure.MOVED_OUT: _l("整户迁出"), Closure.RENTER_LEFT: _l("租户搬离"), Closure.OTHER: _l("其他")}
DEPARTURE_LABELS = {Departure.MOVED_OUT: _l("迁出"), Departure.DECEASED: _l("死亡"),
                    Departure.MARRIED_OUT: _l("婚嫁迁出"), Departure.OTHER: _l("其他")}
# The words a spreadsheet uses for the tags (imports.py parses them): Chinese whatever the reader's language.
CARE_TAG_WORDS = {
    CareTag.LOW_INCOME: "低保",
    CareTag.POOR: "贫困",
    CareTag.DISABLED: "残疾",
    CareTag.EMPTY_NEST: "空巢老人",
    CareTag.LEFT_BEHIND_CHILD: "留守儿童",
}


def normalize_phone(value) -> str | None:
    """A mainland mobile number, or None when blank. Raises DomainError("invalid_phone")."""
    text = re.sub(r"[\s\-]", "", normalize_text(value))
    if text.startswith("+86"):
        text = text[3:]
    if not text:
        return None
    if not PHONE_RE.match(text):
        raise DomainError("invalid_phone")
    return text


def id_checksum_ok(id_number: str) -> bool:
    """GB 11643: the 18th character is a check digit over the first 17."""
    total = sum(int(d) * w for d, w in zip(id_number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == id_number[17]


def with_id_checksum(first17: str) -> str:
    """The full 18-character ID number for 17 digits (for demo data and tests)."""
    return first17 + _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS)) % 11]


def normalize_id_number(value) -> str | None:
    """An 18-character 身份证号 with a valid check digit, or None when blank.
    Raises DomainError("invalid_id_number")."""
    text = normalize_text(value).upper().replace(" ", "")
    if not text:
        return None
    if not ID_RE.match(text) or not id_checksum_ok(text):
        raise DomainError("invalid_id_number")
    return text


def next_household_number(village_id: int) -> str:
    """The next free 户号 of a village: the largest numeric one plus one, four digits at least."""
    numbers = db.session.scalars(select(Household.number).where(Household.village_id == village_id))
    largest = max((int(n) for n in numbers if n.isdigit()), default=0)
    return f"{largest + 1:04d}"


def create_household(
    grid: GridNode,
    address: str,
    kind: HouseholdKind,
    head_name: str,
    number: str | None = None,
    head_phone: str | None = None,
    head_id_number: str | None = None,
    care_tags: list[CareTag] = (),
    actor=None,
) -> Household:
    """A household in a grid with its head as the first resident; actor None is the command line or the demo.
    Raises DomainError."""
    if grid.kind is not NodeKind.GRID:
        raise DomainError("invalid_grid")
    number = number or next_household_number(grid.village_id)
    if db.session.scalar(
        select(func.count()).where(Household.village_id == grid.village_id, Household.number == number)
    ):
        raise DomainError("number_taken", number=number)
    household = Household(village_id=grid.village_id, grid_id=grid.id, number=number, address=address, kind=kind)
    # In the order the relationship reads them back (by tag), so what is answered now is what is read later.
    household.care_tags = [HouseholdCareTag(tag=t) for t in sorted(dict.fromkeys(care_tags), key=lambda t: t.value)]
    db.session.add(household)
    db.session.flush()
    household.head = add_resident(household, head_name, "户主", head_phone, head_id_number)
    db.session.flush()
    record(actor, "household.created", "household", household.id, grid.id,
           after={"number": number, "address": address, "kind": kind.value, "head": household.head.name})
    return household


def add_resident(
    household: Household,
    name: str,
    relation: str = "户主",
    phone: str | None = None,
    id_number: str | None = None,
    actor=None,
) -> Resident:
    """A resident of a household, the phone and ID number checked as an import checks them.

    Raises DomainError("missing_name" | "name_too_long" | "invalid_phone" | "invalid_id_number" | "id_number_taken").
    """
    name = normalize_text(name)
    if not name:
        raise DomainError("missing_name")
    if len(name) > Resident.name.type.length:
        raise DomainError("name_too_long", limit=Resident.name.type.length)
    phone = normalize_phone(phone)
    id_number = normalize_id_number(id_number)
    if id_number and db.session.scalar(select(Resident.id).where(Resident.id_number == id_number)):
        raise DomainError("id_number_taken")
    resident = Resident(household=household, name=name, relation=relation, phone=phone, id_number=id_number)
    db.session.add(resident)
    db.session.flush()
    if relation != "户主":  # a head is recorded with its household
        record(actor, "resident.added", "resident", resident.id, household.grid_id,
               after={"household": household.number, "name": name, "relation": relation})
    return resident


@dataclass(frozen=True)
class GridFigures:
    """Figures a domain above keeps per grid from its households' own (the ledger's grid totals), which a household
    takes along to the grid it moves to. Registered with keeps_grid_figures by that domain."""

    # Lock the households against the domain's writers until the transaction ends: called before their grids are read,
    # so that a posting and a move of the same household wait for each other.
    hold: Callable[[list[int]], object]
    # Move the households' figures: household id → (grid left, grid joined), once they are in their new grids.
    move: Callable[[dict[int, tuple[int, int]]], None]
    # A household left the register on a day (sign -1: 整户迁出) or came back (sign 1: reopened, with the day it had
    # left): (household id, its grid, the day, sign). The boards count it only in the periods it was on the register in.
    leave: Callable[[int, int, date, int], None]


grid_figures: list[GridFigures] = []


def keeps_grid_figures(figures: GridFigures) -> GridFigures:
    grid_figures.append(figures)
    return figures


def hold_households(household_ids: list[int]) -> None:
    """Lock the households against every domain that keeps figures per grid, before a move reads their grids."""
    if household_ids:
        for figures in grid_figures:
            figures.hold(household_ids)


def take_figures_along(moves: dict[int, tuple[int, int]]) -> None:
    """Move the figures kept per grid of households that moved: household id → (grid left, grid joined)."""
    if moves:
        for figures in grid_figures:
            figures.move(moves)


def _hold_again(household: Household) -> None:
    """Hold the household against the domains keeping figures per grid, then read it again: a move, closure or
    reopening committed since it was loaded decides what this one changes (two closures at once take its totals off
    once)."""
    hold_households([household.id])
    db.session.refresh(household)


def move_household(household: Household, grid: GridNode, actor=None) -> Household:
    """Move a household to another grid of its village: its points and history go with it, and its part of the
    figures kept per grid (take_figures_along); weekly results already published stay where they were inspected.
    Raises DomainError("invalid_grid" | "same_grid")."""
    if grid.kind is not NodeKind.GRID or grid.village_id != household.village_id:
        raise DomainError("invalid_grid")
    # Read again under the hold: a move or closure committed since the household was loaded decides the grid it
    # leaves, or that it has none to leave.
    _hold_again(household)
    if household.closed_on is not None:  # off the register: it is in no grid's figures to take along
        raise DomainError("household_closed", status=409, number=household.number)
    if grid.id == household.grid_id:
        raise DomainError("same_grid")
    left = household.grid
    household.grid_id = grid.id
    household.grid = grid
    db.session.flush()
    take_figures_along({household.id: (left.id, grid.id)})
    record(actor, "household.moved", "household", household.id, grid.id,
           before={"grid": left.name}, after={"number": household.number, "grid": grid.name})
    return household


def _valid_day(day: date) -> date:
    """The day a household or resident left: not after today (the register may catch up with an earlier day)."""
    if not isinstance(day, date):
        raise DomainError("invalid_day")
    if day > local_today():
        raise DomainError("day_in_future")
    return day


def update_household(household: Household, address: str, kind: HouseholdKind, care_tags: list[CareTag],
                     head: Resident, actor=None) -> Household:
    """Edit a household: its address, 户籍 or 外来租住 (which selects its rule book), care tags and head (one of its
    members); audited with what changed. Raises DomainError("missing_address" | "address_too_long" |
    "head_not_member")."""
    address = normalize_text(address)
    if not address:
        raise DomainError("missing_address")
    if len(address) > Household.address.type.length:
        raise DomainError("address_too_long", limit=Household.address.type.length)
    if head.household_id != household.id or head.left_on is not None:
        raise DomainError("head_not_member")
    tags = sorted(dict.fromkeys(care_tags), key=lambda tag: tag.value)
    before = _household_facts(household)
    household.address, household.kind = address, kind
    if [t.tag for t in household.care_tags] != tags:
        household.care_tags = [HouseholdCareTag(tag=t) for t in tags]
    if household.head_id != head.id:
        if household.head is not None:
            household.head.relation = "家庭成员"
        household.head, head.relation = head, "户主"
    db.session.flush()
    after = _household_facts(household)
    if after != before:
        record(actor, "household.updated", "household", household.id, household.grid_id,
               before={k: v for k, v in before.items() if after[k] != v},
               after={"number": household.number, **{k: v for k, v in after.items() if before[k] != v}})
    return household


def _household_facts(household: Household) -> dict:
    return {"address": household.address, "kind": household.kind.value, "head": household.head.name,
            "care_tags": "、".join(CARE_TAG_WORDS[t.tag]
                                   for t in sorted(household.care_tags, key=lambda t: t.tag.value))}


def close_household(household: Household, closure: Closure, on: date, actor=None) -> Household:
    """整户迁出: the household leaves the register on a day. Its ledger, balance and history stay; it earns, loses and
    redeems no more, and leaves the boards and 卫生评比 rounds from then on. Raises DomainError("household_closed" |
    "invalid_day" | "day_in_future")."""
    day = _valid_day(on)
    _hold_again(household)
    if household.closed_on is not None:
        raise DomainError("household_closed", status=409, number=household.number)
    household.closed_on = day
    household.closure = Closure(closure)
    db.session.flush()
    for figures in grid_figures:
        figures.leave(household.id, household.grid_id, day, -1)
    record(actor, "household.closed", "household", household.id, household.grid_id,
           after={"number": household.number, "closure": household.closure.value,
                  "closed_on": household.closed_on.isoformat()})
    return household


def reopen_household(household: Household, actor=None) -> Household:
    """A household that left comes back (or was closed by mistake): on the register again from today.
    Raises DomainError("household_open")."""
    _hold_again(household)
    if household.closed_on is None:
        raise DomainError("household_open", number=household.number)
    before = {"closure": household.closure.value, "closed_on": household.closed_on.isoformat()}
    left_on = household.closed_on
    household.closed_on, household.closure = None, None
    db.session.flush()
    for figures in grid_figures:
        figures.leave(household.id, household.grid_id, left_on, 1)
    record(actor, "household.reopened", "household", household.id, household.grid_id,
           before=before, after={"number": household.number})
    return household


def update_resident(resident: Resident, name: str, relation: str, phone: str | None, id_number: str | None,
                    actor=None) -> Resident:
    """Edit a resident's name, relation to the head, phone and ID number, checked as an import checks them; audited
    with what changed (phone and ID number only as changed, never their values). The head is chosen on the household.

    Raises DomainError("missing_name" | "name_too_long" | "relation_invalid" | "invalid_phone" | "invalid_id_number" |
    "id_number_taken" | "resident_left")."""
    if resident.left_on is not None:
        raise DomainError("resident_left", status=409)
    name = normalize_text(name)
    if not name:
        raise DomainError("missing_name")
    if len(name) > Resident.name.type.length:
        raise DomainError("name_too_long", limit=Resident.name.type.length)
    relation = normalize_text(relation) or resident.relation
    if (len(relation) > Resident.relation.type.length
            or (relation == "户主") != (resident.household.head_id == resident.id)):
        raise DomainError("relation_invalid")
    phone, id_number = normalize_phone(phone), normalize_id_number(id_number)
    if id_number and db.session.scalar(select(Resident.id).where(Resident.id_number == id_number,
                                                                  Resident.id != resident.id)):
        raise DomainError("id_number_taken")
    before = _resident_facts(resident)
    resident.name, resident.relation, resident.phone, resident.id_number = name, relation, phone, id_number
    db.session.flush()
    after = _resident_facts(resident)
    if after != before:
        record(actor, "resident.updated", "resident", resident.id, resident.household.grid_id,
               before={k: v for k, v in before.items() if after[k] != v},
               after={"household": resident.household.number, **{k: v for k, v in after.items() if before[k] != v}})
    return resident


def _resident_facts(resident: Resident) -> dict:
    """What the log keeps of a resident: the phone and ID number masked, as any staff member may read the log."""
    return {"name": resident.name, "relation": resident.relation, "phone": mask_phone(resident.phone),
            "id_number": mask_id_number(resident.id_number)}


def remove_resident(resident: Resident, departure: Departure, on: date, actor=None) -> Resident:
    """迁出, 死亡, 婚嫁迁出: a resident leaves the household on a day and keeps their history and the entries that name
    them; nothing is posted in their name from then on. The head leaves only after another member is made head (or
    with the whole household). Raises DomainError("resident_left" | "head_cannot_leave" | the day's)."""
    if resident.left_on is not None:
        raise DomainError("resident_left", status=409)
    if resident.household.head_id == resident.id:
        raise DomainError("head_cannot_leave", name=resident.name)
    resident.left_on = _valid_day(on)
    resident.departure = Departure(departure)
    db.session.flush()
    record(actor, "resident.left", "resident", resident.id, resident.household.grid_id,
           after={"household": resident.household.number, "name": resident.name,
                  "departure": resident.departure.value, "left_on": resident.left_on.isoformat()})
    return resident


@blocks_retirement
def _households_left(node_ids: Select) -> list[str]:
    """A grid is retired once its households are moved elsewhere."""
    count = db.session.scalar(select(func.count()).select_from(Household).where(Household.grid_id.in_(node_ids)))
    return [_("%(n)d 户", n=count)] if count else []
