"""How a notice reaches its reader. Only the in-app channel is built; a WeChat or SMS sender is another Channel
given to register_channel. Channels deliver inside the caller's transaction: a sender that leaves the process must
queue its notices and send them after the commit, so that a refusal never tells anybody anything."""
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import insert

from ..extensions import db
from ..timeutil import utcnow
from .models import Message

MAX_TEXT = 200


@dataclass(frozen=True)
class Notice:
    """What one account is told: a short text in plain words, and where in the app to go."""

    user_id: int
    kind: str
    text: str
    link: str = ""


class Channel(Protocol):
    def deliver(self, notices: list[Notice]) -> None: ...


class InApp:
    """站内消息: one row per notice, read on /messages and counted in the top bar. One INSERT for all the readers
    (an executemany: the rows are not read back)."""

    def deliver(self, notices: list[Notice]) -> None:
        now = utcnow()
        db.session.execute(insert(Message), [
            {"user_id": n.user_id, "kind": n.kind, "text": n.text[:MAX_TEXT], "link": n.link[:200], "created_at": now}
            for n in notices])


CHANNELS: list[Channel] = [InApp()]


def register_channel(channel: Channel) -> None:
    CHANNELS.append(channel)
