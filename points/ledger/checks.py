"""The checks a movement of points passes before it is posted: its own terms, and the caps (上限) of its rule."""
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..errors import DomainError
from ..extensions import db
from ..periods import month_bounds
from ..rules.models import RuleVersion
from .models import LedgerEntry

MAX_AMOUNT = 100_000  # no single movement of points comes near this; a larger one is a typing mistake
MAX_NOTE = 200  # LedgerEntry.note's length
MAX_KEY = 100  # LedgerEntry.idempotency_key's length
CAP_PERIODS = (("cap_day", _l("日")), ("cap_week", _l("周")), ("cap_month", _l("月")), ("cap_year", _l("年")))


def check_terms(amount: int, idempotency_key: str, note: str) -> None:
    """What a movement asks, before anything is read. Raises DomainError("invalid_amount" | "invalid_idempotency_key"
    | "note_too_long")."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0 or abs(amount) > MAX_AMOUNT:
        raise DomainError("invalid_amount", limit=MAX_AMOUNT)
    if not idempotency_key or len(idempotency_key) > MAX_KEY:
        raise DomainError("invalid_idempotency_key")
    if len(note) > MAX_NOTE:
        raise DomainError("note_too_long", limit=MAX_NOTE)


def period_bounds(day: date) -> dict[str, tuple[date, date]]:
    """The first and last day of the day, ISO week, month and year around day."""
    week_start = day - timedelta(days=day.weekday())
    return {
        "cap_day": (day, day),
        "cap_week": (week_start, week_start + timedelta(days=6)),
        "cap_month": month_bounds(day),
        "cap_year": (day.replace(month=1, day=1), day.replace(month=12, day=31)),
    }


def check_caps(household_id: int, version: RuleVersion, amount: int, day: date, pending: list[LedgerEntry]) -> None:
    """Under the household's lock: the points under this rule (any version, reversals netted), posted or pending in
    this batch, stay within each cap of the period around day. Raises DomainError("cap_exceeded") naming the cap."""
    bounds = period_bounds(day)
    for cap_name, period in CAP_PERIODS:
        cap = getattr(version, cap_name)
        if cap is None:
            continue
        start, end = bounds[cap_name]
        used = db.session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0))
            .join(RuleVersion, LedgerEntry.rule_version_id == RuleVersion.id)
            .where(
                LedgerEntry.household_id == household_id,
                RuleVersion.rule_id == version.rule_id,
                LedgerEntry.occurred_on.between(start, end),
            )
        ) + sum(e.amount for e in pending
                if e.household_id == household_id and e.rule_version is not None
                and e.rule_version.rule_id == version.rule_id and start <= e.occurred_on <= end)
        if abs(used + amount) > cap:
            raise DomainError("cap_exceeded", status=409, rule=version.name, period=period, cap=cap, used=abs(used))
