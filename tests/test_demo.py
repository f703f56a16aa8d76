"""flask --app points demo: the demo village and its accounts; running it twice changes nothing."""
from datetime import date

from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth.models import Role, User
from points.claims.models import Appeal, Claim
from points.auth.services import authenticate
from points.extensions import db
from points.grids.models import GridNode
from points.hygiene import services as hygiene
from points.ledger.models import HouseholdBalance, LedgerEntry
from points.people.models import Household, HouseholdCareTag, HouseholdKind, Resident
from points.rules.models import RuleCategory, RuleUnit, RuleVersion
from points.rules.queries import rule_book

from . import factories

TABLES = (GridNode, Household, Resident, User, HouseholdCareTag, RuleVersion, LedgerEntry, Claim, Appeal, AuditEvent)


def counts():
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model)) for model in TABLES}


def test_demo_builds_yaoqian_and_is_idempotent(runner):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "demo12345" in first.output
    before = counts()
    assert before["Household"] == 450 and 1400 <= before["Resident"] <= 1700
    assert db.session.scalar(select(func.count()).where(Household.kind == HouseholdKind.RENTER)) > 20
    assert before["HouseholdCareTag"] > 5
    assert before["LedgerEntry"] > 200 and before["Claim"] == 2 and before["Appeal"] == 1  # a month of activity
    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0, again.output
    assert counts() == before


def test_demo_accounts_hold_their_roles(runner):
    runner.invoke(args=["demo"])
    expected = {
        "admin": Role.TOWN_ADMIN, "cunwei": Role.VILLAGE_ADMIN, "leader1": Role.GRID_LEADER,
        "leader2": Role.GRID_LEADER, "leader3": Role.GRID_LEADER, "worker1": Role.GRID_WORKER,
        "clerk": Role.SHOP_CLERK, "organizer": Role.EVENT_ORGANIZER,
    }
    for username, role in expected.items():
        assert [a.role for a in authenticate(username, "demo12345").assignments] == [role]
    villagers = [authenticate(f"villager{i}", "demo12345") for i in range(1, 6)]
    assert len({v.resident.household_id for v in villagers}) == 5


def test_demo_refuses_a_database_with_real_data(runner):
    factories.gen_village()
    db.session.commit()
    result = runner.invoke(args=["demo"])
    assert result.exit_code != 0 and "演示村只能装进空数据库" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_demo_has_the_seed_rule_book(runner):
    runner.invoke(args=["demo"])
    village = db.session.scalar(select(GridNode).where(GridNode.code == "yaoqian"))
    book = {v.rule.code: v for v in rule_book(village.id, date(2026, 11, 23))}
    settings = hygiene.settings_of(village.id)
    assert (settings.model_count, settings.model_points, settings.flag_points) == (3, 20, 50)
    assert book["VR-GAMBLE"].points == -20 and book["HYG-PILE"].points == -10
    assert book["VOL-HOUR"].unit is RuleUnit.HOUR
    assert {v.category for v in book.values()} == set(RuleCategory)
    assert any(not v.for_registered for v in book.values()), "the renters' rule book"


def test_the_demo_months_points_add_up(runner):
    runner.invoke(args=["demo"])
    sums = dict(db.session.execute(select(LedgerEntry.household_id, func.sum(LedgerEntry.amount))
                                   .group_by(LedgerEntry.household_id)).all())
    balances = dict(db.session.execute(select(HouseholdBalance.household_id, HouseholdBalance.balance)).all())
    assert sums and {k: v for k, v in balances.items() if v or k in sums} == sums
