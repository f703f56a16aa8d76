"""履职积分: what a grid worker earns for their duty, kept per worker in DutyRecord and, for a worker who lives in the
village, posted into their household by the ledger's writer, named as the earner. The 履职 ranking of staff reads
DutyRecord, so a worker who is not a resident is ranked all the same.

Both run under the worker's lock (a write to their account row, taken first: on SQLite the database's write lock,
on PostgreSQL the row's), then the household's, so that two duties of one worker at once see each other's points
against the rule's caps. Functions flush and never commit."""
from datetime import date

from sqlalchemy import func, select, update

from ..audit.services import record
from ..auth.models import User
from ..errors import DomainError
from ..extensions import db
from ..people.models import Household, Resident
from ..rules.models import Rule, RuleCategory, RuleVersion
from ..rules.queries import version_in_force
from . import services as ledger
from .checks import CAP_PERIODS, period_bounds
from .models import DutyRecord, EntrySource


def _lock_worker(worker_id: int) -> None:
    db.session.execute(update(User).where(User.id == worker_id).values(id=User.id))


def duty_version(village_id: int, rule_id: int | None, day: date) -> RuleVersion | None:
    """The version in force on day of a village's 网格员履职 rule, if rule_id names one."""
    rule = db.session.get(Rule, rule_id) if isinstance(rule_id, int) else None
    version = version_in_force(rule.id, day) if rule is not None and rule.village_id == village_id else None
    return version if version is not None and version.category is RuleCategory.GRID_DUTY else None


def _within_caps(worker_id: int, version: RuleVersion, day: date) -> bool:
    bounds = period_bounds(day)
    for cap_name, _ in CAP_PERIODS:
        cap = getattr(version, cap_name)
        if cap is None:
            continue
        start, end = bounds[cap_name]
        used = db.session.scalar(
            select(func.coalesce(func.sum(DutyRecord.amount), 0))
            .join(RuleVersion, DutyRecord.rule_version_id == RuleVersion.id)
            .where(DutyRecord.worker_id == worker_id, RuleVersion.rule_id == version.rule_id,
                   DutyRecord.occurred_on.between(start, end))
        )
        if abs(used + version.points) > cap:
            return False
    return True


def _home(worker: User, village_id: int) -> Resident | None:
    """The worker's resident record, if they live (still) in an open household of the village."""
    if worker.resident_id is None:
        return None
    resident = db.session.get(Resident, worker.resident_id)
    household = db.session.get(Household, resident.household_id) if resident is not None else None
    if household is None or household.village_id != village_id or household.closed_on is not None \
            or resident.left_on is not None:
        return None
    return resident


def award_duty(worker: User, village_id: int, rule_id: int | None, idempotency_key: str, day: date,
               note: str = "") -> DutyRecord | None:
    """The worker earns the rule's points once for one duty (idempotency_key names the duty: "visit:12"), within its
    caps. Returns the record, the one earned already under the key, or None where nothing is earned: no 履职 rule set
    or in force on day, or a cap reached (the duty stands; only its points are not given)."""
    earlier = db.session.scalar(select(DutyRecord).where(DutyRecord.idempotency_key == idempotency_key))
    if earlier is not None:
        return earlier
    version = duty_version(village_id, rule_id, day)
    if version is None or version.points <= 0:
        return None
    _lock_worker(worker.id)
    earlier = db.session.scalar(select(DutyRecord).where(DutyRecord.idempotency_key == idempotency_key))
    if earlier is not None:  # a twin request earned it while this one waited for the lock
        return earlier
    if not _within_caps(worker.id, version, day):
        return None
    entry = None
    home = _home(worker, village_id)
    if home is not None:
        try:
            with db.session.begin_nested():
                entry = ledger.post_entry(home.household_id, version.points, EntrySource.DUTY, idempotency_key,
                                          rule_version=version, resident_id=home.id, actor=worker, note=note,
                                          occurred_on=day)
        except DomainError as refusal:
            if refusal.code != "cap_exceeded":  # the household's members share its caps
                raise
            return None
    duty = DutyRecord(worker_id=worker.id, village_id=village_id, rule_version_id=version.id,
                      amount=version.points, occurred_on=day, note=note, idempotency_key=idempotency_key,
                      entry_id=entry.id if entry is not None else None)
    db.session.add(duty)
    db.session.flush()
    record(worker, "duty.earned", "duty", duty.id, village_id,
           after={"amount": duty.amount, "rule": version.name, "note": note, "entry": duty.entry_id})
    return duty


def reverse_duty(idempotency_key: str, actor: User | None, note: str = "") -> DutyRecord | None:
    """Undo the points earned under idempotency_key (the duty turned out void: a report found invalid), in the
    worker's record and their household: a correction, which may take a balance spent already below zero. Returns the
    reversing record, or None if nothing was earned; reversing twice returns the first reversal."""
    duty = db.session.scalar(select(DutyRecord).where(DutyRecord.idempotency_key == idempotency_key))
    if duty is None:
        return None
    _lock_worker(duty.worker_id)
    reversal = db.session.scalar(select(DutyRecord).where(DutyRecord.reverses_id == duty.id))
    if reversal is not None:
        return reversal
    entry = ledger.reverse_entry(duty.entry_id, f"{idempotency_key}:reversed", actor, note, correction=True,
                                 duty=True) \
        if duty.entry_id is not None else None
    reversal = DutyRecord(worker_id=duty.worker_id, village_id=duty.village_id, rule_version_id=duty.rule_version_id,
                          amount=-duty.amount, occurred_on=duty.occurred_on, note=note,
                          idempotency_key=f"{idempotency_key}:reversed", reverses_id=duty.id,
                          entry_id=entry.id if entry is not None else None)
    db.session.add(reversal)
    db.session.flush()
    record(actor, "duty.reversed", "duty", reversal.id, duty.village_id,
           before={"amount": duty.amount}, after={"amount": reversal.amount, "note": note})
    return reversal
