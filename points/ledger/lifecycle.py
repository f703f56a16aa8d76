"""Points over their life: a month's 公示 (points count at the counter only once it has ended, where the village says
so) and their 清零 (a yearly reset, or expiry a number of months after they were earned).

Points a household earned are pending while their month is in 公示 and before; what is not pending is available:
available + pending == balance (standing.py reads them). Penalties and spending take the oldest points first. A
redemption spends available points only (services.py checks it under the household's lock, given pending_since). A
清零 takes the points earned before its cutoff that are left, never pending ones; it is posted as entries of the
`expiry` source under keys of its period, once per village and period whoever runs it and however often, at least a
month after it was set (NOTICE), and an admin may undo it.
"""
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import aliased

from ..audit.services import record
from ..auth import policy
from ..auth.models import User
from ..errors import DomainError
from ..extensions import add_unless_taken, db
from ..grids.models import GridNode
from ..people.models import Household
from ..periods import full_day_label, next_month
from ..timeutil import local_today, utcnow
from .locks import hold_all
from .models import EntrySource, ExpiryMode, ExpiryRun, HouseholdBalance, LedgerEntry, LedgerSettings
from .services import Movement, post_entries, reversal_of
from .totals import fresh_points

MANAGE = policy.Permission.MANAGE_POINTS
# A clearing is known this long before it falls: its first day, once 清零 is turned on or moved, is at least this far
# off, and households are told of it from this far ahead.
NOTICE = timedelta(days=31)
MAX_CAP = 1_000_000  # a carry-over cap beyond any balance
SETTING_FIELDS = ("objection_days", "spend_after_publicity", "expiry", "reset_on", "carry_percent", "carry_cap",
                  "expiry_months")


def settings_of(village_id: int) -> LedgerSettings:
    """The village's settings, or the defaults (a row not added to the session) where it has none."""
    return db.session.get(LedgerSettings, village_id) or LedgerSettings(
        village_id=village_id, objection_days=7, spend_after_publicity=False, expiry=ExpiryMode.NONE,
        carry_percent=0, carry_cap=None, expiry_months=24)


def update_settings(actor: User, village: GridNode, **fields) -> LedgerSettings:
    """Change some of the village's 公示 and 清零 settings (keys of SETTING_FIELDS), making its row where it has none.
    A yearly reset needs its first day, a day of month 1–28 (every year has it) at least NOTICE ahead whenever it is
    set or changed; turning 清零 on or moving its days puts its first clearing at least NOTICE off (expiry_from), so
    every household is told a month ahead. Audited with the settings before and after.
    Raises Forbidden, DomainError("invalid_ledger_settings" | "reset_day_in_past" | "reset_day_too_soon")."""
    policy.require(actor, MANAGE, village.id)
    unknown = set(fields) - set(SETTING_FIELDS)
    if unknown:
        raise TypeError(f"unknown ledger settings: {sorted(unknown)}")
    settings = db.session.get(LedgerSettings, village.id)
    if settings is None:
        settings = settings_of(village.id)
        db.session.add(settings)
    before = _settings_dict(settings)
    values = _checked(fields)
    today = local_today()
    _check_reset(settings, values, today)
    timing = _timing(settings)
    if values.get("objection_days", settings.objection_days) != settings.objection_days:
        _keep_days_of_months_over(settings, today)
    for name, value in values.items():
        setattr(settings, name, value)
    if _timing(settings) != timing:
        settings.expiry_from = today + NOTICE
    db.session.flush()
    record(actor, "ledger_settings.updated", "village", village.id, village.id, before=before,
           after=_settings_dict(settings))
    return settings


def _keep_days_of_months_over(settings: LedgerSettings, today: date) -> None:
    """Before the objection days change: the months over keep theirs, so that a month published is not opened again
    (nor its points made pending again), nor a 公示 on cut short. A second change in a month keeps the first's."""
    this_month = today.replace(day=1)
    if settings.objection_days_since != this_month:
        settings.objection_days_before = settings.objection_days
        settings.objection_days_since = this_month


def _timing(settings: LedgerSettings) -> tuple:
    """What decides when the clearings fall: a change to it puts the first one at least a month off (NOTICE). The
    day of a reset, the months of an expiry: a field the mode does not read changes nothing."""
    reset = settings.expiry is ExpiryMode.RESET
    return (settings.expiry, settings.reset_on if reset else None,
            settings.expiry_months if settings.expiry is ExpiryMode.ROLLING else None)


def _refuse(what) -> DomainError:
    return DomainError("invalid_ledger_settings", what=what)


def _whole(value, low: int, high: int, what) -> int:
    """value as a whole number within low..high. Raises DomainError."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _refuse(what)
    return value


def _checked(fields: dict) -> dict:
    """The fields given, each checked on its own. Raises DomainError("invalid_ledger_settings")."""
    values = dict(fields)
    if "objection_days" in fields:
        values["objection_days"] = _whole(fields["objection_days"], 0, 28, _l("公示异议天数要在 0 到 28 天之间"))
    if "spend_after_publicity" in fields and not isinstance(fields["spend_after_publicity"], bool):
        raise _refuse(_l("请选择积分是否要公示结束后才能兑换"))
    if "expiry" in fields:
        try:
            values["expiry"] = ExpiryMode(fields["expiry"])
        except ValueError:
            raise _refuse(_l("清零方式只能选不清零、每年清零或到期作废")) from None
    if "reset_on" in fields and fields["reset_on"] is not None and not isinstance(fields["reset_on"], date):
        raise _refuse(_l("清零日期格式不对"))
    if "carry_percent" in fields:
        values["carry_percent"] = _whole(fields["carry_percent"], 0, 100, _l("保留比例要在 0 到 100 之间"))
    if fields.get("carry_cap") is not None:
        values["carry_cap"] = _whole(fields["carry_cap"], 0, MAX_CAP,
                                     _l("最多保留的积分要在 0 到 1000000 之间（不限就留空）"))
    if "expiry_months" in fields:
        values["expiry_months"] = _whole(fields["expiry_months"], 1, 120, _l("积分有效月数要在 1 到 120 之间"))
    return values


def _check_reset(settings: LedgerSettings, values: dict, today: date) -> None:
    """A yearly reset's first day: given, a day of month 1–28, and after today when it is set or changed (a day kept
    as it was may lie in the past: it was the first clearing). Raises DomainError."""
    mode = values.get("expiry", settings.expiry)
    reset_on = values.get("reset_on", settings.reset_on)
    if mode is not ExpiryMode.RESET:
        return
    if reset_on is None:
        raise _refuse(_l("每年清零要填写清零日期"))
    if reset_on.day > 28:
        raise _refuse(_l("清零日期只能选每月 1 日到 28 日（每年都有这一天）"))
    if settings.expiry is ExpiryMode.RESET and reset_on == settings.reset_on:
        return
    if reset_on <= today:
        raise DomainError("reset_day_in_past", day=full_day_label(reset_on))
    if reset_on < today + NOTICE:
        raise DomainError("reset_day_too_soon", day=full_day_label(today + NOTICE))


def _settings_dict(settings: LedgerSettings) -> dict:
    return {"objection_days": settings.objection_days, "spend_after_publicity": settings.spend_after_publicity,
            "expiry": ExpiryMode(settings.expiry).value,
            "reset_on": settings.reset_on.isoformat() if settings.reset_on else None,
            "carry_percent": settings.carry_percent, "carry_cap": settings.carry_cap,
            "expiry_months": settings.expiry_months}


# ---------------------------------------------------------------------------------------------------- 公示


def publicity_ends(settings: LedgerSettings, month_first: date) -> date:
    """The first day a month counts as 已公示: its 公示 opens when the month is over and takes objections for the
    village's number of days, as they were when the month ended (a change applies to the months not over)."""
    days = settings.objection_days
    if settings.objection_days_since is not None and month_first < settings.objection_days_since:
        days = settings.objection_days_before
    return next_month(month_first) + timedelta(days=days)


def in_publicity(settings: LedgerSettings, month_first: date, today: date) -> bool:
    """Whether the month's 公示 is on today: the month is over, its objection days are not."""
    return next_month(month_first) <= today < publicity_ends(settings, month_first)


def pending_since(settings: LedgerSettings, today: date) -> date | None:
    """The first day of the oldest month whose points are still pending today (this month's, or last month's while
    its 公示 is on); None where points count at once."""
    if not settings.spend_after_publicity:
        return None
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    return last_month if today < publicity_ends(settings, last_month) else this_month


def pending_of(balance: int, fresh: int) -> int:
    """The pending part of a balance, given the points earned since pending_since (fresh_points): never
    more than the balance nor below zero, so that available (balance − pending) + pending == balance."""
    return max(0, min(balance, fresh))


# ---------------------------------------------------------------------------------------------------- 清零


@dataclass(frozen=True)
class Due:
    period: str  # 2027-01-10 (a yearly reset: its day), M2027-03
    cutoff: date  # points dated before it expire
    day: date  # the day the clearing is due, and its entries' day


def due_on(settings: LedgerSettings, today: date) -> Due | None:
    """The latest clearing due by today, or None (no 清零, or its first day is still to come). None before the
    settings' expiry_from: a clearing is known a month ahead."""
    due = None
    if settings.expiry is ExpiryMode.RESET and settings.reset_on is not None and today >= settings.reset_on:
        day = settings.reset_on.replace(year=today.year)
        if today < day:
            day = day.replace(year=today.year - 1)
        due = Due(day.isoformat(), day, day)
    elif settings.expiry is ExpiryMode.ROLLING:
        first = today.replace(day=1)
        cutoff = first
        for _ in range(settings.expiry_months):
            cutoff = (cutoff - timedelta(days=1)).replace(day=1)
        due = Due(f"M{first:%Y-%m}", cutoff, first)
    if due is None or (settings.expiry_from is not None and due.day < settings.expiry_from):
        return None
    return due


def next_due(settings: LedgerSettings, today: date) -> Due | None:
    """The next clearing after today, as it would run (for the warning a month ahead and the page), or None: the first
    day of the kind after today that is not before the settings' expiry_from."""
    start = max(today, (settings.expiry_from or today) - timedelta(days=1))
    if settings.expiry is ExpiryMode.RESET and settings.reset_on is not None:
        day = max(settings.reset_on, settings.reset_on.replace(year=start.year))
        if day <= start:
            day = settings.reset_on.replace(year=start.year + 1)
        return due_on(settings, day)
    if settings.expiry is ExpiryMode.ROLLING:
        return due_on(settings, next_month(start))
    return None


def expiring(settings: LedgerSettings, due: Due, balances: dict[int, int], today: date) -> dict[int, int]:
    """The points each household loses to the clearing (positive; households losing none left out): its balance less
    the points earned since the cutoff and less its pending points, less what a yearly reset carries over."""
    ids = [h for h, balance in balances.items() if balance > 0]
    fresh = fresh_points(ids, due.cutoff)
    since = pending_since(settings, today)
    pending = fresh_points(ids, since) if since is not None else {}
    lost = {}
    for household_id in ids:
        balance = balances[household_id]
        kept = max(fresh.get(household_id, 0), pending_of(balance, pending.get(household_id, 0)), 0)
        base = max(0, balance - kept)
        if settings.expiry is ExpiryMode.RESET:
            base -= carried(settings, base)
        if base > 0:
            lost[household_id] = base
    return lost


def carried(settings: LedgerSettings, base: int) -> int:
    """What a yearly reset keeps of the points it would clear: the share, up to the cap; a cap alone keeps up to it."""
    if settings.carry_cap is None:
        return base * settings.carry_percent // 100
    return min(base * (settings.carry_percent or 100) // 100, settings.carry_cap)


def _balances(village_id: int) -> dict[int, int]:
    """The positive balances of the village's households still on the register."""
    return dict(db.session.execute(
        select(HouseholdBalance.household_id, HouseholdBalance.balance).join(
            Household, Household.id == HouseholdBalance.household_id)
        .where(Household.village_id == village_id, Household.closed_on.is_(None), HouseholdBalance.balance > 0)
        .order_by(HouseholdBalance.household_id)).all())


@dataclass(frozen=True)
class Preview:
    due: Due | None
    households: int
    points: int
    run: ExpiryRun | None  # the period's run, if it was made already
    lost: dict[int, int] = field(default_factory=dict)  # household id → the points it would lose


def preview(village: GridNode, today: date | None = None, upcoming: bool = False) -> Preview:
    """What a clearing due today (or the next one, upcoming: with the points pending on its day, not today's) would
    take, household by household summed, without writing; the period's run if there is one."""
    today = today or local_today()
    settings = settings_of(village.id)
    due = next_due(settings, today) if upcoming else due_on(settings, today)
    if due is None:
        return Preview(None, 0, 0, None)
    run = db.session.scalar(select(ExpiryRun).where(ExpiryRun.village_id == village.id,
                                                    ExpiryRun.period == due.period))
    lost = {} if run is not None else expiring(settings, due, _balances(village.id), due.day if upcoming else today)
    return Preview(due, len(lost), sum(lost.values()), run, lost)


def expiring_for(household: Household, today: date | None = None) -> tuple[Due, int] | None:
    """The next clearing of the household's points and how many it would take as things stand, where one is due
    within a month (for 我的积分 and the warning); else None."""
    today = today or local_today()
    settings = settings_of(household.village_id)
    due = next_due(settings, today)
    if due is None or due.day - today > NOTICE:
        return None
    balance = db.session.scalar(select(HouseholdBalance.balance).where(
        HouseholdBalance.household_id == household.id)) or 0
    lost = expiring(settings, due, {household.id: balance}, due.day).get(household.id, 0)
    return (due, lost) if lost else None


def run_expiry(actor: User | None, village: GridNode, today: date | None = None) -> tuple[ExpiryRun, bool]:
    """Clear the village's points for the period due today, once: the run and True, or the period's run made before
    and False (a second run, or one racing the first, posts nothing). The households are locked in id order, as a
    batch of postings locks them, so redemptions at the counter wait for the run or the run for them.
    actor None: the cron job. Raises Forbidden, DomainError("expiry_off" | "expiry_not_due")."""
    if actor is not None:
        policy.require(actor, MANAGE, village.id)
    today = today or local_today()
    settings = settings_of(village.id)
    if settings.expiry is ExpiryMode.NONE:
        raise DomainError("expiry_off")
    due = due_on(settings, today)
    if due is None:
        upcoming = next_due(settings, today)
        if upcoming is None:
            raise DomainError("expiry_off")
        raise DomainError("expiry_not_due", day=full_day_label(upcoming.day))
    run = add_unless_taken(ExpiryRun, dict(village_id=village.id, period=due.period, cutoff=due.cutoff,
                                           actor_id=actor.id if actor else None))
    if run is None:
        return db.session.scalar(select(ExpiryRun).where(ExpiryRun.village_id == village.id,
                                                         ExpiryRun.period == due.period)), False
    # Every household on the register, not only those with points when the run began: one may earn before its lock.
    held = hold_all(list(db.session.scalars(select(Household.id).where(
        Household.village_id == village.id, Household.closed_on.is_(None)))))
    lost = expiring(settings, due, {h: b.balance for h, b in held.items()}, today)
    key = f"expiry:{village.id}:{due.period}"
    post_entries([Movement(household_id, -points, EntrySource.EXPIRY, f"{key}:{household_id}",
                           note=_note(settings, due), occurred_on=due.day)
                  for household_id, points in lost.items()], actor)
    run.households, run.points = len(lost), sum(lost.values())
    db.session.flush()
    record(actor, "expiry.run", "expiry_run", run.id, village.id,
           after={"period": due.period, "households": run.households, "points": run.points})
    return run, True


def _note(settings: LedgerSettings, due: Due) -> str:
    if settings.expiry is ExpiryMode.RESET:
        return f"{due.day.year}年积分清零"
    return f"{due.cutoff.year}年{due.cutoff.month}月以前的积分到期"


def undo_expiry(actor: User, run: ExpiryRun) -> ExpiryRun:
    """Give back every household's points a run cleared, by reversals; the period is not cleared again. Raises
    Forbidden, DomainError("expiry_already_undone")."""
    policy.require(actor, MANAGE, run.village_id)
    claimed = db.session.execute(update(ExpiryRun).where(ExpiryRun.id == run.id, ExpiryRun.undone_at.is_(None))
                                 .values(undone_at=utcnow(), undone_by_id=actor.id)).rowcount
    if not claimed:
        raise DomainError("expiry_already_undone", status=409)
    db.session.refresh(run)
    entries = db.session.scalars(_standing_entries(run, LedgerEntry.id).order_by(LedgerEntry.id)).all()
    post_entries([reversal_of(entry_id, f"unexpiry:{entry_id}", "撤销积分清零") for entry_id in entries], actor)
    record(actor, "expiry.undone", "expiry_run", run.id, run.village_id,
           after={"period": run.period, "households": run.households, "points": run.points})
    return run


def runs_of(village_id: int) -> list[ExpiryRun]:
    """The village's 清零 runs, newest first."""
    return list(db.session.scalars(select(ExpiryRun).where(ExpiryRun.village_id == village_id)
                                   .order_by(ExpiryRun.created_at.desc(), ExpiryRun.id.desc())))


def cleared_by(run: ExpiryRun) -> dict[int, int]:
    """household id → the points the run took from it and has not given back (what undoing it would return)."""
    return dict(db.session.execute(_standing_entries(run, LedgerEntry.household_id, -LedgerEntry.amount)
                                   .order_by(LedgerEntry.household_id)).all())


def _standing_entries(run: ExpiryRun, *columns):
    """The run's entries not reversed yet, found by their keys (one per household of the village) on the keys'
    unique index."""
    households = select(Household.id).where(Household.village_id == run.village_id)
    keys = [f"expiry:{run.village_id}:{run.period}:{household_id}" for household_id in db.session.scalars(households)]
    reversal = aliased(LedgerEntry)
    return select(*columns).where(LedgerEntry.idempotency_key.in_(keys), LedgerEntry.source == EntrySource.EXPIRY,
                                  ~select(reversal.id).where(reversal.reverses_id == LedgerEntry.id).exists())
