"""Times are stored as naive UTC; Flask-Babel shows them in Asia/Shanghai."""
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
