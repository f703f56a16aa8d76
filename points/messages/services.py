"""Telling people: the domains call tell / tell_household / tell_staff with the text the reader may see, as a lazy
string (lazy_gettext with its parameters): it is written in the village's language (BABEL_DEFAULT_LOCALE), whatever
the language of whoever acted. Functions flush and never commit: a notice lands with the change it tells of, or not
at all."""
from datetime import datetime

from flask import current_app
from flask_babel import LazyString, force_locale
from sqlalchemy import select, update

from ..auth import policy
from ..auth.models import User
from ..extensions import conflict_insert, db
from ..people.models import Resident
from ..timeutil import utcnow
from .channels import CHANNELS, Notice
from .models import InboxMark, Message


def tell(user_ids, kind: str, text: LazyString | str, link: str = "", *, skip: User | None = None) -> int:
    """Tell each account once (not skip: who did it needs no notice). Returns how many were told."""
    ids = sorted({i for i in user_ids if i is not None and (skip is None or i != skip.id)})
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        text = str(text)
    notices = [Notice(user_id, kind, text, link) for user_id in ids]
    if notices:
        for channel in CHANNELS:
            channel.deliver(notices)
    return len(notices)


def household_accounts(household_id: int) -> list[int]:
    """The active villager accounts of a household's residents."""
    return list(db.session.scalars(
        select(User.id).join(Resident, User.resident_id == Resident.id)
        .where(Resident.household_id == household_id, User.active.is_(True))
    ))


def tell_household(household_id: int, kind: str, text: LazyString | str, link: str = "", *,
                   skip: User | None = None) -> int:
    """Tell the villagers of a household (their own matters: their report, claim, wish or points)."""
    return tell(household_accounts(household_id), kind, text, link, skip=skip)


def tell_staff(node_id: int, kind: str, text: LazyString | str, link: str = "", *, skip: User | None = None,
               permission: policy.Permission = policy.Permission.GRID_WORK) -> int:
    """Tell the staff assigned exactly at a node whose role grants permission (a grid's workers and leader; at a
    village, its admins)."""
    return tell([u.id for u in policy.staff_at(node_id, permission)], kind, text, link, skip=skip)


def mark_read(user: User, upto: datetime | None = None) -> None:
    """Everything the user has been told, and their household's points so far, count as read. upto: the moment the
    reader was shown their inbox (now if not given): what arrived after it stays unread."""
    now = upto or utcnow()
    db.session.execute(update(Message).where(Message.user_id == user.id, Message.read_at.is_(None),
                                             Message.created_at <= now)
                       .values(read_at=now))
    if policy.own_household_id(user) is not None:
        insert = conflict_insert(db.engine.dialect.name)
        db.session.execute(insert(InboxMark).values(user_id=user.id, points_seen_at=now)
                           .on_conflict_do_update(index_elements=["user_id"], set_={"points_seen_at": now}))
    db.session.flush()
