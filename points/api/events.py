"""/api/v1 events (志愿活动): list, create, read and edit events, and their check-in QR codes. Check-ins,
check-outs and closing are in events_attendance.py, on this same blueprint.

Times sent in ("starts", "ends") are local (Asia/Shanghai) when they carry no offset; times sent back carry their
offset. Names of attendees are masked (张*明).
"""
from datetime import date, datetime

from flask import Response, request
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import func, select

from ..auth import policy
from ..auth.models import User
from ..errors import DomainError, NotFound
from ..events import checkins, services
from ..events.models import Attendance, CheckinMethod, CheckinMode, Event
from ..events.queries import visible_event, visible_filter
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..limits import MAX_ID
from ..people.privacy import mask_name
from ..qr import qr_png, qr_svg
from ..timeutil import LOCAL, utc_to_local
from .auth import api_user, authenticate_request
from .blueprint import Blueprint
from .schemas import ErrorSchema, PageArgs, Text, page_schema, utc

bp = Blueprint("api_events", __name__,
               description="志愿活动：发布活动、签到二维码、签到（扫码、户卡、登记）、结束活动记分")
bp.before_request(authenticate_request)


def row_id(strict: bool = True, **kwargs) -> fields.Integer:
    """An id field: an integer from 1 to MAX_ID."""
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


EventPage = page_schema(EventSchema, "EventPage")


# Requests


class EventListArgs(PageArgs):
    village_id = row_id(strict=False, metadata={"description": "One village; absent: every village the caller sees"})
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
    rule_id = row_id(required=True, metadata={"description": "An award rule of the village, in force that day"})
    mode = fields.Enum(CheckinMode, by_value=True, load_default=CheckinMode.IN)
    capacity = fields.Integer(strict=True, load_default=None, allow_none=True,
                              validate=validate.Range(min=1, max=100_000), metadata={"description": "null: no limit"})
    grid_id = row_id(load_default=None, allow_none=True,
                      metadata={"description": "One grid of the village; null: all"})
    organizer_id = row_id(load_default=None, allow_none=True, metadata={"description": "A user who runs it"})


class EventCreateArgs(EventTermsArgs):
    village_id = row_id(required=True)
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
    rule_id = row_id()
    mode = fields.Enum(CheckinMode, by_value=True)
    capacity = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=100_000))
    grid_id = row_id(allow_none=True)
    organizer_id = row_id(allow_none=True)
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
    token = checkins.rotating_token(event) if args["kind"] == "rotating" else checkins.static_token(event)
    url = checkin_url(token)
    if args["format"] == "svg":
        return Response(qr_svg(url), mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})
    return Response(qr_png(url), mimetype="image/png", headers={"Cache-Control": "no-store"})


# The routes of that module are on bp: imported here, they are registered with it.
from . import events_attendance  # noqa: E402, F401
