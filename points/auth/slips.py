"""Villager accounts at scale: opened for a whole village or grid in one action, each activated by its villager
from a printed slip (激活单), whose QR opens a page that sets the password and logs them in. Staff accounts opened by
the tree workbook (auth.tree_workbook) are activated the same way, once: a slip never sets the password of a member of
staff who has one.

A slip holds a signed token of the account's id, its slip version and how many days it is valid: nothing personal.
Setting the password from a slip, or reissuing it (a forgotten password), bumps the version, which voids every slip
printed before.
"""
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import exists, insert, select, update
from sqlalchemy.orm import contains_eager, selectinload

from ..audit.services import record
from ..errors import DomainError, NotFound
from ..extensions import db
from ..grids.models import GridNode
from ..grids.queries import subtree_ids
from ..people.models import Household, Resident
from ..people.queries import living_under
from ..timeutil import local_today, utcnow
from . import policy
from .models import NO_PASSWORD, RoleAssignment, User
from .services import account_node, set_password

MAX_DAYS = 90


@dataclass(frozen=True)
class Candidates:
    """Who opening accounts on a node would reach."""

    residents: list[Resident]
    without_age: int  # left out because an age was asked and their ID number does not give one


@dataclass(frozen=True)
class Slip:
    user: User
    resident: Resident | None  # None for a member of staff
    token: str
    valid_until: date


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="activation-slip")


def _node_for_accounts(actor: User, node_id: int) -> GridNode:
    node = db.session.get(GridNode, node_id)
    if node is None or node.retired_at is not None:
        raise NotFound()
    policy.require(actor, policy.Permission.MANAGE_USERS, node.id)
    return node


def age_on(id_number: str | None, day: date) -> int | None:
    """Age in whole years on day, from the birth date in an 18-character 身份证号; None without one."""
    if not id_number:
        return None
    try:
        born = datetime.strptime(id_number[6:14], "%Y%m%d").date()
    except ValueError:
        return None
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def candidates(actor: User, node_id: int, min_age: int | None = None) -> Candidates:
    """Residents living in the node's subtree, in households on the register, who have no account yet; with min_age,
    those at least that old. Raises NotFound or Forbidden."""
    node = _node_for_accounts(actor, node_id)
    residents = db.session.scalars(
        select(Resident)
        .join(Household, Household.id == Resident.household_id)
        .where(*living_under(node.id), ~exists().where(User.resident_id == Resident.id))
        .order_by(Household.number, Resident.id)
    ).all()
    if min_age is None:
        return Candidates(residents, 0)
    today = local_today()
    ages = [(r, age_on(r.id_number, today)) for r in residents]
    return Candidates([r for r, age in ages if age is not None and age >= min_age],
                      sum(1 for _, age in ages if age is None))


def open_accounts(actor: User, node_id: int, min_age: int | None = None) -> int:
    """开通账号: an account, without a password, for each of candidates(); their slips are printed next. Returns how
    many were opened. Raises NotFound or Forbidden."""
    node = _node_for_accounts(actor, node_id)
    residents = candidates(actor, node_id, min_age).residents
    if not residents:
        return 0
    # The username printed on the slip: the village's code and the resident's number, e.g. yaoqian-1024.
    village_codes = dict(db.session.execute(
        select(Household.id, GridNode.code).join(GridNode, GridNode.id == Household.village_id)
        .where(Household.id.in_({r.household_id for r in residents}))
    ).all())
    wanted = {r.id: f"{village_codes[r.household_id]}-{r.id}" for r in residents}
    taken = set(db.session.scalars(select(User.username).where(User.username.in_(list(wanted.values())))))
    now = utcnow()
    db.session.execute(insert(User), [
        dict(username=name if name not in taken else f"{name}-{secrets.token_hex(2)}", display_name=resident.name,
             password_hash=NO_PASSWORD, resident_id=resident.id, active=True, session_version=1, slip_version=0,
             created_at=now)
        for resident in residents
        for name in [wanted[resident.id]]
    ])
    record(actor, "accounts.opened", "node", node.id, node.id,
           after={"node": node.name, "accounts": len(residents), "min_age": min_age})
    return len(residents)


def slip_days() -> int:
    """How long a slip printed now is valid (SLIP_DAYS, at most MAX_DAYS)."""
    return min(max(current_app.config["SLIP_DAYS"], 1), MAX_DAYS)


def slip_of(user: User, days: int) -> Slip:
    token = _serializer().dumps({"u": user.id, "v": user.slip_version, "d": days})
    return Slip(user, user.resident, token, local_today() + timedelta(days=days))


def pending_slips(actor: User, node_id: int, days: int) -> list[Slip]:
    """The slips of the accounts in the node's subtree that nobody has activated yet: staff with a role there that the
    actor manages, then villagers living there. Raises NotFound or Forbidden."""
    node = _node_for_accounts(actor, node_id)
    staff = db.session.scalars(
        select(User)
        .where(User.resident_id.is_(None), User.password_hash == NO_PASSWORD, User.active.is_(True),
               exists().where(RoleAssignment.user_id == User.id, RoleAssignment.node_id.in_(subtree_ids(node.id))),
               policy.user_filter(actor))
        .order_by(User.id)
        .options(selectinload(User.assignments).joinedload(RoleAssignment.node))  # the slip names the roles
    ).all()
    users = db.session.scalars(
        select(User)
        .join(Resident, Resident.id == User.resident_id)
        .join(Household, Household.id == Resident.household_id)
        .where(*living_under(node.id), User.password_hash == NO_PASSWORD, User.active.is_(True))
        .order_by(Household.number, Resident.id)
        .options(contains_eager(User.resident).contains_eager(Resident.household))  # the sheet names both
    ).all()
    return [slip_of(user, days) for user in [*staff, *users]]


def _reissuable(actor: User, user_id: int) -> User:
    """The account whose slip actor may reissue. Raises NotFound or what policy.require_reissue_slip raises."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    policy.require_reissue_slip(actor, user)
    return user


def reissue_slip(actor: User, user_id: int, days: int, replacing: int | None = None) -> Slip | None:
    """补发激活单 for a forgotten password or a lost slip: every slip before it is void; the password, if any, works
    until the new slip is used. With replacing, the slip version the page showed: once it has been replaced (a
    second tap, a page sent again) nothing more is voided and None is returned. Raises what _reissuable raises."""
    user = _reissuable(actor, user_id)
    bump = update(User).where(User.id == user.id)
    if replacing is not None:
        bump = bump.where(User.slip_version == replacing)
    # The row lock of this update makes a twin request wait, then find the version moved on.
    if not db.session.execute(bump.values(slip_version=User.slip_version + 1)).rowcount:
        return None
    db.session.refresh(user)
    record(actor, "slip.reissued", "user", user.id, user.resident.household.grid_id,
           after={"username": user.username, "household": user.resident.household.number})
    return slip_of(user, days)


def current_slip(actor: User, user_id: int, days: int) -> Slip:
    """The slip of the account's current version, for whoever may reissue it: printed again, it voids nothing.
    Raises what _reissuable raises."""
    return slip_of(_reissuable(actor, user_id), days)


def user_of_slip(token: str) -> User:
    """The account a slip is for, if the slip still holds. Raises DomainError("slip_invalid" | "slip_expired" |
    "slip_used" | "not_villager_account" | "account_disabled")."""
    return _slip(token)[0]


def _slip(token: str) -> tuple[User, int]:
    """The account and the slip version of a slip that still holds."""
    try:
        claims, signed_at = _serializer().loads(token, max_age=MAX_DAYS * 86400, return_timestamp=True)
        user = db.session.get(User, int(claims["u"]))
        version, days = int(claims["v"]), int(claims["d"])
    except SignatureExpired as error:
        raise DomainError("slip_expired", status=410) from error
    except (BadSignature, KeyError, TypeError, ValueError) as error:
        raise DomainError("slip_invalid", status=400) from error
    if user is None:
        raise DomainError("slip_invalid", status=400)
    if version != user.slip_version:
        raise DomainError("slip_used", status=410)
    if utcnow() - signed_at.replace(tzinfo=None) > timedelta(days=days):
        raise DomainError("slip_expired", status=410)
    staff = db.session.scalar(select(exists().where(RoleAssignment.user_id == user.id)))
    if staff and (user.resident is not None or user.activated):  # a slip never takes over a staff member's account
        raise DomainError("not_villager_account", status=403)
    if not staff and user.resident is None:
        raise DomainError("slip_invalid", status=400)
    if not user.active or (user.resident is not None and (user.resident.left_on is not None
                                                          or user.resident.household.closed_on is not None)):
        raise DomainError("account_disabled", status=403)
    return user, version


def activate(token: str, password: str) -> User:
    """The villager sets their password from the slip, which is then void: the version is moved on by one guarded
    UPDATE, so that of two uses of one slip at once only one sets a password. Raises what user_of_slip raises, or
    DomainError("weak_password")."""
    user, version = _slip(token)
    claimed = db.session.execute(
        update(User).where(User.id == user.id, User.slip_version == version).values(slip_version=version + 1),
        execution_options={"synchronize_session": False},
    ).rowcount
    if claimed != 1:
        raise DomainError("slip_used", status=410)
    db.session.expire(user, ["slip_version"])
    set_password(user, password)
    record(None, "account.activated", "user", user.id, account_node(user), after={"username": user.username})
    return user
