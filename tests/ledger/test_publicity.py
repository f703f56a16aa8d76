"""积分公示表: its figures against a sum from scratch of the entries, who is on it, its state, and its cost."""
import itertools
from collections import defaultdict
from datetime import date, datetime

import pytest
from sqlalchemy import select

from points.errors import DomainError, NotFound
from points.extensions import db
from points.ledger.models import EntrySource, LedgerEntry, LedgerSettings
from points.ledger.publicity import OTHER, CategoryPoints, PublicityState, past_month, publicity_node, publicity_table
from points.ledger.services import post_entry, reverse_entry
from points.people.models import Closure, Household
from points.people.services import close_household
from points.rules.models import RuleCategory

from .. import factories

NOV = date(2026, 11, 1)
TODAY = date(2026, 12, 3)  # November's 公示 is on (7 days: objections until 12月7日)
_keys = itertools.count(1)


def post(household, amount, day, category=None, source=EntrySource.MANUAL):
    return post_entry(household.id, amount, source, f"pub-{next(_keys)}", occurred_on=day, category=category,
                      correction=True)


@pytest.fixture
def scene(village):
    """Four households over two grids with entries of October, November and December: awards and penalties in two
    categories, an award under no rule, a reversed penalty, a reversed award, a redemption."""
    g1, g2 = village.grids[0], village.grids[1]
    a = factories.gen_household(g1, head_name="王大明")
    b = factories.gen_household(g1, head_name="李小红")
    c = factories.gen_household(g2, head_name="欧阳建国")
    quiet = factories.gen_household(g2, head_name="赵四")
    for household in (a, b, c, quiet):
        household.created_at = datetime(2026, 1, 1)
    post(a, 30, date(2026, 10, 20), RuleCategory.HYGIENE)
    post(a, 20, date(2026, 11, 2), RuleCategory.HYGIENE)
    post(a, -10, date(2026, 11, 9), RuleCategory.HYGIENE)
    post(a, 5, date(2026, 11, 15), RuleCategory.VOLUNTEERING)
    post(a, 7, date(2026, 11, 16))  # a manual award under no rule
    post(a, -12, date(2026, 11, 20), source=EntrySource.REDEMPTION)
    post(a, 50, date(2026, 12, 1), RuleCategory.HYGIENE)  # December's: on November's balance it is not
    penalty = post(b, -8, date(2026, 11, 3), RuleCategory.VILLAGE_RULES)
    post(b, 15, date(2026, 11, 4), RuleCategory.MUTUAL_AID)
    reverse_entry(penalty.id, f"pub-{next(_keys)}")
    award = post(c, 10, date(2026, 11, 30), RuleCategory.VOLUNTEERING)
    reverse_entry(award.id, f"pub-{next(_keys)}")
    post(c, -3, date(2026, 11, 30), RuleCategory.VILLAGE_RULES)
    db.session.commit()
    return village, [a, b, c, quiet]


def from_scratch(household_id: int, first: date, last: date) -> tuple[dict, int, int]:
    """Per category (earned, lost), the net and the balance at last, summed over the household's entries."""
    entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.household_id == household_id)).all()
    originals = {e.id: e for e in entries}
    categories: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    net = 0
    for e in entries:
        source = originals[e.reverses_id].source if e.reverses_id else e.source
        if not first <= e.occurred_on <= last or source in (EntrySource.REDEMPTION, EntrySource.EXPIRY):
            continue
        penalty_side = e.amount > 0 if e.reverses_id else e.amount < 0
        lost = -e.amount if penalty_side else 0
        column = categories[e.category.value if e.category else OTHER]
        column[0] += e.amount + lost
        column[1] += lost
        net += e.amount
    balance = sum(e.amount for e in entries if e.occurred_on <= last)
    return ({k: CategoryPoints(*v) for k, v in categories.items() if v != [0, 0]}, net,
            balance)


def test_the_table_s_figures_are_the_entries_summed_from_scratch(scene):
    village, households = scene
    table = publicity_table(village.village, village.village, NOV, TODAY)
    assert [row.household_id for row in table.rows] == [h.id for h in households]
    for row in table.rows:
        categories, net, balance = from_scratch(row.household_id, NOV, date(2026, 11, 30))
        assert (row.categories, row.net, row.balance) == (categories, net, balance)
    a, b, c, quiet = table.rows
    assert a.categories == {"hygiene": CategoryPoints(20, 10), "volunteering": CategoryPoints(5, 0),
                            OTHER: CategoryPoints(7, 0)}
    assert (a.net, a.balance) == (22, 40)  # 30 + 20 − 10 + 5 + 7 − 12; December's 50 is not in it
    assert b.categories == {"mutual_aid": CategoryPoints(15, 0)}  # the reversed penalty gives its 8 back
    assert (b.net, b.balance) == (15, 15)
    assert c.categories == {"village_rules": CategoryPoints(0, 3)}  # the reversed award nets to nothing
    assert (quiet.categories, quiet.net, quiet.balance) == ({}, 0, 0)
    assert table.columns == ["hygiene", "volunteering", "village_rules", "mutual_aid", OTHER]

def test_names_are_masked_and_rows_go_grid_by_grid_then_by_number(scene):
    village, households = scene
    table = publicity_table(village.village, village.village, NOV, TODAY)
    assert [row.head for row in table.rows] == ["王*明", "李*红", "欧**国", "赵*"]
    assert [name for name, _rows in table.grids()] == ["第1网格", "第2网格"]
    assert [row.number for row in table.grids()[0][1]] == sorted(h.number for h in households[:2])


def test_a_grid_s_table_holds_its_own_households_only(scene):
    village, households = scene
    _v, node = publicity_node(village.village.id, village.grids[1].id)
    table = publicity_table(village.village, node, NOV, TODAY)
    assert [row.household_id for row in table.rows] == [households[2].id, households[3].id]
    with pytest.raises(NotFound):
        publicity_node(village.village.id, factories.gen_village().grids[0].id)
    with pytest.raises(NotFound):
        publicity_node(village.grids[0].id)


def test_a_household_closed_before_the_month_or_added_after_it_is_not_on_it(scene):
    village, (a, b, c, quiet) = scene
    close_household(quiet, Closure.MOVED_OUT, date(2026, 10, 31))
    late = factories.gen_household(village.grids[0])
    late.created_at = datetime(2026, 11, 30, 16, 0)  # 12月1日 0:00 in Shanghai
    imported = factories.gen_household(village.grids[0])  # added later, with points of November
    post(imported, 5, date(2026, 11, 10), RuleCategory.HYGIENE)
    closed_in_month = b
    close_household(closed_in_month, Closure.MOVED_OUT, date(2026, 11, 20))
    db.session.flush()
    ids = [row.household_id for row in publicity_table(village.village, village.village, NOV, TODAY).rows]
    assert sorted(ids) == [a.id, b.id, c.id, imported.id]
    assert late.id in [row.household_id for row in publicity_table(
        village.village, village.village, date(2026, 12, 1), date(2026, 12, 20)).rows]


@pytest.mark.parametrize(("today", "state", "text"), [
    (date(2026, 11, 30), PublicityState.RUNNING, "本月还没结束"),
    (date(2026, 12, 1), PublicityState.OPEN, "公示中（异议截止 12月7日）"),
    (date(2026, 12, 7), PublicityState.OPEN, "公示中（异议截止 12月7日）"),
    (date(2026, 12, 8), PublicityState.DONE, "已公示"),
])
def test_the_state_follows_the_village_s_objection_days(village, today, state, text):
    table = publicity_table(village.village, village.village, NOV, today)
    assert (table.state, table.state_text) == (state, text)


def test_a_village_with_three_objection_days_is_done_sooner(village):
    db.session.add(LedgerSettings(village_id=village.village.id, objection_days=3, spend_after_publicity=False,
                                  carry_percent=0, expiry_months=24))
    db.session.flush()
    assert publicity_table(village.village, village.village, NOV, date(2026, 12, 4)).state is PublicityState.DONE


def test_a_month_ahead_or_before_2000_is_refused_in_chinese():
    with pytest.raises(DomainError) as ahead:
        past_month("2027-01", date(2026, 12, 3))
    assert ahead.value.message == "2027年1月还没到，没有公示表"
    with pytest.raises(DomainError) as early:
        past_month("1999-12", date(2026, 12, 3))
    assert "月份格式" in early.value.message
    assert past_month("2026-12", date(2026, 12, 3)) == date(2026, 12, 1)


def test_the_table_costs_the_same_statements_for_three_households_or_thirty(village, statements):
    def cost() -> int:
        db.session.expire_all()
        statements.clear()
        publicity_table(village.village, village.village, NOV, TODAY)
        return len(statements)

    for i in range(3):
        post(factories.gen_household(village.grids[i % 3]), 5, date(2026, 11, 5), RuleCategory.HYGIENE)
    db.session.commit()
    few = cost()
    for i in range(27):
        household = factories.gen_household(village.grids[i % 3])
        post(household, 5, date(2026, 11, 5), RuleCategory.HYGIENE)
        post(household, -2, date(2026, 11, 6), RuleCategory.VILLAGE_RULES)
    db.session.commit()
    assert db.session.scalar(select(db.func.count()).select_from(Household)) == 30
    assert cost() == few <= 5
