"""Times are stored as naive UTC; Flask-Babel shows them in Asia/Shanghai."""
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def local_today() -> date:
    """Today in Asia/Shanghai: the day points belong to, and so their week, month and year."""
    return datetime.now(LOCAL).date()
