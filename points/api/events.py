"""/api/v1 events (志愿活动): list, create, read and edit events; their check-in QR codes; check-ins (a villager's
own scan of the event's code, or staff scanning a household card or picking a resident); closing an event into
the ledger.

Times sent in ("starts", "ends") are local (Asia/Shanghai) when they carry no offset; times sent back carry their
offset. Names of attendees are masked (张*明).
"""
import hashlib
import json
from datetime import date, datetime

from flask import Response, current_app, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import func, select

from ..auth import policy
from ..auth.models import User
from ..errors import DomainError, NotFound
from ..events import services
from ..events.models import Attendance, CheckinMethod, CheckinMode, Event
from ..events.queries import visible_event, visible_filter
from ..extensions import db, limiter
from ..grids.models import GridNode, NodeKind
from ..limits import MAX_ID
from ..people.privacy import mask_name
from ..qr import qr_png, qr_svg
from ..timeutil import LOCAL, utc_to_local
from .auth import api_user, authenticate_request
from .blueprint import Blueprint
from .schemas import IDEMPOTENCY_HEADER, ErrorSchema, PageArgs, Text, client_key, commit_keyed, page_schema, utc

bp = Blueprint("api_events", __name__,
               description="志愿活动：发布活动、签到二维码、签到（扫码、户卡、登记）、结束活动记分")
bp.before_request(authenticate_request)


def _row_id(strict: bool = True, **kwargs) -> fields.Integer:
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


# Shapes


class AttendanceSchema(Schema):
    id = fields.Integer(required=True)
    resident_id = fields.Integer(required=True)
    resident_name = fields.String(required=True, metadata={"description": "Masked: 张*明"})
    household_id = fields.Integer(required=True)
    method = fields.Enum(CheckinMethod, by_value=True, required=True,
                         metadata={"description": "self: scanned the event's code; card: 户卡; manual: by name"})
    checked_in_at = fields.DateTime(required=True)
    checked_out_at = fields.DateTime(required=True, allow_none=True)
    removed_at = fields.DateTime(required=True, allow_none=True, metadata={"description": "Taken off by the organizer"})
    entry_id = fields.Integer(required=True, allow_none=True,
                              metadata={"description": "The ledger entry closing posted; null: none (yet)"})
    points = fields.Integer(required=True, allow_none=True, metadata={"description": "The entry's amount"})
    hours = fields.Integer(required=True, allow_none=True, metadata={"description": "Hours paid, for a per-hour rule"})
    unpaid_reason = fields.String(required=True,
                                  metadata={"description": "Why closing posted nothing (e.g. cap_exceeded); empty: "
                                                           "paid, or not closed yet"})


class EventSchema(Schema):
    id = fields.Integer(required=True)
    village_id = fields.Integer(required=True)
    grid_id = fields.Integer(required=True, allow_none=True, metadata={"description": "null: the whole village"})
    title = fields.String(required=True)
    place = fields.String(required=True)
    starts = fields.DateTime(required=True, metadata={"description": "Local time (Asia/Shanghai), with its offset"})
    ends = fields.DateTime(required=True, metadata={"description": "Local time (Asia/Shanghai), with its offset"})
    capacity = fields.Integer(required=True, allow_none=True, metadata={"description": "null: no limit"})
    organizer_id = fields.Integer(required=True, allow_none=True)
    rule_id = fields.Integer(required=True, metadata={"description": "The award rule its attendances earn"})
    mode = fields.Enum(CheckinMode, by_value=True, required=True,
                       metadata={"description": "in: check-in only; in_out: check-in and check-out"})
    series_id = fields.Integer(required=True, allow_none=True, metadata={"description": "The recurring event it is of"})
    latitude = fields.Float(required=True, allow_none=True,
                            metadata={"description": "Where it takes place; null: unset"})
    longitude = fields.Float(required=True, allow_none=True)
    attendees = fields.Integer(required=True, metadata={"description": "Attendances not removed"})
    checkin_opens = fields.DateTime(required=True, metadata={"description": "Check-in opens (local, with offset)"})
    created_at = fields.DateTime(required=True)
    closed_at = fields.DateTime(required=True, allow_none=True, metadata={"description": "null: not closed"})
    closed_by_id = fields.Integer(required=True, allow_none=True)


class EventDetailSchema(EventSchema):
    attendances = fields.List(
        fields.Nested(AttendanceSchema), required=True,
        metadata={"description": "Every attendance to those who run the event; a villager's own household's to "
                                 "others"},
    )
    points_posted = fields.Integer(required=True, metadata={"description": "The sum of the entries closing posted"})


class CheckinResultSchema(Schema):
    already = fields.Boolean(required=True, metadata={"description": "Checked in before: nothing changed"})
    event_id = fields.Integer(required=True)
    attendance = fields.Nested(AttendanceSchema, required=True)


class CheckoutResultSchema(Schema):
    event_id = fields.Integer(required=True)
    attendance = fields.Nested(AttendanceSchema, required=True)


EventPage = page_schema(EventSchema, "EventPage")


# Requests


class EventListArgs(PageArgs):
    village_id = _row_id(strict=False, metadata={"description": "One village; absent: every village the caller sees"})
    open = fields.Boolean(metadata={"description": "true: only events not closed; false: only closed ones"})


def _plausible_time(moment: datetime) -> None:
    """Keeps the time inside what a datetime holds once moved to local time and to UTC (year 1 at +14:00 is not)."""
    if not date(2000, 1, 1) <= moment.date() <= date(9999, 12, 30):
        raise ValidationError("Not a plausible time.")


class EventTermsArgs(Schema):
    title = Text(required=True, validate=validate.Length(max=60))
    place = Text(required=True, validate=validate.Length(max=100))
    starts = fields.DateTime(required=True, validate=_plausible_time,
                             metadata={"description": "Local (Asia/Shanghai) unless it has an offset"})
    ends = fields.DateTime(required=True, validate=_plausible_time,
                           metadata={"description": "Local (Asia/Shanghai) unless it has an offset"})
    rule_id = _row_id(required=True, metadata={"description": "An award rule of the village, in force that day"})
    mode = fields.Enum(CheckinMode, by_value=True, load_default=CheckinMode.IN)
    capacity = fields.Integer(strict=True, load_default=None, allow_none=True,
                              validate=validate.Range(min=1, max=100_000), metadata={"description": "null: no limit"})
    grid_id = _row_id(load_default=None, allow_none=True,
                      metadata={"description": "One grid of the village; null: all"})
    organizer_id = _row_id(load_default=None, allow_none=True, metadata={"description": "A user who runs it"})


class EventCreateArgs(EventTermsArgs):
    village_id = _row_id(required=True)
    latitude = fields.Float(allow_none=True, validate=validate.Range(min=-90, max=90),
                            metadata={"description": "Where it takes place (WGS-84), with longitude; "
                                                     "with the village's "
                                                     "fence, a villager's own check-in must be near"})
    longitude = fields.Float(allow_none=True, validate=validate.Range(min=-180, max=180))


class EventPatchArgs(Schema):
    """Fields left out keep their value."""

    title = Text(validate=validate.Length(max=60))
    place = Text(validate=validate.Length(max=100))
    starts = fields.DateTime(validate=_plausible_time)
    ends = fields.DateTime(validate=_plausible_time)
    rule_id = _row_id()
    mode = fields.Enum(CheckinMode, by_value=True)
    capacity = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=100_000))
    grid_id = _row_id(allow_none=True)
    organizer_id = _row_id(allow_none=True)
    latitude = fields.Float(allow_none=True, validate=validate.Range(min=-90, max=90),
                            metadata={"description": "Where it takes place (WGS-84), with longitude; "
                                                     "with the village's "
                                                     "fence, a villager's own check-in must be near"})
    longitude = fields.Float(allow_none=True, validate=validate.Range(min=-180, max=180))


class QrArgs(Schema):
    format = fields.String(load_default="png", validate=validate.OneOf(["png", "svg"]))
    kind = fields.String(
        load_default="rotating", validate=validate.OneOf(["rotating", "static"]),
        metadata={"description": "rotating: for a screen, valid about a minute; static: to print, valid until the "
                                 "event's codes are renewed"},
    )


class CheckinArgs(Schema):
    event_id = _row_id(required=True)
    token = Text(validate=validate.Length(min=1, max=500),
                 metadata={"description": "本人扫码: the code of the event's QR (the last part of its URL)"})
    card = Text(validate=validate.Length(min=1, max=200), metadata={"description": "扫户卡: the text of the card's QR"})
    resident_id = _row_id(metadata={"description": "工作人员登记: the person; with card: a member of the card's "
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
    event_id = _row_id(required=True)
    token = Text(validate=validate.Length(min=1, max=500),
                 metadata={"description": "本人扫码: the code of the event's QR (the last part of its URL)"})
    card = Text(validate=validate.Length(min=1, max=200),
                metadata={"description": "扫户卡: the text of the card's QR; "
                                         "the one of its household who is checked in"})
    resident_id = _row_id(metadata={"description": "工作人员登记: the person"})
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


# Views


def _local(moment: datetime | None) -> datetime | None:
    return utc_to_local(moment).replace(tzinfo=LOCAL) if moment is not None else None


def _as_local(moment: datetime) -> datetime:
    """A time from the request as naive local time: one with an offset is converted, one without is taken as local."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(LOCAL).replace(tzinfo=None)


def event_view(event: Event) -> dict:
    opens, _ = services.event_window(event)
    return {
        "id": event.id,
        "village_id": event.village_id,
        "grid_id": event.grid_id,
        "title": event.title,
        "place": event.place,
        "starts": _local(event.starts_at),
        "ends": _local(event.ends_at),
        "capacity": event.capacity,
        "organizer_id": event.organizer_id,
        "rule_id": event.rule_id,
        "mode": event.mode,
        "series_id": event.series_id,
        "latitude": event.latitude,
        "longitude": event.longitude,
        "attendees": event.attendees,
        "checkin_opens": opens.replace(tzinfo=LOCAL),
        "created_at": utc(event.created_at),
        "closed_at": utc(event.closed_at),
        "closed_by_id": event.closed_by_id,
    }


def attendance_view(attendance: Attendance) -> dict:
    return {
        "id": attendance.id,
        "resident_id": attendance.resident_id,
        "resident_name": mask_name(attendance.resident.name),
        "household_id": attendance.household_id,
        "method": attendance.method,
        "checked_in_at": utc(attendance.checked_in_at),
        "checked_out_at": utc(attendance.checked_out_at),
        "removed_at": utc(attendance.removed_at),
        "entry_id": attendance.entry_id,
        "points": attendance.entry.amount if attendance.entry is not None else None,
        "hours": attendance.hours,
        "unpaid_reason": attendance.unpaid_reason or "",
    }


def event_detail(user: User, event: Event) -> dict:
    query = select(Attendance).where(Attendance.event_id == event.id).order_by(Attendance.id)
    if not policy.can_run_event(user, event.village_id, event.organizer_id):
        query = query.where(Attendance.household_id == policy.own_household_id(user))
    attendances = db.session.scalars(query.execution_options(populate_existing=True)).all()
    return {
        **event_view(event),
        "attendances": [attendance_view(a) for a in attendances],
        "points_posted": sum(a.entry.amount for a in attendances if a.entry is not None),
    }


def checkin_url(token: str) -> str:
    """The address a check-in code opens: the check-in page /c/<token> of this site."""
    return request.host_url.rstrip("/") + "/c/" + token


# Lookups and rights


def _terms(args: dict) -> services.EventTerms:
    return services.EventTerms(
        title=args["title"], place=args["place"], starts=_as_local(args["starts"]), ends=_as_local(args["ends"]),
        rule_id=args["rule_id"], mode=args["mode"], capacity=args["capacity"], grid_id=args["grid_id"],
        organizer_id=args["organizer_id"], latitude=args.get("latitude"), longitude=args.get("longitude"),
    )


# Events


@bp.get("/events")
@bp.arguments(EventListArgs, location="query")
@bp.response(200, EventPage)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
def list_events(args):
    """Events the caller may see, the latest start first, as the pages list them: a villager's, those of their
    village as a whole and of their grid; staff's, those of their villages."""
    user = api_user()
    where = [visible_filter(user)]
    if args.get("village_id") is not None:
        where.append(Event.village_id == args["village_id"])
    if args.get("open") is not None:
        where.append(Event.closed_at.is_(None) if args["open"] else Event.closed_at.is_not(None))
    total = db.session.scalar(select(func.count()).select_from(Event).where(*where))
    events = db.session.scalars(select(Event).where(*where).order_by(Event.starts_at.desc(), Event.id.desc())
                                .offset((args["page"] - 1) * args["per_page"]).limit(args["per_page"]))
    return {"items": [event_view(e) for e in events], "total": total}


@bp.post("/events")
@bp.arguments(EventCreateArgs)
@bp.response(201, EventDetailSchema)
@bp.alt_response(400, schema=ErrorSchema, description="名称、地点、时间、细则、网格或组织者有误，或没有要修改的内容")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="只有村管理员和活动组织者可以发布活动")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该村")
def create_event(args):
    """发布活动: an event of a village (or of one of its grids) whose attendances earn an award rule's points."""
    user = api_user()
    village = db.session.get(GridNode, args["village_id"])
    if village is None or village.kind is not NodeKind.VILLAGE:
        raise NotFound()
    event = services.create_event(user, village, _terms(args))
    db.session.commit()
    return event_detail(user, event)


@bp.get("/events/<id:event_id>")
@bp.response(200, EventDetailSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该活动")
def get_event(event_id: int):
    """An event with its attendances (those of the caller's own household, unless the caller runs it)."""
    user = api_user()
    return event_detail(user, visible_event(user, event_id))


@bp.patch("/events/<id:event_id>")
@bp.arguments(EventPatchArgs)
@bp.response(200, EventDetailSchema)
@bp.alt_response(400, schema=ErrorSchema, description="名称、地点、时间、细则、网格或组织者有误")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="只有村管理员和活动组织者可以修改活动")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该活动")
@bp.alt_response(409, schema=ErrorSchema, description="活动已结束，或同一系列的另一场活动在该时间开始"
                                                      "（event_series_clash）")
def update_event(args, event_id: int):
    """修改活动: the fields sent replace the event's; the others keep their value."""
    user = api_user()
    event = visible_event(user, event_id)
    if not args:
        raise DomainError("nothing_to_change")
    current = {
        "title": event.title, "place": event.place, "starts": utc_to_local(event.starts_at),
        "ends": utc_to_local(event.ends_at), "rule_id": event.rule_id, "mode": event.mode,
        "capacity": event.capacity, "grid_id": event.grid_id, "organizer_id": event.organizer_id,
        "latitude": event.latitude, "longitude": event.longitude,
    }
    event = services.update_event(user, event, _terms({**current, **args}))
    db.session.commit()
    return event_detail(user, event)


@bp.get("/events/<id:event_id>/qr")
@bp.arguments(QrArgs, location="query")
@bp.doc(responses={"200": {
    "description": "The QR of the check-in address: PNG, or SVG with format=svg",
    "content": {"image/png": {"schema": {"type": "string", "format": "binary"}},
                "image/svg+xml": {"schema": {"type": "string", "format": "binary"}}},
}})
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="只有活动的组织者和村管理员可以出示签到码")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该活动")
def event_qr(args, event_id: int):
    """签到二维码: the image of the check-in address /c/<token>. A rotating code changes every 30 seconds (show it on
    a screen and fetch it again); a static one is for print."""
    user = api_user()
    event = visible_event(user, event_id)
    services.require_check_in(user, event)
    token = services.rotating_token(event) if args["kind"] == "rotating" else services.static_token(event)
    url = checkin_url(token)
    if args["format"] == "svg":
        return Response(qr_svg(url), mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})
    return Response(qr_png(url), mimetype="image/png", headers={"Cache-Control": "no-store"})


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

    def check_in() -> services.CheckIn:
        if "token" in args:
            position = (args["latitude"], args["longitude"]) if "latitude" in args and "longitude" in args else None
            return services.check_in_self(user, args["token"], args["event_id"], client_key=key, digest=digest,
                                          position=position)
        event = visible_event(user, args["event_id"])
        if "card" in args:
            return services.check_in_card(user, event, args["card"], args.get("resident_id"), client_key=key,
                                          digest=digest)
        return services.check_in_resident(user, event, args["resident_id"], client_key=key, digest=digest)

    def answer() -> tuple[dict, int]:
        """The answer is read before the commit, which would make every row read again."""
        checkin = check_in()
        body = {"already": checkin.already, "event_id": checkin.attendance.event_id,
                "attendance": attendance_view(checkin.attendance)}
        return body, 200 if checkin.already else 201

    return commit_keyed(answer)


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
        attendance = services.check_out_self(user, args["token"], event_id=args["event_id"], early=args["early"])
    elif "card" in args:
        attendance = services.check_out_card(user, visible_event(user, args["event_id"]), args["card"],
                                             early=args["early"])
    else:
        attendance = services.check_out_resident(user, visible_event(user, args["event_id"]), args["resident_id"],
                                                 early=args["early"])
    body = {"event_id": attendance.event_id, "attendance": attendance_view(attendance)}
    db.session.commit()
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
    db.session.commit()
    return event_detail(user, event)
