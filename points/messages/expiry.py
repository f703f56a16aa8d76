"""The warning of a 清零 a month ahead: each villager of a household with points to lose is told once per clearing
period, in a message that links to 我的积分 (where the same warning shows). Run daily by `flask --app points expire`.

A message is told once by its link, which names the period (/my/points#expiry-2027-01-10): an account with a message of
that link was told already. The village's settings row is written first, so that two runs at once tell in turn."""
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ..extensions import db
from ..grids.models import GridNode
from ..ledger import lifecycle
from ..ledger.models import LedgerSettings
from .models import Message
from .services import household_accounts, tell

KIND = "points"  # shown as 积分 in the inbox


def warning_link(period: str) -> str:
    return f"/my/points#expiry-{period}"


def warn_households(village: GridNode, today: date) -> int:
    """Tell the villagers of each household that would lose points to the village's next clearing, where it is due
    within lifecycle.NOTICE, how many and when: once per account and period. Returns how many accounts were
    told now. Flushes, never commits."""
    # A write, not SELECT … FOR UPDATE: on SQLite too it waits for another run's transaction to end.
    db.session.execute(update(LedgerSettings).where(LedgerSettings.village_id == village.id)
                       .values(updated_at=LedgerSettings.updated_at))
    upcoming = lifecycle.preview(village, today, upcoming=True)
    if upcoming.due is None or upcoming.run is not None or upcoming.due.day - today > lifecycle.NOTICE:
        return 0
    link = warning_link(upcoming.due.period)
    told_before = set(db.session.scalars(select(Message.user_id).where(Message.link == link, Message.kind == KIND)))
    told = 0
    for household_id, points in upcoming.lost.items():
        accounts = [a for a in household_accounts(household_id) if a not in told_before]
        if accounts:
            told += tell(accounts, KIND, _l("将于%(day)s清零 %(points)d 分，请在清零前到积分超市兑换",
                                            day=lifecycle.full_day_label(upcoming.due.day), points=points), link)
    db.session.flush()
    return told
