"""Who may do what, where: the one place where access is decided.

A role assignment (user, role, node) grants the role's permissions in that node's subtree. A villager
(a user linked to a resident) holds no role: they see their own household and nothing else. Views and the
API ask this module; nothing else compares roles.
"""
import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, and_, false, or_, select

from ..errors import DomainError, Forbidden, NotFound
from ..extensions import db
from ..grids.models import GridNode, GridPath, NodeKind
from ..grids.queries import is_within
from ..people.models import Household, Resident
from .models import Role, RoleAssignment, User


class Permission(enum.Enum):
    VIEW_GRIDS = "view_grids"  # the overview and tree of a node
    MANAGE_GRIDS = "manage_grids"  # add, rename, re-code, move and retire the nodes below one's own
    VIEW_HOUSEHOLDS = "view_households"  # household and resident pages, full names and phones
    VIEW_CARE_TAGS = "view_care_tags"  # 低保, 残疾 …: staff who visit
    VIEW_ID_NUMBERS = "view_id_numbers"  # the whole 身份证号 rather than a masked one
    IMPORT_HOUSEHOLDS = "import_households"
    MANAGE_USERS = "manage_users"  # accounts and role assignments
    MANAGE_RULES = "manage_rules"  # the village's 积分细则
    REVIEW_CLAIMS = "review_claims"  # approve or reject villagers' 积分申报
    DECIDE_APPEALS = "decide_appeals"  # uphold or reverse a deduction a villager appealed
    REVERSE_ENTRIES = "reverse_entries"  # 冲正 any entry
    VIEW_AUDIT = "view_audit"  # the audit log
    MANAGE_HYGIENE = "manage_hygiene"  # the checklist, settings and assignment of 卫生评比; publish, score anywhere
    MANAGE_EVENTS = "manage_events"  # create, edit, run and close any 志愿活动 of the village
    MANAGE_CARDS = "manage_cards"  # print household cards and reissue (补办) them
    RUN_SHOP = "run_shop"  # the 积分超市's counter, products, stock and reports; void a redemption the same day
    MANAGE_SHOP = "manage_shop"  # open a shop; void a redemption of an earlier day
    MANAGE_BOARDS = "manage_boards"  # how long the village's 红榜 is, and whether it lists a 黑榜
    VIEW_DASHBOARDS = "view_dashboards"  # the 数据看板: points issued and redeemed, participation, grids compared
    GRID_WORK = "grid_work"  # 民情诉求 handled, 微心愿 posted and confirmed, 走访 logged: the grid's own work
    MANAGE_GRID_WORK = "manage_grid_work"  # the village's settings of that work: categories, deadlines, rules, visits
    MANAGE_POINTS = "manage_points"  # 公示 and 清零 settings, 清零 runs and their undoing, bars on redeeming


_ADMIN = frozenset(Permission)
_GRID_STAFF = frozenset(
    {Permission.VIEW_GRIDS, Permission.VIEW_HOUSEHOLDS, Permission.VIEW_CARE_TAGS, Permission.REVIEW_CLAIMS,
     Permission.MANAGE_CARDS, Permission.GRID_WORK}
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.TOWN_ADMIN: _ADMIN,
    Role.VILLAGE_ADMIN: _ADMIN,
    Role.GRID_LEADER: _GRID_STAFF,
    Role.GRID_WORKER: _GRID_STAFF,
    Role.SHOP_CLERK: frozenset({Permission.VIEW_GRIDS, Permission.RUN_SHOP}),
    Role.EVENT_ORGANIZER: frozenset({Permission.VIEW_GRIDS, Permission.MANAGE_EVENTS}),
}

# The kind of node each role is assigned on.
ROLE_NODE_KINDS: dict[Role, NodeKind] = {
    Role.TOWN_ADMIN: NodeKind.TOWN,
    Role.VILLAGE_ADMIN: NodeKind.VILLAGE,
    Role.GRID_LEADER: NodeKind.GRID,
    Role.GRID_WORKER: NodeKind.GRID,
    Role.SHOP_CLERK: NodeKind.VILLAGE,
    Role.EVENT_ORGANIZER: NodeKind.VILLAGE,
}


def scope_ids(user: User | None, permission: Permission) -> list[int]:
    """The nodes at whose subtrees user holds permission."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.active:
        return []
    return sorted({a.node_id for a in user.assignments if permission in ROLE_PERMISSIONS[a.role]})


def holds(user: User | None, permission: Permission) -> bool:
    """Whether user holds permission anywhere (to show a menu entry)."""
    return bool(scope_ids(user, permission))


def only_clerk(user: User | None) -> bool:
    """Whether every role the user holds is a shop clerk's: who starts the day at the counter (an admin or an
    organizer who also runs a counter keeps their own start)."""
    roles = {a.role for a in user.assignments} if scope_ids(user, Permission.RUN_SHOP) else set()
    return roles == {Role.SHOP_CLERK}


def can(user: User | None, permission: Permission, node_id: int) -> bool:
    return is_within(node_id, scope_ids(user, permission))


def require(user: User | None, permission: Permission, node_id: int) -> None:
    """Raises Forbidden unless user holds permission at node_id."""
    if not can(user, permission, node_id):
        raise Forbidden()


def node_filter(user: User | None, permission: Permission, column) -> ColumnElement[bool]:
    """A WHERE clause keeping rows whose node column lies in user's scope for permission."""
    scopes = scope_ids(user, permission)
    if not scopes:
        return false()
    return column.in_(select(GridPath.descendant_id).where(GridPath.ancestor_id.in_(scopes)))


def own_household_id(user: User | None) -> int | None:
    """The household of a villager account, if the user is one."""
    if user is None or not getattr(user, "is_authenticated", False) or user.resident is None:
        return None
    return user.resident.household_id


def refuse_own_household(actor: User | None, household_id: int, code: str = "own_household") -> None:
    """Nobody decides anything about points, claims, appeals, reversals, hygiene scores, redemptions or voids of their
    own household: a staff account linked to a resident leaves those to a colleague. Every such decision asks this,
    on every door. Raises DomainError(code), 403."""
    if household_id == own_household_id(actor):
        raise DomainError(code, status=403)


def household_filter(user: User | None, permission: Permission = Permission.VIEW_HOUSEHOLDS) -> ColumnElement[bool]:
    """Households the user may see (or, given another permission, whose claims or appeals they see): those in
    the user's scope for permission, and a villager's own."""
    own = own_household_id(user)
    staff = node_filter(user, permission, Household.grid_id)
    return or_(staff, Household.id == own) if own else staff


def can_view_household(user: User | None, household: Household) -> bool:
    return household.id == own_household_id(user) or can(user, Permission.VIEW_HOUSEHOLDS, household.grid_id)


def can_see_case(user: User | None, household: Household, permission: Permission) -> bool:
    """A claim or an appeal is seen by its own household and by whoever decides it (permission) in scope."""
    return household.id == own_household_id(user) or can(user, permission, household.grid_id)


def visible_household(user: User | None, household_id: int) -> Household:
    """The household, if user may see it. Raises NotFound or Forbidden."""
    household = db.session.get(Household, household_id)
    if household is None:
        raise NotFound()
    if not can_view_household(user, household):
        raise Forbidden()
    return household


def visible_resident(user: User | None, resident_id: int) -> Resident:
    """The resident, if user may see their household. Raises NotFound or Forbidden."""
    resident = db.session.get(Resident, resident_id)
    if resident is None:
        raise NotFound()
    visible_household(user, resident.household_id)
    return resident


@dataclass(frozen=True)
class Disclosure:
    """How much personal data of one household a viewer sees on its detail pages."""

    phones: bool
    id_numbers: bool
    care_tags: bool


def disclosure(user: User | None, household: Household) -> Disclosure:
    """Full phones for the household itself and staff in scope; full ID numbers and care tags for staff only."""
    staff = can(user, Permission.VIEW_HOUSEHOLDS, household.grid_id)
    return Disclosure(
        phones=staff or household.id == own_household_id(user),
        id_numbers=can(user, Permission.VIEW_ID_NUMBERS, household.grid_id),
        care_tags=can(user, Permission.VIEW_CARE_TAGS, household.grid_id),
    )


def can_apply_rule(actor: User | None, rule_roles: frozenset[Role], household: Household) -> bool:
    """Whether actor holds one of the rule's roles at a node above the household's grid."""
    return _holds_role_over(actor, rule_roles, household.grid_id)


def roles_over(actor: User | None, node_id: int) -> frozenset[Role]:
    """The roles actor holds at node_id or above it: those the rules they may apply there are matched against."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.active:
        return frozenset()
    above = set(db.session.scalars(select(GridPath.ancestor_id).where(GridPath.descendant_id == node_id)))
    return frozenset(a.role for a in actor.assignments if a.node_id in above)


def roles_touching(actor: User | None, node_id: int) -> frozenset[Role]:
    """The roles actor holds at node_id, above it or inside its subtree (a grid worker's, seen from the village)."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.active:
        return frozenset()
    related = set(db.session.scalars(select(GridPath.ancestor_id).where(GridPath.descendant_id == node_id)))
    related |= set(db.session.scalars(select(GridPath.descendant_id).where(GridPath.ancestor_id == node_id)))
    return frozenset(a.role for a in actor.assignments if a.node_id in related)


def can_see_village(user: User | None, village_id: int) -> bool:
    """A village's 积分细则 and its 卫生评比 results are read by its villagers and by staff whose scope holds the
    village, lies above it or inside it (grid workers apply its rules and inspect its grids)."""
    own = own_household_id(user)
    if own is not None and db.session.get(Household, own).village_id == village_id:
        return True
    scopes = scope_ids(user, Permission.VIEW_GRIDS)
    inside = select(GridNode.id).where(GridNode.id.in_(scopes), GridNode.village_id == village_id).limit(1)
    return bool(scopes) and (is_within(village_id, scopes) or db.session.scalar(inside) is not None)


def visible_village(user: User | None, village_id: int) -> GridNode:
    """The village, for a page of it (rule book, 评比, events). Raises NotFound, Forbidden."""
    village = db.session.get(GridNode, village_id)
    if village is None or village.kind is not NodeKind.VILLAGE:
        raise NotFound()
    if not can_see_village(user, village.id):
        raise Forbidden()
    return village


def village_or_template(user: User | None, node_id: int, permission: Permission) -> GridNode:
    """A village, for a page of it; or a town, for a page of its template (the rule book, hygiene checklist and
    settings new villages start from), to whoever holds permission there. Raises NotFound, Forbidden."""
    node = db.session.get(GridNode, node_id)
    if node is not None and node.kind is NodeKind.TOWN:
        if not can(user, permission, node.id):
            raise NotFound()
        return node
    return visible_village(user, node_id)


INSPECTING_ROLES = frozenset({Role.GRID_LEADER, Role.GRID_WORKER})


def _holds_role_over(user: User | None, roles: frozenset[Role], node_id: int) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.active:
        return False
    return is_within(node_id, [a.node_id for a in user.assignments if a.role in roles])


def can_score(user: User | None, village_id: int, inspector_grid_id: int | None) -> bool:
    """交叉检查: the inspecting grid's leaders and workers score the grid assigned to it in that round (and no
    other); the village admin scores any grid."""
    if can(user, Permission.MANAGE_HYGIENE, village_id):
        return True
    return inspector_grid_id is not None and _holds_role_over(user, INSPECTING_ROLES, inspector_grid_id)


def can_publish(user: User | None, village_id: int, inspector_grid_id: int | None) -> bool:
    """A grid's weekly results are published by the village admin or by the leader of the grid that inspected it."""
    if can(user, Permission.MANAGE_HYGIENE, village_id):
        return True
    return inspector_grid_id is not None and _holds_role_over(user, frozenset({Role.GRID_LEADER}), inspector_grid_id)


def can_run_event(user: User | None, village_id: int, organizer_id: int | None) -> bool:
    """An event is run (people checked in, attendances removed, the event closed) by its organizer, by the village's
    event organizers and by its admins."""
    if can(user, Permission.MANAGE_EVENTS, village_id):
        return True
    return organizer_id is not None and user is not None and getattr(user, "id", None) == organizer_id and user.active


def can_add_node_under(user: User | None, parent: GridNode) -> bool:
    """An admin adds villages and grids anywhere in their scope: a town admin under the town, a village admin
    inside the village."""
    return can(user, Permission.MANAGE_GRIDS, parent.id)


def can_manage_node(user: User | None, node: GridNode) -> bool:
    """An admin renames, re-codes, moves and retires the nodes below their own (a village admin's grids, not the
    village itself)."""
    return node.parent_id is not None and can(user, Permission.MANAGE_GRIDS, node.parent_id)


def tree_keeping(user: User | None, nodes: list[GridNode]) -> tuple[set[int], set[int]]:
    """Of nodes (a whole tree's), the ids of those user may add under and of those they may change, as
    can_add_node_under and can_manage_node say, in one query."""
    kept = {n.id for n in nodes_in_scope(user, Permission.MANAGE_GRIDS)}
    return {n.id for n in nodes if n.id in kept}, {n.id for n in nodes if n.parent_id in kept}


def can_assign(actor: User, role: Role, node: GridNode) -> bool:
    """An admin may grant roles on nodes inside their own scope; the node must be of the role's kind."""
    return ROLE_NODE_KINDS[role] is node.kind and can(actor, Permission.MANAGE_USERS, node.id)


def user_filter(actor: User) -> ColumnElement[bool]:
    """Users an admin may manage: never themselves; users whose every role lies in the admin's scope (a role
    elsewhere puts the account out of reach: its password would open that place too); villagers living there."""
    scopes = scope_ids(actor, Permission.MANAGE_USERS)
    if not scopes:
        return false()
    in_scope = select(GridPath.descendant_id).where(GridPath.ancestor_id.in_(scopes))
    roles = select(RoleAssignment.id).where(RoleAssignment.user_id == User.id)
    villagers = select(Resident.id).join(Household, Resident.household_id == Household.id).where(
        Household.grid_id.in_(in_scope)
    )
    return and_(
        User.id != actor.id,
        ~roles.where(RoleAssignment.node_id.not_in(in_scope)).exists(),
        or_(roles.where(RoleAssignment.node_id.in_(in_scope)).exists(), User.resident_id.in_(villagers)),
    )


def can_manage_user(actor: User, user: User) -> bool:
    return db.session.scalar(select(User.id).where(User.id == user.id, user_filter(actor))) is not None


def require_manage_user(actor: User, user: User) -> None:
    """Raises NotFound unless actor may manage user (out of scope looks the same as absent)."""
    if not can_manage_user(actor, user):
        raise NotFound()


def require_reissue_slip(actor: User, user: User) -> None:
    """补发激活单: grid staff and admins where the villager lives (those who print household cards), never for their
    own household, and only for a villager's account: a slip sets the password, so an account with a role is not
    one a grid worker may take over. Raises NotFound or DomainError("own_household_account" | "not_villager_account" |
    "account_disabled")."""
    if user.resident is None:
        raise NotFound()
    household = user.resident.household
    if not can(actor, Permission.MANAGE_CARDS, household.grid_id):
        raise NotFound()
    if household.id == own_household_id(actor):
        raise DomainError("own_household_account", status=403)
    if db.session.scalar(select(RoleAssignment.id).where(RoleAssignment.user_id == user.id).limit(1)):
        raise DomainError("not_villager_account", status=403)
    if not user.active:
        raise DomainError("account_disabled", status=409)


def may_reissue_slip(actor: User, user: User | None) -> bool:
    """Whether to offer 补发激活单 for this account (the refusal says why when it is asked anyway)."""
    if user is None:
        return False
    try:
        require_reissue_slip(actor, user)
    except (NotFound, DomainError):
        return False
    return True


def nodes_in_scope(user: User | None, permission: Permission, kind: NodeKind | None = None) -> list[GridNode]:
    """Every node in use (of one kind, if given) in the user's scopes for permission, parents first, each once."""
    query = select(GridNode).where(node_filter(user, permission, GridNode.id), GridNode.retired_at.is_(None)) \
        .order_by(GridNode.depth, GridNode.id)
    if kind is not None:
        query = query.where(GridNode.kind == kind)
    return list(db.session.scalars(query))


def staff_at(node_id: int, permission: Permission) -> list[User]:
    """The active accounts assigned exactly at node_id with a role that grants permission: who a grid's (or a
    village's) work lands with, and who is told about it."""
    roles = [role for role, granted in ROLE_PERMISSIONS.items() if permission in granted]
    return list(db.session.scalars(
        select(User).join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.node_id == node_id, RoleAssignment.role.in_(roles), User.active.is_(True))
        .order_by(User.id).distinct()
    ))


def home_node_ids(user: User) -> list[int]:
    """The nodes a staff user's pages start from: the top of each of their scopes."""
    return scope_ids(user, Permission.VIEW_GRIDS)


# ---------------------------------------------------------------------------------------------------- points and shop
# Who may reverse entries and void redemptions: rules of higher domains, told here in households, villages and days.


def may_reverse_entries(user: User | None, household: Household) -> bool:
    """Whether to offer 冲正 on the household's entries: to whoever may reverse entries where it lives, never on their
    own household."""
    return household.id != own_household_id(user) and can(user, Permission.REVERSE_ENTRIES, household.grid_id)


def require_reverse_entries(user: User | None, household: Household) -> None:
    """冲正 an entry of the household: whoever may reverse entries where it lives, never in their own household.
    Raises Forbidden, DomainError("own_reversal")."""
    require(user, Permission.REVERSE_ENTRIES, household.grid_id)
    refuse_own_household(user, household.id, "own_reversal")


def may_void_redemption(user: User | None, village_id: int, day: date, today: date) -> bool:
    """作废 a redemption made on day (local) at a shop of the village: whoever manages the village's shops, any day;
    its clerks on that day only."""
    if can(user, Permission.MANAGE_SHOP, village_id):
        return True
    return day == today and can(user, Permission.RUN_SHOP, village_id)


# ---------------------------------------------------------------------------------------------------- 卫生评比
# Who may open a week's round, save and read its score sheets: told here in villages, grids and whether the grid's
# sheets are closed (its results or its month published).


def can_open_round(user: User | None, village_id: int, inspected_grid_ids: Callable[[], list[int]]) -> bool:
    """A week's round of the village is opened by its admin and by the leaders and workers of the grids it inspects
    (inspected_grid_ids() lists them)."""
    if can(user, Permission.MANAGE_HYGIENE, village_id):
        return True
    return any(can_score(user, village_id, grid_id) for grid_id in inspected_grid_ids())


def can_save_score(user: User | None, village_id: int, inspector_grid_id: int | None,
                   closed: Callable[[], bool]) -> bool:
    """A grid's score sheets of a round are saved by the village admin at any time, and by the inspecting grid's
    leaders and workers (can_score) until they are closed (closed() asks: the grid's results of the round, or its
    month, published)."""
    if can(user, Permission.MANAGE_HYGIENE, village_id):
        return True
    return can_score(user, village_id, inspector_grid_id) and not closed()


def can_read_score_sheets(user: User | None, village_id: int, grid_id: int, inspector_grid_id: int | None) -> bool:
    """A grid's score sheets of a round are staff's: whoever may score the grid that round (its inspecting grid's
    leaders and workers, the village admin) and the inspected grid's own staff. Villagers read the published
    results."""
    return can_score(user, village_id, inspector_grid_id) or can(user, Permission.VIEW_HOUSEHOLDS, grid_id)


# --- grid work


def can_see_duty_ranking(user: User | None, node: GridNode) -> bool:
    """The 履职 ranking of a village or a town (staff names: staff-only) is read by admins of that node (the 数据看板's
    readers) and, for a village, by the grid leaders and workers serving in it."""
    if node.kind not in (NodeKind.VILLAGE, NodeKind.TOWN):
        return False
    if can(user, Permission.VIEW_DASHBOARDS, node.id):
        return True
    return node.kind is NodeKind.VILLAGE and bool(roles_touching(user, node.id) & INSPECTING_ROLES)
