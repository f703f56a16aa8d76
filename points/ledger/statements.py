"""积分对账单: a household's entries over a range of local days, with the opening balance before it, the running
balance after each entry and the closing balance at its end.

An entry belongs to the range by occurred_on, the day its points belong to (as the weeks, months and rankings count
them), not by created_at, the moment it was posted: an award posted on 2 January for 31 December is in December's
statement. Opening + the sum of the range's entries == closing, always.
"""
import re
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..errors import DomainError, register_messages
from ..extensions import db
from ..people.models import Household
from ..rules.models import RuleVersion
from .models import EntrySource, LedgerEntry

MAX_YEARS = 10  # the longest range a statement covers
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class StatementLine:
    entry: LedgerEntry
    undone: LedgerEntry | None  # what a reversal undid, with its rule
    balance: int  # the running balance after this entry

    @property
    def shop(self) -> bool:
        """Spending at the shop: a redemption's debit, or its void giving the points back."""
        return self.entry.source is EntrySource.REDEMPTION or (
            self.undone is not None and self.undone.source is EntrySource.REDEMPTION)


@dataclass(frozen=True)
class Statement:
    household: Household
    start: date
    end: date
    opening: int
    lines: list[StatementLine]

    @property
    def closing(self) -> int:
        return self.lines[-1].balance if self.lines else self.opening

    @property
    def earned(self) -> int:
        """Points gained in the range but at the shop (a reversed penalty gives points back: it counts here)."""
        return sum(line.entry.amount for line in self.lines if not line.shop and line.entry.amount > 0)

    @property
    def lost(self) -> int:
        """Points lost in the range but at the shop (penalties, expiry, awards taken back), as a positive number."""
        return -sum(line.entry.amount for line in self.lines if not line.shop and line.entry.amount < 0)

    @property
    def spent(self) -> int:
        """Points spent at the shop, net of voided redemptions, as a positive number."""
        return -sum(line.entry.amount for line in self.lines if line.shop)


def _bounded(day: date, years: int) -> date | None:
    """day, years later (28 February for a 29th); None when that is past the calendar's end."""
    if day.year + years > date.max.year:
        return None
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def parse_range(start_text: str | None, end_text: str | None, default: tuple[date, date]) -> tuple[date, date]:
    """The range asked for as ISO dates (YYYY-MM-DD), either missing one taken from default. Raises DomainError:
    a malformed date, an end before the start, a range over MAX_YEARS years."""
    days = []
    for text, fallback in zip((start_text, end_text), default, strict=True):
        text = (text or "").strip()
        if not text:
            days.append(fallback)
            continue
        try:
            if not _ISO_DAY.fullmatch(text):
                raise ValueError(text)
            days.append(date.fromisoformat(text))
        except ValueError:
            raise DomainError("statement_bad_date", text=text[:20]) from None
    start, end = days
    if end < start:
        raise DomainError("statement_reversed_range")
    limit = _bounded(start, MAX_YEARS)
    if limit is not None and end >= limit:
        raise DomainError("statement_range_too_long", years=MAX_YEARS)
    return start, end


def household_statement(household: Household, start: date, end: date) -> Statement:
    """The household's 对账单 for start..end inclusive (local days, by occurred_on), oldest entry first."""
    opening = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.household_id == household.id, LedgerEntry.occurred_on < start))
    entries = db.session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.household_id == household.id, LedgerEntry.occurred_on.between(start, end))
        .options(selectinload(LedgerEntry.rule_version).selectinload(RuleVersion.rule),
                 selectinload(LedgerEntry.actor))
        .order_by(LedgerEntry.occurred_on, LedgerEntry.created_at, LedgerEntry.id)
    ).all()
    undone = _undone(entries)
    lines, balance = [], int(opening)
    for entry in entries:
        balance += entry.amount
        lines.append(StatementLine(entry, undone.get(entry.reverses_id), balance))
    return Statement(household, start, end, int(opening), lines)


def _undone(entries: list[LedgerEntry]) -> dict[int, LedgerEntry]:
    """The entries the reversals among entries undid (in the range or before it), by id."""
    wanted = {e.reverses_id for e in entries if e.reverses_id is not None}
    if not wanted:
        return {}
    found = db.session.scalars(select(LedgerEntry).where(LedgerEntry.id.in_(wanted))
                               .options(selectinload(LedgerEntry.rule_version)))
    return {e.id: e for e in found}


register_messages({
    "statement_bad_date": _l("日期“%(text)s”不对，请按 2026-01-31 这样的格式填写"),
    "statement_reversed_range": _l("结束日期不能早于开始日期"),
    "statement_range_too_long": _l("对账单最长只能查 %(years)d 年，请缩短日期范围"),
})
