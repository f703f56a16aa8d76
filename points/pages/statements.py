"""Statements and exports: a household's 积分对账单 (a page to print on A4, and .xlsx), an event's attendance list
and the audit log as .xlsx."""
import io
import re
from datetime import date

from flask import Blueprint, render_template, request, send_file
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..audit.labels import ACTIONS, FIELD_LABELS
from ..audit.models import AuditEvent
from ..auth import policy
from ..errors import DomainError, Forbidden
from ..events.models import METHOD_LABELS, Attendance
from ..extensions import db
from ..ledger.models import LedgerEntry
from ..ledger.statements import MAX_YEARS, Statement, StatementLine, household_statement, parse_range
from ..people.models import Household
from ..people.privacy import mask_id_number, mask_name, mask_phone
from ..timeutil import local_today, utc_to_local
from ..xlsx import XLSX, add_sheet, book_bytes, new_book
from . import refused
from .audit import filtered_events, shown_value
from .events import UNPAID_LABELS, event_to_run
from .ledger import entry_words

bp = Blueprint("statements", __name__)

AUDIT_EXPORT_CAP = 5000  # the newest events an export holds: a narrower filter finds older ones


def _default_range() -> tuple[date, date]:
    """This year so far."""
    today = local_today()
    return today.replace(month=1, day=1), today


def _asked_statement(household_id: int) -> tuple[Household, Statement | DomainError]:
    """The household (if the user may see it) and its statement for ?from=&to=, or the refusal of the range."""
    household = policy.visible_household(current_user, household_id)
    try:
        start, end = parse_range(request.args.get("from"), request.args.get("to"), _default_range())
    except DomainError as refusal:
        return household, refusal
    return household, household_statement(household, start, end)


def _is_staff(household: Household) -> bool:
    """Staff in scope read who recorded each entry; the household's own villagers read 工作人员."""
    return policy.can(current_user, policy.Permission.VIEW_HOUSEHOLDS, household.grid_id)


def recorder(entry: LedgerEntry, staff: bool) -> str:
    if entry.actor is None:
        return _("系统")
    return entry.actor.display_name if staff else _("工作人员")


def _line_words(statement: Statement, staff: bool) -> dict[int, tuple[str, str, str]]:
    """entry id → (what, source, who recorded it), in the viewer's words."""
    own = statement.household.id == policy.own_household_id(current_user) and not staff
    words = {}
    for line in statement.lines:
        what = entry_words(line.entry, line.undone, own)
        words[line.entry.id] = (what.title, what.source, recorder(line.entry, staff))
    return words


def _page(household: Household, found: Statement | None, status: int = 200):
    return render_template("statements/statement.html", household=household, statement=found,
                           words=_line_words(found, _is_staff(household)) if found else {}, max_years=MAX_YEARS,
                           start=request.args.get("from", ""), end=request.args.get("to", "")), status


@bp.get("/households/<id:household_id>/statement")
@login_required
def statement(household_id: int):
    """积分对账单: opening balance, every entry of the range with the running balance, closing balance; prints on A4."""
    household, found = _asked_statement(household_id)
    if isinstance(found, DomainError):
        refused(found)
        return _page(household, None, 400)
    return _page(household, found)


@bp.get("/households/<id:household_id>/statement.xlsx")
@login_required
def statement_xlsx(household_id: int):
    household, found = _asked_statement(household_id)
    if isinstance(found, DomainError):
        refused(found)
        return _page(household, None, 400)
    return _send(statement_workbook(found, _line_words(found, _is_staff(household))),
                 _("积分对账单-%(number)s-%(start)s-%(end)s.xlsx", number=household.number, start=found.start,
                   end=found.end))


def statement_workbook(found: Statement, words: dict[int, tuple[str, str, str]]) -> bytes:
    household = found.household
    book = new_book()
    summary = [
        (_("户号"), household.number), (_("村"), household.village.name), (_("网格"), household.grid.name),
        (_("开始日期"), found.start), (_("结束日期"), found.end), (_("期初余额"), found.opening),
        (_("得分"), found.earned), (_("扣分"), found.lost), (_("兑换"), found.spent), (_("期末余额"), found.closing),
        (_("说明"), _("按积分所属日期（记分日期）计入，不按录入时间")),
    ]
    add_sheet(book, _("汇总"), (_("项目"), _("数值")), summary, (14, 40))
    rows = [_statement_row(line, words[line.entry.id]) for line in found.lines]
    add_sheet(book, _("积分明细"), (_("日期"), _("事项"), _("来源"), _("记录人"), _("积分"), _("余额"), _("备注")),
              rows, (12, 28, 12, 12, 8, 8, 30))
    return book_bytes(book)


def _statement_row(line: StatementLine, words: tuple[str, str, str]) -> tuple:
    what, source, who = words
    return (line.entry.occurred_on, what, source, who, line.entry.amount, line.balance, line.entry.note)


@bp.get("/events/<id:event_id>/attendance.xlsx")
@login_required
def attendance_xlsx(event_id: int):
    """签到名单 of an event, for whoever runs it: names masked as on the event's page."""
    event = event_to_run(event_id)
    attendances = db.session.query(Attendance).filter(Attendance.event_id == event.id) \
        .order_by(Attendance.checked_in_at, Attendance.id).all()
    rows = [_attendance_row(a, event.closed_at is not None) for a in attendances]
    book = new_book()
    add_sheet(book, _("签到名单"), (_("姓名"), _("户号"), _("网格"), _("签到方式"), _("签到时间"), _("签退时间"),
                                _("小时"), _("积分"), _("状态")), rows, (10, 12, 12, 10, 18, 18, 6, 6, 20))
    return _send(book_bytes(book), _("签到名单-%(title)s.xlsx", title=event.title))


def _attendance_row(a: Attendance, closed: bool) -> tuple:
    if a.removed_at:
        status = _("已移除")
    elif a.entry:
        status = _("已记分")
    elif a.unpaid_reason:
        status = str(UNPAID_LABELS.get(a.unpaid_reason, _("未记分")))
    else:
        status = _("未记分") if closed else _("已签到")
    return (mask_name(a.resident.name), a.household.number, a.household.grid.name, str(METHOD_LABELS[a.method]),
            utc_to_local(a.checked_in_at), utc_to_local(a.checked_out_at) if a.checked_out_at else None,
            a.hours, a.entry.amount if a.entry else None, status)


_PHONE = re.compile(r"(?<![0-9])1[0-9]{10}(?![0-9])")
_ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")


def masked(text: str) -> str:
    """Text of the log with any phone or ID number in it masked, as the pages show them to whoever is not entitled."""
    text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group()), text)
    return _PHONE.sub(lambda m: mask_phone(m.group()), text)


@bp.get("/audit.xlsx")
@login_required
def audit_xlsx():
    """The audit log within the admin's scope, under the filters of /audit: the newest AUDIT_EXPORT_CAP events."""
    if not policy.holds(current_user, policy.Permission.VIEW_AUDIT):
        raise Forbidden()
    page = filtered_events(1, AUDIT_EXPORT_CAP)
    book = new_book()
    add_sheet(book, _("审计日志"), (_("时间"), _("操作"), _("操作人"), _("用户名"), _("之前"), _("之后")),
              [_audit_row(e) for e in page.items], (18, 16, 10, 14, 40, 40))
    note = _("共 %(total)d 条，已全部导出", total=page.total) if page.total <= AUDIT_EXPORT_CAP else \
        _("共 %(total)d 条，只导出最近的 %(cap)d 条；请缩小日期范围分次导出", total=page.total, cap=AUDIT_EXPORT_CAP)
    add_sheet(book, _("说明"), (_("说明"),), [(note,)], (60,))
    return _send(book_bytes(book), _("审计日志-%(day)s.xlsx", day=local_today()))


def _changes(values: dict | None) -> str:
    return "；".join(f"{FIELD_LABELS.get(k, k)}={shown_value(v)}" for k, v in (values or {}).items())


def _audit_row(e: AuditEvent) -> tuple:
    return (utc_to_local(e.created_at), str(ACTIONS.get(e.action, e.action)),
            masked(e.actor.display_name) if e.actor else _("系统"), e.actor.username if e.actor else "",
            masked(_changes(e.before)), masked(_changes(e.after)))


def _send(data: bytes, name: str):
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True, download_name=name)
