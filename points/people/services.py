"""Writes to households and residents, and the validation of the personal data they carry."""
import re
import unicodedata

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select

from ..audit.services import record
from ..errors import DomainError
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..grids.services import blocks_retirement
from .models import CareTag, Household, HouseholdCareTag, HouseholdKind, Resident

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
ID_RE = re.compile(r"^\d{17}[\dX]$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

# Shown to people, translated when rendered: {{ KIND_LABELS[household.kind] }} in a template.
KIND_LABELS = {HouseholdKind.REGISTERED: _l("户籍"), HouseholdKind.RENTER: _l("外来租住")}
CARE_TAG_LABELS = {
    CareTag.LOW_INCOME: _l("低保"),
    CareTag.POOR: _l("贫困"),
    CareTag.DISABLED: _l("残疾"),
    CareTag.EMPTY_NEST: _l("空巢老人"),
    CareTag.LEFT_BEHIND_CHILD: _l("留守儿童"),
}
# The words a spreadsheet uses for the tags (imports.py parses them): Chinese whatever the reader's language.
CARE_TAG_WORDS = {
    CareTag.LOW_INCOME: "低保",
    CareTag.POOR: "贫困",
    CareTag.DISABLED: "残疾",
    CareTag.EMPTY_NEST: "空巢老人",
    CareTag.LEFT_BEHIND_CHILD: "留守儿童",
}


def normalize_text(value) -> str:
    """Full-width digits, letters and spaces to half-width (NFKC), NUL characters dropped (PostgreSQL cannot
    store them), trimmed; None becomes ''."""
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value)).replace("\x00", "").strip()


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
    """An 18-character 身份证号 with a valid check digit, or None when blank. Raises DomainError("invalid_id_number")."""
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
    household.care_tags = [HouseholdCareTag(tag=t) for t in dict.fromkeys(care_tags)]
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


def move_household(household: Household, grid: GridNode, actor=None) -> Household:
    """Move a household to another grid of its village: its points and history go with it; weekly results already
    published stay where they were inspected. Raises DomainError("invalid_grid" | "same_grid")."""
    if grid.kind is not NodeKind.GRID or grid.village_id != household.village_id:
        raise DomainError("invalid_grid")
    if grid.id == household.grid_id:
        raise DomainError("same_grid")
    before = household.grid.name
    household.grid_id = grid.id
    household.grid = grid
    db.session.flush()
    record(actor, "household.moved", "household", household.id, grid.id,
           before={"grid": before}, after={"number": household.number, "grid": grid.name})
    return household


@blocks_retirement
def _households_left(node_ids: Select) -> list[str]:
    """A grid is retired once its households are moved elsewhere."""
    count = db.session.scalar(select(func.count()).select_from(Household).where(Household.grid_id.in_(node_ids)))
    return [_("%(n)d 户", n=count)] if count else []
