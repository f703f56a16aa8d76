"""Times are stored as naive UTC; Flask-Babel shows them in Asia/Shanghai."""
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

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
