"""Times are stored as naive UTC; Flask-Babel shows them in Asia/Shanghai. Days, weeks and months as people name
them."""
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

LOCAL = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def local_today() -> date:
    """Today in Asia/Shanghai: the day points belong to, and so their week, month and year."""
    return datetime.now(LOCAL).date()


def local_to_utc(moment: datetime) -> datetime:
    """A naive local (Asia/Shanghai) time as the naive UTC time it is stored as."""
    return moment.replace(tzinfo=LOCAL).astimezone(UTC).replace(tzinfo=None)


def utc_to_local(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(LOCAL).replace(tzinfo=None)


def local_now() -> datetime:
    return datetime.now(LOCAL).replace(tzinfo=None)


def month_week(monday: date) -> tuple[int, int, int]:
    """(year, month, n): the week is the n-th of the month of its Thursday."""
    thursday = monday + timedelta(days=3)
    return thursday.year, thursday.month, (thursday.day - 1) // 7 + 1


def week_label(monday: date, year: bool = False) -> str:
    """12月第2周 (2026年12月第2周 with the year): a week as people name it, never 2026-W50."""
    number = dict(zip(("year", "month", "n"), month_week(monday)))
    return _("%(year)d年%(month)d月第%(n)d周", **number) if year else _("%(month)d月第%(n)d周", **number)


def month_label(month: str) -> str:
    """2026年12月 for 2026-12."""
    year, number = month.split("-")
    return _("%(year)s年%(month)d月", year=year, month=int(number))


def day_label(day: date) -> str:
    return _("%(month)d月%(day)d日", month=day.month, day=day.day)
