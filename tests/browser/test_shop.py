"""积分超市 at the counter, on a phone-sized screen: the clerk's USB scanner types a household card into the field,
two products go into the basket, the receipt shows the debit; voiding it gives the points and the stock back."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from points.extensions import db
from points.grids.models import GridNode
from points.ledger.queries import balance_of
from points.people.cards import card_of_household, card_text
from points.people.models import Household
from points.shop.models import Product, Shop

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
