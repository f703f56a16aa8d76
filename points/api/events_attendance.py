"""/api/v1 attendance at 志愿活动, on the events blueprint: 签到 (a villager's own scan of the event's code, or staff
scanning a household card or picking a resident) and 签退, with the limits they share with the pages' check-in; and
结束活动, which pays the attendances into the ledger."""
import hashlib
import json

from flask import current_app, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..events import checkins, services
from ..events.queries import visible_event
from ..extensions import limiter
from .auth import api_user
from .events import AttendanceSchema, EventDetailSchema, attendance_view, bp, event_detail, row_id
from .schemas import IDEMPOTENCY_HEADER, ErrorSchema, Text, answered, client_key, commit_keyed

# Shapes


class CheckinResultSchema(Schema):
    already = fields.Boolean(required=True, metadata={"description": "Checked in before: nothing changed"})
    event_id = fields.Integer(required=True)
    attendance = fields.Nested(AttendanceSchema, required=True)


class CheckoutResultSchema(Schema):
    event_id = fields.Integer(required=True)
    attendance = fields.Nested(AttendanceSchema, required=True)


# Requests


class CheckinArgs(Schema):
    event_id = row_id(required=True)
    token = Text(validate=validate.Length(min=1, max=500),
                 metadata={"description": "本人扫码: the code of the event's QR (the last part of its URL)"})
    card = Text(validate=validate.Length(min=1, max=200), metadata={"description": "扫户卡: the text of the card's QR"})
    resident_id = row_id(metadata={"description": "工作人员登记: the person; with card: a member of the card's "
                                                  "household rather than its head"})
    latitude = fields.Float(validate=validate.Range(min=-90, max=90),
                            metadata={"description": "With token: where the phone is, which a fenced event asks for"})
    longitude = fields.Float(validate=validate.Range(min=-180, max=180))

    @validates_schema
    def _one_way(self, data, **kwargs):
        if "token" in data and ("card" in data or "resident_id" in data):
            raise ValidationError("A token is a villager's own check-in: send neither card nor resident_id with it.")
        if not any(name in data for name in ("token", "card", "resident_id")):
            raise ValidationError("Send token (self check-in), card or resident_id.")


class CheckoutArgs(Schema):
    event_id = row_id(required=True)
    token = Text(validate=validate.Length(min=1, max=500),
                 metadata={"description": "本人扫码: the code of the event's QR (the last part of its URL)"})
    card = Text(validate=validate.Length(min=1, max=200),
                metadata={"description": "扫户卡: the text of the card's QR; "
                                         "the one of its household who is checked in"})
    resident_id = row_id(metadata={"description": "工作人员登记: the person"})
    early = fields.Boolean(load_default=False, metadata={"description": (
        "true: check out before the village's wait since check-in (a village setting, 30 minutes unless set); "
        "without it such a check-out is refused (checkout_too_soon, saying how long they have been there)")})

    @validates_schema
    def _one_way(self, data, **kwargs):
        if sum(name in data for name in ("token", "card", "resident_id")) != 1:
            raise ValidationError("Send one of token (own check-out), card or resident_id.")


class CloseArgs(Schema):
    early = fields.Boolean(load_default=False, metadata={"description": (
        "true: close before the event's end (nobody can check in after, and it cannot be undone); without it an "
        "event not yet ended is refused (event_not_ended, saying how long is left)")})


# Check-ins, check-outs and closing


def _caller() -> str:
    """The key of the check-in limits: the account, so that these buckets are the same as the pages' (/c/<token> and
    the check-in desk)."""
    return str(api_user().id)


def _at_desk() -> bool:
    """A check-in by household card or name, which staff make many a minute, rather than a villager's own scan."""
    body = request.get_json(silent=True)
    return not (isinstance(body, dict) and "token" in body)


def _request_digest(args: dict) -> str:
    """A fingerprint of what a check-in asked: the same key with another body is told apart from a retry."""
    return hashlib.sha256(json.dumps(args, sort_keys=True).encode()).hexdigest()


def _scan_limits(view):
    """The limits shared by check-in and check-out: a villager's own scans (CHECKIN_RATE_LIMIT) and the desk's
    (CHECKIN_DESK_RATE_LIMIT), one count for both moves."""
    own = limiter.shared_limit(lambda: current_app.config["CHECKIN_RATE_LIMIT"], "checkin", key_func=_caller,
                               exempt_when=_at_desk)
    desk = limiter.shared_limit(lambda: current_app.config["CHECKIN_DESK_RATE_LIMIT"], "checkin-desk",
                                key_func=_caller, exempt_when=lambda: not _at_desk())
    return own(desk(view))


@bp.post("/checkins")
@_scan_limits
@bp.arguments(CheckinArgs)
@bp.response(201, CheckinResultSchema, description="Checked in now, or a retry with the same Idempotency-Key")
@bp.alt_response(200, schema=CheckinResultSchema, description="已经签到过：原样返回（already: true）")
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema,
                 description="二维码或户卡无效（invalid_code, code_of_other_event, invalid_card），活动未开始或已过")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不是本村（网格）的村民，或无权为他人签到")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该活动或村民")
@bp.alt_response(409, schema=ErrorSchema, description="活动已结束、人数已满、户卡已作废（card_revoked）、签到已被移除，"
                                                      "或该幂等键已用于另一次不同的签到（idempotency_key_reused）")
@bp.alt_response(410, schema=ErrorSchema, description="二维码已过期（code_expired）")
@bp.alt_response(429, schema=ErrorSchema, description="签到太频繁：超过 CHECKIN_RATE_LIMIT（本人扫码）或 "
                                                      "CHECKIN_DESK_RATE_LIMIT（户卡、登记）")
def create_checkin(args):
    """签到: a villager's own scan of the event's code (token), or staff scanning a household card (card, with
    resident_id for a member other than the head) or checking a resident in by name (resident_id). One attendance per
    person and event: checking in again answers the first (200, already: true) and changes nothing. A retry with the
    same Idempotency-Key and body answers as the first time (201, the same body), even after the code has expired."""
    user = api_user()
    key = client_key()  # a malformed header is refused before anything changes
    # "api:" as the claims' keys: a key the pages may one day send ("web:…") never meets an API one.
    key, digest = (f"api:{key}" if key else None), _request_digest(args)

    def check_in() -> checkins.CheckIn:
        if "token" in args:
            position = (args["latitude"], args["longitude"]) if "latitude" in args and "longitude" in args else None
            return checkins.check_in_self(user, args["token"], args["event_id"], client_key=key, digest=digest,
                                          position=position)
        event = visible_event(user, args["event_id"])
        if "card" in args:
            return checkins.check_in_card(user, event, args["card"], args.get("resident_id"), client_key=key,
                                          digest=digest)
        return checkins.check_in_resident(user, event, args["resident_id"], client_key=key, digest=digest)

    def answer() -> tuple[dict, int]:
        """The answer is read before the commit, which would make every row read again."""
        checkin = check_in()
        body = {"already": checkin.already, "event_id": checkin.attendance.event_id,
                "attendance": attendance_view(checkin.attendance)}
        return body, 200 if checkin.already else 201

    return answered(*commit_keyed(answer))


@bp.post("/checkouts")
@_scan_limits
@bp.arguments(CheckoutArgs)
@bp.response(200, CheckoutResultSchema)
@bp.alt_response(400, schema=ErrorSchema, description="二维码或户卡无效"
                                                      "（invalid_code, code_of_other_event, invalid_card）")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不是村民账号，或无权为他人签退")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该活动")
@bp.alt_response(409, schema=ErrorSchema, description="签到不满村里设的时间（checkout_too_soon：提前签退须写明 early: "
                                                      "true）、还没有签到（not_checked_in）、户卡已作废或活动已结束")
@bp.alt_response(410, schema=ErrorSchema, description="二维码已过期（code_expired）")
@bp.alt_response(429, schema=ErrorSchema, description="太频繁")
def create_checkout(args):
    """签退 (签到并签退 events): a villager's own scan of the event's code again (token), or staff scanning the
    household card (card) or picking the person (resident_id). Once: checking out again answers the first. Before the
    village's wait since check-in only with early: true. Points post when the event is closed."""
    user = api_user()
    if "token" in args:
        attendance = checkins.check_out_self(user, args["token"], event_id=args["event_id"], early=args["early"])
    elif "card" in args:
        attendance = checkins.check_out_card(user, visible_event(user, args["event_id"]), args["card"],
                                             early=args["early"])
    else:
        attendance = checkins.check_out_resident(user, visible_event(user, args["event_id"]), args["resident_id"],
                                                 early=args["early"])
    body = {"event_id": attendance.event_id, "attendance": attendance_view(attendance)}
    return body


@bp.post("/events/<id:event_id>/close")
@bp.arguments(CloseArgs, required=False)
@bp.response(200, EventDetailSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema, description="活动还没开始（event_not_over）")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="只有活动的组织者和村管理员可以结束活动")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该活动")
@bp.alt_response(409, schema=ErrorSchema, description="活动还没到结束时间：提前结束须在请求中写明 early: true"
                                                      "（event_not_ended）")
def close_event(args, event_id: int):
    """结束活动: each attendance earns the rule's points once (per event, or per hour); an attendance that earns
    none says why. Before the event's end only with early: true. Closing again (with the same Idempotency-Key or
    not) changes nothing and answers the same."""
    user = api_user()
    client_key()  # a malformed header is refused before anything changes
    event = visible_event(user, event_id)
    event = services.close_event(user, event, early=args["early"])
    return event_detail(user, event)
