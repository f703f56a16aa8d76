"""The 花名册 workbook's columns and words, and the records an import reads the file into and reports with."""
import re
from collections import defaultdict
from dataclasses import dataclass, field

from ..errors import DomainError
from ..grids.models import GridNode
from ..grids.queries import grids_of_village
from ..uploads import RowError
from .models import CareTag, Household, HouseholdKind, Resident
from .services import CARE_TAG_WORDS

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
TAG_SEPARATORS = re.compile(r"[,，、;；/\s]+")
CHUNK = 500  # ids or numbers in one IN (…)


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
class Person:
    """A person as a row of the file describes them."""

    row: int
    name: str
    relation: str
    phone: str | None
    id_number: str | None
    match: "KnownPerson | None" = None  # the resident on the register this row describes


@dataclass
class House:
    """A household as the rows of the file describe it."""

    row: int
    number: str
    head_name: str
    grid: GridNode
    address: str
    kind: HouseholdKind
    tags: list[CareTag]
    head: Person | None = None
    members: list[Person] = field(default_factory=list)
    known: "Known | None" = None  # the household on the register that the file updates

    @property
    def people(self) -> list[Person]:
        """The head first (every household has one once its rows are read), then the members."""
        return [self.head] + self.members


@dataclass
class KnownPerson:
    id: int
    name: str
    relation: str
    phone: str | None
    id_number: str | None


@dataclass
class Known:
    """A household on the register, as far as an import compares it."""

    id: int
    number: str
    grid_id: int
    address: str
    kind: HouseholdKind
    head_id: int | None
    closed: bool
    tags: set[CareTag] = field(default_factory=set)
    residents: list[KnownPerson] = field(default_factory=list)

    @property
    def head_name(self) -> str:
        return next((p.name for p in self.residents if p.id == self.head_id), "")


@dataclass
class HouseUpdate:
    """What an import changes in one household on the register."""

    house: House
    known: Known
    household: dict  # column → new value (grid_id, address, kind, tags)
    people: list[tuple[KnownPerson, dict]]  # resident → column → new value (name, relation, phone, id_number)
    joining: list[Person]  # new residents
    head: Person | KnownPerson  # who is head after the import


class GridIndex:
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


def tag_words(tags) -> str:
    """Care tags as the file writes them, in CareTag order: 低保、空巢老人."""
    return "、".join(CARE_TAG_WORDS[t] for t in CareTag if t in tags)
