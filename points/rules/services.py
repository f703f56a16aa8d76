"""Writes to the rule book. An edit never changes a version that may have entries: it makes a new one.

A town keeps a rule book too: the template (模板) each new village's book starts as a copy of, to adapt."""
from dataclasses import asdict, dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..audit.services import record
from ..auth.models import Role, User
from ..errors import DomainError, register_messages
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..grids.services import starts_villages
from ..timeutil import local_today
from .labels import MAX_BARS_DAYS
from .models import Rule, RuleCategory, RuleUnit, RuleVersion, RuleVersionRole
from .queries import rule_book

CAPS = ("cap_day", "cap_week", "cap_month", "cap_year")


@dataclass(frozen=True)
class RuleTerms:
    """What one version of a rule says; dataclasses.replace(terms, points=-30) describes an edit."""

    name: str
    category: RuleCategory
    points: int
    unit: RuleUnit = RuleUnit.OCCURRENCE
    for_registered: bool = True
    for_renters: bool = True
    cap_day: int | None = None
    cap_week: int | None = None
    cap_month: int | None = None
    cap_year: int | None = None
    evidence_required: bool = False
    self_claimable: bool = False
    # A penalty that also bars the household from redeeming for this many days from the day it is posted; 0: none.
    bars_days: int = 0
    roles: frozenset[Role] = field(default_factory=frozenset)

    @classmethod
    def of(cls, version: RuleVersion) -> "RuleTerms":
        fields = {name: getattr(version, name) for name in cls.__dataclass_fields__ if name != "roles"}
        return cls(**fields, roles=version.role_set)


def _check(terms: RuleTerms) -> None:
    """Raises DomainError for terms no village could mean."""
    if not terms.name.strip():
        raise DomainError("rule_name_required")
    if terms.points == 0:
        raise DomainError("rule_points_zero")
    if not (terms.for_registered or terms.for_renters):
        raise DomainError("rule_applies_to_no_one")
    if any(getattr(terms, cap) is not None and getattr(terms, cap) < 1 for cap in CAPS):
        raise DomainError("rule_cap_invalid")
    if not 0 <= terms.bars_days <= MAX_BARS_DAYS:
        raise DomainError("rule_bars_days_invalid", most=MAX_BARS_DAYS)
    if terms.bars_days and terms.points > 0:
        raise DomainError("rule_bars_only_penalty")


def _version(rule: Rule, number: int, terms: RuleTerms, effective_from: date, effective_until, actor) -> RuleVersion:
    values = {k: v for k, v in asdict(terms).items() if k != "roles"}
    version = RuleVersion(
        rule=rule,
        version=number,
        **{**values, "name": terms.name.strip()},
        effective_from=effective_from,
        effective_until=effective_until,
        created_by_id=actor.id if actor else None,
    )
    version.roles = [RuleVersionRole(role=role) for role in sorted(terms.roles)]
    db.session.add(version)
    return version


def create_rule(
    village: GridNode,
    code: str,
    terms: RuleTerms,
    effective_from: date,
    effective_until: date | None = None,
    actor: User | None = None,
) -> Rule:
    """A new rule in a village's rule book (or a town's template), in force from effective_from. Raises DomainError."""
    code = code.strip().upper()
    if village.kind is NodeKind.GRID:
        raise DomainError("rule_book_is_per_village")
    if not code:
        raise DomainError("rule_code_required")
    if db.session.scalar(select(Rule.id).where(Rule.village_id == village.id, Rule.code == code)):
        raise DomainError("rule_code_taken", rule_code=code)
    if effective_until is not None and effective_until <= effective_from:
        raise DomainError("rule_window_empty")
    _check(terms)
    rule = Rule(village_id=village.id, code=code)
    db.session.add(rule)
    _version(rule, 1, terms, effective_from, effective_until, actor)
    db.session.flush()
    record(actor, "rule.created", "rule", rule.id, village.id,
           after=_audit_terms(terms, effective_from, effective_until) | {"code": code})
    return rule


def revise_rule(rule: Rule, terms: RuleTerms, effective_from: date, actor: User | None = None) -> RuleVersion:
    """New terms from effective_from on; the version before ends that day. Entries already posted keep their
    version. Raises DomainError("rule_revision_backdated") unless effective_from is after the latest version's start."""
    latest = rule.versions[-1]
    if effective_from <= latest.effective_from:
        raise DomainError("rule_revision_backdated", day=latest.effective_from.isoformat())
    _check(terms)
    until = latest.effective_until
    if until is not None and until <= effective_from:
        raise DomainError("rule_window_empty")
    before = _audit_terms(RuleTerms.of(latest), latest.effective_from, latest.effective_until)
    latest.effective_until = effective_from
    version = _version(rule, latest.version + 1, terms, effective_from, until, actor)
    db.session.flush()
    record(actor, "rule.revised", "rule", rule.id, rule.village_id, before=before | {"code": rule.code},
           after=_audit_terms(terms, effective_from, until) | {"code": rule.code, "version": version.version})
    return version


def _audit_terms(terms: RuleTerms, effective_from: date, effective_until: date | None) -> dict:
    values = asdict(terms)
    values.update(category=terms.category.value, unit=terms.unit.value, roles=sorted(r.value for r in terms.roles),
                  effective_from=effective_from.isoformat(),
                  effective_until=effective_until.isoformat() if effective_until else None)
    return values


@starts_villages(order=1)
def copy_template(village: GridNode, town: GridNode) -> None:
    """A new village's rule book starts as the rules of its town's template in force today, from today; audited as one
    event. The penalty rule of the hygiene settings is matched by code (hygiene's starter runs after this one)."""
    today = local_today()
    copied = []
    for version in rule_book(town.id, today):
        rule = Rule(village_id=village.id, code=version.rule.code)
        db.session.add(rule)
        _version(rule, 1, RuleTerms.of(version), today, version.effective_until, None)
        copied.append(rule.code)
    if copied:
        db.session.flush()
        record(None, "rules.from_template", "village", village.id, village.id,
               after={"town": town.name, "rules": len(copied)})


register_messages({
    "rule_bars_days_invalid": _l("限制兑换天数必须是 0 到 %(most)d 之间的整数（0 为不限制）"),
    "rule_bars_only_penalty": _l("只有扣分细则才能附带限制兑换"),
})
