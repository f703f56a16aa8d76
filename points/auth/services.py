"""Accounts, passwords, role assignments and API tokens."""
import functools
import hashlib
import re
import secrets
import time
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, delete, func, select
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash, generate_password_hash

from ..audit.services import record
from ..errors import DomainError, Forbidden
from ..extensions import attach, connection, db
from ..grids.models import GridNode
from ..grids.services import blocks_retirement
from ..people.models import Household, Resident
from ..people.services import normalize_phone
from ..timeutil import utcnow
from . import policy
from .models import NO_PASSWORD, ApiToken, EndedLogin, Role, RoleAssignment, User

MIN_PASSWORD = 8
_LOGIN_BEGAN = re.compile(r"[0-9a-f]{1,12}")
# Verified against when a username is unknown, so that a wrong name and a wrong password take the same time.
_DUMMY_HASH = generate_password_hash("not-a-password")


def create_user(username: str, password: str, display_name: str = "", resident: Resident | None = None) -> User:
    """A new account. Raises DomainError("username_taken" | "weak_password" | "resident_taken")."""
    username = username.strip()
    if not username:
        raise DomainError("username_required")
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise DomainError("username_taken")
    if resident is not None and db.session.scalar(select(User.id).where(User.resident_id == resident.id)):
        raise DomainError("resident_taken")
    _check_password(password)
    user = User(
        username=username,
        display_name=display_name.strip() or (resident.name if resident else username),
        password_hash=generate_password_hash(password),
        resident=resident,
    )
    db.session.add(user)
    db.session.flush()
    return user


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise DomainError("weak_password")


def authenticate(username: str, password: str) -> User:
    """The user with these credentials: a username, or a villager's mobile number (when several villagers share
    one, the one whose password it is). Raises DomainError("invalid_credentials" | "account_not_activated" |
    "account_disabled")."""
    user = db.session.scalar(select(User).where(User.username == (username or "").strip()))
    if user is None:
        user = _villager_by_phone(username, password or "")
    elif not check_password_hash(user.password_hash if user.activated else _DUMMY_HASH, password or ""):
        # One hash checked whatever the account: its state shows only to whoever could have logged in, or to a
        # villager whose account waits for its slip.
        raise DomainError("invalid_credentials" if user.activated else "account_not_activated", status=401)
    if user is None:
        raise DomainError("invalid_credentials", status=401)
    if not user.active:
        raise DomainError("account_disabled", status=403)
    return user


def _villager_by_phone(text: str, password: str) -> User | None:
    """The villager account whose resident has this mobile number and whose password this is (several villagers may
    share a phone), if any; one hash checked at least, as for an unknown username."""
    try:
        phone = normalize_phone(text)
    except DomainError:
        phone = None
    users = db.session.scalars(
        select(User).join(Resident, Resident.id == User.resident_id)
        .where(Resident.phone == phone, Resident.left_on.is_(None), User.password_hash != NO_PASSWORD)
        .order_by(User.id).limit(5)
    ).all() if phone else []
    found = next((u for u in users if check_password_hash(u.password_hash, password)), None)
    if not users:
        check_password_hash(_DUMMY_HASH, password)
    return found


def set_password(user: User, password: str) -> None:
    """A new password; every session, remember-me cookie and API token issued before it stops working, and every
    activation slip printed before it (a slip would set another)."""
    _check_password(password)
    user.password_hash = generate_password_hash(password)
    user.session_version += 1
    user.slip_version += 1
    db.session.flush()


def change_password(user: User, current: str, new: str) -> None:
    """The user's own change. Raises DomainError("wrong_password" | "weak_password")."""
    if not check_password_hash(user.password_hash, current or ""):
        raise DomainError("wrong_password")
    set_password(user, new)


def reset_password(actor: User, user: User, password: str) -> None:
    """An admin sets another user's password. Raises NotFound (out of reach) or DomainError("weak_password")."""
    policy.require_manage_user(actor, user)
    set_password(user, password)


def set_active(actor: User, user: User, active: bool) -> None:
    """An admin enables or disables another user's account; disabling ends its sessions. Raises NotFound."""
    policy.require_manage_user(actor, user)
    before = user.active
    user.active = active
    if not active:
        user.session_version += 1
    db.session.flush()
    record(actor, "account.enabled" if active else "account.disabled", "user", user.id, account_node(user),
           before={"active": before}, after={"active": active, "username": user.username})


def account_node(user: User) -> int | None:
    """The node an account's audit events belong to: its first role's, or a villager's grid."""
    if user.assignments:
        return user.assignments[0].node_id
    return user.resident.household.grid_id if user.resident else None


def create_account(
    actor: User,
    username: str,
    password: str,
    display_name: str = "",
    role: Role | None = None,
    node_id: int | None = None,
    resident_id: int | None = None,
) -> User:
    """An admin opens an account: staff with a role on a node in their scope, or a villager linked to a resident
    living there. Raises DomainError or Forbidden."""
    resident = None
    if resident_id is not None:
        resident = db.session.get(Resident, resident_id)
        if resident is None or not policy.can(actor, policy.Permission.MANAGE_USERS, resident.household.grid_id):
            raise DomainError("unknown_resident")
    node = db.session.get(GridNode, node_id) if node_id is not None else None
    if role is not None and node is None:
        raise DomainError("unknown_grid_for_role")
    if role is None and resident is None:
        raise DomainError("role_or_resident_required")
    user = create_user(username, password, display_name, resident)
    record(actor, "account.created", "user", user.id, node.id if node else resident.household.grid_id,
           after={"username": user.username, "resident": resident.name if resident else None})
    if role is not None:
        assign_role(actor, user, role, node)
    return user


def assign_role(actor: User | None, user: User, role: Role, node: GridNode) -> RoleAssignment:
    """Grant role on node's subtree. actor None is the command line. Raises DomainError or Forbidden."""
    if policy.ROLE_NODE_KINDS[role] is not node.kind:
        raise DomainError("role_scope_mismatch")
    if actor is not None and not policy.can_assign(actor, role, node):
        raise Forbidden()
    exists = db.session.scalar(
        select(RoleAssignment.id).where(
            RoleAssignment.user_id == user.id, RoleAssignment.role == role, RoleAssignment.node_id == node.id
        )
    )
    if exists:
        raise DomainError("duplicate_assignment")
    assignment = RoleAssignment(user=user, role=role, node_id=node.id)
    user.slip_version += 1  # a slip sets a villager's password: none printed before holds for a member of staff
    db.session.add(assignment)
    db.session.flush()
    record(actor, "role.assigned", "user", user.id, node.id,
           after={"username": user.username, "role": role.value, "node": node.name})
    return assignment


def revoke_role(actor: User, assignment: RoleAssignment) -> None:
    """Remove an assignment the actor could have granted. Raises Forbidden."""
    if not policy.can_assign(actor, assignment.role, assignment.node):
        raise Forbidden()
    record(actor, "role.revoked", "user", assignment.user_id, assignment.node_id,
           before={"username": assignment.user.username, "role": assignment.role.value, "node": assignment.node.name})
    db.session.delete(assignment)
    db.session.flush()


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, days: int) -> tuple[str, ApiToken]:
    """A new bearer token; only its hash is kept."""
    token = secrets.token_urlsafe(32)
    row = ApiToken(
        user=user,
        token_hash=_hash_token(token),
        session_version=user.session_version,
        expires_at=utcnow() + timedelta(days=days),
    )
    db.session.add(row)
    db.session.flush()
    return token, row


def user_for_token(token: str) -> User:
    """The active user behind a bearer token, with their roles and their resident (and household) loaded by the same
    query: nearly every API request asks policy about them. Raises DomainError("invalid_token").

    The rows are read by the tables' statement and made the session's objects by attach(): the ORM's joined loading
    of the four, on every API request, cost more than the statement."""
    rows = connection().execute(_token_query(), {"token_hash": _hash_token(token or "")}).all()
    if not rows:
        raise DomainError("invalid_token", status=401)
    first = rows[0]._mapping
    if first["token_expires_at"] < utcnow() or not first["users_active"] or (
            first["token_session_version"] != first["users_session_version"]):
        raise DomainError("invalid_token", status=401)
    user = attach(User, _columns(first, User))
    set_committed_value(user, "assignments", [attach(RoleAssignment, _columns(row._mapping, RoleAssignment))
                                              for row in rows if row._mapping["role_assignments_id"] is not None])
    resident = attach(Resident, _columns(first, Resident)) if first["residents_id"] is not None else None
    if resident is not None:
        set_committed_value(resident, "household", attach(Household, _columns(first, Household)))
    set_committed_value(user, "resident", resident)
    return user


def _columns(row, model) -> dict:
    """model's columns in a row of _token_query(), by their names."""
    table = model.__table__
    return {column.name: row[f"{table.name}_{column.name}"] for column in table.columns}


@functools.cache
def _token_query():
    """Built once. The token's user with each of their roles (a row each, in id order), their resident and household;
    each column labelled with its table's name."""
    tables = [User.__table__, RoleAssignment.__table__, Resident.__table__, Household.__table__]
    tokens = ApiToken.__table__
    return (select(tokens.c.expires_at.label("token_expires_at"),
                   tokens.c.session_version.label("token_session_version"),
                   *(column.label(f"{table.name}_{column.name}") for table in tables for column in table.columns))
            .select_from(tokens).join(tables[0], tables[0].c.id == tokens.c.user_id)
            .outerjoin(tables[1], tables[1].c.user_id == tables[0].c.id)
            .outerjoin(tables[2], tables[2].c.id == tables[0].c.resident_id)
            .outerjoin(tables[3], tables[3].c.id == tables[2].c.household_id)
            .where(tokens.c.token_hash == bindparam("token_hash")).order_by(tables[1].c.id))


def load_session_user(session_id: str) -> User | None:
    """Flask-Login's loader: "id:version:login", refused when the password changed since, when that login ended (its
    device logged out) or began longer ago than a remember-me cookie lives. An id without a login (made before
    logins could be ended) is refused too: its holder logs in again."""
    user_id, version, login_id = ((session_id or "").split(":") + ["", ""])[:3]
    began, _, _ = login_id.partition(".")
    if not user_id.isdigit() or not version.isdigit() or not _LOGIN_BEGAN.fullmatch(began):
        return None
    if time.time() - int(began, 16) > current_app.config["REMEMBER_COOKIE_DURATION"].total_seconds():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version):
        return None
    if db.session.get(EndedLogin, login_id) is not None:
        return None
    user.login_id = login_id
    return user


def begin_login(user: User) -> User:
    """A new login on this device (when it began, and a random part), to be ended by end_login when it logs out."""
    user.login_id = f"{int(time.time()):x}.{secrets.token_urlsafe(12)}"
    return user


def end_login(user: User) -> None:
    """Logging out: this login's session and remember-me cookies open nothing more, wherever they were copied. A login
    begun longer ago than a remember-me cookie lives is refused anyway: those ended so long ago are forgotten."""
    if not user.login_id:
        return
    oldest = utcnow() - current_app.config["REMEMBER_COOKIE_DURATION"]
    db.session.execute(delete(EndedLogin).where(EndedLogin.ended_at < oldest))
    db.session.add(EndedLogin(login_id=user.login_id))
    db.session.flush()


@blocks_retirement
def _staff_left(node_ids: Select) -> list[str]:
    """A node is retired once nobody holds a role on it: their scope would be a node in no list."""
    count = db.session.scalar(select(func.count()).select_from(RoleAssignment)
                              .where(RoleAssignment.node_id.in_(node_ids)))
    return [_("%(n)d 个角色分配", n=count)] if count else []
