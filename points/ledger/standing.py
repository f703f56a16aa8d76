"""What the counter, 我的积分 and the API say about a household's points beyond its balance: how much is still in
公示 (待公示), a bar on redeeming in force, and (on 我的积分) the 清零 coming within a month.

Read in the one query those pages sent anyway for the balance: the balance row with its latest bar's id, and the
village's settings row beside it. A village with the default settings (no row) and a household never barred cost
no statement more; only what is there to show (a bar, points waiting for 公示, a 清零 coming) is read further."""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from ..extensions import db
from ..people.models import Household
from ..timeutil import local_today
from . import lifecycle
from .barring import bar_in_force
from .models import ExpiryMode, HouseholdBalance, LedgerSettings, RedemptionBar
from .totals import fresh_points


@dataclass(frozen=True)
class Standing:
    balance: int  # 现有积分
    pending: int  # 待公示积分: counted in the balance, not yet spendable
    bar: RedemptionBar | None  # in force today
    expiring: tuple[lifecycle.Due, int] | None  # the next 清零 within a month, and the points it would take
    waits_for_publicity: bool  # the village's points count only after their month's 公示

    @property
    def available(self) -> int:  # 可用积分
        return self.balance - self.pending


def standing_of(household: Household, expiry: bool = False, today: date | None = None) -> Standing:
    """The household's balance, pending points and bar in force (and, with expiry, its coming 清零)."""
    today = today or local_today()
    row = db.session.execute(
        select(HouseholdBalance.balance, HouseholdBalance.bar_id, LedgerSettings)
        .select_from(Household)
        .outerjoin(HouseholdBalance, HouseholdBalance.household_id == Household.id)
        .outerjoin(LedgerSettings, LedgerSettings.village_id == Household.village_id)
        .where(Household.id == household.id)).one()
    balance, bar_id, settings = row.balance or 0, row.bar_id, row.LedgerSettings
    bar = bar_in_force(household.id, today) if bar_id is not None else None
    return Standing(balance, _pending(household, balance, settings, today), bar,
                    _expiring(household, settings, today) if expiry else None,
                    settings is not None and settings.spend_after_publicity)


def _pending(household: Household, balance: int, settings: LedgerSettings | None, today: date) -> int:
    since = lifecycle.pending_since(settings, today) if settings is not None else None
    if since is None:
        return 0
    return lifecycle.pending_of(balance, fresh_points([household.id], since).get(household.id, 0))


def _expiring(household: Household, settings: LedgerSettings | None, today: date):
    """lifecycle.expiring_for, asked only where the village clears points (its settings row, read above, is in the
    session: expiring_for finds it there)."""
    if settings is None or settings.expiry is ExpiryMode.NONE:
        return None
    return lifecycle.expiring_for(household, today)
