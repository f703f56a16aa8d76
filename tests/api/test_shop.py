"""/api/v1 积分超市: products per role, redemptions (all or nothing, once per Idempotency-Key), voids, bad bodies."""
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth.cards import issue_card
from points.auth.models import Role
from points.extensions import db
from points.ledger.models import LedgerEntry
from points.ledger.queries import balance_of
from points.people.cards import card_text
from points.shop.models import Product, Redemption, StockMovement
from points.timeutil import local_today, utcnow

from .. import factories
from ..ledger.helpers import assert_ledger_consistent
from .conftest import error_of

THREADS = 20


@pytest.fixture
def shop(village):
    """A shop with soap (10 points, 20 in stock), rice (25 points, 3 in stock) and an inactive kettle; its clerk, the
    village admin, a household with 100 points and its villager, a grid worker, and another village's clerk and
    household."""
    counter = factories.gen_shop(village.village)
    soap = factories.gen_product(counter, "肥皂", price=10, stock=20, unit="块")
    rice = factories.gen_product(counter, "大米", price=25, stock=3, unit="袋")
    kettle = factories.gen_product(counter, "水壶", price=50, stock=2, unit="个")
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    kettle.active = False
    clerk = factories.gen_user(Role.SHOP_CLERK, village.village)
    household = factories.gen_household(village.grids[0])
    factories.gen_points(household, 100)
    neighbour = factories.gen_household(village.grids[1], "李四")
    factories.gen_points(neighbour, 100)
    villager = factories.gen_villager(household)
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    elsewhere = factories.gen_village()
    stranger_clerk = factories.gen_user(Role.SHOP_CLERK, elsewhere.village)
    stranger = factories.gen_household(elsewhere.grids[0], "赵六")
    db.session.commit()
    return SimpleNamespace(shop=counter, soap=soap, rice=rice, kettle=kettle, admin=admin, clerk=clerk,
                           household=household, neighbour=neighbour, villager=villager, worker=worker,
                           elsewhere=elsewhere, stranger_clerk=stranger_clerk, stranger=stranger)


def snapshot() -> tuple:
    """What a refusal must leave unchanged: redemptions, entries, stock movements, the shelves and audit events."""
    db.session.expire_all()
    return (
        db.session.scalar(select(func.count()).select_from(Redemption)),
        db.session.scalar(select(func.count()).select_from(LedgerEntry)),
        db.session.scalar(select(func.count()).select_from(StockMovement)),
        tuple(db.session.scalars(select(Product.stock).order_by(Product.id))),
        db.session.scalar(select(func.count()).select_from(AuditEvent)),
    )


def stock(product) -> int:
    db.session.expire_all()
    return db.session.get(Product, product.id).stock


def redeem(api, s, user=None, key=None, lines=None, **body):
    body.setdefault("shop_id", s.shop.id)
    if "card" not in body:
        body.setdefault("household_id", s.household.id)
    body["lines"] = lines if lines is not None else [{"product_id": s.soap.id, "quantity": 2}]
    return api.post("/api/v1/redemptions", user or s.clerk, json=body,
                    headers={"Idempotency-Key": key} if key else None)


# Products


def test_those_who_run_the_shop_see_every_product_with_its_stock(api, shop):
    for user in (shop.clerk, shop.admin):
        page = api.get(f"/api/v1/shops/{shop.shop.id}/products", user).get_json()
        assert page["total"] == 3
        assert {p["name"]: (p["stock"], p["active"]) for p in page["items"]} == {
            "肥皂": (20, True), "大米": (3, True), "水壶": (2, False)}
        assert page["items"][-1]["name"] == "水壶"  # what is off offer comes last
    inactive = api.get(f"/api/v1/shops/{shop.shop.id}/products?active=false", shop.clerk).get_json()
    assert [p["name"] for p in inactive["items"]] == ["水壶"]


def test_a_villager_sees_what_is_on_offer_without_the_stock(api, shop):
    page = api.get(f"/api/v1/shops/{shop.shop.id}/products", shop.villager).get_json()
    assert page["total"] == 2
    assert {p["name"] for p in page["items"]} == {"肥皂", "大米"}
    assert all(p["stock"] is None and p["available"] for p in page["items"])
    assert api.get(f"/api/v1/products/{shop.soap.id}", shop.villager).get_json()["stock"] is None
    error_of(api.get(f"/api/v1/products/{shop.kettle.id}", shop.villager), 404, "not_found")


def test_others_may_not_see_the_shelves(api, shop):
    for outsider in (shop.worker, shop.stranger_clerk):
        error_of(api.get(f"/api/v1/shops/{shop.shop.id}/products", outsider), 403, "forbidden")
        error_of(api.get(f"/api/v1/products/{shop.soap.id}", outsider), 403, "forbidden")
    error_of(api.get(f"/api/v1/shops/{shop.shop.id}/products"), 401, "login_required")
    error_of(api.get("/api/v1/shops/999999/products", shop.clerk), 404, "not_found")


def test_products_come_in_pages(api, shop):
    page = api.get(f"/api/v1/shops/{shop.shop.id}/products?per_page=2&page=2", shop.clerk).get_json()
    assert page["total"] == 3 and len(page["items"]) == 1
    error_of(api.get(f"/api/v1/shops/{shop.shop.id}/products?per_page=0", shop.clerk), 422, "validation_error")


def test_the_shops_a_caller_sees(api, shop):
    assert [s["id"] for s in api.get("/api/v1/shops", shop.clerk).get_json()["items"]] == [shop.shop.id]
    mine = api.get("/api/v1/shops", shop.villager).get_json()
    assert mine["total"] == 1 and mine["items"][0]["runs"] is False
    assert api.get("/api/v1/shops", shop.stranger_clerk).get_json() == {"items": [], "total": 0}


def test_the_clerk_creates_edits_restocks_and_counts_a_product(api, shop):
    created = api.post(f"/api/v1/shops/{shop.shop.id}/products", shop.clerk,
                       json={"name": " 酱油 ", "unit": "瓶", "price": 15, "stock": 12})
    assert created.status_code == 201
    product = created.get_json()
    assert (product["name"], product["unit"], product["price"], product["stock"], product["active"]) == (
        "酱油", "瓶", 15, 12, True)

    path = f"/api/v1/products/{product['id']}"
    edited = api.request("PATCH", path, shop.clerk, json={"price": 18, "active": False})
    assert edited.status_code == 200
    assert (edited.get_json()["price"], edited.get_json()["active"], edited.get_json()["name"]) == (18, False, "酱油")

    restocked = api.post(f"{path}/restock", shop.clerk, json={"quantity": 8, "reason": "镇里送来"})
    assert restocked.status_code == 200 and restocked.get_json()["stock"] == 20
    counted = api.post(f"{path}/stock-correction", shop.clerk, json={"counted": 17, "reason": "盘点少三瓶"})
    assert counted.get_json()["stock"] == 17
    again = api.post(f"{path}/stock-correction", shop.clerk, json={"counted": 17, "reason": "再点一次"})
    assert again.get_json()["stock"] == 17
    moved = db.session.scalar(select(func.sum(StockMovement.quantity)).where(StockMovement.product_id == product["id"]))
    assert moved == 17


@pytest.mark.parametrize("path, body, status, code, message", [
    ("products", {"name": "", "unit": "瓶", "price": 5}, 400, "product_name_required",
     "请填写商品名称（不超过 60 字）"),
    ("products", {"name": "酱油", "unit": "瓶", "price": 0}, 400, "invalid_price",
     "兑换积分应为 1 到 100000 之间的整数"),
    ("products", {"name": "酱油", "unit": "瓶", "price": 10**20}, 400, "invalid_price",
     "兑换积分应为 1 到 100000 之间的整数"),
    ("products", {"name": "酱油", "unit": "瓶", "price": "5"}, 422, "validation_error", "提交的内容有误"),
    ("products", {"name": "酱\x00油", "unit": "瓶", "price": 5}, 422, "validation_error", "提交的内容有误"),
    ("products", {"name": "酱油", "unit": "瓶", "price": 5, "stock": -1}, 422, "validation_error", "提交的内容有误"),
    ("products", {"unit": "瓶", "price": 5}, 422, "validation_error", "提交的内容有误"),
    ("restock", {"quantity": 0}, 400, "invalid_restock", "进货数量应为 1 到 100000 之间的整数"),
    ("restock", {"quantity": 10**20}, 400, "invalid_restock", "进货数量应为 1 到 100000 之间的整数"),
    ("restock", {"quantity": 1.5}, 422, "validation_error", "提交的内容有误"),
    ("stock-correction", {"counted": 5}, 400, "reason_required", "请填写理由"),
    ("stock-correction", {"counted": -1, "reason": "丢了"}, 400, "invalid_stock",
     "盘点数量应为 0 到 100000 之间的整数"),
    ("patch", {"price": -3}, 400, "invalid_price", "兑换积分应为 1 到 100000 之间的整数"),
    ("patch", {"unit": "x" * 11}, 400, "product_unit_required", "请填写单位，如“瓶”“袋”（不超过 10 字）"),
    ("patch", {"active": "maybe"}, 422, "validation_error", "提交的内容有误"),
])
def test_bad_products_and_stock_are_refused_in_chinese_and_change_nothing(api, shop, path, body, status, code,
                                                                           message):
    before = snapshot()
    if path == "products":
        response = api.post(f"/api/v1/shops/{shop.shop.id}/products", shop.clerk, json=body)
    elif path == "patch":
        response = api.request("PATCH", f"/api/v1/products/{shop.soap.id}", shop.clerk, json=body)
    else:
        response = api.post(f"/api/v1/products/{shop.soap.id}/{path}", shop.clerk, json=body)
    assert error_of(response, status, code)["message"] == message
    assert snapshot() == before


def test_only_who_runs_the_shop_changes_products(api, shop):
    before = snapshot()
    for outsider in (shop.villager, shop.worker, shop.stranger_clerk):
        error_of(api.post(f"/api/v1/shops/{shop.shop.id}/products", outsider,
                          json={"name": "酱油", "unit": "瓶", "price": 5}), 403, "forbidden")
        error_of(api.request("PATCH", f"/api/v1/products/{shop.soap.id}", outsider, json={"price": 1}), 403,
                 "forbidden")
        error_of(api.post(f"/api/v1/products/{shop.soap.id}/restock", outsider, json={"quantity": 5}), 403,
                 "forbidden")
    assert snapshot() == before


# Redemptions


def test_a_redemption_debits_the_household_and_takes_the_stock(api, shop):
    response = redeem(api, shop, lines=[{"product_id": shop.soap.id, "quantity": 2},
                                        {"product_id": shop.rice.id, "quantity": 1},
                                        {"product_id": shop.soap.id, "quantity": 1}])
    assert response.status_code == 201
    body = response.get_json()
    assert body["total"] == 55 and body["number"] == f"DH{body['id']:08d}"
    assert (body["shop_id"], body["household_id"], body["voided_at"], body["void_reason"]) == (
        shop.shop.id, shop.household.id, None, None)
    assert body["lines"] == [
        {"product_id": shop.soap.id, "name": "肥皂", "unit": "块", "price": 10, "quantity": 3},
        {"product_id": shop.rice.id, "name": "大米", "unit": "袋", "price": 25, "quantity": 1}]
    assert body["balance_after"] == 45 == balance_of(shop.household.id)
    household = api.get(f"/api/v1/households/{shop.household.id}", shop.admin).get_json()
    assert household["balance"] == 45
    assert (stock(shop.soap), stock(shop.rice)) == (17, 2)
    assert_ledger_consistent(shop.household.id)
    assert api.get(f"/api/v1/redemptions/{body['id']}", shop.villager).get_json() == body


def test_a_redemption_costs_twelve_statements_and_locks_the_household_once(api, shop, statements):
    """The counter's hot path. One more is a round trip on every basket; the basket's products are read with the
    shop; the household's balance row is locked (the upsert) once, by the shop, and the ledger's posting finds it
    locked. The ledger does not look up the entry's key (it names the redemption just made), and the two audit events
    go in one insert."""
    api.headers(shop.clerk)  # the token is made, and the rows the request names are read, before counting
    body = {"shop_id": shop.shop.id, "household_id": shop.household.id,
            "lines": [{"product_id": shop.soap.id, "quantity": 2}]}
    db.session.expunge_all()  # the request finds nothing loaded, as in a server
    statements.clear()
    response = api.post("/api/v1/redemptions", shop.clerk, json=body, headers={"Idempotency-Key": "basket-1"})
    assert response.status_code == 201
    assert statements.summary() == [
        "SELECT api_tokens", "SELECT shops", "SELECT households",
        "INSERT household_balances",  # hold(): the lock
        "INSERT redemptions", "UPDATE products", "INSERT redemption_lines", "INSERT stock_movements",
        "UPDATE household_balances", "INSERT ledger_entries", "UPDATE redemptions",
        "INSERT audit_events"]  # the entry's and the redemption's


def test_a_card_names_the_household(api, shop):
    card = card_text(issue_card(shop.admin, shop.household))
    db.session.commit()
    response = redeem(api, shop, card=card)
    assert response.status_code == 201
    assert response.get_json()["household_id"] == shop.household.id and response.get_json()["card_id"] is not None


def test_a_retry_with_the_key_answers_the_same_and_redeems_once(api, shop):
    first = redeem(api, shop, key="basket-1")
    redeem(api, shop, user=shop.admin, household_id=shop.household.id)  # the household spends more meanwhile
    again = redeem(api, shop, key="basket-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert first.get_json()["balance_after"] == 80
    assert balance_of(shop.household.id) == 60 and stock(shop.soap) == 16
    assert db.session.scalar(select(func.count()).select_from(Redemption)) == 2


def test_the_same_key_for_another_basket_is_a_409_and_writes_nothing(api, shop):
    redeem(api, shop, key="basket-2")
    before = snapshot()
    for changes in ({"lines": [{"product_id": shop.soap.id, "quantity": 3}]},
                    {"household_id": shop.neighbour.id}):
        error = error_of(redeem(api, shop, key="basket-2", **changes), 409, "idempotency_key_reused")
        assert error["message"] == "该幂等键已用于另一个不同的请求"
    assert snapshot() == before


def test_keys_are_kept_per_account(api, shop):
    first = redeem(api, shop, key="same")
    second = redeem(api, shop, user=shop.admin, key="same")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.get_json()["id"] != second.get_json()["id"]


@pytest.mark.parametrize("key", ["", "x" * 65, "has space"])
def test_an_invalid_key_is_a_400_and_writes_nothing(api, shop, key):
    before = snapshot()
    response = api.post("/api/v1/redemptions", shop.clerk, headers={"Idempotency-Key": key},
                        json={"shop_id": shop.shop.id, "household_id": shop.household.id,
                              "lines": [{"product_id": shop.soap.id, "quantity": 1}]})
    error = error_of(response, 400, "invalid_idempotency_header")
    assert error["message"] == "请求头 Idempotency-Key 应为 1 到 64 个英文字母、数字或符号"
    assert snapshot() == before


def _refusal(shop, name):
    """(body changes, status, code, message) of a refused basket."""
    return {
        "balance": ({"lines": [{"product_id": shop.soap.id, "quantity": 9}, {"product_id": shop.rice.id,
                                                                              "quantity": 1}]},
                    409, "insufficient_balance", "积分不足：现有 100 分，需要 115 分"),
        "stock": ({"lines": [{"product_id": shop.rice.id, "quantity": 4}]},
                  409, "insufficient_stock", "“大米”库存不足：还剩 3 件，需要 4 件"),
        "inactive": ({"lines": [{"product_id": shop.kettle.id, "quantity": 1}]},
                     400, "product_inactive", "“水壶”已下架，不能兑换"),
        "empty": ({"lines": []}, 400, "empty_basket", "请先选择要兑换的商品"),
        "quantity": ({"lines": [{"product_id": shop.soap.id, "quantity": -1}]},
                     400, "basket_quantity", "每种商品的数量应为 1 到 99 之间的整数"),
        "huge": ({"lines": [{"product_id": shop.soap.id, "quantity": 10**20}]},
                 400, "basket_quantity", "每种商品的数量应为 1 到 99 之间的整数"),
        "unknown_product": ({"lines": [{"product_id": 999_999, "quantity": 1}]},
                            400, "unknown_product", "本超市没有这件商品"),
        "other_household": ({"household_id": shop.stranger.id}, 404, "not_found", "找不到该内容"),
        "unknown_shop": ({"shop_id": 999_999}, 404, "not_found", "找不到该内容"),
    }[name]


@pytest.mark.parametrize("name", ["balance", "stock", "inactive", "empty", "quantity", "huge", "unknown_product",
                                  "other_household", "unknown_shop"])
def test_a_refused_basket_says_why_in_chinese_and_writes_nothing(api, shop, name):
    changes, status, code, message = _refusal(shop, name)
    before = snapshot()
    assert error_of(redeem(api, shop, key="k-" + name, **changes), status, code)["message"] == message
    assert snapshot() == before
    assert balance_of(shop.household.id) == 100


def test_another_shops_product_in_the_basket_is_unknown_here(api, shop):
    foreign = factories.gen_product(factories.gen_shop(shop.elsewhere.village), "香皂", price=1, stock=5, unit="块")
    db.session.commit()
    before = snapshot()
    lines = [{"product_id": shop.soap.id, "quantity": 1}, {"product_id": foreign.id, "quantity": 1}]
    assert error_of(redeem(api, shop, lines=lines), 400, "unknown_product")["message"] == "本超市没有这件商品"
    assert snapshot() == before and stock(foreign) == 5


def test_revoked_forged_and_foreign_cards_are_refused(api, shop):
    old = card_text(issue_card(shop.admin, shop.household))
    new = card_text(issue_card(shop.admin, shop.household))
    foreign = card_text(issue_card(factories.gen_user(Role.VILLAGE_ADMIN, shop.elsewhere.village), shop.stranger))
    db.session.commit()
    before = snapshot()
    assert error_of(redeem(api, shop, card=old), 409, "card_revoked")["message"] == \
        "这张户卡（第 1 张）已作废，请使用补办的新卡"
    assert error_of(redeem(api, shop, card=foreign), 400, "card_other_village")["message"] == \
        "这是别的村的户卡，不能在本村超市兑换"
    assert error_of(redeem(api, shop, card=factories.forged(new)), 400, "invalid_card")["message"] == "无法识别的户卡"
    assert error_of(redeem(api, shop, card="not a card"), 400, "invalid_card")
    assert snapshot() == before


def test_only_the_villages_clerks_and_admins_redeem(api, shop):
    before = snapshot()
    for outsider in (shop.villager, shop.worker, shop.stranger_clerk):
        error_of(redeem(api, shop, user=outsider), 403, "forbidden")
    error_of(api.post("/api/v1/redemptions", json={"shop_id": shop.shop.id}), 401, "login_required")
    assert snapshot() == before


@pytest.mark.parametrize("body", [
    {"shop_id": "SHOP", "household_id": "HOME", "lines": [{"product_id": "SOAP", "quantity": "2"}]},
    {"shop_id": "SHOP", "household_id": "HOME", "lines": [{"product_id": "SOAP", "quantity": 1.5}]},
    {"shop_id": "SHOP", "household_id": "HOME", "lines": [{"product_id": "SOAP", "quantity": True}]},
    {"shop_id": "SHOP", "household_id": "HOME", "lines": [{"product_id": 10**20, "quantity": 1}]},
    {"shop_id": "SHOP", "household_id": "HOME", "lines": [{"product_id": "SOAP"}]},
    {"shop_id": "SHOP", "household_id": "HOME", "lines": ["SOAP"]},
    {"shop_id": "SHOP", "household_id": "HOME", "lines": {"product_id": "SOAP", "quantity": 1}},
    {"shop_id": "SHOP", "household_id": "HOME"},
    {"shop_id": "SHOP", "lines": [{"product_id": "SOAP", "quantity": 1}]},
    {"shop_id": "SHOP", "household_id": "HOME", "card": "HC-1.x", "lines": [{"product_id": "SOAP", "quantity": 1}]},
    {"shop_id": "SHOP", "card": "HC\x00.x", "lines": [{"product_id": "SOAP", "quantity": 1}]},
    {"shop_id": "SHOP", "card": "", "lines": [{"product_id": "SOAP", "quantity": 1}]},
    {"shop_id": 10**20, "household_id": "HOME", "lines": [{"product_id": "SOAP", "quantity": 1}]},
    {"shop_id": "SHOP", "household_id": -1, "lines": [{"product_id": "SOAP", "quantity": 1}]},
    {"household_id": "HOME", "lines": [{"product_id": "SOAP", "quantity": 1}]},
    [],
    "SHOP",
])
def test_a_malformed_redemption_is_a_422_and_writes_nothing(api, shop, body):
    ids = {"SHOP": shop.shop.id, "HOME": shop.household.id, "SOAP": shop.soap.id}

    def fill(value):
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return ids.get(value, value) if isinstance(value, str) else value

    before = snapshot()
    error = error_of(api.post("/api/v1/redemptions", shop.clerk, json=fill(body)), 422, "validation_error")
    assert error["message"] == "提交的内容有误"
    assert snapshot() == before


def test_a_redemption_body_that_is_not_json_is_a_422(api, shop):
    error_of(api.post("/api/v1/redemptions", shop.clerk, data="shop_id=1", content_type="text/plain"), 422,
             "validation_error")


def _redeem_from_threads(app, headers: dict, bodies: list[dict]) -> list[tuple[int, dict]]:
    """Each body posted at once from its own thread, with its own app context and database session."""

    def post(body):
        with app.app_context():
            response = app.test_client().post("/api/v1/redemptions", json=body, headers=headers)
            return response.status_code, response.get_json()

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def test_one_key_from_twenty_threads_redeems_once(api, app, shop):
    headers = {**api.headers(shop.clerk), "Idempotency-Key": "double-tap"}
    body = {"shop_id": shop.shop.id, "household_id": shop.household.id,
            "lines": [{"product_id": shop.soap.id, "quantity": 1}]}

    answers = _redeem_from_threads(app, headers, [body] * THREADS)

    assert [status for status, _ in answers] == [201] * THREADS, answers
    assert all(answer == answers[0][1] for _, answer in answers)
    assert answers[0][1]["balance_after"] == 90
    assert snapshot()[0] == 1
    assert balance_of(shop.household.id) == 90 and stock(shop.soap) == 19
    assert_ledger_consistent(shop.household.id)


def test_one_key_for_two_households_from_twenty_threads_redeems_once(api, app, shop):
    headers = {**api.headers(shop.clerk), "Idempotency-Key": "reused-key"}
    bodies = [{"shop_id": shop.shop.id, "household_id": h.id, "lines": [{"product_id": shop.soap.id, "quantity": 1}]}
              for h in (shop.household, shop.neighbour) * (THREADS // 2)]

    answers = _redeem_from_threads(app, headers, bodies)

    assert {status for status, _ in answers} <= {201, 409}, answers
    assert len({answer["id"] for status, answer in answers if status == 201}) == 1
    assert all(answer["error"]["code"] == "idempotency_key_reused" for status, answer in answers if status == 409)
    assert snapshot()[0] == 1 and stock(shop.soap) == 19


def test_products_and_restocks_honour_the_key(api, app, shop):
    path = f"/api/v1/shops/{shop.shop.id}/products"
    body = {"name": "洗洁精", "unit": "瓶", "price": 12, "stock": 10}
    first = api.post(path, shop.clerk, json=body, headers={"Idempotency-Key": "new-product"})
    again = api.post(path, shop.clerk, json=body, headers={"Idempotency-Key": "new-product"})
    assert (first.status_code, again.status_code) == (201, 201) and again.get_json() == first.get_json()
    before = snapshot()
    error_of(api.post(path, shop.clerk, json={**body, "price": 13}, headers={"Idempotency-Key": "new-product"}),
             409, "idempotency_key_reused")
    assert snapshot() == before

    restock = f"/api/v1/products/{first.get_json()['id']}/restock"
    headers = {**api.headers(shop.clerk), "Idempotency-Key": "delivery-1"}

    def send(_):
        with app.app_context():
            response = app.test_client().post(restock, json={"quantity": 5, "reason": "镇里送来"}, headers=headers)
            return response.status_code, response.get_json()

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(send, range(10)))
    assert {status for status, _ in answers} == {200} and {answer["stock"] for _, answer in answers} == {15}
    before = snapshot()
    error_of(api.post(restock, shop.clerk, json={"quantity": 6, "reason": "镇里送来"},
                      headers={"Idempotency-Key": "delivery-1"}), 409, "idempotency_key_reused")
    assert snapshot() == before


# Reading and voiding


def test_a_redemption_is_read_by_its_shop_and_its_household_only(api, shop):
    body = redeem(api, shop).get_json()
    path = f"/api/v1/redemptions/{body['id']}"
    for reader in (shop.clerk, shop.admin, shop.villager):
        assert api.get(path, reader).get_json() == body
    other = factories.gen_villager(shop.neighbour)
    db.session.commit()
    for outsider in (other, shop.worker, shop.stranger_clerk):
        error_of(api.get(path, outsider), 403, "forbidden")
    error_of(api.get("/api/v1/redemptions/999999", shop.clerk), 404, "not_found")


def test_the_list_of_redemptions_by_shop_household_and_day(api, shop):
    mine = redeem(api, shop).get_json()
    theirs = redeem(api, shop, household_id=shop.neighbour.id).get_json()
    today = local_today()

    everything = api.get("/api/v1/redemptions", shop.clerk).get_json()
    assert [r["id"] for r in everything["items"]] == [theirs["id"], mine["id"]] and everything["total"] == 2
    assert "balance_after" not in everything["items"][0]
    one = api.get(f"/api/v1/redemptions?household_id={shop.household.id}&day={today}", shop.clerk).get_json()
    assert [r["id"] for r in one["items"]] == [mine["id"]]
    yesterday = api.get(f"/api/v1/redemptions?day={today - timedelta(days=1)}", shop.clerk).get_json()
    assert yesterday == {"items": [], "total": 0}
    assert [r["id"] for r in api.get("/api/v1/redemptions", shop.villager).get_json()["items"]] == [mine["id"]]
    assert api.get("/api/v1/redemptions", shop.stranger_clerk).get_json()["total"] == 0
    assert api.get("/api/v1/redemptions?per_page=1&page=2", shop.clerk).get_json()["items"][0]["id"] == mine["id"]
    for day in ("2026-02-30", "9999-12-31", "0001-01-01", "x\x00"):
        error_of(api.get(f"/api/v1/redemptions?day={day}", shop.clerk), 422, "validation_error")
    error_of(api.get(f"/api/v1/redemptions?shop_id={10**20}", shop.clerk), 422, "validation_error")


def test_a_void_gives_back_the_points_and_the_stock_once(api, shop):
    body = redeem(api, shop, lines=[{"product_id": shop.soap.id, "quantity": 2},
                                    {"product_id": shop.rice.id, "quantity": 1}]).get_json()
    path = f"/api/v1/redemptions/{body['id']}/void"
    assert error_of(api.post(path, shop.clerk, json={"reason": " "}), 400, "reason_required")["message"] == "请填写理由"

    voided = api.post(path, shop.clerk, json={"reason": "拿错了"}, headers={"Idempotency-Key": "void-1"})
    assert voided.status_code == 200
    answer = voided.get_json()
    assert answer["voided_at"] is not None and answer["void_reason"] == "拿错了"
    assert answer["void_entry_id"] is not None and answer["balance_after"] == body["balance_after"] == 55
    assert balance_of(shop.household.id) == 100 and (stock(shop.soap), stock(shop.rice)) == (20, 3)

    before = snapshot()
    again = api.post(path, shop.clerk, json={"reason": "又点了一次"})
    assert again.status_code == 200 and again.get_json() == answer
    assert snapshot() == before
    assert_ledger_consistent(shop.household.id)


def test_the_clerk_voids_the_same_day_and_later_only_the_admin(api, shop):
    body = redeem(api, shop).get_json()
    redemption = db.session.get(Redemption, body["id"])
    redemption.created_at = utcnow() - timedelta(days=1)
    db.session.commit()
    path = f"/api/v1/redemptions/{body['id']}/void"
    before = snapshot()
    error_of(api.post(path, shop.clerk, json={"reason": "昨天拿错了"}), 403, "forbidden")
    error_of(api.post(path, shop.villager, json={"reason": "不要了"}), 403, "forbidden")
    assert snapshot() == before
    assert api.post(path, shop.admin, json={"reason": "昨天拿错了"}).status_code == 200
    assert balance_of(shop.household.id) == 100


@pytest.mark.parametrize("body", [{"reason": 5}, {"reason": "a\x00b"}, ["拿错了"]])
def test_a_malformed_void_is_a_422(api, shop, body):
    redemption = redeem(api, shop).get_json()
    before = snapshot()
    error_of(api.post(f"/api/v1/redemptions/{redemption['id']}/void", shop.clerk, json=body), 422,
             "validation_error")
    assert snapshot() == before


# The document


def test_the_document_lists_the_shop_and_documents_the_redemption_key(openapi_spec):
    paths = openapi_spec["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/shops/{shop_id}/products"])
    assert {"get", "patch"} <= set(paths["/api/v1/products/{product_id}"])
    for path in ("/api/v1/products/{product_id}/restock", "/api/v1/products/{product_id}/stock-correction",
                 "/api/v1/redemptions", "/api/v1/redemptions/{redemption_id}/void"):
        assert "post" in paths[path], path
    assert "get" in paths["/api/v1/redemptions/{redemption_id}"] and "get" in paths["/api/v1/shops"]
    operation = paths["/api/v1/redemptions"]["post"]
    header = next(p for p in operation["parameters"] if p["in"] == "header")
    assert header["name"] == "Idempotency-Key" and header["required"] is False and header["schema"]["maxLength"] == 64
    assert {"201", "400", "403", "404", "409", "422"} <= set(operation["responses"])
    assert "idempotency_key_reused" in operation["responses"]["409"]["description"]
    schemas = openapi_spec["components"]["schemas"]
    assert {"id", "number", "shop_id", "household_id", "total", "lines", "created_at", "voided_at",
            "balance_after"} <= set(schemas["RedemptionDetail"]["required"])
    assert set(schemas["ProductPage"]["required"]) == {"items", "total"}
    assert {"page", "per_page"} <= {p["name"] for p in paths["/api/v1/shops/{shop_id}/products"]["get"]["parameters"]}


@pytest.mark.parametrize("body", [{}, None])
def test_a_product_edit_without_a_body_or_with_nothing_in_it_is_refused(api, shop, body):
    kwargs = {"json": body} if body is not None else {}
    error_of(api.request("PATCH", f"/api/v1/products/{shop.soap.id}", shop.clerk, **kwargs), 400, "nothing_to_change")
