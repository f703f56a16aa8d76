"""The only code that writes the audit log; every service that changes points, rules, roles or households calls
record() in its own transaction, so that a change and its record land (or roll back) together."""
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import insert

from ..extensions import connection, db
from .labels import ACTIONS
from .models import AuditEvent


class Actor(Protocol):
    """Whoever makes a change: a user (auth.models.User, above the log); the log keeps its id."""

    id: int


@dataclass(frozen=True)
class Change:
    """What one audit event says: record()'s arguments after the actor."""

    action: str
    subject_type: str
    subject_id: int | None
    node_id: int | None
    before: dict | None = None
    after: dict | None = None


def record(
    actor: Actor | None,
    action: str,
    subject_type: str,
    subject_id: int | None,
    node_id: int | None,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    """Write one event now (or, inside together(), as it ends), inside the caller's transaction (what the session
    holds unwritten goes first): an insert statement, which costs far less than the session's unit of work."""
    record_all(actor, [Change(action, subject_type, subject_id, node_id, before, after)])


def record_all(actor: Actor | None, changes: list[Change]) -> None:
    """Write many events by one actor at once (a publication's thousands of entries), in order, as one bulk insert
    executed now, inside the caller's transaction; inside together(), with the others recorded there."""
    if changes:
        actor_id = _actor_id(actor)
        rows = [dict(actor_id=actor_id, **vars(_known(c))) for c in changes]
        held = db.session.info.get(_TOGETHER)
        if held is not None:
            held.extend(rows)
        else:
            _write(rows)


@contextmanager
def together() -> Iterator[None]:
    """The events recorded inside are written as it ends, in order, by one insert: a service whose change records
    events in more than one place (a redemption and its ledger entry) sends one statement for them. An exception
    inside writes none (the caller's rollback undoes the change as well). Inside another, the outer one writes."""
    if _TOGETHER in db.session.info:
        yield
        return
    held = db.session.info[_TOGETHER] = []
    try:
        yield
    finally:
        del db.session.info[_TOGETHER]
    _write(held)


_TOGETHER = "audit_together"


def _write(rows: list[dict]) -> None:
    """After what the session holds unwritten, the table's insert, not the entity's: the ORM's bulk path costs more
    than the statement and adds nothing."""
    if rows:
        db.session.flush()
        connection().execute(insert(AuditEvent.__table__), rows if len(rows) > 1 else rows[0])


def _known(change: Change) -> Change:
    if change.action not in ACTIONS:
        raise ValueError(f"unknown audit action {change.action!r}")
    return change


def _actor_id(actor: Actor | None) -> int | None:
    return actor.id if actor is not None and getattr(actor, "id", None) else None
