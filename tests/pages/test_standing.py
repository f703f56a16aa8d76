"""What the counter and 我的积分 say beyond the balance: 可用 and 待公示积分 where the village waits for 公示, a bar in
force (its reason and end date, before the basket), the 清零 coming within a month; and what reading it costs."""
from datetime import date, datetime

import pytest
import time_machine

from points.claims.bar_appeals import set_bar
from points.extensions import db
from points.ledger.models import EntrySource, ExpiryMode, LedgerSettings
from points.ledger.services import post_entry
from points.ledger.standing import standing_of
from points.people.models import Household
from points.timeutil import LOCAL

from .test_shop import Scene


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(datetime(2026, 12, 20, 10, 0, tzinfo=LOCAL)):
        yield


@pytest.fixture
def scene():
    return Scene()


def counter(client, scene) -> str:
    return client.get(f"/shops/{scene.shop.id}/counter?household={scene.household.id}").get_data(as_text=True)


def wait_for_publicity(scene, **terms) -> None:
    """The village's points count only after 公示 (7 days): on 12月20日, December's points are pending."""
    db.session.add(LedgerSettings(village_id=scene.village.village.id, objection_days=7, spend_after_publicity=True,
                                  expiry=ExpiryMode.NONE, carry_percent=0, expiry_months=24, **terms))
    db.session.commit()


def test_a_village_with_default_settings_shows_the_balance_alone(client, login, scene):
    login(scene.clerk)
    page = counter(client, scene)
    assert '可用积分 <b id="balance">100</b>' in page and "待公示" not in page and "限制兑换" not in page


def test_the_counter_shows_pending_points_and_offers_only_the_available(client, login, scene):
    """The scene's 100 points were earned today: with November's 40, 140 in all, of which December's 100 wait."""
    post_entry(scene.household.id, 40, EntrySource.MANUAL, "nov-award", occurred_on=date(2026, 11, 5))
    wait_for_publicity(scene)
    login(scene.clerk)
    page = counter(client, scene)
    assert '可用积分 <b id="balance">40</b>' in page and "待公示积分 <b>100</b>" in page
    assert 'data-balance="40"' in page


def test_the_counter_names_the_bar_before_the_basket(client, login, scene):
    set_bar(scene.admin, scene.household, date(2026, 12, 20), date(2027, 1, 31), "参与赌博")
    db.session.commit()
    login(scene.clerk)
    page = counter(client, scene)
    assert "这户被限制兑换到 2027年1月31日" in page and "原因：参与赌博" in page
    assert page.index("这户被限制兑换到") < page.index('id="basket-form"')
    refused = client.post(f"/shops/{scene.shop.id}/redeem", data=scene.basket(
        soap=1, household_id=str(scene.household.id), confirmed="1"))
    assert refused.status_code == 409 and "这户被限制兑换到 2027年1月31日：参与赌博" in refused.get_data(as_text=True)


def test_my_points_shows_available_pending_and_the_clearing_to_come(client, login, scene):
    post_entry(scene.household.id, 120, EntrySource.MANUAL, "nov-award", occurred_on=date(2026, 11, 5))
    wait_for_publicity(scene, reset_on=date(2027, 1, 10))
    settings = db.session.get(LedgerSettings, scene.village.village.id)
    settings.expiry = ExpiryMode.RESET
    db.session.commit()
    login(scene.villager)
    page = client.get("/my/points").get_data(as_text=True)
    assert '<b class="balance">220</b>' in page  # November's 120 and today's 100, pending
    assert "<b>120</b>可用积分" in page and "<b>100</b>待公示积分" in page
    # By 10 January December's 公示 is over (8 January): today's 100 are no longer pending then, and go too.
    assert "将于 2027年1月10日 清零 220 分" in page


def test_my_points_says_nothing_more_where_points_count_at_once(client, login, scene):
    login(scene.villager)
    page = client.get("/my/points").get_data(as_text=True)
    assert "待公示" not in page and "清零" not in page and "限制兑换" not in page


def test_the_standing_costs_the_balance_s_one_statement_in_a_default_village(scene, statements):
    """The balance's query reads the bar's id and the village's settings beside it: nothing more is asked where
    there is nothing to show, with or without a settings row."""
    household_id = scene.household.id
    db.session.expunge_all()
    household = db.session.get(Household, household_id)
    statements.clear()
    standing = standing_of(household, expiry=True)
    assert (standing.balance, standing.pending, standing.bar, standing.expiring) == (100, 0, None, None)
    assert statements.summary() == ["SELECT households"]
    db.session.add(LedgerSettings(village_id=household.village_id, objection_days=7, spend_after_publicity=False,
                                  expiry=ExpiryMode.NONE, carry_percent=0, expiry_months=24))
    db.session.commit()
    db.session.refresh(household)
    statements.clear()
    standing_of(household, expiry=True)
    assert len(statements) == 1


def test_a_settings_row_is_found_again_without_a_query(scene, statements):
    """lifecycle.expiring_for reads the settings by their key: the row read beside the balance is in the session."""
    db.session.add(LedgerSettings(village_id=scene.village.village.id, objection_days=7, spend_after_publicity=False,
                                  expiry=ExpiryMode.RESET, reset_on=date(2027, 1, 10), carry_percent=0,
                                  expiry_months=24))
    db.session.commit()
    household_id = scene.household.id
    db.session.expunge_all()
    household = db.session.get(Household, household_id)
    statements.clear()
    standing = standing_of(household, expiry=True)
    assert standing.expiring is not None and standing.expiring[1] == 100
    assert "SELECT ledger_settings" not in statements.summary(), statements.summary()
