"""The only code that writes ledger entries, household balances and period totals.

Every posting runs under its household's lock: the balance row is upserted first (on SQLite that write takes
the database's write lock before anything is read; on PostgreSQL the row is then locked FOR UPDATE), so that
the idempotency check, the balance check and the three writes see a settled state and land together.
Functions flush and never commit: the caller's transaction decides.
"""
import functools
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from ..audit.services import record
from ..auth import policy
from ..auth.models import User
from ..errors import DomainError, NotFound
from ..extensions import db
from ..people.models import Household, Resident
from ..rules.models import Rule, RuleCategory, RuleUnit, RuleVersion
from ..rules.queries import version_in_force
from ..timeutil import local_today
from .models import EntrySource, HouseholdBalance, LedgerEntry, PeriodTotal

MAX_AMOUNT = 100_000  # no single movement of points comes near this; a larger one is a typing mistake
MAX_NOTE = 200  # LedgerEntry.note's length
MAX_QUANTITY = {RuleUnit.OCCURRENCE: 100, RuleUnit.HOUR: 24}
CAP_PERIODS = (("cap_day", _l("日")), ("cap_week", _l("周")), ("cap_month", _l("月")), ("cap_year", _l("年")))


def period_keys(day: date) -> list[str]:
    """The periods a day counts in: its ISO week, month, quarter, year, and all time."""
    iso_year, week, _ = day.isocalendar()
    return [f"W{iso_year}-{week:02d}", f"M{day.year}-{day.month:02d}", f"Q{day.year}-{(day.month - 1) // 3 + 1}",
            f"Y{day.year}", "ALL"]


def post_entry(
    household_id: int,
    amount: int,
    source: EntrySource,
    idempotency_key: str,
    *,
    rule_version: RuleVersion | None = None,
    resident_id: int | None = None,
    actor: User | None = None,
    note: str = "",
    occurred_on: date | None = None,
    reverses: LedgerEntry | None = None,
    category: RuleCategory | None = None,
    correction: bool = False,
) -> LedgerEntry:
    """Post one entry, or return the entry already posted under idempotency_key.

    An entry under a rule takes the rule's category; one without a rule may name its category. Only a penalty (an
    entry under a rule with negative points) or a correction of a published result may take the balance below zero.
    Raises DomainError("invalid_amount" | "insufficient_balance" | "idempotency_key_reused" | "already_reversed"
    | "resident_not_in_household") or NotFound.
    """
    if not isinstance(amount, int) or amount == 0 or abs(amount) > MAX_AMOUNT:
        raise DomainError("invalid_amount", limit=MAX_AMOUNT)
    if not idempotency_key or len(idempotency_key) > 100:
        raise DomainError("invalid_idempotency_key")
    if len(note) > MAX_NOTE:
        raise DomainError("note_too_long", limit=MAX_NOTE)
    household = db.session.get(Household, household_id)
    if household is None:
        raise NotFound()
    balance = _lock_balance(household_id)

    earlier = db.session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == idempotency_key))
    if earlier is not None:
        same = (household_id, amount, source, rule_version.id if rule_version else None, reverses.id if reverses else None)
        if (earlier.household_id, earlier.amount, earlier.source, earlier.rule_version_id, earlier.reverses_id) != same:
            raise DomainError("idempotency_key_reused", status=409)
        return earlier
    if reverses is not None and db.session.scalar(
        select(LedgerEntry.id).where(LedgerEntry.reverses_id == reverses.id)
    ):
        raise DomainError("already_reversed", status=409)
    if resident_id is not None and db.session.scalar(
        select(Resident.household_id).where(Resident.id == resident_id)
    ) != household_id:
        raise DomainError("resident_not_in_household")
    if rule_version is not None and reverses is None:
        _check_caps(household_id, rule_version, amount, occurred_on or local_today())
    penalty = rule_version is not None and rule_version.points < 0 and reverses is None
    if amount < 0 and not (penalty or correction) and balance.balance + amount < 0:
        raise DomainError("insufficient_balance", status=409, balance=balance.balance, needed=-amount)

    entry = LedgerEntry(
        household_id=household_id,
        resident_id=resident_id,
        amount=amount,
        rule_version_id=rule_version.id if rule_version else None,
        category=rule_version.category if rule_version else category,
        source=source,
        actor_id=actor.id if actor else None,
        occurred_on=occurred_on or local_today(),
        note=note,
        idempotency_key=idempotency_key,
        reverses_id=reverses.id if reverses else None,
    )
    db.session.add(entry)
    before = balance.balance
    balance.balance += amount
    db.session.flush()
    _add_to_totals(entry)
    record(
        actor,
        "entry.reversed" if reverses is not None else "entry.posted",
        "entry",
        entry.id,
        household.grid_id,
        before={"balance": before},
        after={"balance": balance.balance, "amount": amount, "household": household.number, "source": source.value,
               "rule": rule_version.name if rule_version else None, "reverses": entry.reverses_id, "note": note},
    )
    return entry


def apply_rule(
    actor: User,
    household_id: int,
    rule_id: int,
    idempotency_key: str,
    *,
    quantity: int = 1,
    resident_id: int | None = None,
    note: str = "",
    occurred_on: date | None = None,
    source: EntrySource = EntrySource.MANUAL,
) -> LedgerEntry:
    """Award or deduct under a rule of the household's village: points × quantity (times or hours).

    Raises DomainError("unknown_rule" | "rule_not_in_force" | "rule_not_for_household_kind" | "rule_not_for_role"
    | "invalid_quantity" | "day_in_future" | "own_household" | "cap_exceeded" | …post_entry's) or NotFound.
    """
    household = db.session.get(Household, household_id)
    if household is None:
        raise NotFound()
    if household.id == policy.own_household_id(actor):
        raise DomainError("own_household", status=403)
    day = occurred_on or local_today()
    if day > local_today():
        raise DomainError("day_in_future")
    version = rule_for_household(household, rule_id, day, quantity)
    if not policy.can_apply_rule(actor, version.role_set, household):
        raise DomainError("rule_not_for_role", status=403)
    return post_entry(household_id, version.points * quantity, source, idempotency_key, rule_version=version,
                      resident_id=resident_id, actor=actor, note=note, occurred_on=day)


def apply_rule_to_many(
    actor: User,
    household_ids: list[int],
    rule_id: int,
    batch_key: str,
    *,
    quantity: int = 1,
    note: str = "",
    occurred_on: date | None = None,
) -> list[LedgerEntry]:
    """批量加分: one rule for many households (everyone at a meeting), all or none: on a refusal the entries
    already flushed are left for the caller's rollback, as after any DomainError.

    Each entry's key is batch_key plus the household, so a resubmitted batch posts nothing twice; households are
    locked in id order, so that two batches never wait on each other. Raises the first household's DomainError,
    with every refused household (id and message) in its details.
    """
    if not household_ids:
        raise DomainError("no_households_chosen")
    entries, refusals = [], []
    for household_id in sorted(set(household_ids)):
        try:
            entries.append(apply_rule(actor, household_id, rule_id, f"{batch_key}:{household_id}", quantity=quantity,
                                      note=note, occurred_on=occurred_on))
        except DomainError as refusal:
            refusals.append((household_id, refusal))
    if refusals:
        first = refusals[0][1]
        raise DomainError(first.code, first.status, [{"household_id": h, "message": r.message} for h, r in refusals],
                          **first.params)
    return entries


def rule_for_household(household: Household, rule_id: int, day: date, quantity: int = 1) -> RuleVersion:
    """The version of a rule of the household's village that may be applied to it on day, quantity times.

    Raises DomainError("unknown_rule" | "rule_not_in_force" | "rule_not_for_household_kind" | "invalid_quantity").
    """
    rule = db.session.get(Rule, rule_id) if isinstance(rule_id, int) else None
    if rule is None or rule.village_id != household.village_id:
        raise DomainError("unknown_rule")
    version = version_in_force(rule.id, day)
    if version is None:
        raise DomainError("rule_not_in_force", day=day.isoformat())
    if not version.applies_to(household.kind):
        raise DomainError("rule_not_for_household_kind")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY[version.unit]:
        raise DomainError("invalid_quantity", limit=MAX_QUANTITY[version.unit])
    return version


def _period_bounds(day: date) -> dict[str, tuple[date, date]]:
    """The first and last day of the day, ISO week, month and year around day."""
    week_start = day - timedelta(days=day.weekday())
    month_end = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return {
        "cap_day": (day, day),
        "cap_week": (week_start, week_start + timedelta(days=6)),
        "cap_month": (day.replace(day=1), month_end),
        "cap_year": (day.replace(month=1, day=1), day.replace(month=12, day=31)),
    }


def _check_caps(household_id: int, version: RuleVersion, amount: int, day: date) -> None:
    """Under the household's lock: the points under this rule (any version, reversals netted) stay within each
    cap of the period around day. Raises DomainError("cap_exceeded") naming the cap."""
    bounds = _period_bounds(day)
    for cap_name, period in CAP_PERIODS:
        cap = getattr(version, cap_name)
        if cap is None:
            continue
        start, end = bounds[cap_name]
        used = db.session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0))
            .join(RuleVersion, LedgerEntry.rule_version_id == RuleVersion.id)
            .where(
                LedgerEntry.household_id == household_id,
                RuleVersion.rule_id == version.rule_id,
                LedgerEntry.occurred_on.between(start, end),
            )
        )
        if abs(used + amount) > cap:
            raise DomainError("cap_exceeded", status=409, rule=version.name, period=period, cap=cap, used=abs(used))


def reverse_entry(
    entry_id: int, idempotency_key: str, actor: User | None = None, note: str = "", correction: bool = False
) -> LedgerEntry:
    """冲正: an entry that undoes entry_id. A reversal is never reversed, and an entry is reversed once. A correction
    (of a published result the household may already have spent) may take the balance below zero.

    Raises DomainError("cannot_reverse_reversal" | "already_reversed" | "insufficient_balance") or NotFound.
    """
    original = db.session.get(LedgerEntry, entry_id)
    if original is None:
        raise NotFound()
    if original.reverses_id is not None:
        raise DomainError("cannot_reverse_reversal", status=409)
    return post_entry(
        original.household_id,
        -original.amount,
        EntrySource.REVERSAL,
        idempotency_key,
        rule_version=original.rule_version,
        resident_id=original.resident_id,
        actor=actor,
        note=note,
        occurred_on=original.occurred_on,
        reverses=original,
        category=original.category,
        correction=correction,
    )


def _dialect_insert(model):
    return (postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert)(model)


def _lock_balance(household_id: int) -> HouseholdBalance:
    db.session.execute(
        _dialect_insert(HouseholdBalance)
        .values(household_id=household_id, balance=0)
        .on_conflict_do_nothing(index_elements=["household_id"])
    )
    return db.session.scalar(
        select(HouseholdBalance)
        .where(HouseholdBalance.household_id == household_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _add_to_totals(entry: LedgerEntry) -> None:
    """Add the entry to every period it counts in: overall, for its resident, for its category, for both."""
    category = entry.category.value if entry.category else ""
    keys = {(0, ""), (0, category), (entry.resident_id or 0, ""), (entry.resident_id or 0, category)}
    rows = [
        dict(period=period, household_id=entry.household_id, resident_id=resident, category=cat,
             total=entry.amount, entries=1)
        for period in period_keys(entry.occurred_on)
        for resident, cat in sorted(keys)
    ]
    db.session.execute(_totals_upsert(db.engine.dialect.name), rows)


@functools.cache
def _totals_upsert(dialect: str):
    """Made once per dialect: building the statement (its excluded columns above all) cost more than running it."""
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(PeriodTotal)
    return statement.on_conflict_do_update(
        index_elements=["period", "household_id", "resident_id", "category"],
        set_={"total": PeriodTotal.total + statement.excluded.total,
              "entries": PeriodTotal.entries + statement.excluded.entries},
    )
