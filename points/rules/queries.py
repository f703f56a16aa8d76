"""Read-only queries on the rule book."""
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from ..extensions import db
from .models import Rule, RuleVersion


def _in_force(day: date):
    """The SQL twin of RuleVersion.in_force_on."""
    return and_(
        RuleVersion.effective_from <= day,
        or_(RuleVersion.effective_until.is_(None), RuleVersion.effective_until > day),
    )


def version_in_force(rule_id: int, day: date) -> RuleVersion | None:
    """The version of a rule that holds on day, if any."""
    return db.session.scalar(select(RuleVersion).where(RuleVersion.rule_id == rule_id, _in_force(day)))


def version_to_apply(rule_id: int, day: date) -> RuleVersion | None:
    """The version of a rule that holds on day, if any, with its rule and its roles loaded by the same statement:
    what applying it asks of them (the village, who may apply it)."""
    return db.session.scalars(
        select(RuleVersion).join(RuleVersion.rule).where(RuleVersion.rule_id == rule_id, _in_force(day))
        .options(contains_eager(RuleVersion.rule), joinedload(RuleVersion.roles))).unique().first()


def rule_book(village_id: int, day: date) -> list[RuleVersion]:
    """A village's rules as they stand on day, by category and code."""
    return list(
        db.session.scalars(
            select(RuleVersion)
            .join(Rule)
            .where(Rule.village_id == village_id, _in_force(day))
            .options(selectinload(RuleVersion.roles), selectinload(RuleVersion.rule))
            .order_by(RuleVersion.category, Rule.code)
        )
    )


def upcoming_versions(village_id: int, day: date) -> list[RuleVersion]:
    """Versions that start after day (new rules, and revisions already decided), so that they can be read and
    corrected before they hold."""
    return list(
        db.session.scalars(
            select(RuleVersion)
            .join(Rule)
            .where(Rule.village_id == village_id, RuleVersion.effective_from > day)
            .options(selectinload(RuleVersion.roles), selectinload(RuleVersion.rule))
            .order_by(RuleVersion.effective_from, Rule.code)
        )
    )


# What a village may change of a template's rule, as the comparison names it.
COMPARED = ("name", "category", "points", "unit", "for_registered", "for_renters", "cap_day", "cap_week", "cap_month",
            "cap_year", "evidence_required", "self_claimable", "bars_days", "role_set")


@dataclass
class TemplateComparison:
    """A village's rule book today against its town's template today, rule by rule (matched by code)."""

    same: int = 0
    # (village's, template's, fields)
    changed: list[tuple[RuleVersion, RuleVersion, list[str]]] = field(default_factory=list)
    added: list[RuleVersion] = field(default_factory=list)  # the village's own rules
    missing: list[RuleVersion] = field(default_factory=list)  # template rules the village does not have


def compare_with_template(village_id: int, town_id: int, day: date) -> TemplateComparison | None:
    """How the village's book differs from the town's template; None when the town keeps no template."""
    template = {v.rule.code: v for v in rule_book(town_id, day)}
    if not template:
        return None
    comparison = TemplateComparison()
    mine = rule_book(village_id, day)
    for version in mine:
        model = template.get(version.rule.code)
        if model is None:
            comparison.added.append(version)
            continue
        fields = [name for name in COMPARED if getattr(version, name) != getattr(model, name)]
        if fields:
            comparison.changed.append((version, model, fields))
        else:
            comparison.same += 1
    codes = {v.rule.code for v in mine}
    comparison.missing = [v for code, v in template.items() if code not in codes]
    return comparison
