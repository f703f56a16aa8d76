"""Keeping the 花名册: what admins may change about the households and residents in their scope, for the pages and
the API alike. Nobody changes the register entry of their own household."""
from datetime import date

from sqlalchemy import select

from ..errors import DomainError, Forbidden
from ..extensions import db
from ..grids.models import GridNode
from ..people import imports, services
from ..people.import_table import ImportReport
from ..people.models import CareTag, Closure, Departure, Household, HouseholdKind, Resident
from ..uploads import normalize_text
from . import policy
from .models import User
from .services import set_active

KEEP = policy.Permission.IMPORT_HOUSEHOLDS


def may_keep(actor: User, household: Household) -> bool:
    """Whether the actor keeps the household's register entry: an admin in scope, not of their own household."""
    return policy.can(actor, KEEP, household.grid_id) and household.id != policy.own_household_id(actor)


def kept_household(actor: User, household_id: int) -> Household:
    """A household whose register entry the actor keeps. Raises NotFound, Forbidden, DomainError("own_household")."""
    household = policy.visible_household(actor, household_id)
    if not may_keep(actor, household):
        if policy.can(actor, KEEP, household.grid_id):
            raise DomainError("own_household", status=403)
        raise Forbidden()
    return household


def _open(actor: User, household_id: int) -> Household:
    household = kept_household(actor, household_id)
    if household.closed_on is not None:
        raise DomainError("household_closed", status=409, number=household.number)
    return household


def move_household(actor: User, household_id: int, grid_id: int) -> Household:
    """调整网格: a household on the register the actor keeps, to another grid of its village in their scope.
    Raises NotFound, Forbidden, DomainError("own_household" | "household_closed" | "invalid_grid" | "same_grid")."""
    household = _open(actor, household_id)
    grid = db.session.get(GridNode, grid_id) if isinstance(grid_id, int) else None
    if grid is None or not policy.can(actor, KEEP, grid.id):
        raise DomainError("invalid_grid")
    return services.move_household(household, grid, actor)


def kept_resident(actor: User, resident_id: int) -> Resident:
    """A resident of a household on the register that the actor keeps. Raises NotFound, Forbidden, DomainError."""
    resident = policy.visible_resident(actor, resident_id)
    _open(actor, resident.household_id)
    return resident


def add_household(actor: User, grid_id: int, address: str, kind: HouseholdKind, head_name: str,
                  head_phone: str | None = None, head_id_number: str | None = None,
                  care_tags: list[CareTag] = ()) -> Household:
    """新增户 in a grid of the actor's scope, with its head; the next free 户号.
    Raises NotFound, Forbidden, DomainError(…people.services.create_household's)."""
    grid = db.session.get(GridNode, grid_id) if grid_id else None
    if grid is None or grid.retired_at is not None:
        raise DomainError("invalid_grid")
    if not policy.can(actor, KEEP, grid.id):
        raise Forbidden()
    return services.create_household(grid, normalize_text(address) or "", kind, head_name,
                                     head_phone=head_phone, head_id_number=head_id_number, care_tags=care_tags,
                                     actor=actor)


def update_household(actor: User, household_id: int, **changes) -> Household:
    """Edit a household on the register: what changes names (address, kind, care_tags, head_id) is replaced, the rest
    stays. Raises NotFound, Forbidden, DomainError(…people.services.update_household's)."""
    household = _open(actor, household_id)
    facts = dict(address=household.address, kind=household.kind, care_tags=[t.tag for t in household.care_tags],
                 head_id=household.head_id)
    facts.update(changes)
    head = db.session.get(Resident, facts.pop("head_id")) if facts["head_id"] else None
    if head is None:
        raise DomainError("head_not_member")
    return services.update_household(household, head=head, actor=actor, **facts)


def close_household(actor: User, household_id: int, closure: Closure, on: date) -> Household:
    """整户迁出. Raises NotFound, Forbidden, DomainError(…people.services.close_household's)."""
    return services.close_household(kept_household(actor, household_id), closure, on, actor)


def reopen_household(actor: User, household_id: int) -> Household:
    """恢复 a household that left. Raises NotFound, Forbidden, DomainError("household_open")."""
    return services.reopen_household(kept_household(actor, household_id), actor)


def add_resident(actor: User, household_id: int, name: str, relation: str, phone: str | None = None,
                 id_number: str | None = None) -> Resident:
    """新增成员 of a household on the register; the head is chosen on the household. Raises NotFound, Forbidden,
    DomainError("relation_invalid" | …people.services.add_resident's)."""
    household = _open(actor, household_id)
    relation = normalize_text(relation)
    if not relation or relation == "户主" or len(relation) > Resident.relation.type.length:
        raise DomainError("relation_invalid")
    return services.add_resident(household, name, relation, phone, id_number, actor=actor)


def update_resident(actor: User, resident_id: int, **changes) -> Resident:
    """Edit a resident of a household on the register: what changes names (name, relation, phone, id_number; None
    clears a phone or an ID number) is replaced, the rest stays. Raises NotFound, Forbidden,
    DomainError(…people.services.update_resident's)."""
    resident = kept_resident(actor, resident_id)
    facts = dict(name=resident.name, relation=resident.relation, phone=resident.phone, id_number=resident.id_number)
    facts.update(changes)
    return services.update_resident(resident, actor=actor, **facts)


def remove_resident(actor: User, resident_id: int, departure: Departure, on: date) -> Resident:
    """迁出, 死亡, 婚嫁迁出: the resident leaves the household, and their villager account, if they had one, is disabled
    (its sessions end). Raises NotFound, Forbidden, DomainError(…people.services.remove_resident's)."""
    resident = services.remove_resident(kept_resident(actor, resident_id), departure, on, actor)
    account = db.session.scalar(select(User).where(User.resident_id == resident.id, User.active.is_(True)))
    if account is not None and policy.can_manage_user(actor, account):  # not a colleague's, whose roles lie elsewhere
        set_active(actor, account, False)
    return resident


def import_households(actor: User | None, village: GridNode, data: bytes, max_bytes: int,
                      apply: bool = True) -> ImportReport:
    """导入花名册 into a village of the actor's scope (people.imports.import_households): nobody changes their own
    household by it, a change to it is an error of its row. No actor is the command line, run on the server.
    Raises Forbidden, DomainError("closed_since_preview")."""
    if actor is not None and not policy.can(actor, KEEP, village.id):
        raise Forbidden()
    return imports.import_households(village, data, max_bytes, actor=actor,
                                     own_household_id=policy.own_household_id(actor), apply=apply)
