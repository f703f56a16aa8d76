"""Builders for ledger tests: a household with a rule book, and the invariants checked from scratch."""
from collections import defaultdict
from datetime import date

from sqlalchemy import select

from points.extensions import db
from points.ledger.models import EntrySource, HouseholdBalance, LedgerEntry, PeriodTotal
from points.periods import period_keys
from points.rules.models import Rule, RuleCategory, RuleUnit
from points.rules.services import RuleTerms, create_rule

AWARD = RuleTerms("卫生保洁示范户", RuleCategory.HYGIENE, 20)
PENALTY = RuleTerms("乱堆乱放", RuleCategory.HYGIENE, -10)
VOLUNTEER = RuleTerms("志愿服务", RuleCategory.VOLUNTEERING, 5, RuleUnit.HOUR)


def rule_versions(village):
    """(award, penalty, volunteer) versions in the village's rule book, made on first use."""
    versions = []
    for code, terms in (("AWARD", AWARD), ("PENALTY", PENALTY), ("VOLUNTEER", VOLUNTEER)):
        rule = db.session.scalar(select(Rule).where(Rule.village_id == village.village.id, Rule.code == code))
        versions.append((rule or create_rule(village.village, code, terms, date(2026, 1, 1))).versions[0])
    return tuple(versions)


def assert_ledger_consistent(household_id: int) -> None:
    """balance == sum(entries), and every period total equals the sum over its entries, spending at the shop (and
    its voids) aside: points, entries, points lost to penalties (given back when one is reversed) and hours."""
    entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.household_id == household_id)).all()
    balance = db.session.scalar(select(HouseholdBalance.balance).where(HouseholdBalance.household_id == household_id))
    assert (balance or 0) == sum(e.amount for e in entries)
    stored = {
        (t.period, t.resident_id, t.category): [t.total, t.entries, t.deducted, t.hours]
        for t in db.session.scalars(select(PeriodTotal).where(PeriodTotal.household_id == household_id))
    }
    assert stored == expected_totals(entries)


def expected_totals(entries: list[LedgerEntry]) -> dict[tuple, list[int]]:
    """From scratch: (period, resident_id or 0, category or '') → [points, entries, points lost to penalties,
    hours] of one household's entries."""
    expected: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    by_id = {e.id: e for e in entries}
    spent = {e.id for e in entries if e.source is EntrySource.REDEMPTION}
    for entry in entries:
        if entry.id in spent or entry.reverses_id in spent:
            continue
        if entry.reverses_id is None:
            lost = -entry.amount if entry.amount < 0 else 0
        else:
            lost = -entry.amount if by_id[entry.reverses_id].amount < 0 else 0
        category = entry.category.value if entry.category else ""
        for period in period_keys(entry.occurred_on):
            for key in {(0, ""), (0, category), (entry.resident_id or 0, ""), (entry.resident_id or 0, category)}:
                total = expected[(period, *key)]
                total[0] += entry.amount
                total[1] += 1
                total[2] += lost
                total[3] += entry.hours
    return dict(expected)
