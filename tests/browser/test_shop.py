"""积分超市 at the counter, on a phone-sized screen: the clerk's USB scanner types a household card into the field,
two products go into the basket, the receipt shows the debit; voiding it gives the points and the stock back."""
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from points.extensions import db
from points.grids.models import GridNode
from points.ledger.queries import balance_of
from points.people.cards import card_of_household, card_text
from points.people.models import Household
from points.shop.models import Product, Shop

from .conftest import PHONE

pytestmark = pytest.mark.browser


def _stock(live_server, *product_ids) -> list[int]:
    with live_server.app.app_context():
        return [db.session.get(Product, product_id).stock for product_id in product_ids]


def test_the_clerk_redeems_a_basket_by_card_and_voids_it(phone, live_server):
    with live_server.app.app_context():
        shop = db.session.scalars(select(Shop)).one()
        towel, soap = (db.session.scalar(select(Product).where(Product.shop_id == shop.id, Product.name == name))
                       for name in ("毛巾", "肥皂"))
        first_grid = db.session.scalar(select(GridNode.id).where(GridNode.code == "yaoqian-1"))
        household = next(h for h in db.session.scalars(select(Household).where(Household.grid_id == first_grid)
                                                       .order_by(Household.number.desc()))
                         if balance_of(h.id) >= 50)
        household_id, number = household.id, household.number
        card = card_text(card_of_household(household))
        towel_id, soap_id, price = towel.id, soap.id, 2 * towel.price + 3 * soap.price
        balance = balance_of(household_id)
    stock = _stock(live_server, towel_id, soap_id)

    phone.log_in("clerk")
    phone.page.locator("header nav").get_by_role("link", name="超市").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("兑换台")
    phone.check("counter")
    field = phone.page.get_by_label("扫户卡或输入户号")
    expect(field).to_be_focused()
    with phone.page.expect_navigation():
        field.press_sequentially(card, delay=5)  # a USB scanner is a fast keyboard ending with Enter
        field.press("Enter")
    expect(phone.page.locator("main")).to_contain_text(number)
    expect(phone.page.locator("#balance")).to_have_text(str(balance))
    phone.page.get_by_label("毛巾", exact=True).fill("2")
    phone.page.get_by_label("肥皂", exact=True).fill("3")
    phone.check("basket")
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="确认兑换").click()
    expect(phone.page).to_have_url(re.compile(r"/redemptions/\d+$"))
    expect(phone.page.locator("#total")).to_have_text(str(price))
    expect(phone.page.locator("#balance-after")).to_have_text(str(balance - price))
    phone.check("receipt")
    with live_server.app.app_context():
        assert balance_of(household_id) == balance - price
    assert _stock(live_server, towel_id, soap_id) == [stock[0] - 2, stock[1] - 3]

    phone.page.get_by_label("作废理由").fill("村民改主意了")
    phone.page.get_by_role("button", name="作废").click()
    expect(phone.page.locator(".confirm-what")).to_contain_text(f"退回 {price} 分，商品放回库存")
    expect(phone.page.locator(".confirm-details")).to_contain_text("毛巾 × 2")
    phone.check("void-confirm")
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name=f"确认作废，退回 {price} 分").click()
    expect(phone.page.locator(".void-mark")).to_contain_text("村民改主意了")
    phone.check("voided")
    with live_server.app.app_context():
        assert balance_of(household_id) == balance
    assert _stock(live_server, towel_id, soap_id) == stock

    phone.open(f"/shops/{shop.id}/counter?household={household_id}")  # the counter shows the balance restored
    expect(phone.page.locator("#balance")).to_have_text(str(balance))
    phone.check("counter-after-void")


SHOTS = Path("/tmp/shots/23-D")


def test_the_clerk_finds_0001_by_typing_1_and_sees_the_total_as_the_steppers_add(phone, live_server):
    """At 360 px, nine products: − / + change the quantities, the bar at the bottom of the screen shows the total and
    the balance after at every tap, and 确认兑换 in it is on screen wherever the list is scrolled to."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    with live_server.app.app_context():
        shop = db.session.scalars(select(Shop)).one()
        home = db.session.scalar(select(Household).where(Household.village_id == shop.village_id,
                                                         Household.number == "0001"))
        prices = {p.name: p.price for p in db.session.scalars(select(Product).where(Product.shop_id == shop.id))}
        shop_id, household_id, balance = shop.id, home.id, balance_of(home.id)
    assert len(prices) >= 9 and balance >= 2 * prices["毛巾"] + prices["肥皂"]

    phone.log_in("clerk")
    phone.open("/shop")
    field = phone.page.get_by_label("扫户卡或输入户号")
    field.fill("1")  # 户号 0001, typed as people say it
    with phone.page.expect_navigation():
        field.press("Enter")
    expect(phone.page).to_have_url(re.compile(rf"/shops/{shop_id}/counter\?household={household_id}$"))
    expect(phone.page.locator(".customer")).to_contain_text("户号 0001")
    total, after = phone.page.locator("#basket-total"), phone.page.locator("#basket-after")
    confirm = phone.page.get_by_role("button", name="确认兑换")
    expect(total).to_have_text("0")
    expect(after).to_have_text(str(balance))
    expect(confirm).to_be_in_viewport()  # nine products run below the fold; the bar does not
    phone.check("basket-empty")
    phone.page.screenshot(path=SHOTS / "counter-empty.png")

    more_towel = phone.page.get_by_role("button", name="多一条毛巾")
    more_towel.click()
    expect(total).to_have_text(str(prices["毛巾"]))
    more_towel.click()
    expect(phone.page.get_by_label("毛巾", exact=True)).to_have_value("2")
    phone.page.get_by_role("button", name="多一块肥皂").click()
    phone.page.get_by_role("button", name="多一块肥皂").click()
    phone.page.get_by_role("button", name="少一块肥皂").click()
    points = 2 * prices["毛巾"] + prices["肥皂"]
    expect(total).to_have_text(str(points))
    expect(after).to_have_text(str(balance - points))
    expect(phone.page.locator("#basket-short")).to_be_hidden()

    # The last product, scrolled to: more than the balance is marked before the clerk confirms, and taken back.
    cooker_more = phone.page.get_by_role("button", name="多一台电饭煲")
    cooker_more.scroll_into_view_if_needed()
    clicks = 0
    while int(total.inner_text()) <= balance and cooker_more.is_enabled():
        cooker_more.click()
        clicks += 1
    if int(total.inner_text()) > balance:
        expect(phone.page.locator("#basket-short")).to_have_text("积分不够")
        expect(after).to_have_text(str(balance - points - clicks * prices["电饭煲"]))
    expect(confirm).to_be_in_viewport()
    phone.page.screenshot(path=SHOTS / "counter-cooker.png")
    for _ in range(clicks):
        phone.page.get_by_role("button", name="少一台电饭煲").click()
    expect(total).to_have_text(str(points))
    expect(phone.page.get_by_role("button", name="少一台电饭煲")).to_be_disabled()
    phone.page.get_by_label("毛巾", exact=True).scroll_into_view_if_needed()
    expect(confirm).to_be_in_viewport()
    phone.page.screenshot(path=SHOTS / "counter-basket.png")
    phone.check("basket-filled")

    with phone.page.expect_navigation():
        confirm.click()  # the total was on screen: no second question
    expect(phone.page).to_have_url(re.compile(r"/redemptions/\d+$"))
    expect(phone.page.locator("#total")).to_have_text(str(points))
    expect(phone.page.locator("#balance-after")).to_have_text(str(balance - points))
    phone.page.screenshot(path=SHOTS / "receipt.png", full_page=True)
    with live_server.app.app_context():
        assert balance_of(household_id) == balance - points


def test_without_javascript_the_clerk_types_quantities_and_confirms_the_total(browser, live_server):
    """The same counter with scripts off: the quantities are typed, 确认兑换 is still at the bottom of the screen,
    and the server asks about the total and the balance after before anything is redeemed."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    with live_server.app.app_context():
        shop = db.session.scalars(select(Shop)).one()
        home = db.session.scalar(select(Household).where(Household.village_id == shop.village_id,
                                                         Household.number == "0003"))
        towel = db.session.scalar(select(Product).where(Product.shop_id == shop.id, Product.name == "毛巾"))
        household_id, balance, price = home.id, balance_of(home.id), towel.price
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False, **PHONE)
    page = context.new_page()
    try:
        page.goto("/login")
        page.get_by_label("用户名或手机号", exact=True).fill("clerk")
        page.get_by_label("密码", exact=True).fill("demo12345")
        page.get_by_role("button", name="登录", exact=True).click()
        page.goto("/shop")
        page.get_by_label("扫户卡或输入户号").fill("3")
        page.get_by_role("button", name="查找").click()
        expect(page).to_have_url(re.compile(rf"\?household={household_id}$"))
        expect(page.locator("button.step").first).to_be_hidden()
        expect(page.locator("#basket-sum")).to_be_hidden()
        confirm = page.get_by_role("button", name="确认兑换")
        expect(confirm).to_be_in_viewport()
        page.get_by_label("毛巾", exact=True).fill("3")
        page.screenshot(path=SHOTS / "counter-nojs.png")
        confirm.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("确认兑换")
        expect(page.locator(".confirm-what")).to_have_text(f"户号 0003 兑换 3 件，共 {3 * price} 分")
        expect(page.locator(".confirm-details")).to_contain_text(f"余额 {balance} 分 → 兑换后 {balance - 3 * price} 分")
        page.screenshot(path=SHOTS / "counter-nojs-confirm.png", full_page=True)
        with live_server.app.app_context():
            assert balance_of(household_id) == balance  # asking wrote nothing
        page.get_by_role("button", name=f"确认兑换，扣 {3 * price} 分").click()
        expect(page).to_have_url(re.compile(r"/redemptions/\d+$"))
        expect(page.locator("#balance-after")).to_have_text(str(balance - 3 * price))
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]
    finally:
        context.close()
    with live_server.app.app_context():
        assert balance_of(household_id) == balance - 3 * price
