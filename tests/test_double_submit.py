"""Pages whose forms move points or stock carry a one-time key: the same form sent twice (a double tap, the browser
resending) moves them once. The award, batch-award, counter, restock, reversal and void forms are tested with their
domains; these are the others."""
import re
from datetime import timedelta

from sqlalchemy import func, select

from points.auth.models import Role
from points.extensions import db
from points.hygiene import publishing
from points.hygiene.models import Publication
from points.ledger.models import LedgerEntry
from points.periods import week_of
from points.shop import services as shop
from points.shop.models import Product, StockChange, StockMovement
from points.timeutil import local_today

from . import factories
from .hygiene.helpers import balance, gen_scene, last_month, score_all, weeks_of_month

LAST_WEEK = week_of(local_today() - timedelta(days=7))


def _key(page: str, name: str = "key") -> str:
    return re.search(rf'name="{name}" (?:type="hidden" )?value="([0-9a-f-]{{32,36}})"', page).group(1)


def _count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_stock_count_sent_again_after_a_sale_does_not_undo_the_sale(client, login):
    village = factories.gen_village()
    store = factories.gen_shop(village.village)
    soap = factories.gen_product(store, "肥皂", price=5, stock=20)
    household = factories.gen_household(village.grids[0])
    factories.gen_points(household, 50)
    clerk = login(factories.gen_user(Role.SHOP_CLERK, village.village))
    page = client.get(f"/products/{soap.id}").get_data(as_text=True)
    data = {"count-key": _key(page, "count-key"), "count-counted": "15", "count-reason": "盘点少了五块"}

    assert client.post(f"/products/{soap.id}/count", data=data).status_code == 302
    shop.redeem(clerk, store, [(soap.id, 2)], household_id=household.id)
    db.session.commit()
    assert client.post(f"/products/{soap.id}/count", data=data).status_code == 302

    assert db.session.get(Product, soap.id, populate_existing=True).stock == 13
    assert _count(StockMovement, StockMovement.kind == StockChange.CORRECTION) == 1


def test_a_restock_form_sent_again_with_another_quantity_says_so_and_takes_a_fresh_key(client, login):
    village = factories.gen_village()
    soap = factories.gen_product(factories.gen_shop(village.village), "肥皂", price=5, stock=20)
    login(factories.gen_user(Role.SHOP_CLERK, village.village))
    page = client.get(f"/products/{soap.id}").get_data(as_text=True)
    data = {"restock-key": _key(page, "restock-key"), "restock-quantity": "10", "restock-reason": "采购"}
    assert client.post(f"/products/{soap.id}/restock", data=data).status_code == 302

    again = client.post(f"/products/{soap.id}/restock", data={**data, "restock-quantity": "12"})
    page = again.get_data(as_text=True)
    assert again.status_code == 409 and "这张表单已经提交过了" in page
    assert _key(page, "restock-key") != data["restock-key"]
    assert client.post(f"/products/{soap.id}/restock",
                       data={**data, "restock-quantity": "12", "restock-key": _key(page, "restock-key")}
                       ).status_code == 302
    assert db.session.get(Product, soap.id, populate_existing=True).stock == 42


def test_a_new_product_sent_twice_is_made_once_with_its_stock(client, login):
    village = factories.gen_village()
    store = factories.gen_shop(village.village)
    login(factories.gen_user(Role.SHOP_CLERK, village.village))
    page = client.get(f"/shops/{store.id}/products").get_data(as_text=True)
    data = {"key": _key(page), "name": "酱油", "unit": "瓶", "price": "15", "stock": "12", "active": "y"}

    for _ in range(2):
        assert client.post(f"/shops/{store.id}/products", data=data).status_code == 302

    assert db.session.scalars(select(Product.stock).where(Product.shop_id == store.id)).all() == [12]
    assert _count(StockMovement) == 1


def test_a_publish_form_sent_twice_publishes_once(client, login):
    scene = gen_scene()
    round_ = scene.round(LAST_WEEK)
    for grid in range(3):
        score_all(scene, round_, grid, [0, 1, 2, 3, 4])
    db.session.commit()
    login(scene.admin)
    page = client.get(f"/villages/{scene.village.village.id}/hygiene?week={LAST_WEEK}").get_data(as_text=True)
    key = _key(page)

    for _ in range(2):
        assert client.post(f"/hygiene/rounds/{round_.id}/publish",
                           data={"key": key, "confirmed": "1"}).status_code == 302

    assert _count(Publication) == 1
    assert [balance(h) for h in scene.households[0]] == [20, 20, 20, 0, 0]
    assert _count(LedgerEntry) == 9


def test_a_month_publish_form_sent_twice_publishes_once(client, login):
    scene = gen_scene()
    month = last_month()
    round_ = scene.round(weeks_of_month(month)[0])
    score_all(scene, round_, 0, [0, 1, 2, 3, 4])
    publishing.publish_round(scene.admin, round_)
    db.session.commit()
    login(scene.admin)
    page = client.get(f"/villages/{scene.village.village.id}/hygiene/months/{month}").get_data(as_text=True)
    key = _key(page)
    entries = _count(LedgerEntry)

    for _ in range(2):
        assert client.post(f"/villages/{scene.village.village.id}/hygiene/months/{month}/publish",
                           data={"key": key, "confirmed": "1"}).status_code == 302

    assert _count(Publication, Publication.period == "M" + month) == 1
    assert _count(LedgerEntry) == entries + 1 and balance(scene.households[0][0]) == 70
