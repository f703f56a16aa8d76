"""The calendar of points, in one place: the local day (timeutil), ISO weeks (2026-W47, Monday first), months,
quarters and years; the keys the ledger keeps its period totals under (W2026-47, M2026-11, Q2026-4, Y2026, ALL) and
the periods the boards and dashboards read (week:2026-W47 in URLs and the API); a week counts in the month of its
Thursday (卫生评比); and the names people use (12月第2周（12.7–12.13）, 2026年11月, 12月13日), never 2026-W50."""
import enum
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .errors import DomainError
from .timeutil import local_today

FIRST_YEAR, LAST_YEAR = 2000, 2100  # a period outside these years is a typing mistake


def next_month(day: date) -> date:
    """The first day of the month after day's."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def month_bounds(day: date) -> tuple[date, date]:
    """The first and last day of the month day falls in."""
    first = day.replace(day=1)
    return first, next_month(first) - timedelta(days=1)


def period_keys(day: date) -> list[str]:
    """The periods a day counts in: its ISO week, month, quarter, year, and all time."""
    iso_year, week, _ = day.isocalendar()
    return [f"W{iso_year}-{week:02d}", f"M{day.year}-{day.month:02d}", f"Q{day.year}-{(day.month - 1) // 3 + 1}",
            f"Y{day.year}", "ALL"]


# ---------------------------------------------------------------------------------------------------- boards


class PeriodKind(str, enum.Enum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    ALL = "all"


PERIOD_KIND_LABELS = {PeriodKind.WEEK: _l("本周"), PeriodKind.MONTH: _l("本月"), PeriodKind.QUARTER: _l("本季度"),
                      PeriodKind.YEAR: _l("本年"), PeriodKind.ALL: _l("累计")}


@dataclass(frozen=True)
class Period:
    """One period of the period totals. key is the ledger's ('W2026-47', 'M2026-11', 'Q2026-4', 'Y2026', 'ALL');
    text is how a URL and the API write it ('week:2026-W47', 'month:2026-11', 'quarter:2026-Q4', 'year:2026',
    'all')."""

    kind: PeriodKind
    key: str
    text: str
    first: date | None  # its first and last day (None for all time)
    last: date | None

    @property
    def label(self) -> str:
        if self.kind is PeriodKind.WEEK:
            return week_label(self.first, year=True)
        if self.kind is PeriodKind.MONTH:
            return _("%(year)d年%(month)d月", year=self.first.year, month=self.first.month)
        if self.kind is PeriodKind.QUARTER:
            return _("%(year)d年第%(quarter)d季度", year=self.first.year, quarter=(self.first.month - 1) // 3 + 1)
        if self.kind is PeriodKind.YEAR:
            return _("%(year)d年", year=self.first.year)
        return _("累计")

    def previous(self) -> "Period | None":
        return None if self.first is None else period_of(self.kind, self.first - timedelta(days=1))

    def next(self) -> "Period | None":
        return None if self.last is None else period_of(self.kind, self.last + timedelta(days=1))


def period_of(kind: PeriodKind, day: date) -> Period:
    """The period of this kind that day falls in."""
    if kind is PeriodKind.WEEK:
        year, week, weekday = day.isocalendar()
        monday = day - timedelta(days=weekday - 1)
        return Period(kind, f"W{year}-{week:02d}", f"week:{year}-W{week:02d}", monday, monday + timedelta(days=6))
    if kind is PeriodKind.MONTH:
        return Period(kind, f"M{day.year}-{day.month:02d}", f"month:{day.year}-{day.month:02d}", *month_bounds(day))
    if kind is PeriodKind.QUARTER:
        quarter = (day.month - 1) // 3 + 1
        first = date(day.year, 3 * quarter - 2, 1)
        last = date(day.year, 12, 31) if quarter == 4 else date(day.year, 3 * quarter + 1, 1) - timedelta(days=1)
        return Period(kind, f"Q{day.year}-{quarter}", f"quarter:{day.year}-Q{quarter}", first, last)
    if kind is PeriodKind.YEAR:
        return Period(kind, f"Y{day.year}", f"year:{day.year}", date(day.year, 1, 1), date(day.year, 12, 31))
    return Period(kind, "ALL", "all", None, None)


def parse_period(text: str) -> Period:
    """'week:2026-W47', 'month:2026-11', 'quarter:2026-Q4', 'year:2026' or 'all'.

    Raises DomainError("invalid_period")."""
    kind, _sep, value = (text or "").strip().partition(":")
    try:
        kind = PeriodKind(kind)
        if kind is PeriodKind.ALL:
            if value:
                raise ValueError
            return period_of(kind, local_today())
        if kind is PeriodKind.WEEK:
            year, week = value.split("-W")
            day = date.fromisocalendar(_year(year), int(week), 1)
        elif kind is PeriodKind.MONTH:
            year, month = value.split("-")
            day = date(_year(year), int(month), 1)
        elif kind is PeriodKind.QUARTER:
            year, quarter = value.split("-Q")
            if not 1 <= int(quarter) <= 4:
                raise ValueError
            day = date(_year(year), 3 * int(quarter) - 2, 1)
        else:
            day = date(_year(value), 1, 1)
    except ValueError:
        raise DomainError("invalid_period", period=(text or "")[:40]) from None
    return period_of(kind, day)


def _year(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) == 4 and FIRST_YEAR <= int(text) <= LAST_YEAR):
        raise ValueError
    return int(text)


# -------------------------------------------------------------------------------------------- 卫生评比 weeks


def parse_week(text: str) -> date:
    """The Monday of an ISO week written 2026-W47. Raises DomainError("invalid_week")."""
    try:
        year, week = str(text).upper().split("-W")
        monday = date.fromisocalendar(int(year), int(week), 1)
    except (ValueError, TypeError):
        raise DomainError("invalid_week") from None
    if not FIRST_YEAR <= monday.year <= LAST_YEAR or len(week) != 2:
        raise DomainError("invalid_week")
    return monday


def week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def month_of_week(monday: date) -> str:
    """A week counts in the month of its Thursday, as ISO weeks count in the year of theirs."""
    return "{}-{:02d}".format(*month_week(monday)[:2])


def last_monday(month: str) -> date:
    """The Monday of the month's last week, the week of its last Thursday."""
    last = parse_month(month)[1]
    return last - timedelta(days=(last.weekday() - 3) % 7 + 3)


def month_weeks_end(month: str) -> date:
    """The day a month's weeks are over: its last day, or the Sunday of its last week when that runs into the next
    month, up to the 3rd."""
    return max(parse_month(month)[1], last_monday(month) + timedelta(days=6))


def parse_month(text: str) -> tuple[date, date]:
    """The first and last day of a month written 2026-11. Raises DomainError("invalid_month")."""
    try:
        year, month = (int(part) for part in str(text).split("-"))
        first = date(year, month, 1)
    except (ValueError, TypeError):
        raise DomainError("invalid_month") from None
    if not FIRST_YEAR <= year <= LAST_YEAR or len(str(text)) != 7:
        raise DomainError("invalid_month")
    return month_bounds(first)


# ---------------------------------------------------------------------------------------------------- names


def month_week(monday: date) -> tuple[int, int, int]:
    """(year, month, n): the week is the n-th of the month of its Thursday."""
    thursday = monday + timedelta(days=3)
    return thursday.year, thursday.month, (thursday.day - 1) // 7 + 1


def week_label(monday: date, year: bool = False, dates: bool = True) -> str:
    """A week as people name it, never 2026-W50: 12月第2周（12.7–12.13）, its number in the month of its Thursday and
    its Monday to Sunday; a week that starts in one month and counts in the next says so, 1月第1周（12.29–1.4）.
    year: 2026年12月第2周（12.7–12.13）; dates=False: 12月第2周, where a page has no room (a chart's axis)."""
    number = dict(zip(("year", "month", "n"), month_week(monday)))
    name = _("%(year)d年%(month)d月第%(n)d周", **number) if year else _("%(month)d月第%(n)d周", **number)
    if not dates:
        return name
    sunday = monday + timedelta(days=6)
    return _("%(week)s（%(first)s–%(last)s）", week=name, first=f"{monday.month}.{monday.day}",
             last=f"{sunday.month}.{sunday.day}")


def month_label(month: str) -> str:
    """2026年12月 for 2026-12."""
    year, number = month.split("-")
    return _("%(year)s年%(month)d月", year=year, month=int(number))


def full_day_label(day: date):
    """2027年1月10日 (a lazy string, read in the reader's language): a day that may fall in another year."""
    return _l("%(year)d年%(month)d月%(day)d日", year=day.year, month=day.month, day=day.day)


def day_label(day: date) -> str:
    return _("%(month)d月%(day)d日", month=day.month, day=day.day)
