"""A village's 民情诉求 settings: its categories (the defaults, unsaved, until a report or the admin stores them) and
its deadlines and rules. Reading writes nothing (a GET is rolled back); functions that write flush, never commit."""
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..audit.services import record
from ..auth import policy
from ..auth.models import User
from ..errors import DomainError
from ..extensions import db
from ..grids.models import GridNode
from ..rules.models import Rule, RuleCategory, RuleVersion
from ..rules.queries import rule_book, version_in_force
from ..timeutil import local_today, utcnow
from .models import DEFAULT_CATEGORIES, ReportCategory, ReportSettings

MAX_ACCEPT_HOURS = 720
MAX_FINISH_DAYS = 90
MAX_CATEGORY_NAME = 20
MAX_CATEGORIES = 30


def settings_of(village_id: int) -> ReportSettings:
    """The village's settings; the defaults (not added to the session) if it never changed them."""
    return db.session.get(ReportSettings, village_id) or ReportSettings(
        village_id=village_id, accept_hours=24, finish_days=3, reward_rule_id=None, duty_rule_id=None)


def _stored(village_id: int) -> list[ReportCategory]:
    return list(db.session.scalars(select(ReportCategory).where(ReportCategory.village_id == village_id)
                                   .order_by(ReportCategory.position, ReportCategory.id)))


def categories(village_id: int, with_retired: bool = False) -> list[ReportCategory]:
    """The village's categories in their order; for a village that never stored any, the defaults, not added to
    the session (their id is None: a form offers them by name). Writes nothing."""
    rows = _stored(village_id) or [ReportCategory(village_id=village_id, name=name, position=i, retired_at=None)
                                   for i, name in enumerate(DEFAULT_CATEGORIES, start=1)]
    return rows if with_retired else [c for c in rows if c.retired_at is None]


def ensure_categories(village_id: int) -> list[ReportCategory]:
    """The village's stored categories (retired ones too), the defaults stored (flushed) first if it has none: for
    a request that writes. Two requests storing them at once leave one set (the unique name per village)."""
    rows = _stored(village_id)
    if rows:
        return rows
    try:
        with db.session.begin_nested():
            db.session.add_all([ReportCategory(village_id=village_id, name=name, position=i)
                                for i, name in enumerate(DEFAULT_CATEGORIES, start=1)])
    except IntegrityError:  # another request stored them a moment ago
        pass
    return _stored(village_id)


def category_named(village_id: int, name: str) -> ReportCategory | None:
    """The village's category in use of that name, stored (with the defaults, if need be). For a request that
    writes."""
    return next((c for c in ensure_categories(village_id) if c.name == name and c.retired_at is None), None)


def rule_choices(village_id: int, category: RuleCategory, day: date | None = None) -> list[RuleVersion]:
    """The rules of that category in force in the village, with positive points: a setting's choices."""
    return [v for v in rule_book(village_id, day or local_today()) if v.category is category and v.points > 0]


def _rule(village_id: int, rule_id: int | None, category: RuleCategory) -> int | None:
    if rule_id is None:
        return None
    rule = db.session.get(Rule, rule_id) if isinstance(rule_id, int) and not isinstance(rule_id, bool) else None
    version = version_in_force(rule.id, local_today()) if rule is not None and rule.village_id == village_id else None
    if version is None or version.category is not category or version.points <= 0:
        raise DomainError("report_rule_invalid")
    return rule.id


def _as_dict(settings: ReportSettings) -> dict:
    return {"accept_hours": settings.accept_hours, "finish_days": settings.finish_days,
            "reward_rule": settings.reward_rule_id, "duty_rule": settings.duty_rule_id}


def update_settings(actor: User, village: GridNode, accept_hours: int, finish_days: int,
                    reward_rule_id: int | None, duty_rule_id: int | None) -> ReportSettings:
    """Change the village's deadlines and rules (reward: a 宣传监督 rule for the reporter; duty: a 网格员履职 rule
    for the handler). Reports already waiting keep the deadlines they were given.
    Raises Forbidden, DomainError("report_setting_out_of_range" | "report_rule_invalid")."""
    policy.require(actor, policy.Permission.MANAGE_GRID_WORK, village.id)
    for value, high in ((accept_hours, MAX_ACCEPT_HOURS), (finish_days, MAX_FINISH_DAYS)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
            raise DomainError("report_setting_out_of_range", low=1, high=high)
    reward = _rule(village.id, reward_rule_id, RuleCategory.PUBLICITY)
    duty = _rule(village.id, duty_rule_id, RuleCategory.GRID_DUTY)
    settings = db.session.get(ReportSettings, village.id)
    if settings is None:
        settings = settings_of(village.id)
        db.session.add(settings)
    before = _as_dict(settings)
    settings.accept_hours, settings.finish_days = accept_hours, finish_days
    settings.reward_rule_id, settings.duty_rule_id = reward, duty
    db.session.flush()
    after = _as_dict(settings)
    if after != before:
        record(actor, "report.settings", "village", village.id, village.id, before=before, after=after)
    return settings


def save_categories(actor: User, village: GridNode, names: dict[str, str], retired: set[str],
                    new_names: list[str]) -> list[ReportCategory]:
    """Rename (names: its name now → its new name), retire (retired: names now) and add (new_names) the village's
    categories (the defaults stored first if it had none); a retired one named again among new_names comes back. At
    least one stays in use. Raises Forbidden, DomainError("report_category_name_invalid" | "report_category_last")."""
    policy.require(actor, policy.Permission.MANAGE_GRID_WORK, village.id)
    rows = {c.name: c for c in ensure_categories(village.id)}
    before = {c.id: (c.name, c.retired_at is None) for c in rows.values()}
    now = utcnow()
    for old_name, category in rows.items():
        if old_name in names:
            category.name = _name(names[old_name])
        if old_name in retired and category.retired_at is None:
            category.retired_at = now
    by_name = {c.name: c for c in rows.values()}
    position = max((c.position for c in rows.values()), default=0)
    for name in new_names:
        name = _name(name)
        if name in by_name:
            by_name[name].retired_at = None
            continue
        position += 1
        by_name[name] = ReportCategory(village_id=village.id, name=name, position=position)
        db.session.add(by_name[name])
    if len({c.name for c in by_name.values()}) != len(by_name) or len(by_name) > MAX_CATEGORIES \
            or len({c.name for c in rows.values()}) != len(rows):
        raise DomainError("report_category_name_invalid", limit=MAX_CATEGORY_NAME)
    if not any(c.retired_at is None for c in by_name.values()):
        raise DomainError("report_category_last")
    db.session.flush()
    after = {c.id: (c.name, c.retired_at is None) for c in by_name.values()}
    if after != before:
        record(actor, "report.categories", "village", village.id, village.id,
               before={"category": sorted(n for n, used in before.values() if used)},
               after={"category": sorted(n for n, used in after.values() if used)})
    return categories(village.id)


def _name(name: str | None) -> str:
    name = (name or "").replace("\x00", "").strip()
    if not 1 <= len(name) <= MAX_CATEGORY_NAME:
        raise DomainError("report_category_name_invalid", limit=MAX_CATEGORY_NAME)
    return name
