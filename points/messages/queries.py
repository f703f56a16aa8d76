"""What a reader has been told: their messages and, for a villager, the points posted to their household, newest
first, and how many of them are unread (the number in the top bar)."""
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..auth import policy
from ..auth.models import User
from ..extensions import db
from ..ledger.models import SOURCE_LABELS, EntrySource, LedgerEntry
from ..people.models import Resident
from .models import InboxMark, Message

INBOX_SIZE = 50  # the newest this many; older notices are history, read on the pages they point to
POINTS_LINK = "/my/points"


@dataclass(frozen=True)
class InboxItem:
    created_at: datetime
    kind: str  # a message's kind (report, wish, visit, claim, appeal), or "points" for a ledger entry
    text: str
    link: str
    unread: bool


def _points_seen_at(user: User) -> datetime:
    mark = db.session.get(InboxMark, user.id)
    return mark.points_seen_at if mark is not None else user.created_at


def _told_points(household_id):
    """The household's entries a villager is told of: every movement but their own spending at the counter (they
    were there; a void, which gives the points back, is told). household_id: an id or a scalar subquery."""
    return (LedgerEntry.household_id == household_id) & (LedgerEntry.source != EntrySource.REDEMPTION)


def unread_count(user: User) -> int:
    """The number in the top bar: one statement of one or two counts, each on an index (messages by reader and
    read_at; a household's entries by time)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    messages = (select(func.count()).select_from(Message)
                .where(Message.user_id == user.id, Message.read_at.is_(None)).scalar_subquery())
    if user.resident_id is None:
        return db.session.scalar(select(messages)) or 0
    household = select(Resident.household_id).where(Resident.id == user.resident_id).scalar_subquery()
    seen = func.coalesce(select(InboxMark.points_seen_at).where(InboxMark.user_id == user.id).scalar_subquery(),
                         user.created_at)
    points = (select(func.count()).select_from(LedgerEntry)
              .where(_told_points(household), LedgerEntry.created_at > seen).scalar_subquery())
    return db.session.scalar(select(messages + points)) or 0


def _points_text(entry: LedgerEntry) -> str:
    what = entry.rule_version.name if entry.rule_version is not None else str(SOURCE_LABELS[entry.source])
    if entry.source is EntrySource.EXPIRY:
        return _("积分清零 %(amount)s 分：%(note)s", amount=f"{entry.amount:+d}", note=entry.note)
    if entry.source is EntrySource.REVERSAL:
        return _("积分冲正 %(amount)s 分", amount=f"{entry.amount:+d}")
    if entry.amount > 0:
        return _("加分 %(amount)s 分：%(what)s", amount=f"{entry.amount:+d}", what=what)
    return _("扣分 %(amount)s 分：%(what)s", amount=f"{entry.amount:+d}", what=what)


def inbox(user: User) -> list[InboxItem]:
    """The newest INBOX_SIZE notices, messages and points together, newest first; unread as they were before this
    reading (mark_read after it)."""
    items = [InboxItem(m.created_at, m.kind, m.text, m.link, m.read_at is None) for m in db.session.scalars(
        select(Message).where(Message.user_id == user.id).order_by(Message.id.desc()).limit(INBOX_SIZE))]
    household_id = policy.own_household_id(user)
    if household_id is not None:
        seen = _points_seen_at(user)
        entries = db.session.scalars(select(LedgerEntry).where(_told_points(household_id))
                                     .options(selectinload(LedgerEntry.rule_version))
                                     .order_by(LedgerEntry.id.desc()).limit(INBOX_SIZE))
        items += [InboxItem(e.created_at, "points", _points_text(e), POINTS_LINK, e.created_at > seen)
                  for e in entries]
    return sorted(items, key=lambda item: item.created_at, reverse=True)[:INBOX_SIZE]
