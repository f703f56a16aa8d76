"""The only code that writes ledger entries, household balances and period totals.

Every posting runs under its household's lock: the balance row is upserted first (on SQLite that write takes
the database's write lock before anything is read; on PostgreSQL the row is then locked FOR UPDATE), so that
the idempotency check, the balance check and the three writes see a settled state and land together. A batch
(post_entries) locks all its households at once, in id order, and writes each table in one go.
Functions flush and never commit: the caller's transaction decides.
"""
import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, insert, inspect, select, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from ..audit.services import Change, record_all
from ..auth import policy
from ..auth.models import User
from ..errors import DomainError, NotFound
from ..extensions import conflict_insert, connection, db, inserted
from ..people.models import Household, Resident
from ..periods import full_day_label
from ..rules.models import Rule, RuleCategory, RuleUnit, RuleVersion
from ..rules.queries import version_to_apply
from ..timeutil import local_today, utcnow
from .barring import apply_bars, bar_in_force
from .checks import check_caps, check_terms
from .locks import lock_balances
from .models import BatchKey, EntrySource, HouseholdBalance, LedgerEntry
from .totals import add_to_totals, fresh_points, spends

MAX_QUANTITY = {RuleUnit.OCCURRENCE: 100, RuleUnit.HOUR: 24}


@dataclass(frozen=True)
class Movement:
    """One entry to post: what post_entry takes, for post_entries."""

    household_id: int
    amount: int
    source: EntrySource
    idempotency_key: str
    rule_version: RuleVersion | None = None
    resident_id: int | None = None
    note: str = ""
    occurred_on: date | None = None
    reverses: LedgerEntry | None = None
    category: RuleCategory | None = None
    correction: bool = False  # a correction of a published result may take the balance below zero
    hours: int = 0  # volunteer hours: time at an event, or a per-hour rule's quantity
    # A redemption in a village whose points wait for their month's 公示: the points earned since this day are
    # pending and may not be spent (lifecycle.pending_since).
    pending_since: date | None = None
    # The key names a row this transaction has just made (a redemption's id): no entry can hold it yet, so it is not
    # looked up. The key's unique index still refuses a second entry under it.
    new_key: bool = False

    def same_as(self, entry: LedgerEntry) -> bool:
        """Whether entry is this movement, posted earlier under its key: the same household, amount, rule, resident
        and note, and the same day unless this one leaves the day to the posting (today, which a retry tomorrow is
        not)."""
        return (entry.household_id, entry.amount, entry.source, entry.rule_version_id, entry.reverses_id,
                entry.resident_id, entry.note, entry.occurred_on) == (
            self.household_id, self.amount, self.source, self.rule_version.id if self.rule_version else None,
            self.reverses.id if self.reverses else None, self.resident_id, self.note,
            self.occurred_on or entry.occurred_on)


def post_entry(
    household_id: int,
    amount: int,
    source: EntrySource,
    idempotency_key: str,
    *,
    actor: User | None = None,
    **details,
) -> LedgerEntry:
    """Post one entry, or return the entry already posted under idempotency_key; details are Movement's fields.

    Raises what post_entries raises.
    """
    return post_entries([Movement(household_id, amount, source, idempotency_key, **details)], actor)[0]


def post_entries(movements: list[Movement], actor: User | None = None) -> list[LedgerEntry]:
    """Post many entries together, all or none, and return them in order: for each movement, the entry posted, or
    the one already posted under its key. A batch costs a handful of statements, however long it is.

    An entry under a rule takes the rule's category; one without a rule may name its category. Only a penalty (an
    entry under a rule with negative points) or a correction of a published result may take the balance below zero.
    The households are locked in id order, so that two batches never wait on each other in a circle. On a refusal
    the caller's rollback undoes what is flushed, as after any DomainError.
    Raises DomainError("invalid_amount" | "invalid_idempotency_key" | "note_too_long" | "insufficient_balance"
    | "idempotency_key_reused" | "already_reversed" | "household_closed" | "resident_not_in_household" | "resident_left"
    | "cap_exceeded") or NotFound.
    """
    if not movements:
        return []
    for movement in movements:
        check_terms(movement.amount, movement.idempotency_key, movement.note)
    household_ids = sorted({m.household_id for m in movements})
    households = _households(household_ids)
    if len(households) < len(household_ids):
        raise NotFound()
    balances = lock_balances(household_ids)
    posted, reversed_, homes = _read_under_lock(movements)
    guard = _Guard(balances, movements)

    opening = {household_id: balance.balance for household_id, balance in balances.items()}
    # Balances as the batch goes, kept apart from the rows until every movement has passed its checks.
    running = dict(opening)
    entries, new, earned = [], [], []
    for movement in movements:
        earlier = posted.get(movement.idempotency_key)
        if earlier is not None:
            if not movement.same_as(earlier):
                raise DomainError("idempotency_key_reused", status=409)
            entries.append(earlier)
            continue
        day = _check_movement(movement, households[movement.household_id], homes, reversed_, running, new)
        guard.check(movement, running[movement.household_id], day)
        entry = _entry(movement, day, actor)
        running[movement.household_id] += movement.amount
        posted[movement.idempotency_key] = entry
        if movement.reverses is not None:
            reversed_.add(movement.reverses.id)
        entries.append(entry)
        new.append(entry)
        if not spends((movement.reverses or movement).source):
            earned.append(entry)
    if not new:
        return entries
    _write(new, earned, balances, opening, running, households, actor)
    return entries


def _read_under_lock(movements: list[Movement]) -> tuple[dict[str, LedgerEntry], set[int], dict[int, tuple]]:
    """Once the households are locked: the entries posted already under the batch's keys, the ids among those the
    batch reverses that are reversed already, and each named resident's household and the day they left it."""
    posted = {e.idempotency_key: e for e in _in_chunks(
        select(LedgerEntry), LedgerEntry.idempotency_key, [m.idempotency_key for m in movements if not m.new_key])}
    reversed_ = set(_in_chunks(select(LedgerEntry.reverses_id), LedgerEntry.reverses_id,
                               [m.reverses.id for m in movements if m.reverses is not None]))
    residents = {m.resident_id for m in movements if m.resident_id is not None}
    homes = {resident_id: (household_id, left_on) for resident_id, household_id, left_on in db.session.execute(
        select(Resident.id, Resident.household_id, Resident.left_on).where(Resident.id.in_(residents)))
             } if residents else {}
    return posted, reversed_, homes


def _check_movement(movement: Movement, household: Household, homes: dict[int, tuple], reversed_: set[int],
                    running: dict[int, int], pending: list[LedgerEntry]) -> date:
    """Whether a new movement may be posted, after those of the batch before it (pending, and the running balances);
    returns the day it is posted on. Raises DomainError("already_reversed" | "household_closed" |
    "resident_not_in_household" | "resident_left" | "cap_exceeded" | "insufficient_balance")."""
    household_id, amount, version = movement.household_id, movement.amount, movement.rule_version
    if movement.reverses is not None and movement.reverses.id in reversed_:
        raise DomainError("already_reversed", status=409)
    # A household that left the register, or a resident who left it, earns, loses and spends no more; what was
    # posted before may still be corrected.
    if movement.reverses is None and household.closed_on is not None:
        raise DomainError("household_closed", status=409, number=household.number)
    if movement.resident_id is not None:
        home, left_on = homes.get(movement.resident_id, (None, None))
        if home != household_id:
            raise DomainError("resident_not_in_household")
        if left_on is not None and movement.reverses is None:
            raise DomainError("resident_left", status=409)
    day = movement.occurred_on or local_today()
    if version is not None and movement.reverses is None:
        check_caps(household_id, version, amount, day, pending)
    penalty = version is not None and version.points < 0 and movement.reverses is None
    if amount < 0 and not (penalty or movement.correction) and running[household_id] + amount < 0:
        raise DomainError("insufficient_balance", status=409, balance=running[household_id], needed=-amount)
    return day


class _Guard:
    """What a redemption may spend, beyond the balance: not the points still in their month's 公示, not while the
    household is barred from redeeming. Asks nothing of the database for a household never barred in a village whose
    points count at once: the locked balance row says whether it has bars."""

    def __init__(self, balances: dict[int, HouseholdBalance], movements: list[Movement]):
        self.balances = balances
        since = [m.pending_since for m in movements if m.pending_since is not None and _redeeming(m)]
        self.fresh = fresh_points(list(balances), min(since)) if since else {}

    def check(self, movement: Movement, running: int, day: date) -> None:
        """Raises DomainError("redemption_barred" | "points_pending")."""
        if not _redeeming(movement):
            return
        bar = bar_in_force(movement.household_id, day) if self.balances[movement.household_id].bar_id else None
        if bar is not None:
            raise DomainError("redemption_barred", status=409, until=full_day_label(bar.ends_on), reason=bar.reason)
        if movement.pending_since is not None:
            pending = max(0, min(running, self.fresh.get(movement.household_id, 0)))
            if running - pending + movement.amount < 0:
                raise DomainError("points_pending", status=409, available=running - pending, pending=pending,
                                  needed=-movement.amount)


def _redeeming(movement: Movement) -> bool:
    return movement.source is EntrySource.REDEMPTION and movement.reverses is None


def _entry(movement: Movement, day: date, actor: User | None) -> LedgerEntry:
    """The entry a movement that passed its checks posts on day."""
    version = movement.rule_version
    return LedgerEntry(
        household_id=movement.household_id,
        resident_id=movement.resident_id,
        amount=movement.amount,
        rule_version_id=version.id if version else None,
        rule_version=version,
        category=version.category if version else movement.category,
        source=movement.source,
        actor_id=actor.id if actor else None,
        occurred_on=day,
        note=movement.note,
        idempotency_key=movement.idempotency_key,
        reverses_id=movement.reverses.id if movement.reverses else None,
        hours=movement.hours,
        created_at=utcnow(),
    )


def _write(new: list[LedgerEntry], earned: list[LedgerEntry], balances: dict[int, HouseholdBalance],
           opening: dict[int, int], running: dict[int, int], households: dict[int, Household],
           actor: User | None) -> None:
    """Write a batch that passed every check: the balances that moved, the new entries, the period totals of those
    earned or lost (earned), and one audit record per entry with the balance before and after it.

    The balances and the entries go by the tables' own statements, not the session's unit of work (which cost more
    than the statements on a redemption's path); the objects are then made what the session would have made of
    them: the balances as written, the entries persistent with their ids."""
    db.session.flush()  # what the caller left unwritten goes first, as a flush of the whole session would
    moved = [dict(household=household_id, new_balance=running[household_id]) for household_id in balances
             if running[household_id] != opening[household_id]]
    if moved:
        connection().execute(_BALANCE_WRITE, moved if len(moved) > 1 else moved[0])
        for row in moved:
            set_committed_value(balances[row["household"]], "balance", row["new_balance"])
    rows = [{column: getattr(entry, column) for column in _ENTRY_COLUMNS} for entry in new]
    ids = connection().execute(_ENTRY_INSERT, rows if len(rows) > 1 else rows[0]).scalars().all()
    for entry, entry_id in zip(new, ids, strict=True):
        entry.id = entry_id
        make_transient_to_detached(entry)
        db.session.add(entry)
        inserted(entry)
    if earned:
        add_to_totals(earned)
    apply_bars(new, balances, households, actor)
    changes = []
    for entry in new:
        household = households[entry.household_id]
        before = opening[entry.household_id]
        opening[entry.household_id] += entry.amount
        changes.append(Change(
            "entry.reversed" if entry.reverses_id is not None else "entry.posted",
            "entry",
            entry.id,
            household.grid_id,
            before={"balance": before},
            after={"balance": before + entry.amount, "amount": entry.amount, "household": household.number,
                   "source": entry.source.value, "rule": entry.rule_version.name if entry.rule_version else None,
                   "reverses": entry.reverses_id, "note": entry.note},
        ))
    record_all(actor, changes)


_BALANCES = HouseholdBalance.__table__
_BALANCE_WRITE = (update(_BALANCES).where(_BALANCES.c.household_id == bindparam("household"))
                  .values(balance=bindparam("new_balance")))
_ENTRY_COLUMNS = ("household_id", "resident_id", "amount", "rule_version_id", "category", "source", "actor_id",
                  "occurred_on", "created_at", "note", "idempotency_key", "reverses_id", "hours")
_ENTRY_INSERT = insert(LedgerEntry.__table__).returning(LedgerEntry.__table__.c.id, sort_by_parameter_order=True)


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
    policy.refuse_own_household(actor, household.id)
    day = occurred_on or local_today()
    if day > local_today():
        raise DomainError("day_in_future")
    version = rule_for_household(household, rule_id, day, quantity)
    if not policy.can_apply_rule(actor, version.role_set, household):
        raise DomainError("rule_not_for_role", status=403)
    # The day as asked: none dates the entry today, and a retry of the request on a later day is the same request.
    return post_entry(household_id, version.points * quantity, source, idempotency_key, rule_version=version,
                      resident_id=resident_id, actor=actor, note=note, occurred_on=occurred_on,
                      hours=hours_under(version, quantity))


def hours_under(version: RuleVersion, quantity: int) -> int:
    """The volunteer hours that quantity of a rule stands for: its quantity under a per-hour award, else none (a
    per-hour penalty is no volunteering)."""
    return quantity if version.unit is RuleUnit.HOUR and version.points > 0 else 0


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
    _claim_batch_key(batch_key, sorted(set(household_ids)), rule_id, quantity, note, occurred_on)
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


def _claim_batch_key(batch_key: str, household_ids: list[int], rule_id: int, quantity: int, note: str,
                     occurred_on: date | None) -> None:
    """Keep what the batch asked under its key, or check that a batch sent again under it asks the same. A twin sent
    at once (a double tap) waits on the first one's row until it commits, then reads it and answers as a retry.
    Raises DomainError("idempotency_key_reused")."""
    asked = hashlib.sha256(json.dumps([household_ids, rule_id, quantity, note, str(occurred_on or "")])
                           .encode()).hexdigest()
    db.session.execute(_batch_key_insert(db.engine.dialect.name), dict(key=batch_key, fingerprint=asked))
    kept = db.session.scalar(select(BatchKey.fingerprint).where(BatchKey.key == batch_key))
    if kept != asked:
        raise DomainError("idempotency_key_reused", status=409)


def rule_for_household(household: Household, rule_id: int, day: date, quantity: int = 1) -> RuleVersion:
    """The version of a rule of the household's village that may be applied to it on day, quantity times.

    Raises DomainError("unknown_rule" | "rule_not_in_force" | "rule_not_for_household_kind" | "invalid_quantity").
    """
    version = version_to_apply(rule_id, day) if isinstance(rule_id, int) else None
    if version is None:  # no rule, or none in force: the refusal says which
        rule = db.session.get(Rule, rule_id) if isinstance(rule_id, int) else None
        if rule is None or rule.village_id != household.village_id:
            raise DomainError("unknown_rule")
        raise DomainError("rule_not_in_force", day=day.isoformat())
    if version.rule.village_id != household.village_id:
        raise DomainError("unknown_rule")
    if not version.applies_to(household.kind):
        raise DomainError("rule_not_for_household_kind")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY[version.unit]:
        raise DomainError("invalid_quantity", limit=MAX_QUANTITY[version.unit])
    return version


def reversal_of(entry_id: int, idempotency_key: str, note: str = "", correction: bool = False,
                voiding: bool = False, duty: bool = False) -> Movement:
    """冲正: the movement that undoes entry_id. A reversal is never reversed, and an entry is reversed once. A
    correction (of a published result the household may already have spent) may take the balance below zero. A
    redemption's debit is undone only by voiding the redemption at the shop (voiding), which returns its stock too; a
    worker's duty points only with their 履职记录 (duty: ledger.duty.reverse_duty).

    Raises DomainError("cannot_reverse_reversal" | "redemption_voided_at_shop" | "duty_reversed_with_record") or
    NotFound.
    """
    original = db.session.get(LedgerEntry, entry_id)
    if original is None:
        raise NotFound()
    if original.reverses_id is not None:
        raise DomainError("cannot_reverse_reversal", status=409)
    if original.source is EntrySource.REDEMPTION and not voiding:
        raise DomainError("redemption_voided_at_shop", status=409)
    if original.source is EntrySource.DUTY and not duty:
        raise DomainError("duty_reversed_with_record", status=409)
    return Movement(original.household_id, -original.amount, EntrySource.REVERSAL, idempotency_key,
                    rule_version=original.rule_version, resident_id=original.resident_id, note=note,
                    occurred_on=original.occurred_on, reverses=original, category=original.category,
                    correction=correction, hours=-original.hours)


def reverse_entry(
    entry_id: int, idempotency_key: str, actor: User | None = None, note: str = "", correction: bool = False,
    voiding: bool = False, duty: bool = False,
) -> LedgerEntry:
    """Post reversal_of(entry_id), asking no permission: for a domain that decided who may already (an appeal upheld,
    a redemption voided); the doors call reverse_by_admin. Raises what reversal_of and post_entries raise."""
    return post_entries([reversal_of(entry_id, idempotency_key, note, correction, voiding, duty)], actor)[0]


def reverse_by_admin(actor: User, entry_id: int, idempotency_key: str, note: str) -> LedgerEntry:
    """冲正 by an admin, through the page or the API: whoever may reverse entries where the household lives, never
    an entry of their own household. Raises NotFound, Forbidden, DomainError("own_reversal" | reverse_entry's)."""
    entry = db.session.get(LedgerEntry, entry_id)
    if entry is None:
        raise NotFound()
    household = db.session.get(Household, entry.household_id)
    policy.require_reverse_entries(actor, household)
    return reverse_entry(entry.id, idempotency_key, actor, note)


def _in_chunks(query, column, values: list, size: int = 5000):
    """query's rows where column is one of values, fetched a chunk of values at a time (a statement's parameters
    are limited), in the query's order within each chunk."""
    values = list(dict.fromkeys(values))
    for start in range(0, len(values), size):
        yield from db.session.scalars(query.where(column.in_(values[start:start + size])))


def _households(household_ids: list[int]) -> dict[int, Household]:
    """The households by id: those the session holds already (the caller loaded them) without a query, the rest in
    one."""
    households = {}
    for household_id in household_ids:
        loaded = db.session.identity_map.get(db.session.identity_key(Household, household_id))
        if loaded is not None and not inspect(loaded).expired:
            households[household_id] = loaded
    households.update((h.id, h) for h in _in_chunks(select(Household), Household.id,
                                                    [h for h in household_ids if h not in households]))
    return households


@functools.cache
def _batch_key_insert(dialect: str):
    return conflict_insert(dialect)(BatchKey).on_conflict_do_nothing(
        index_elements=["key"])
