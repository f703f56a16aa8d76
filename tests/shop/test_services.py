"""The 积分超市's services: a redemption debits the household and takes the stock, all or nothing, once per key; a
void gives both back once; stock moves only by recorded movements; reports count what was not voided."""
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from points.auth import policy
from points.auth.cards import issue_card
from points.auth.models import Role, User
from points.errors import DomainError, Forbidden, NotFound
from points.extensions import db
from points.ledger.queries import balance_of
from points.ledger.services import reverse_entry
from points.people.cards import card_text
from points.shop import reports, services
from points.shop.models import Product, Redemption, StockChange, StockMovement
from points.timeutil import local_today, utcnow

from .. import factories
from ..ledger.helpers import assert_ledger_consistent


@pytest.fixture
def counter(village):
    """A shop with soap (10 points, 20 in stock) and rice (25 points, 3 in stock), its clerk, and a household with
    100 points."""
    shop = factories.gen_shop(village.village)
    soap = factories.gen_product(shop, "肥皂", price=10, stock=20, unit="块")
    rice = factories.gen_product(shop, "大米", price=25, stock=3, unit="袋")
    clerk = factories.gen_user(Role.SHOP_CLERK, village.village)
    household = factories.gen_household(village.grids[0])
    factories.gen_points(household, 100)
    db.session.commit()  # a refusal's rollback keeps them
    return shop, soap, rice, clerk, household


def assert_stock_consistent(product: Product) -> None:
    """stock == the sum of the product's movements (the first stock is a restock)."""
    db.session.expire_all()
    moved = db.session.scalar(select(func.coalesce(func.sum(StockMovement.quantity), 0))
                              .where(StockMovement.product_id == product.id))
    assert db.session.get(Product, product.id).stock == moved


def test_a_redemption_debits_the_household_and_takes_the_stock(counter):
    shop, soap, rice, clerk, household = counter
    done = services.redeem(clerk, shop, [(soap.id, 2), (rice.id, 1), (soap.id, 1)], household_id=household.id)
    redemption = done.redemption
    assert not done.already and redemption.total == 3 * 10 + 25
    assert [(line.name, line.quantity, line.price) for line in redemption.lines] == [("肥皂", 3, 10), ("大米", 1, 25)]
    assert balance_of(household.id) == 45 and redemption.entry.amount == -55
    assert (soap.stock, rice.stock) == (17, 2)
    assert redemption.number == f"DH{redemption.id:08d}"
    for product in (soap, rice):
        assert_stock_consistent(product)
    assert_ledger_consistent(household.id)


@pytest.mark.parametrize("basket, code", [
    ([], "empty_basket"),
    ([("soap", 0)], "basket_quantity"),
    ([("soap", 100)], "basket_quantity"),
    ([("soap", 60), ("soap", 40)], "basket_quantity"),
    ([(999_999, 1)], "unknown_product"),
    ([("rice", 4)], "insufficient_stock"),
    ([("soap", 9), ("rice", 1)], "insufficient_balance"),
])
def test_a_refused_basket_changes_nothing(counter, basket, code):
    shop, soap, rice, clerk, household = counter
    products = {"soap": soap.id, "rice": rice.id}
    with pytest.raises(DomainError) as refusal:
        services.redeem(clerk, shop, [(products.get(p, p), q) for p, q in basket], household_id=household.id)
    db.session.rollback()
    assert refusal.value.code == code and refusal.value.message
    assert balance_of(household.id) == 100
    assert (db.session.get(Product, soap.id).stock, db.session.get(Product, rice.id).stock) == (20, 3)
    assert db.session.scalar(select(func.count()).select_from(Redemption)) == 0


def test_messages_name_the_product_and_what_is_short(counter):
    shop, soap, rice, clerk, household = counter
    with pytest.raises(DomainError) as short:
        services.redeem(clerk, shop, [(rice.id, 5)], household_id=household.id)
    assert short.value.message == "“大米”库存不足：还剩 3 件，需要 5 件"
    db.session.rollback()
    with pytest.raises(DomainError) as poor:
        services.redeem(clerk, shop, [(rice.id, 3), (soap.id, 3)], household_id=household.id)
    assert poor.value.message == "积分不足：现有 100 分，需要 105 分"


def test_an_inactive_product_a_revoked_card_and_another_village_are_refused(counter, village):
    shop, soap, rice, clerk, household = counter
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    services.update_product(admin, rice, services.ProductTerms("大米", "袋", 25, active=False))
    with pytest.raises(DomainError) as inactive:
        services.redeem(clerk, shop, [(rice.id, 1)], household_id=household.id)
    assert inactive.value.code == "product_inactive"

    old = card_text(issue_card(admin, household))
    new = card_text(issue_card(admin, household))
    with pytest.raises(DomainError) as revoked:
        services.redeem(clerk, shop, [(soap.id, 1)], card=old)
    assert revoked.value.code == "card_revoked"
    assert services.redeem(clerk, shop, [(soap.id, 1)], card=new).redemption.card_id is not None

    elsewhere = factories.gen_village()
    stranger = factories.gen_household(elsewhere.grids[0])
    their_card = card_text(issue_card(factories.gen_user(Role.VILLAGE_ADMIN, elsewhere.village), stranger))
    with pytest.raises(DomainError) as foreign:
        services.redeem(clerk, shop, [(soap.id, 1)], card=their_card)
    assert foreign.value.code == "card_other_village"
    with pytest.raises(DomainError) as forged:
        services.redeem(clerk, shop, [(soap.id, 1)], card=factories.forged(new))
    assert forged.value.code == "invalid_card"


def test_only_the_villages_clerks_and_admins_run_the_counter(counter, village):
    shop, soap, rice, clerk, household = counter
    other_clerk = factories.gen_user(Role.SHOP_CLERK, factories.gen_village().village)
    villager = factories.gen_villager(household)
    leader = factories.gen_user(Role.GRID_LEADER, village.grids[0])
    for outsider in (other_clerk, villager, leader):
        with pytest.raises(Forbidden):
            services.redeem(outsider, shop, [(soap.id, 1)], household_id=household.id)
    with pytest.raises(Forbidden):
        services.restock(villager, soap, 5)


def test_the_same_key_redeems_once_and_another_basket_under_it_is_refused(counter):
    shop, soap, rice, clerk, household = counter
    first = services.redeem(clerk, shop, [(soap.id, 1)], household_id=household.id, client_key="basket-1")
    again = services.redeem(clerk, shop, [(soap.id, 1)], household_id=household.id, client_key="basket-1")
    assert again.already and again.redemption.id == first.redemption.id
    assert balance_of(household.id) == 90 and soap.stock == 19
    with pytest.raises(DomainError) as reused:
        services.redeem(clerk, shop, [(soap.id, 2)], household_id=household.id, client_key="basket-1")
    assert reused.value.code == "idempotency_key_reused" and reused.value.status == 409
    other_clerk = factories.gen_user(Role.SHOP_CLERK, shop.village)  # keys are per account
    assert not services.redeem(other_clerk, shop, [(soap.id, 1)], household_id=household.id,
                               client_key="basket-1").already


def test_a_void_gives_back_the_points_and_the_stock_once(counter):
    shop, soap, rice, clerk, household = counter
    redemption = services.redeem(clerk, shop, [(soap.id, 2), (rice.id, 1)], household_id=household.id).redemption
    with pytest.raises(DomainError) as no_reason:
        services.void(clerk, redemption, "  ")
    assert no_reason.value.code == "reason_required"
    services.void(clerk, redemption, "拿错了")
    assert redemption.voided_at is not None and redemption.void_reason == "拿错了"
    assert balance_of(household.id) == 100 and (soap.stock, rice.stock) == (20, 3)
    services.void(clerk, redemption, "又点了一次")  # changes nothing
    db.session.expire_all()
    assert balance_of(household.id) == 100 and db.session.get(Product, soap.id).stock == 20
    assert db.session.scalar(select(func.count()).where(StockMovement.kind == StockChange.VOID)) == 2
    for product in (soap, rice):
        assert_stock_consistent(product)
    assert_ledger_consistent(household.id)


def test_the_clerk_voids_the_same_day_and_later_only_the_village_admin(counter, village):
    shop, soap, rice, clerk, household = counter
    redemption = services.redeem(clerk, shop, [(soap.id, 1)], household_id=household.id).redemption
    redemption.created_at = utcnow() - timedelta(days=1)
    db.session.flush()
    assert not services.may_void(clerk, redemption)
    with pytest.raises(Forbidden):
        services.void(clerk, redemption, "昨天拿错了")
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    services.void(admin, redemption, "昨天拿错了")
    assert balance_of(household.id) == 100


def test_who_may_void_is_decided_by_the_village_and_the_days_alone(counter, village):
    """policy.may_void_redemption: the same rule for the page, the API and void, from plain values."""
    clerk, today = counter[3], local_today()
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    elsewhere = factories.gen_village()
    yesterday = today - timedelta(days=1)
    assert policy.may_void_redemption(clerk, village.village.id, today, today)
    assert not policy.may_void_redemption(clerk, village.village.id, yesterday, today)
    assert not policy.may_void_redemption(clerk, elsewhere.village.id, today, today)
    assert policy.may_void_redemption(admin, village.village.id, yesterday, today)
    assert not policy.may_void_redemption(admin, elsewhere.village.id, yesterday, today)


def test_restock_and_correction_are_movements_with_who_and_why(counter):
    shop, soap, rice, clerk, household = counter
    services.restock(clerk, soap, 30, "镇里送来")
    assert services.correct_stock(clerk, soap, 48, "盘点少两块").quantity == -2
    assert services.correct_stock(clerk, soap, 48, "再点一次") is None
    with pytest.raises(DomainError) as no_reason:
        services.correct_stock(clerk, soap, 40, "")
    assert no_reason.value.code == "reason_required"
    for bad in (0, -1, 100_001, "5", True):
        with pytest.raises(DomainError):
            services.restock(clerk, soap, bad)
    movements = db.session.scalars(select(StockMovement).where(StockMovement.product_id == soap.id)
                                   .order_by(StockMovement.id)).all()
    assert [(m.kind, m.quantity, m.reason) for m in movements] == [
        (StockChange.RESTOCK, 20, "初始库存"), (StockChange.RESTOCK, 30, "镇里送来"),
        (StockChange.CORRECTION, -2, "盘点少两块")]
    assert all(m.actor_id is not None for m in movements[1:])
    assert_stock_consistent(soap)


def test_the_report_counts_what_was_not_voided(counter):
    shop, soap, rice, clerk, household = counter
    services.redeem(clerk, shop, [(soap.id, 2)], household_id=household.id)
    services.redeem(clerk, shop, [(rice.id, 2), (soap.id, 1)], household_id=household.id)
    mistake = services.redeem(clerk, shop, [(soap.id, 1)], household_id=household.id).redemption
    services.void(clerk, mistake, "拿错了")
    today = local_today()
    day = reports.report(clerk, shop, today, today)
    assert (day.redemptions, day.points, day.voided) == (2, 20 + 60, 1)
    assert [(s.name, s.quantity, s.points) for s in day.top] == [("肥皂", 3, 30), ("大米", 2, 50)]
    assert [p.name for p in day.low] == ["大米"]  # 1 left, the shop warns at 5
    yesterday = reports.report(clerk, shop, today - timedelta(1), today - timedelta(1))
    assert (yesterday.redemptions, yesterday.points, yesterday.top) == (0, 0, [])


# ---------------------------------------------------------------------------------------------------- concurrency

CALLS = 50


def _redeem(app, shop_id, clerk_id, product_id, household_id, key=None):
    with app.app_context():
        try:
            done = services.redeem(db.session.get(User, clerk_id), services.shop_of(shop_id), [(product_id, 1)],
                                   household_id=household_id, client_key=key)
            db.session.commit()
            return done.redemption.id
        except DomainError as refusal:
            db.session.rollback()
            return refusal.code


def test_fifty_redemptions_at_once_against_170_points_make_exactly_17(app, village):
    shop = factories.gen_shop(village.village)
    product = factories.gen_product(shop, "酱油", price=10, stock=100)
    clerk = factories.gen_user(Role.SHOP_CLERK, village.village)
    household = factories.gen_household(village.grids[0])
    factories.gen_points(household, 170)
    db.session.commit()
    ids = (shop.id, clerk.id, product.id, household.id)
    with ThreadPoolExecutor(CALLS) as pool:
        answers = list(pool.map(lambda _: _redeem(app, *ids), range(CALLS)))
    assert sum(isinstance(a, int) for a in answers) == 17
    assert {a for a in answers if not isinstance(a, int)} == {"insufficient_balance"}
    db.session.expire_all()
    assert balance_of(household.id) == 0 and db.session.get(Product, product.id).stock == 100 - 17
    assert_ledger_consistent(household.id)
    assert_stock_consistent(product)


def test_fifty_households_at_once_for_five_in_stock_make_exactly_5(app, village):
    shop = factories.gen_shop(village.village)
    product = factories.gen_product(shop, "电饭煲", price=10, stock=5)
    clerk = factories.gen_user(Role.SHOP_CLERK, village.village)
    households = [factories.gen_household(village.grids[i % 3]) for i in range(CALLS)]
    for household in households:
        factories.gen_points(household, 30)
    db.session.commit()
    shop_id, clerk_id, product_id = shop.id, clerk.id, product.id
    household_ids = [h.id for h in households]
    with ThreadPoolExecutor(CALLS) as pool:
        answers = list(pool.map(lambda h: _redeem(app, shop_id, clerk_id, product_id, h), household_ids))
    assert sum(isinstance(a, int) for a in answers) == 5
    assert {a for a in answers if not isinstance(a, int)} == {"insufficient_stock"}
    db.session.expire_all()
    assert db.session.get(Product, product.id).stock == 0
    assert_stock_consistent(product)
    for household in households:
        assert_ledger_consistent(household.id)
    assert sorted(balance_of(h.id) for h in households) == [20] * 5 + [30] * 45


def test_one_key_from_twenty_threads_redeems_once(app, village):
    shop = factories.gen_shop(village.village)
    product = factories.gen_product(shop, "牙膏", price=10, stock=50)
    clerk = factories.gen_user(Role.SHOP_CLERK, village.village)
    household = factories.gen_household(village.grids[0])
    factories.gen_points(household, 100)
    db.session.commit()
    ids = (shop.id, clerk.id, product.id, household.id)
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: _redeem(app, *ids, key="double-tap"), range(20)))
    assert len(set(answers)) == 1 and isinstance(answers[0], int)
    db.session.expire_all()
    assert balance_of(household.id) == 90 and db.session.get(Product, product.id).stock == 49


def test_a_keyed_restock_or_new_product_happens_once(counter):
    shop, soap, rice, clerk, household = counter
    first = services.restock(clerk, soap, 10, "镇里送来", client_key="delivery")
    assert services.restock(clerk, soap, 10, "镇里送来", client_key="delivery").id == first.id
    assert db.session.get(Product, soap.id).stock == 30
    with pytest.raises(DomainError) as reused:
        services.restock(clerk, soap, 11, "镇里送来", client_key="delivery")
    assert reused.value.code == "idempotency_key_reused"
    terms = services.ProductTerms("毛巾", "条", 10)
    made = services.create_product(clerk, shop, terms, stock=5, client_key="towel")
    assert services.create_product(clerk, shop, terms, stock=5, client_key="towel").id == made.id
    with pytest.raises(DomainError):
        services.create_product(clerk, shop, terms, stock=6, client_key="towel")
    assert db.session.scalar(select(func.count()).where(Product.name == "毛巾")) == 1
    assert_stock_consistent(made)


def test_a_stock_count_sees_a_redemption_made_meanwhile_and_keeps_its_key(counter):
    shop, soap, rice, clerk, household = counter
    services.redeem(clerk, shop, [(soap.id, 5)], household_id=household.id)
    stale = db.session.get(Product, soap.id)
    db.session.expire(stale, ["stock"])
    moved = services.correct_stock(clerk, stale, 12, "盘点", client_key="count-1")
    assert moved.quantity == -3 and stale.stock == 12
    services.redeem(clerk, shop, [(soap.id, 2)], household_id=household.id)
    assert services.correct_stock(clerk, stale, 12, "盘点", client_key="count-1").id == moved.id
    db.session.expire_all()
    assert db.session.get(Product, soap.id).stock == 10  # the retry did not undo the redemption after it
    assert_stock_consistent(soap)


def test_a_redemptions_debit_is_undone_only_by_its_void(counter, village):
    shop, soap, rice, clerk, household = counter
    redemption = services.redeem(clerk, shop, [(soap.id, 2)], household_id=household.id).redemption
    with pytest.raises(DomainError) as elsewhere:
        reverse_entry(redemption.entry_id, "冲正", factories.gen_user(Role.VILLAGE_ADMIN, village.village))
    assert elsewhere.value.code == "redemption_voided_at_shop"
    assert "作废" in elsewhere.value.message


def test_a_household_id_out_of_range_is_not_found(counter):
    shop, soap, rice, clerk, household = counter
    for bad in (0, -1, 2**63, "1"):
        with pytest.raises(NotFound):
            services.customer(clerk, shop, household_id=bad)


def test_a_household_number_is_matched_by_its_value_and_never_to_two_households(counter, village):
    shop, soap, rice, clerk, household = counter
    tagged = factories.gen_household(village.grids[0])
    tagged.number = "A-12"  # a 户号 that is not all digits is found only as written
    db.session.flush()
    assert household.number == "0001"
    for typed in ("1", "01", "0001", "000001"):
        assert services.customer(clerk, shop, number=typed)[0] is household, typed
    assert services.customer(clerk, shop, number="A-12")[0] is tagged
    for typed in ("12", "a-12", "1.0", "١"):  # ١: a digit to str.isdigit, not to a clerk's keyboard
        with pytest.raises(DomainError) as missing:
            services.customer(clerk, shop, number=typed)
        assert missing.value.code == "unknown_household_number", typed
    twin = factories.gen_household(village.grids[1])
    twin.number = "1"
    db.session.flush()
    assert services.customer(clerk, shop, number="1")[0] is twin  # written exactly as typed: that one
    with pytest.raises(DomainError) as ambiguous:
        services.customer(clerk, shop, number="01")
    assert ambiguous.value.code == "ambiguous_household_number"
    assert ambiguous.value.params == {"number": "01", "numbers": "0001、1"}
    elsewhere = factories.gen_household(factories.gen_village().grids[0])
    assert elsewhere.number == "0001"  # another village's 0001 is not this shop's
    assert services.customer(clerk, shop, number="0001")[0] is household
