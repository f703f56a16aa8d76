"""Read-only queries on the rule book."""
from datetime import date

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

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
