"""卫生评比's checklist and settings of a village, or of a town's template that new villages start from: the items
inspected and the most each deducts, the full score, and the numbers and choices of 示范户, 晾晒 and the 流动红旗.
Functions flush and never commit."""

from sqlalchemy import select

from ..audit.services import record
from ..auth import policy
from ..auth.models import User
from ..errors import DomainError
from ..extensions import db
from ..grids.models import GridNode
from ..grids.services import starts_villages
from ..rules.models import Rule
from ..rules.queries import version_in_force
from ..timeutil import local_today
from .models import ChecklistItem, HygieneSettings, TiePolicy, UnscoredPolicy

DEFAULT_CHECKLIST = (("门前卫生", 5), ("门前秩序", 5), ("门前绿化", 5), ("庭院整洁", 5), ("杂物堆放", 5),
                     ("禽畜圈养", 5))
MAX_ITEMS = 20
MAX_DEDUCTION = 50  # per item
MAX_SETTING = 1000  # no count or award of a village comes near it


def settings_of(village_id: int) -> HygieneSettings:
    """The village's settings; the defaults (not added to the session) if it never changed them."""
    return db.session.get(HygieneSettings, village_id) or HygieneSettings(
        village_id=village_id, full_score=100, model_count=3, model_points=20, shame_count=0, penalty_rule_id=None,
        ties=TiePolicy.ALL, shame_ties=TiePolicy.ALL, shame_max=0, unscored=UnscoredPolicy.SKIP, flag_points=50,
    )


SETTING_NUMBERS = ("full_score", "model_count", "model_points", "shame_count", "shame_max", "flag_points")


def update_settings(actor: User, village: GridNode, **values) -> HygieneSettings:
    """Change some of the village's numbers and choices (the keys of HygieneSettings).

    A new shame_count without a shame_max raises the most listed to at least the count.

    Raises Forbidden, DomainError("setting_out_of_range" | "shame_max_below_count" | "full_score_too_low" |
    "penalty_rule_invalid")."""
    policy.require(actor, policy.Permission.MANAGE_HYGIENE, village.id)
    settings = db.session.get(HygieneSettings, village.id)
    if settings is None:
        settings = settings_of(village.id)
        db.session.add(settings)
    before = _settings_dict(settings)
    for name in SETTING_NUMBERS:
        if name in values:
            value = values[name]
            low = 1 if name == "full_score" else 0
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= MAX_SETTING:
                raise DomainError("setting_out_of_range", low=low, high=MAX_SETTING)
            setattr(settings, name, value)
    if "shame_max" not in values:
        settings.shame_max = max(settings.shame_max, settings.shame_count)
    if settings.shame_max < settings.shame_count:
        raise DomainError("shame_max_below_count", count=settings.shame_count)
    if "ties" in values:
        settings.ties = TiePolicy(values["ties"])
    if "shame_ties" in values:
        settings.shame_ties = TiePolicy(values["shame_ties"])
    if "unscored" in values:
        settings.unscored = UnscoredPolicy(values["unscored"])
    if "penalty_rule_id" in values:
        settings.penalty_rule_id = _penalty_rule(village.id, values["penalty_rule_id"])
    _check_full_score(village.id, settings.full_score, [i.max_deduction for i in checklist(village.id)])
    db.session.flush()
    record(actor, "hygiene.settings", "village", village.id, village.id, before=before, after=_settings_dict(settings))
    return settings


def _penalty_rule(village_id: int, rule_id: int | None) -> int | None:
    if rule_id is None:
        return None
    rule = db.session.get(Rule, rule_id) if isinstance(rule_id, int) and not isinstance(rule_id, bool) else None
    version = version_in_force(rule.id, local_today()) if rule is not None and rule.village_id == village_id else None
    if version is None or version.points >= 0:
        raise DomainError("penalty_rule_invalid")
    return rule.id


def _settings_dict(settings: HygieneSettings) -> dict:
    values = {name: getattr(settings, name) for name in SETTING_NUMBERS}
    return values | {"ties": settings.ties.value, "shame_ties": settings.shame_ties.value,
                     "unscored": settings.unscored.value,
                     "penalty_rule": settings.penalty_rule_id}


def _check_full_score(village_id: int, full_score: int, maxima: list[int]) -> None:
    """A household's weekly score (full score less deductions) never goes below zero."""
    if sum(maxima) > full_score:
        raise DomainError("full_score_too_low", full=full_score, most=sum(maxima))


def checklist(village_id: int, with_retired: bool = False) -> list[ChecklistItem]:
    """The village's checklist in order. A village that never wrote one is shown 门前三包 and the rest, 5 points each
    (unsaved: its first round saves them, see ensure_checklist)."""
    query = select(ChecklistItem).where(ChecklistItem.village_id == village_id)
    if not with_retired:
        query = query.where(ChecklistItem.active)
    items = list(db.session.scalars(query.order_by(ChecklistItem.position, ChecklistItem.id)))
    if items or db.session.scalar(select(ChecklistItem.id).where(ChecklistItem.village_id == village_id).limit(1)):
        return items
    return [ChecklistItem(village_id=village_id, name=name, max_deduction=most, position=position, active=True)
            for position, (name, most) in enumerate(DEFAULT_CHECKLIST)]


@starts_villages(order=2)
def copy_template(village: GridNode, town: GridNode) -> None:
    """A new village's checklist and settings start as its town's template, if the town saved one; the penalty rule
    of 晾晒 becomes the village's rule of the same code (copied from the template by the rule book's starter)."""
    items = db.session.scalars(select(ChecklistItem).where(ChecklistItem.village_id == town.id, ChecklistItem.active)
                               .order_by(ChecklistItem.position, ChecklistItem.id)).all()
    db.session.add_all([ChecklistItem(village_id=village.id, name=i.name, max_deduction=i.max_deduction,
                                      position=i.position, active=True) for i in items])
    if items:
        record(None, "hygiene.checklist", "village", village.id, village.id,
               after={"from": town.name, "items": [(i.name, i.max_deduction) for i in items]})
    model = db.session.get(HygieneSettings, town.id)
    if model is not None:
        penalty = None
        if model.penalty_rule is not None:
            penalty = db.session.scalar(select(Rule.id).where(Rule.village_id == village.id,
                                                              Rule.code == model.penalty_rule.code))
        settings = HygieneSettings(village_id=village.id, penalty_rule_id=penalty, ties=model.ties,
                                   shame_ties=model.shame_ties,
                                   unscored=model.unscored, **{n: getattr(model, n) for n in SETTING_NUMBERS})
        db.session.add(settings)
        record(None, "hygiene.settings", "village", village.id, village.id,
               after={"from": town.name} | _settings_dict(settings))
    db.session.flush()


def ensure_checklist(village_id: int) -> list[ChecklistItem]:
    """The village's checklist, the default one saved if it has none."""
    items = checklist(village_id)
    if items and items[0].id is None:
        db.session.add_all(items)
        db.session.flush()
    return items


def save_checklist(
    actor: User, village: GridNode, lines: list[tuple[int | None, str, int]], full_score: int | None = None
) -> list[ChecklistItem]:
    """The village's checklist becomes lines, in order: (id of an item kept, or None for a new one; name; most it
    deducts). Items left out are retired, not deleted: score sheets that deducted them keep their name. The items'
    maxima together stay within the full score (full_score: the one about to be set with them).

    Raises Forbidden, DomainError("checklist_empty" | "checklist_too_long" | "item_name_invalid" | "item_name_taken"
    | "max_deduction_invalid" | "full_score_too_low")."""
    policy.require(actor, policy.Permission.MANAGE_HYGIENE, village.id)
    if not lines:
        raise DomainError("checklist_empty")
    if len(lines) > MAX_ITEMS:
        raise DomainError("checklist_too_long", limit=MAX_ITEMS)
    names = [(name or "").strip() for _, name, _ in lines]
    for name in names:
        if not name or len(name) > ChecklistItem.name.type.length:
            raise DomainError("item_name_invalid", limit=ChecklistItem.name.type.length)
    if len(set(names)) != len(names):
        raise DomainError("item_name_taken")
    for _, _, most in lines:
        if not isinstance(most, int) or isinstance(most, bool) or not 1 <= most <= MAX_DEDUCTION:
            raise DomainError("max_deduction_invalid", limit=MAX_DEDUCTION)
    _check_full_score(village.id, full_score or settings_of(village.id).full_score, [most for _, _, most in lines])
    current = {item.id: item for item in checklist(village.id, with_retired=True) if item.id is not None}
    before = [(i.name, i.max_deduction) for i in current.values() if i.active]
    kept = set()
    for position, ((item_id, _, most), name) in enumerate(zip(lines, names)):
        item = current.get(item_id)
        if item is None:
            item = ChecklistItem(village_id=village.id)
            db.session.add(item)
        item.name, item.max_deduction, item.position, item.active = name, most, position, True
        kept.add(item_id)
    for item_id, item in current.items():
        if item_id not in kept:
            item.active = False
    db.session.flush()
    record(actor, "hygiene.checklist", "village", village.id, village.id,
           before={"items": before}, after={"items": [(n, m) for (_, _, m), n in zip(lines, names)]})
    return checklist(village.id)
