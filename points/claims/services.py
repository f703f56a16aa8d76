"""Claims (积分申报) and appeals (申诉): their life from submission to decision. Points move only through the
ledger's services."""
import os
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..audit.services import record
from ..auth import policy
from ..auth.models import User
from ..errors import DomainError, Forbidden, NotFound
from ..extensions import add_unless_twin, db
from ..ledger import services as ledger
from ..ledger.models import EntrySource, LedgerEntry
from ..media import clean_photo, store_photo
from ..messages.services import tell_household, tell_staff
from ..people.models import Household
from ..rules.models import RuleVersion
from ..timeutil import local_today, utcnow
from .models import Appeal, AppealStatus, Claim, ClaimPhoto, ClaimStatus

MAX_PHOTOS = 3
MAX_NOTE = 200
MAX_REASON = 500
CLAIM_WINDOW_DAYS = 90  # a claim names a day within the last three months


@dataclass(frozen=True)
class PhotoStore:
    """Where claim photos go, and how large an upload may be."""

    folder: str
    max_bytes: int


def villager_household(user: User) -> Household:
    """The household of a villager account. Raises DomainError("villagers_only")."""
    household_id = policy.own_household_id(user)
    if household_id is None:
        raise DomainError("villagers_only", status=403)
    return db.session.get(Household, household_id)


def _text(value: str | None, limit: int, too_long: str) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise DomainError(too_long, limit=limit)
    return value


def _existing(model, owner_column, user: User, client_key: str | None):
    if not client_key:
        return None
    return db.session.scalar(select(model).where(owner_column == user.id, model.client_key == client_key))


def submit_claim(
    user: User,
    rule_id: int,
    photos: list[bytes],
    store: PhotoStore,
    *,
    quantity: int = 1,
    occurred_on: date | None = None,
    note: str = "",
    client_key: str | None = None,
) -> Claim:
    """A villager claims points for their household under a self-claimable rule, with up to MAX_PHOTOS photos.

    The same client_key from the same account returns the claim made the first time, if this call asks for the
    same. Raises DomainError("villagers_only" | "rule_not_claimable" | "photo_required" | "too_many_photos"
    | "photo_too_large" | "not_an_image" | "claim_day_invalid" | "idempotency_key_reused"
    | ledger.rule_for_household's) and writes nothing then.
    """
    asked = (rule_id, quantity, (note or "").strip(), occurred_on)
    earlier = _existing(Claim, Claim.claimant_id, user, client_key)
    if earlier is not None:
        return _as_asked(earlier, *asked)
    household = villager_household(user)
    version, day = _claimed_version(household, rule_id, occurred_on, quantity, len(photos))
    note = _text(note, MAX_NOTE, "note_too_long")
    cleaned = [clean_photo(data, store.max_bytes) for data in photos]  # every photo checked before any is stored

    claim = Claim(
        household_id=household.id,
        resident_id=user.resident_id,
        claimant_id=user.id,
        rule_id=version.rule_id,
        rule_version_id=version.id,
        quantity=quantity,
        occurred_on=day,
        note=note,
        client_key=client_key or None,
    )
    for position, jpeg in enumerate(cleaned, start=1):
        stored = store_photo(store.folder, jpeg)
        claim.photos.append(ClaimPhoto(position=position, filename=stored.filename, width=stored.width,
                                       height=stored.height, size=stored.size))
    earlier = add_unless_twin(claim, lambda: _existing(Claim, Claim.claimant_id, user, client_key))
    if earlier is not None:
        return _as_asked(earlier, *asked)
    record(user, "claim.submitted", "claim", claim.id, household.grid_id,
           after={"household": household.number, "rule": version.name, "quantity": quantity, "photos": len(cleaned)})
    tell_staff(household.grid_id, "claim", _l("有一条新的积分申报等您审核：%(rule)s", rule=version.name),
               f"/claims/{claim.id}", skip=user, permission=policy.Permission.REVIEW_CLAIMS)
    return claim


def _as_asked(earlier: Claim, rule_id: int, quantity: int, note: str, occurred_on: date | None) -> Claim:
    """The claim made with the same client_key, if it is what this call asks for (its photos aside: they were
    re-encoded). Raises DomainError("idempotency_key_reused")."""
    if (earlier.rule_id, earlier.quantity, earlier.note, earlier.occurred_on) != (
            rule_id, quantity, note, occurred_on or earlier.occurred_on):
        raise DomainError("idempotency_key_reused", status=409)
    return earlier


def _claimed_version(household: Household, rule_id: int, occurred_on: date | None, quantity: int,
                     photo_count: int) -> tuple[RuleVersion, date]:
    """The version of the rule the household may claim on the day (today if not given), with that many photos, and
    the day. Raises DomainError("claim_day_invalid" | "rule_not_claimable" | "too_many_photos" | "photo_required"
    | ledger.rule_for_household's)."""
    today = local_today()
    day = occurred_on or today
    if not (0 <= (today - day).days <= CLAIM_WINDOW_DAYS):
        raise DomainError("claim_day_invalid", days=CLAIM_WINDOW_DAYS)
    version = ledger.rule_for_household(household, rule_id, day, quantity)
    if not version.self_claimable:
        raise DomainError("rule_not_claimable")
    if photo_count > MAX_PHOTOS:
        raise DomainError("too_many_photos", limit=MAX_PHOTOS)
    if version.evidence_required and not photo_count:
        raise DomainError("photo_required")
    return version, day


def visible_claim(user: User, claim_id: int) -> Claim:
    """A claim its household or a reviewer in scope may see. Raises NotFound or Forbidden."""
    claim = db.session.get(Claim, claim_id)
    if claim is None:
        raise NotFound()
    if not policy.can_see_case(user, claim.household, policy.Permission.REVIEW_CLAIMS):
        raise Forbidden()
    return claim


def photo_path(claim: Claim, position: int, folder: str) -> str:
    """Where a claim's photo at position is stored under folder. Raises NotFound."""
    stored = next((p for p in claim.photos if p.position == position), None)
    path = os.path.join(folder, stored.filename) if stored is not None else None
    if path is None or not os.path.isfile(path):
        raise NotFound()
    return path


def _reviewable_claim(reviewer: User, claim_id: int) -> Claim:
    claim = db.session.get(Claim, claim_id)
    if claim is None:
        raise NotFound()
    policy.require(reviewer, policy.Permission.REVIEW_CLAIMS, claim.household.grid_id)
    policy.refuse_own_household(reviewer, claim.household_id, "own_claim")
    if claim.claimant_id == reviewer.id:
        raise DomainError("own_claim", status=403)
    return claim


def _decide(model, row_id: int, pending, decided) -> bool:
    """Move a claim or appeal from pending to decided, if nobody has decided it yet. The conditional UPDATE takes
    the row's lock (SQLite's write lock), so of two people deciding at once exactly one gets True."""
    result = db.session.execute(
        update(model).where(model.id == row_id, model.status == pending).values(status=decided)
    )
    if result.rowcount != 1:
        db.session.expire_all()  # read what the other decision wrote
        return False
    return True


def approve_claim(reviewer: User, claim_id: int) -> Claim:
    """通过: the claim's points post (source claim, within the rule's caps), if the reviewer's role may apply the
    rule there. Approving an approved claim again returns it unchanged. Raises DomainError("claim_already_decided"
    | "rule_not_for_role" | "own_claim" | "cap_exceeded" | …), NotFound or Forbidden."""
    claim = _reviewable_claim(reviewer, claim_id)
    if claim.status is ClaimStatus.APPROVED:
        return claim
    version = claim.rule_version
    if not policy.can_apply_rule(reviewer, version.role_set, claim.household):
        raise DomainError("rule_not_for_role", status=403)
    if not _decide(Claim, claim.id, ClaimStatus.PENDING, ClaimStatus.APPROVED):
        if claim.status is ClaimStatus.APPROVED:
            return claim
        raise DomainError("claim_already_decided", status=409)
    entry = ledger.post_entry(
        claim.household_id, version.points * claim.quantity, EntrySource.CLAIM, f"claim:{claim.id}",
        rule_version=version, resident_id=claim.resident_id, actor=reviewer, note=claim.note,
        occurred_on=claim.occurred_on, hours=ledger.hours_under(version, claim.quantity),
    )
    claim.entry_id, claim.reviewer_id, claim.reviewed_at = entry.id, reviewer.id, utcnow()
    db.session.flush()
    record(reviewer, "claim.approved", "claim", claim.id, claim.household.grid_id,
           before={"status": "pending"}, after={"status": "approved", "entry": entry.id, "amount": entry.amount})
    tell_household(claim.household_id, "claim",
                   _l("您家的积分申报已通过：%(rule)s，%(amount)s 分", rule=version.name, amount=f"{entry.amount:+d}"),
                   f"/claims/{claim.id}", skip=reviewer)
    return claim


def reject_claim(reviewer: User, claim_id: int, reason: str, retry: bool = False) -> Claim:
    """驳回 with a reason the villager will read. retry: the request may be a resent one (it carries an idempotency
    key), so a claim this reviewer rejected already with this reason is returned unchanged.
    Raises DomainError("reason_required" | "reason_too_long" | "claim_already_decided" | "own_claim"), NotFound or
    Forbidden."""
    claim = _reviewable_claim(reviewer, claim_id)
    reason = _text(reason, MAX_NOTE, "reason_too_long")
    if not reason:
        raise DomainError("reason_required")
    if not _decide(Claim, claim.id, ClaimStatus.PENDING, ClaimStatus.REJECTED):
        if retry and (claim.status, claim.reviewer_id, claim.reason) == (ClaimStatus.REJECTED, reviewer.id, reason):
            return claim
        raise DomainError("claim_already_decided", status=409)
    claim.reason, claim.reviewer_id, claim.reviewed_at = reason, reviewer.id, utcnow()
    db.session.flush()
    record(reviewer, "claim.rejected", "claim", claim.id, claim.household.grid_id,
           before={"status": "pending"}, after={"status": "rejected", "reason": reason})
    tell_household(claim.household_id, "claim",
                   _l("您家的积分申报未通过：%(rule)s。理由：%(reason)s", rule=claim.rule_version.name, reason=reason),
                   f"/claims/{claim.id}", skip=reviewer)
    return claim


def submit_appeal(user: User, entry_id: int, reason: str, client_key: str | None = None) -> Appeal:
    """A villager contests a deduction from their household. The same client_key from the same account returns the
    appeal made the first time, if this call asks for the same. Raises DomainError("villagers_only" | "not_a_deduction"
    | "already_appealed" | "already_reversed" | "reason_required" | "reason_too_long" | "idempotency_key_reused") or
    NotFound."""

    def as_asked(earlier: Appeal) -> Appeal:
        """The key's appeal, if it is what this call asks for."""
        if (earlier.entry_id, earlier.reason) != (entry_id, (reason or "").strip()):
            raise DomainError("idempotency_key_reused", status=409)
        return earlier

    earlier = _existing(Appeal, Appeal.appellant_id, user, client_key)
    if earlier is not None:
        return as_asked(earlier)
    household = villager_household(user)
    entry = db.session.get(LedgerEntry, entry_id) if isinstance(entry_id, int) else None
    if entry is None or entry.household_id != household.id:
        raise NotFound()
    if not entry.is_deduction:
        raise DomainError("not_a_deduction")
    if db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry.id)):
        raise DomainError("already_reversed", status=409)
    reason = _text(reason, MAX_REASON, "reason_too_long")
    if not reason:
        raise DomainError("reason_required")
    if db.session.scalar(select(Appeal.id).where(Appeal.entry_id == entry.id)):
        raise DomainError("already_appealed", status=409)
    appeal = Appeal(entry_id=entry.id, household_id=household.id, appellant_id=user.id, reason=reason,
                    client_key=client_key or None)
    try:
        with db.session.begin_nested():
            db.session.add(appeal)
            db.session.flush()
    except IntegrityError:
        earlier = _existing(Appeal, Appeal.appellant_id, user, client_key)
        if earlier is None:
            raise DomainError("already_appealed", status=409) from None
        return as_asked(earlier)
    record(user, "appeal.submitted", "appeal", appeal.id, household.grid_id,
           after={"entry": entry.id, "amount": entry.amount, "reason": reason})
    tell_staff(household.grid.village_id or household.grid_id, "appeal",
               _l("有一条扣分申诉等您处理：扣 %(amount)d 分", amount=-entry.amount),
               f"/appeals/{appeal.id}", skip=user, permission=policy.Permission.DECIDE_APPEALS)
    return appeal


def visible_appeal(user: User, appeal_id: int) -> Appeal:
    """An appeal its household or an admin in scope may see. Raises NotFound or Forbidden."""
    appeal = db.session.get(Appeal, appeal_id)
    if appeal is None:
        raise NotFound()
    if not policy.can_see_case(user, appeal.household, policy.Permission.DECIDE_APPEALS):
        raise Forbidden()
    return appeal


def decide_appeal(admin: User, appeal_id: int, reverse: bool, note: str = "", retry: bool = False) -> Appeal:
    """The village admin upholds the deduction (维持) or reverses it (撤销: a reversal entry restores the points).
    retry: the request may be a resent one (it carries an idempotency key), so an appeal this admin decided already
    the same way with the same note is returned unchanged.
    Raises DomainError("appeal_already_decided" | "note_too_long" | "own_appeal"), NotFound or Forbidden."""
    appeal = db.session.get(Appeal, appeal_id)
    if appeal is None:
        raise NotFound()
    policy.require(admin, policy.Permission.DECIDE_APPEALS, appeal.household.grid_id)
    policy.refuse_own_household(admin, appeal.household_id, "own_appeal")
    note = _text(note, MAX_NOTE, "note_too_long")
    decided = AppealStatus.REVERSED if reverse else AppealStatus.UPHELD
    if not _decide(Appeal, appeal.id, AppealStatus.PENDING, decided):
        if retry and (appeal.status, appeal.decided_by_id, appeal.decision_note) == (decided, admin.id, note):
            return appeal
        raise DomainError("appeal_already_decided", status=409)
    if reverse:
        # An admin may have reversed the entry by 冲正 while the appeal waited: that reversal answers it.
        earlier = db.session.scalar(select(LedgerEntry).where(LedgerEntry.reverses_id == appeal.entry_id))
        reversal = earlier or ledger.reverse_entry(appeal.entry_id, f"appeal:{appeal.id}", admin, note)
        appeal.reversal_id = reversal.id
    appeal.decided_by_id, appeal.decided_at, appeal.decision_note = admin.id, utcnow(), note
    db.session.flush()
    record(admin, "appeal.reversed" if reverse else "appeal.upheld", "appeal", appeal.id, appeal.household.grid_id,
           before={"status": "pending"}, after={"status": appeal.status.value, "note": note})
    _tell_appeal_decided(admin, appeal, reverse, note)
    return appeal


def _tell_appeal_decided(admin: User, appeal: Appeal, reverse: bool, note: str) -> None:
    """The household reads the decision on its appeal, and the note (its own matter)."""
    amount = -appeal.entry.amount
    if reverse and note:
        text = _l("您家的扣分申诉已受理：扣的 %(amount)d 分已撤销，积分已退回。说明：%(note)s", amount=amount,
                  note=note)
    elif reverse:
        text = _l("您家的扣分申诉已受理：扣的 %(amount)d 分已撤销，积分已退回", amount=amount)
    elif note:
        text = _l("您家的扣分申诉已处理：维持扣 %(amount)d 分。说明：%(note)s", amount=amount, note=note)
    else:
        text = _l("您家的扣分申诉已处理：维持扣 %(amount)d 分", amount=amount)
    tell_household(appeal.household_id, "appeal", text, f"/appeals/{appeal.id}", skip=admin)
