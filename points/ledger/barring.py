"""Bars on redeeming, as the ledger sees them. A household is barred on a day while any of its bars, not lifted,
covers it; its balance row names its latest bar (HouseholdBalance.bar_id) only to say it has bars at all, so that a
household never barred costs no query at the counter (services._Guard).

A penalty under a rule version that bars (bars_days: 赌博, 违建 … in some rule books) bars its household from the day
it is posted for that many days, and its reversal (an appeal upheld, a 冲正) lifts that bar. Called by
services.post_entries alone, with the balances it has locked: a batch without such a penalty costs no statement.
"""
from datetime import date, timedelta

from sqlalchemy import select, update

from ..audit.services import record
from ..auth.models import User
from ..extensions import db
from ..people.models import Household
from ..timeutil import local_today, utcnow
from .models import HouseholdBalance, LedgerEntry, RedemptionBar

LIFTED_BY_REVERSAL = "扣分已撤销，限制随之解除"


def apply_bars(new: list[LedgerEntry], balances: dict[int, HouseholdBalance], households: dict[int, Household],
               actor: User | None) -> None:
    """The bars of the batch's new penalties, and the lifting of those whose penalties the batch reverses."""
    for entry in new:
        version = entry.rule_version
        if version is None or not version.bars_days:
            continue
        if entry.reverses_id is None:
            _impose(entry, balances[entry.household_id], households[entry.household_id], actor)
        else:
            _lift(entry, households[entry.household_id], actor)


def bar_in_force(household_id: int, day: date) -> RedemptionBar | None:
    """The household's bar covering day that ends last, if any (one query: ask it only of a household with bars)."""
    return db.session.scalar(select(RedemptionBar).where(
        RedemptionBar.household_id == household_id, RedemptionBar.lifted_at.is_(None),
        RedemptionBar.starts_on <= day, RedemptionBar.ends_on >= day,
    ).order_by(RedemptionBar.ends_on.desc(), RedemptionBar.id.desc()).limit(1))


def _impose(entry: LedgerEntry, balance: HouseholdBalance, household: Household, actor: User | None) -> None:
    """Bar the household for the rule's days from the day the penalty is posted (a late entry of an older offence
    still bars for the whole of them)."""
    days, today = entry.rule_version.bars_days, local_today()
    bar = RedemptionBar(household_id=entry.household_id, starts_on=today, ends_on=today + timedelta(days=days - 1),
                        reason=entry.rule_version.name[:200], actor_id=actor.id if actor else None, entry_id=entry.id)
    db.session.add(bar)
    db.session.flush()
    balance.bar_id = bar.id
    record(actor, "bar.set", "redemption_bar", bar.id, household.grid_id,
           after={"household": household.number, "starts_on": bar.starts_on.isoformat(),
                  "ends_on": bar.ends_on.isoformat(), "reason": bar.reason, "entry": entry.id})


def _lift(reversal: LedgerEntry, household: Household, actor: User | None) -> None:
    """Lift the bar of the penalty reversed (the household's other bars stand)."""
    bar = db.session.scalar(select(RedemptionBar).where(RedemptionBar.entry_id == reversal.reverses_id))
    if bar is None or bar.lifted_at is not None:
        return
    db.session.execute(update(RedemptionBar).where(RedemptionBar.id == bar.id).values(
        lifted_at=utcnow(), lifted_by_id=actor.id if actor else None, lift_note=LIFTED_BY_REVERSAL))
    db.session.refresh(bar)
    record(actor, "bar.lifted", "redemption_bar", bar.id, household.grid_id,
           after={"household": household.number, "note": LIFTED_BY_REVERSAL})
