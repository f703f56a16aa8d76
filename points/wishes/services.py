"""微心愿: posted by a grid worker, adopted by one villager or staff member at a time, fulfilled, lit with a photo.
The adopter's household earns the wish's rule once, through the ledger. Functions flush, never commit."""
import os
import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from PIL import Image
from sqlalchemy import select, update

from ..audit.services import record
from ..auth import policy
from ..auth.models import User
from ..errors import DomainError, NotFound
from ..extensions import add_unless_twin, db
from ..grids.models import NodeKind
from ..ledger import services as ledger
from ..ledger.models import EntrySource
from ..media import clean_photo, store_photo
from ..messages.services import tell, tell_household, tell_staff
from ..people.models import CareTag, Household
from ..people.services import CARE_TAG_LABELS
from ..rules.models import Rule, RuleCategory, RuleVersion
from ..rules.queries import rule_book, version_in_force
from ..timeutil import local_today, utc_to_local, utcnow
from .models import DETAIL_MAX, NOTE_MAX, TITLE_MAX, WALL_STATUSES, Wish, WishPhoto, WishStatus

WISH_CATEGORIES = (RuleCategory.MUTUAL_AID, RuleCategory.VOLUNTEERING)
GRID_WORK = policy.Permission.GRID_WORK
# A photo sent to light a wish waits this long for the 确认 button (the signed token's age); after that it is stale.
PENDING_AGE = 3600
PENDING_PREFIX = "wish-pending-"
# Seven digits or more, maybe split by spaces or dashes: a phone number (after NFKC: full-width digits too).
PHONE_LIKE = re.compile(r"[0-9](?:[\s\-]*[0-9]){6,}")
# Short forms of the care-tag labels that say as much as the labels themselves.
CARE_WORDS = ("空巢", "留守", "残疾人", "低保户", "贫困户", "孤寡", "五保")


@dataclass(frozen=True)
class PhotoStore:
    """Where the confirming photos go, and how large an upload may be."""

    folder: str
    max_bytes: int


def _text(value: str | None, limit: int, too_long: str) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise DomainError(too_long, limit=limit)
    return value


def _name_forms(name: str) -> set[str]:
    """The ways a resident's name may be written: the whole name and its given name (after a one- or two-character
    surname), each of two characters or more."""
    name = unicodedata.normalize("NFKC", name or "").replace(" ", "").replace("·", "")
    forms = {name, name[1:]}
    if len(name) >= 4:
        forms.add(name[2:])  # 欧阳秀英 → 秀英
    return {form for form in forms if len(form) >= 2}


def _care_words() -> set[str]:
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "zh")):
        labels = {str(CARE_TAG_LABELS[tag]) for tag in CareTag}
    return labels | set(CARE_WORDS)


def _stands_alone(text: str, word: str) -> bool:
    """Whether word is in text and not as a piece of a longer run of letters or digits (户号 12 in 装12个灯 is not)."""
    pattern = r"(?<![0-9A-Za-z])" + re.escape(word) + r"(?![0-9A-Za-z])"
    return re.search(pattern, text) is not None


def check_title(household: Household, title: str) -> None:
    """The title is public on the wall: it names nobody of the household, no care tag, no phone, address or 户号.
    Raises DomainError("wish_title_name" | "wish_title_care_tag" | "wish_title_phone" | "wish_title_address")."""
    text = unicodedata.normalize("NFKC", title).replace(" ", "").replace("·", "")
    if any(form in text for resident in household.residents for form in _name_forms(resident.name)):
        raise DomainError("wish_title_name")
    if any(word in text for word in _care_words()):
        raise DomainError("wish_title_care_tag")
    if PHONE_LIKE.search(unicodedata.normalize("NFKC", title)):
        raise DomainError("wish_title_phone")
    address = unicodedata.normalize("NFKC", household.address or "").replace(" ", "")
    number = unicodedata.normalize("NFKC", household.number or "").strip()
    doors = re.findall(r"[0-9A-Za-z\-]+[号栋室]", address)  # 12号, 3栋, 201室 of 瑶前村3组12号
    if ((len(address) >= 2 and address in text) or (number and _stands_alone(text, number))
            or any(_stands_alone(text, door) for door in doors)):
        raise DomainError("wish_title_address")


def _link(wish: Wish) -> str:
    return f"/wishes/{wish.id}"


def wish_rules(village_id: int, day: date) -> list[RuleVersion]:
    """The rules a wish may name: in force on day, of 村民互助 or 志愿服务, awarding points."""
    return [v for v in rule_book(village_id, day) if v.category in WISH_CATEGORIES and v.points > 0]


def _wish_rule(village_id: int, rule_id: int, day: date) -> RuleVersion:
    rule = db.session.get(Rule, rule_id) if isinstance(rule_id, int) else None
    version = version_in_force(rule.id, day) if rule is not None and rule.village_id == village_id else None
    if version is None or version.category not in WISH_CATEGORIES or version.points <= 0:
        raise DomainError("wish_rule_invalid")
    return version


def post_wish(worker: User, household_id: int, title: str, detail: str, rule_id: int, *,
              client_key: str | None = None, now: datetime | None = None) -> Wish:
    """A grid worker posts a wish of a household of their grid. The same client_key from the same account returns
    the wish posted the first time, if this call asks for the same. Raises DomainError("wish_title_required"
    | "wish_title_too_long" | "wish_detail_too_long" | "wish_rule_invalid" | "wish_household_closed"
    | "wish_own_household" | "idempotency_key_reused"), NotFound or Forbidden."""
    title, detail = (title or "").strip(), (detail or "").strip()
    earlier = _earlier(worker, client_key)
    if earlier is not None:
        return _as_asked(earlier, household_id, title, detail, rule_id)
    household = db.session.get(Household, household_id) if isinstance(household_id, int) else None
    if household is None:
        raise NotFound()
    policy.require(worker, GRID_WORK, household.grid_id)
    policy.refuse_own_household(worker, household.id, "wish_own_household")
    if household.closed_on is not None:
        raise DomainError("wish_household_closed", status=409)
    if not title:
        raise DomainError("wish_title_required")
    _text(title, TITLE_MAX, "wish_title_too_long")
    check_title(household, title)
    _text(detail, DETAIL_MAX, "wish_detail_too_long")
    now = now or utcnow()
    version = _wish_rule(household.village_id, rule_id, utc_to_local(now).date())
    wish = Wish(village_id=household.village_id, grid_id=household.grid_id, household_id=household.id,
                posted_by_id=worker.id, title=title, detail=detail, rule_id=version.rule_id,
                client_key=client_key or None, created_at=now)
    earlier = add_unless_twin(wish, lambda: _earlier(worker, client_key))
    if earlier is not None:
        return _as_asked(earlier, household_id, title, detail, rule_id)
    record(worker, "wish.posted", "wish", wish.id, wish.grid_id,
           after={"household": household.number, "title": title, "rule": version.name})
    return wish


def _earlier(worker: User, client_key: str | None) -> Wish | None:
    if not client_key:
        return None
    return db.session.scalar(select(Wish).where(Wish.posted_by_id == worker.id, Wish.client_key == client_key))


def _as_asked(earlier: Wish, household_id: int, title: str, detail: str, rule_id: int) -> Wish:
    if (earlier.household_id, earlier.title, earlier.detail, earlier.rule_id) != (household_id, title, detail, rule_id):
        raise DomainError("idempotency_key_reused", status=409)
    return earlier


def get_wish(wish_id: int) -> Wish:
    """Raises NotFound."""
    wish = db.session.get(Wish, wish_id) if isinstance(wish_id, int) else None
    if wish is None:
        raise NotFound()
    return wish


def is_staff(user: User | None, wish: Wish) -> bool:
    """Whether user works the wish's grid: sees its household and detail, withdraws and lights it."""
    return policy.can(user, GRID_WORK, wish.grid_id)


def visible_wish(user: User | None, wish_id: int) -> Wish:
    """A wish as anyone may see its public fields: on the wall, or withdrawn to staff of its grid and its poster.
    Raises NotFound."""
    wish = get_wish(wish_id)
    if wish.status not in WALL_STATUSES and not is_staff(user, wish) and (
            user is None or wish.posted_by_id != getattr(user, "id", None)):
        raise NotFound()
    return wish


def may_see_photo(user: User | None, wish: Wish) -> bool:
    """The confirming photo shows the household's home: its staff, its household and the adopter see it."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return (is_staff(user, wish) or wish.adopter_id == user.id
            or policy.own_household_id(user) == wish.household_id)


def photo_path(user: User | None, wish: Wish, folder: str) -> str:
    """Where the wish's photo is stored, for whoever may see it. Raises NotFound."""
    stored = wish.photo if may_see_photo(user, wish) else None
    path = os.path.join(folder, stored.filename) if stored is not None else None
    if path is None or not os.path.isfile(path):
        raise NotFound()
    return path


def _own_wish(user: User, wish: Wish) -> bool:
    """Whether the wish is of user's household, or was posted by user or by someone of user's household: then
    adopting it would earn points for the poster's own side."""
    own = policy.own_household_id(user)
    if wish.posted_by_id == user.id or (own is not None and own == wish.household_id):
        return True
    return own is not None and wish.posted_by is not None and policy.own_household_id(wish.posted_by) == own


def may_adopt(user: User | None, wish: Wish) -> bool:
    """Whether user could adopt the wish now (to show the button)."""
    return (wish.status is WishStatus.OPEN and user is not None and getattr(user, "is_authenticated", False)
            and policy.can_see_village(user, wish.village_id) and not _own_wish(user, wish))


def _move(wish: Wish, before: WishStatus, **values) -> bool:
    """Move the wish from before to what values say, if nobody has moved it since it was read. The conditional
    UPDATE takes the row's lock (SQLite's write lock), so of two people at once exactly one gets True."""
    result = db.session.execute(
        update(Wish).where(Wish.id == wish.id, Wish.status == before).values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(wish)
    return result.rowcount == 1


def adopt_wish(user: User, wish_id: int, now: datetime | None = None) -> Wish:
    """我来认领: a villager or staff member of the wish's village adopts it, if nobody else has. Adopting a wish one
    adopted already returns it unchanged. Raises DomainError("wish_other_village" | "wish_own_adoption"
    | "wish_taken" | "wish_not_open"), NotFound."""
    wish = visible_wish(user, wish_id)
    if wish.adopter_id == user.id and wish.status is not WishStatus.OPEN:
        return wish
    if not policy.can_see_village(user, wish.village_id):
        raise DomainError("wish_other_village", status=403)
    policy.refuse_own_household(user, wish.household_id, "wish_own_adoption")
    if _own_wish(user, wish):  # the poster, or the poster's household
        raise DomainError("wish_own_adoption", status=403)
    if wish.status is not WishStatus.OPEN:
        raise DomainError("wish_taken" if wish.status is WishStatus.ADOPTED else "wish_not_open", status=409)
    if not _move(wish, WishStatus.OPEN, status=WishStatus.ADOPTED, adopter_id=user.id, adopted_at=now or utcnow()):
        if wish.adopter_id == user.id:
            return wish
        raise DomainError("wish_taken", status=409)
    record(user, "wish.adopted", "wish", wish.id, wish.grid_id, before={"status": "open"},
           after={"status": "adopted", "adopter": user.display_name})
    tell_household(wish.household_id, "wish", _l("您家的微心愿已被认领"), _link(wish), skip=user)
    return wish


def _adopted_by(user: User, wish_id: int, status: WishStatus) -> Wish:
    wish = get_wish(wish_id)
    if wish.adopter_id != user.id:
        raise DomainError("wish_not_adopter", status=403)
    if wish.status is not status:
        raise DomainError("wish_not_adopted", status=409)
    return wish


def give_back(user: User, wish_id: int) -> Wish:
    """退回: the adopter gives an adopted wish back to the wall. Raises DomainError("wish_not_adopter"
    | "wish_not_adopted"), NotFound."""
    wish = _adopted_by(user, wish_id, WishStatus.ADOPTED)
    if not _move(wish, WishStatus.ADOPTED, status=WishStatus.OPEN, adopter_id=None, adopted_at=None):
        raise DomainError("wish_not_adopted", status=409)
    record(user, "wish.given_back", "wish", wish.id, wish.grid_id, before={"status": "adopted"},
           after={"status": "open"})
    tell_staff(wish.grid_id, "wish", _l("有一个微心愿被退回，重新待认领"), _link(wish), skip=user)
    return wish


def fulfil(user: User, wish_id: int, note: str = "", now: datetime | None = None) -> Wish:
    """已完成: the adopter says it is done, with an optional note; the grid's staff are told to light it.
    Saying so again returns the wish unchanged. Raises DomainError("wish_not_adopter" | "wish_not_adopted"
    | "wish_note_too_long"), NotFound."""
    wish = get_wish(wish_id)
    if wish.adopter_id == user.id and wish.status is WishStatus.FULFILLED:
        return wish
    wish = _adopted_by(user, wish_id, WishStatus.ADOPTED)
    note = _text(note, NOTE_MAX, "wish_note_too_long")
    if not _move(wish, WishStatus.ADOPTED, status=WishStatus.FULFILLED, fulfilled_at=now or utcnow(),
                 fulfil_note=note):
        raise DomainError("wish_not_adopted", status=409)
    record(user, "wish.fulfilled", "wish", wish.id, wish.grid_id, before={"status": "adopted"},
           after={"status": "fulfilled", "note": note})
    tell_staff(wish.grid_id, "wish", _l("有一个微心愿已完成，请去确认点亮"), _link(wish), skip=user)
    return wish


def withdraw(worker: User, wish_id: int, reason: str) -> Wish:
    """撤下: staff of the wish's grid take an open wish off the wall, saying why.
    Raises DomainError("wish_reason_required" | "wish_note_too_long" | "wish_not_withdrawable"), NotFound, Forbidden."""
    wish = get_wish(wish_id)
    policy.require(worker, GRID_WORK, wish.grid_id)
    reason = _text(reason, NOTE_MAX, "wish_note_too_long")
    if not reason:
        raise DomainError("wish_reason_required")
    if not _move(wish, WishStatus.OPEN, status=WishStatus.WITHDRAWN, withdrawn_reason=reason,
                 withdrawn_at=utcnow()):
        raise DomainError("wish_not_withdrawable", status=409)
    record(worker, "wish.withdrawn", "wish", wish.id, wish.grid_id, before={"status": "open"},
           after={"status": "withdrawn", "reason": reason})
    return wish


def check_light(worker: User, wish: Wish) -> None:
    """Whether worker may light the wish now. Raises DomainError("wish_confirm_own" | "wish_confirm_own_household"
    | "wish_not_fulfilled"), Forbidden."""
    policy.require(worker, GRID_WORK, wish.grid_id)
    if wish.adopter_id == worker.id:
        raise DomainError("wish_confirm_own", status=403)
    adopter_household = policy.own_household_id(wish.adopter)
    if adopter_household is not None:
        policy.refuse_own_household(worker, adopter_household, "wish_confirm_own_household")
    if wish.status is not WishStatus.FULFILLED:
        raise DomainError("wish_not_fulfilled", status=409)


def light(worker: User, wish_id: int, photo: bytes | None, store: PhotoStore, *, stored_name: str | None = None,
          settle: bool = False, retry: bool = False, now: datetime | None = None) -> Wish:
    """点亮: staff of the wish's grid confirm it with a photo (bytes, or stored_name: a photo store_photo kept
    already). The adopter's household earns the rule's points once, if the adopter is a villager of the village and
    the ledger takes them; otherwise wish.no_points says why. retry: a resent request, so a wish this worker lit
    already is returned unchanged. settle: stored_name is a kept photo (keep_photo) and this is the real lighting,
    not the one tried for the confirmation: the photo is renamed so that the sweep of stale ones leaves it.
    Raises DomainError("wish_photo_required" | check_light's | the photo's), NotFound, Forbidden."""
    wish = get_wish(wish_id)
    if retry and wish.status is WishStatus.LIT and wish.confirmed_by_id == worker.id:
        return wish
    check_light(worker, wish)
    if not photo and not stored_name:
        raise DomainError("wish_photo_required")
    jpeg = clean_photo(photo, store.max_bytes) if photo else None
    now = now or utcnow()
    if not _move(wish, WishStatus.FULFILLED, status=WishStatus.LIT, confirmed_by_id=worker.id, lit_at=now):
        raise DomainError("wish_not_fulfilled", status=409)
    if jpeg is not None:  # stored only once the wish is moved: a refused lighting leaves no file behind
        stored = store_photo(store.folder, jpeg)
        wish.photos.append(WishPhoto(position=1, filename=stored.filename, width=stored.width, height=stored.height,
                                     size=stored.size))
    else:
        wish.photos.append(_kept_photo(store.folder, stored_name, settle))
    _award(worker, wish, utc_to_local(now).date())
    db.session.flush()
    record(worker, "wish.lit", "wish", wish.id, wish.grid_id, before={"status": "fulfilled"},
           after={"status": "lit", "entry": wish.entry_id, "no_points": wish.no_points or None})
    tell_household(wish.household_id, "wish", _l("您家的微心愿已点亮"), _link(wish), skip=worker)
    tell([wish.adopter_id], "wish", _l("您认领的微心愿已点亮，感谢您的帮助"), _link(wish), skip=worker)
    return wish


def keep_photo(store: PhotoStore, data: bytes, now: float | None = None) -> str:
    """Clean and store a photo sent to light a wish, before the confirmation, under a pending name; its name. The
    pending photos older than the confirmation may wait (never confirmed) are deleted first, so they are not kept
    for ever. Raises the photo's DomainError ("photo_too_large" | "not_an_image")."""
    jpeg = clean_photo(data, store.max_bytes)
    drop_stale_photos(store.folder, time.time() if now is None else now)
    stored = store_photo(store.folder, jpeg)
    pending = PENDING_PREFIX + stored.filename
    os.replace(os.path.join(store.folder, stored.filename), os.path.join(store.folder, pending))
    return pending


def drop_stale_photos(folder: str, now: float) -> int:
    """Delete the pending photos (kept for a confirmation) older than PENDING_AGE and a margin for the request that
    may be confirming one right now; a confirmed photo is renamed, so it is never among them. How many went."""
    if not os.path.isdir(folder):
        return 0
    dropped = 0
    for entry in os.scandir(folder):
        if entry.name.startswith(PENDING_PREFIX) and entry.is_file() and \
                entry.stat().st_mtime < now - PENDING_AGE - 300:
            try:
                os.remove(entry.path)
                dropped += 1
            except FileNotFoundError:  # another request dropped it a moment ago
                pass
    return dropped


def rule_version(wish: Wish, day: date | None = None) -> RuleVersion | None:
    """The version of the wish's rule in force on day (today): what lighting it would earn."""
    return version_in_force(wish.rule_id, day or local_today())


def _kept_photo(folder: str, filename: str, settle: bool) -> WishPhoto:
    name = os.path.basename(filename)
    path = os.path.join(folder, name)
    if not name.startswith(PENDING_PREFIX) or not os.path.isfile(path):
        raise DomainError("wish_photo_expired")
    with Image.open(path) as image:
        width, height = image.size
    if settle:  # no longer pending: the sweep of stale photos leaves it
        name = name.removeprefix(PENDING_PREFIX)
        os.replace(path, os.path.join(folder, name))
        path = os.path.join(folder, name)
    return WishPhoto(position=1, filename=name, width=width, height=height, size=os.path.getsize(path))


def earner(wish: Wish) -> Household | None:
    """The household that earns when the wish is lit: the adopter's, if the adopter is a villager of its village."""
    household_id = policy.own_household_id(wish.adopter)
    household = db.session.get(Household, household_id) if household_id is not None else None
    return household if household is not None and household.village_id == wish.village_id else None


def _award(worker: User, wish: Wish, day: date) -> None:
    household = earner(wish)
    if household is None:
        wish.no_points = "wish_not_resident"
        return
    try:
        with db.session.begin_nested():
            version = ledger.rule_for_household(household, wish.rule_id, day)
            entry = ledger.post_entry(household.id, version.points, EntrySource.WISH, f"wish:{wish.id}",
                                      rule_version=version, resident_id=wish.adopter.resident_id, actor=worker,
                                      note=wish.title, occurred_on=day)
    except DomainError as refusal:  # the wish is lit all the same; the page says why no points came
        wish.no_points = refusal.code[:40]
        return
    wish.entry_id = entry.id


def wall_village_id(user: User) -> int | None:
    """The village whose wall the user starts from: their household's, or the first in their scope."""
    own = policy.own_household_id(user)
    if own is not None:
        return db.session.get(Household, own).village_id
    for node in policy.nodes_in_scope(user, policy.Permission.VIEW_GRIDS):
        if node.kind is NodeKind.VILLAGE or node.kind is NodeKind.GRID:
            return node.village_id or node.id
    return None


def household_by_number(village_id: int, number: str) -> Household:
    """Raises DomainError("wish_no_household")."""
    household = db.session.scalar(select(Household).where(Household.village_id == village_id,
                                                           Household.number == (number or "").strip()))
    if household is None:
        raise DomainError("wish_no_household", status=404)
    return household
