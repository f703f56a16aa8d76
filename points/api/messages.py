"""/api/v1 messages (站内消息): what the signed-in account has been told, and, for a villager, the points posted to
their household, newest first; and marking them read."""
from marshmallow import Schema, fields

from ..messages.queries import INBOX_SIZE, inbox, unread_count
from ..messages.services import mark_read
from ..timeutil import utcnow
from .auth import api_user, authenticate_request
from .blueprint import Blueprint
from .schemas import ErrorSchema, PageArgs, page_of, utc

bp = Blueprint("api_messages", __name__, description="站内消息：本账号收到的消息，以及村民本户的积分变动")
bp.before_request(authenticate_request)

KINDS = "report (民情诉求), wish (微心愿), visit (走访), claim (积分申报), appeal (申诉), points (本户积分变动)"


class MessageSchema(Schema):
    created_at = fields.DateTime(required=True)
    kind = fields.String(required=True, metadata={"description": f"What it is about: {KINDS}"})
    text = fields.String(required=True, metadata={"description": "Plain words for this reader, at most 200 characters"})
    link = fields.String(required=True, metadata={"description": "A path of the web app where the reader acts or "
                                                                 "reads (/claims/12); empty when there is none"})
    unread = fields.Boolean(required=True)


class InboxSchema(Schema):
    items = fields.List(fields.Nested(MessageSchema), required=True)
    total = fields.Integer(required=True, metadata={"description": f"How many the inbox holds (its newest "
                                                                   f"{INBOX_SIZE})"})
    unread = fields.Integer(required=True, metadata={"description": "How many are unread in all: the top bar's "
                                                                    "number"})


class ReadSchema(Schema):
    unread = fields.Integer(required=True, metadata={"description": "Unread after marking: 0, or what arrived "
                                                                    "meanwhile"})


@bp.get("/messages")
@bp.arguments(PageArgs, location="query")
@bp.response(200, InboxSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
def list_messages(args):
    """The newest notices of the signed-in account (for a villager, with the points posted to their household, but
    not their own spending at the counter), newest first. Reading them here marks nothing: POST /messages/read does."""
    user = api_user()
    items = [{"created_at": utc(i.created_at), "kind": i.kind, "text": i.text, "link": i.link, "unread": i.unread}
             for i in inbox(user)]
    return {**page_of(items, args), "unread": unread_count(user)}


@bp.post("/messages/read")
@bp.response(200, ReadSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
def read_messages():
    """全部标为已读: everything told so far counts as read. Safe to send twice."""
    user = api_user()
    mark_read(user, utcnow())
    return {"unread": unread_count(user)}
