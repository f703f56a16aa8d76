"""Shapes and request handling shared by the API resources: paging, text fields, the error body (and the rollback
that goes with it), and the Idempotency-Key header."""
import enum
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from flask import Response, jsonify, request
from marshmallow import Schema, fields, validate
from sqlalchemy.exc import IntegrityError

from ..auth.models import User
from ..errors import DomainError
from ..extensions import db
from ..limits import MAX_PAGE

T = TypeVar("T")


class Text(fields.String):
    """A string without NUL characters, which PostgreSQL can neither store nor compare."""

    default_error_messages = {"nul": "May not contain NUL characters."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise self.make_error("nul")
        return text


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


def page_of(items: list, args: dict) -> dict:
    """{"items", "total"} of one page of a list that is small enough to be read whole."""
    start = (args["page"] - 1) * args["per_page"]
    return {"items": items[start : start + args["per_page"]], "total": len(items)}


class ErrorBody(Schema):
    code = fields.String(required=True, metadata={"description": "A stable machine-readable code"})
    message = fields.String(required=True, metadata={"description": "For people, in the request's language"})
    details = fields.Raw()


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBody, required=True)


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """{"items": [...], "total": N} for one kind of item."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item_schema), required=True), "total": fields.Integer(required=True)},
        name=name,
    )


def utc(moment: datetime | None) -> datetime | None:
    """A stored (naive UTC) time, sent with its offset, or a client in Asia/Shanghai would read it as local time."""
    return moment.replace(tzinfo=UTC) if moment is not None else None


# The ledger's keys hold at most 100 characters; "api:<user id>:<key>:<household id>" (a batch's) fits with 64.
IDEMPOTENCY_KEY_MAX = 64
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,%d}" % IDEMPOTENCY_KEY_MAX)

IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX, "pattern": "^[!-~]+$"},
    "description": "Makes a retry safe: the same key from the same account again answers as the first time "
    "(the same status and body) and changes nothing. 1 to 64 visible ASCII characters, e.g. a UUID.",
}


def client_key() -> str | None:
    """The request's Idempotency-Key header, if it sent one. Raises DomainError("invalid_idempotency_header")."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise DomainError("invalid_idempotency_header", limit=IDEMPOTENCY_KEY_MAX)
    return key


def commit_keyed(write: Callable[[], T]) -> T:
    """Run a write that checks its Idempotency-Key, and commit it. Two requests with one key can both pass the check
    (a twin racing this one, or a client reusing a key for another request); the one that commits second hits the
    key's unique constraint. Writing again then finds the first and answers as a retry does: the first result, or
    409 if it differs."""
    try:
        done = write()
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        done = write()
        db.session.commit()
    return done


def ledger_key(user: User) -> str:
    """The ledger's idempotency key of a posting by user: the header within the account, so that two clients
    choosing the same key cannot collide; a fresh one when the request sent none.
    Raises DomainError("invalid_idempotency_header")."""
    return f"api:{user.id}:{client_key() or uuid.uuid4().hex}"


def answered(body: dict, status: int) -> Response:
    """A hot path's answer (a check-in, a redemption), built by its view in the shape its response schema documents,
    sent without the schema's dump of it, a second serialization: flask-smorest passes a Response on as it is. Times
    go as the schema writes them (ISO 8601) and enums as their values; the API's tests compare such an answer with
    the same row read back through its schema."""
    response = jsonify(_plain(body))
    response.status_code = status
    return response


def _plain(value):
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value
