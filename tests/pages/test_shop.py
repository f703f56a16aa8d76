"""The 积分超市 through the pages: the counter (card or 户号 → basket → 确认兑换 → receipt), its idempotency key and
its refusals, who sees what, voids, reports and their .xlsx, products with restocks, counts and pictures, and the
villager's catalog and history."""
import io
import re
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import func, select

from points.auth.cards import issue_card
from points.auth.models import Role
from points.extensions import db
from points.ledger.queries import balance_of
from points.people.cards import card_text
from points.shop.models import Product, Redemption, StockChange, StockMovement
from points.timeutil import local_today, utcnow

from .. import factories

KEY = re.compile(r'name="key" value="([0-9a-f]{32})"')


class Scene:
    """A shop with soap (10 points, 20 in stock) and rice (25 points, 3 in stock); its clerk and the village admin;
    a household of 李四明 with 100 points, its card and its villager; a neighbour household with its villager; and a
    villager of another village."""

    def __init__(self):
        self.village = factories.gen_village()
        village = self.village.village
        self.shop = factories.gen_shop(village, "瑶前积分超市")
        self.soap = factories.gen_product(self.shop, "肥皂", price=10, stock=20, unit="块")
        self.rice = factories.gen_product(self.shop, "大米", price=25, stock=3, unit="袋")
        self.clerk = factories.gen_user(Role.SHOP_CLERK, village)
        self.admin = factories.gen_user(Role.VILLAGE_ADMIN, village)
        self.household = factories.gen_household(self.village.grids[0], head_name="李四明", phone="13912345678")
        factories.gen_points(self.household, 100)
        self.card = card_text(issue_card(self.admin, self.household))
        self.villager = factories.gen_villager(self.household)
        self.neighbour = factories.gen_household(self.village.grids[1], head_name="王五六")
        factories.gen_points(self.neighbour, 50)
        self.neighbour_villager = factories.gen_villager(self.neighbour)
        elsewhere = factories.gen_village()
        self.stranger = factories.gen_villager(factories.gen_household(elsewhere.grids[0]))
        db.session.commit()

    def basket(self, soap=0, rice=0, **extra) -> dict:
        data = {f"qty-{self.soap.id}": str(soap) if soap else "", f"qty-{self.rice.id}": str(rice) if rice else ""}
        return {**data, **extra}


@pytest.fixture
def scene():
    return Scene()


def _key(page: str) -> str:
    return KEY.search(page).group(1)


def _stock(product: Product) -> int:
    db.session.expire_all()
    return db.session.get(Product, product.id).stock


def _redemptions() -> int:
    return db.session.scalar(select(func.count()).select_from(Redemption))


def _redeem(client, scene, key=None, by_card=True, confirmed="1", **quantities):
    """Open the basket (by card or 户号) and confirm it, marked confirmed as static/counter.js marks it; the response
    of 确认兑换."""
    shop = scene.shop.id
    if by_card:
        page = client.post(f"/shops/{shop}/counter", data={"card": scene.card})
        who = {"card": scene.card}
    else:
        page = client.get(f"/shops/{shop}/counter?household={scene.household.id}")
        who = {"household_id": scene.household.id}
    assert page.status_code == 200, page.get_data(as_text=True)
    key = key or _key(page.get_data(as_text=True))
    return client.post(f"/shops/{shop}/redeem",
                       data={"key": key, **who, **scene.basket(**quantities), "confirmed": confirmed})


def test_the_counter_reads_a_card_and_redeems_the_basket_onto_a_receipt(client, login, scene):
    login(scene.clerk)
    step1 = client.get(f"/shops/{scene.shop.id}/counter").get_data(as_text=True)
    assert 'id="card-form"' in step1 and 'id="card"' in step1 and "autofocus" in step1
    assert "扫户卡或输入户号" in step1 and "card-scanner.js" in step1 and "jsQR" in step1
    assert 'id="camera"' in step1
    basket = client.post(f"/shops/{scene.shop.id}/counter", data={"card": scene.card})
    page = basket.get_data(as_text=True)
    assert basket.status_code == 200
    assert "李*明" in page and "李四明" not in page and "13912345678" not in page
    assert scene.household.number in page and "第1网格" in page
    assert '<b id="balance">100</b>' in page
    assert f'<label for="qty-{scene.soap.id}">肥皂</label>' in page and "确认兑换" in page
    assert scene.card in page  # carried to 确认兑换, where it is checked again
    key = _key(page)
    done = client.post(f"/shops/{scene.shop.id}/redeem",
                       data={"key": key, "card": scene.card, **scene.basket(soap=2, rice=1), "confirmed": "1"})
    assert done.status_code == 302
    receipt_url = done.headers["Location"]
    redemption = db.session.scalar(select(Redemption))
    assert receipt_url.endswith(f"/redemptions/{redemption.id}")
    receipt = client.get(receipt_url).get_data(as_text=True)
    assert "兑换成功" in receipt and redemption.number in receipt and "瑶前积分超市" in receipt
    assert '<b id="total">45</b>' in receipt and '<b id="balance-after">55</b>' in receipt
    assert "肥皂 × 2块" in receipt and "大米 × 1袋" in receipt and "李*明" in receipt
    assert "李四明" not in receipt and "13912345678" not in receipt
    assert balance_of(scene.household.id) == 55 and (_stock(scene.soap), _stock(scene.rice)) == (18, 2)
    assert redemption.card_id is not None

    # The same basket under the same key (a double tap, a retried request): the same receipt, nothing more.
    again = client.post(f"/shops/{scene.shop.id}/redeem",
                        data={"key": key, "card": scene.card, **scene.basket(soap=2, rice=1)})  # asks nothing now
    assert again.status_code == 302 and again.headers["Location"] == receipt_url
    assert "已经兑换过" in client.get(receipt_url).get_data(as_text=True)
    assert _redemptions() == 1 and balance_of(scene.household.id) == 55 and _stock(scene.soap) == 18
    # The same page sent back with other numbers (the browser's back button): refused, the basket shown again.
    changed = client.post(f"/shops/{scene.shop.id}/redeem", data={"key": key, "card": scene.card,
                                                                   **scene.basket(soap=3), "confirmed": "1"})
    assert changed.status_code == 409 and "已经提交过一次" in changed.get_data(as_text=True)
    assert _redemptions() == 1 and balance_of(scene.household.id) == 55

    # This month's redemptions are on the next basket of the household.
    later = client.post(f"/shops/{scene.shop.id}/counter", data={"card": scene.card}).get_data(as_text=True)
    assert redemption.number in later and '<b id="balance">55</b>' in later and _key(later) != key


def test_the_counter_takes_a_household_number(client, login, scene):
    login(scene.clerk)
    found = client.post(f"/shops/{scene.shop.id}/counter", data={"card": scene.household.number})
    assert found.status_code == 302
    assert found.headers["Location"].endswith(f"/shops/{scene.shop.id}/counter?household={scene.household.id}")
    done = _redeem(client, scene, by_card=False, soap=1)
    assert done.status_code == 302 and balance_of(scene.household.id) == 90
    missing = client.post(f"/shops/{scene.shop.id}/counter", data={"card": "9999"})
    assert missing.status_code == 422 and "本村没有户号为 9999 的户" in missing.get_data(as_text=True)
    empty = client.post(f"/shops/{scene.shop.id}/counter", data={"card": " "})
    assert empty.status_code == 422 and "请扫户卡" in empty.get_data(as_text=True)
    # A household of another village is not served here, by id either.
    other = factories.gen_household(factories.gen_village().grids[0])
    db.session.commit()
    assert client.get(f"/shops/{scene.shop.id}/counter?household={other.id}").status_code == 404
    for huge in (2**31, 2**63):
        assert client.get(f"/shops/{scene.shop.id}/counter?household={huge}").status_code == 404
        refused = client.post(f"/shops/{scene.shop.id}/redeem", data={"household_id": huge, **scene.basket(soap=1)})
        assert refused.status_code == 404


def test_a_household_number_is_found_without_its_leading_zeros(client, login, scene):
    login(scene.clerk)
    counter = f"/shops/{scene.shop.id}/counter"
    assert (scene.household.number, scene.neighbour.number) == ("0001", "0002")
    for typed, household in (("1", scene.household), ("01", scene.household), ("0001", scene.household),
                             (" 2 ", scene.neighbour), ("00002", scene.neighbour)):
        found = client.post(counter, data={"card": typed})
        assert found.status_code == 302, typed
        assert found.headers["Location"].endswith(f"?household={household.id}"), typed
    assert "本村没有户号为 3 的户" in client.post(counter, data={"card": "3"}).get_data(as_text=True)
    assert "本村没有户号为 1a 的户" in client.post(counter, data={"card": "1a"}).get_data(as_text=True)

    # A village that also has 户号 01: "1" could be either, so it is refused and says which; each whole 户号 works.
    twin = factories.gen_household(scene.village.grids[0])
    twin.number = "01"
    db.session.commit()
    ambiguous = client.post(counter, data={"card": "1"})
    assert ambiguous.status_code == 422
    assert "户号 1 对应多户：0001、01。请输入完整的户号，或扫户卡" in ambiguous.get_data(as_text=True)
    assert client.post(counter, data={"card": "01"}).headers["Location"].endswith(f"?household={twin.id}")
    assert client.post(counter, data={"card": "0001"}).headers["Location"].endswith(
        f"?household={scene.household.id}")


def test_the_basket_has_steppers_and_a_bar_with_the_total_for_the_script(client, login, scene):
    login(scene.clerk)
    page = client.get(f"/shops/{scene.shop.id}/counter?household={scene.household.id}").get_data(as_text=True)
    assert 'data-balance="100"' in page and "/static/counter.js" in page
    assert f'id="qty-{scene.soap.id}"' in page and 'data-price="10"' in page and 'data-price="25"' in page
    # − and + come with the script (hidden without it: the number is typed); each names what it adds.
    assert 'aria-label="少一块肥皂" hidden>−</button>' in page and 'aria-label="多一袋大米" hidden>+</button>' in page
    bar = page[page.index('class="basket-bar"'):page.index("</form>", page.index('class="basket-bar"'))]
    assert 'id="basket-total"' in bar and '余额 100 → 兑换后 <b id="basket-after">100</b>' in bar
    assert "确认兑换" in bar and 'name="confirmed"' not in page  # the script marks the post confirmed


def test_without_the_script_the_basket_is_confirmed_with_its_total_and_the_balance_after(client, login, scene):
    login(scene.clerk)
    counter = client.get(f"/shops/{scene.shop.id}/counter?household={scene.household.id}").get_data(as_text=True)
    key = _key(counter)
    basket = {"key": key, "household_id": scene.household.id, **scene.basket(soap=2, rice=1)}
    asked = client.post(f"/shops/{scene.shop.id}/redeem", data=basket)
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "户号 0001 兑换 3 件，共 45 分" in page
    assert "肥皂 × 2块：20 分" in page and "大米 × 1袋：25 分" in page and "余额 100 分 → 兑换后 55 分" in page
    assert "确认兑换，扣 45 分" in page and 'name="confirmed" value="1"' in page and f'value="{key}"' in page
    assert f'href="/shops/{scene.shop.id}/counter?household={scene.household.id}"' in page  # 取消: back, unwritten
    assert _redemptions() == 0 and balance_of(scene.household.id) == 100 and _stock(scene.soap) == 20
    # A refusal is told at once, not asked about.
    poor = client.post(f"/shops/{scene.shop.id}/redeem", data={**basket, **scene.basket(soap=9, rice=1)})
    assert poor.status_code == 409 and "积分不足" in poor.get_data(as_text=True)
    done = client.post(f"/shops/{scene.shop.id}/redeem", data={**basket, "confirmed": "1"})
    assert done.status_code == 302 and "/redemptions/" in done.headers["Location"]
    assert _redemptions() == 1 and balance_of(scene.household.id) == 55 and _stock(scene.soap) == 18
    # The confirmation's button pressed twice: the same receipt, once.
    again = client.post(f"/shops/{scene.shop.id}/redeem", data={**basket, "confirmed": "1"})
    assert again.headers["Location"] == done.headers["Location"] and balance_of(scene.household.id) == 55


def test_refusals_show_the_basket_again_with_the_reason_and_write_nothing(client, login, scene):
    login(scene.clerk)
    poor = _redeem(client, scene, soap=9, rice=1)
    page = poor.get_data(as_text=True)
    assert poor.status_code == 409 and "积分不足：现有 100 分，需要 115 分" in page
    assert f'name="qty-{scene.soap.id}" min="0" max="20" step="1" inputmode="numeric" placeholder="0" ' \
           f'data-price="10" value="9"' in page
    assert "确认兑换" in page
    short = _redeem(client, scene, rice=4)
    assert short.status_code == 409 and "“大米”库存不足：还剩 3 件，需要 4 件" in short.get_data(as_text=True)
    nothing = _redeem(client, scene)
    assert nothing.status_code == 422 and "请先选择要兑换的商品" in nothing.get_data(as_text=True)
    garbage = _redeem(client, scene, soap="abc")
    assert garbage.status_code == 422 and "每种商品的数量应为" in garbage.get_data(as_text=True)
    scene.rice.active = False
    db.session.commit()
    inactive = _redeem(client, scene, rice=1)
    assert inactive.status_code == 422 and "“大米”已下架" in inactive.get_data(as_text=True)
    assert _redemptions() == 0 and balance_of(scene.household.id) == 100
    assert (_stock(scene.soap), _stock(scene.rice)) == (20, 3)

    # A card reissued between the scan and 确认兑换: the old one is refused at the confirmation, back to step 1.
    page = client.post(f"/shops/{scene.shop.id}/counter", data={"card": scene.card}).get_data(as_text=True)
    issue_card(scene.admin, scene.household)
    db.session.commit()
    revoked = client.post(f"/shops/{scene.shop.id}/redeem",
                          data={"key": _key(page), "card": scene.card, **scene.basket(soap=1)})
    text = revoked.get_data(as_text=True)
    assert revoked.status_code == 409 and "已作废，请使用补办的新卡" in text and 'id="card-form"' in text
    assert client.post(f"/shops/{scene.shop.id}/counter", data={"card": scene.card}).status_code == 409
    forged = client.post(f"/shops/{scene.shop.id}/counter", data={"card": factories.forged(scene.card)})
    assert forged.status_code == 422 and "无法识别的户卡" in forged.get_data(as_text=True)
    assert _redemptions() == 0 and balance_of(scene.household.id) == 100


def test_a_card_of_another_village_is_refused(client, login, scene):
    elsewhere = factories.gen_village()
    their = factories.gen_household(elsewhere.grids[0])
    their_card = card_text(issue_card(factories.gen_user(Role.VILLAGE_ADMIN, elsewhere.village), their))
    login(scene.clerk)
    refused = client.post(f"/shops/{scene.shop.id}/counter", data={"card": their_card})
    assert refused.status_code == 422 and "别的村的户卡" in refused.get_data(as_text=True)


def test_villagers_see_the_catalog_and_their_own_receipts_only(client, login, scene):
    login(scene.clerk)
    mine = _redeem(client, scene, soap=1).headers["Location"]
    theirs = client.post(f"/shops/{scene.shop.id}/redeem", data={
        "key": "k-neighbour", "household_id": scene.neighbour.id, **scene.basket(soap=1), "confirmed": "1"}
    ).headers["Location"]

    login(scene.villager)
    for url in (f"/shops/{scene.shop.id}/counter", f"/shops/{scene.shop.id}/products",
                f"/shops/{scene.shop.id}/report", f"/shops/{scene.shop.id}/report.xlsx",
                f"/products/{scene.soap.id}"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/shops/{scene.shop.id}/counter", data={"card": scene.card}).status_code == 403
    assert client.post(f"/shops/{scene.shop.id}/redeem", data={
        "key": "x", "household_id": scene.household.id, **scene.basket(soap=1)}).status_code == 403
    catalog = client.get(f"/shops/{scene.shop.id}").get_data(as_text=True)
    assert "肥皂" in catalog and "大米" in catalog and '<b id="balance">90</b>' in catalog
    assert "可兑换" in catalog and "兑换台" not in catalog
    receipt = client.get(mine)
    assert receipt.status_code == 200 and "作废理由" not in receipt.get_data(as_text=True)
    assert client.get(theirs).status_code == 403
    assert client.post(mine + "/void", data={"reason": "不想要了"}).status_code == 403
    history = client.get("/my/redemptions").get_data(as_text=True)
    assert mine.split("/")[-1] in history and f"DH{int(mine.split('/')[-1]):08d}" in history
    assert f"DH{int(theirs.split('/')[-1]):08d}" not in history
    assert client.get("/shop").headers["Location"].endswith(f"/shops/{scene.shop.id}")
    assert "超市" in client.get("/my/redemptions").get_data(as_text=True)

    # What the balance cannot reach says how much is missing.
    scene.rice.price = 95
    db.session.commit()
    assert "还差 5 分" in client.get(f"/shops/{scene.shop.id}").get_data(as_text=True)

    login(scene.stranger)
    assert client.get(f"/shops/{scene.shop.id}").status_code == 403
    assert client.get(mine).status_code == 403
    assert "本村还没有开设积分超市" in client.get("/shop").get_data(as_text=True)


def test_a_void_on_the_receipt_gives_back_the_points_and_the_stock(client, login, scene):
    login(scene.clerk)
    receipt_url = _redeem(client, scene, soap=2, rice=1).headers["Location"]
    page = client.get(receipt_url).get_data(as_text=True)
    assert "作废理由" in page and ">作废</button>" in page
    no_reason = client.post(receipt_url + "/void", data={"reason": " "})
    assert no_reason.status_code == 422 and "请填写作废理由" in no_reason.get_data(as_text=True)
    assert balance_of(scene.household.id) == 55
    asked = client.post(receipt_url + "/void", data={"reason": "拿错了"}).get_data(as_text=True)
    assert f"作废户号 {scene.household.number} 的这张兑换单：退回 45 分，商品放回库存" in asked
    assert "作废原因：拿错了" in asked and f'href="{receipt_url}"' in asked
    assert balance_of(scene.household.id) == 55 and _stock(scene.soap) == 18  # asking wrote nothing
    voided = client.post(receipt_url + "/void", data={"reason": "拿错了", "confirmed": "1"}, follow_redirects=True)
    text = voided.get_data(as_text=True)
    assert voided.status_code == 200 and "已作废" in text and "拿错了" in text and "作废理由" not in text
    assert balance_of(scene.household.id) == 100 and (_stock(scene.soap), _stock(scene.rice)) == (20, 3)
    # Voiding again changes nothing.
    assert client.post(receipt_url + "/void", data={"reason": "又点了"}).status_code == 302
    assert balance_of(scene.household.id) == 100 and _stock(scene.soap) == 20


def test_the_clerk_cannot_void_yesterdays_redemption_but_the_village_admin_can(client, login, scene):
    login(scene.clerk)
    receipt_url = _redeem(client, scene, soap=1).headers["Location"]
    redemption = db.session.scalar(select(Redemption))
    redemption.created_at = utcnow() - timedelta(days=1)
    db.session.commit()
    assert "作废理由" not in client.get(receipt_url).get_data(as_text=True)
    assert client.post(receipt_url + "/void", data={"reason": "昨天拿错了"}).status_code == 403
    assert balance_of(scene.household.id) == 90
    login(scene.admin)
    assert "作废理由" in client.get(receipt_url).get_data(as_text=True)
    assert client.post(receipt_url + "/void", data={"reason": "昨天拿错了", "confirmed": "1"}).status_code == 302
    assert balance_of(scene.household.id) == 100 and _stock(scene.soap) == 20


def test_the_day_and_month_reports_and_their_export(client, login, scene):
    login(scene.clerk)
    _redeem(client, scene, soap=2)
    _redeem(client, scene, soap=1, rice=2)
    mistake = _redeem(client, scene, soap=1).headers["Location"]
    client.post(mistake + "/void", data={"reason": "拿错了", "confirmed": "1"})
    today = local_today()
    for query in ("", f"?day={today.isoformat()}", f"?month={today.strftime('%Y-%m')}"):
        page = client.get(f"/shops/{scene.shop.id}/report{query}")
        text = page.get_data(as_text=True)
        assert page.status_code == 200, query
        assert '<b id="count">2</b>' in text and '<b id="points">80</b>' in text
        assert "库存不足" in text and "大米 1袋" in text and "李*明" in text and "李四明" not in text
    assert "月报" in client.get(f"/shops/{scene.shop.id}/report?month={today.strftime('%Y-%m')}").get_data(
        as_text=True)
    empty = client.get(f"/shops/{scene.shop.id}/report?day={(today - timedelta(days=1)).isoformat()}")
    assert '<b id="count">0</b>' in empty.get_data(as_text=True)

    export = client.get(f"/shops/{scene.shop.id}/report.xlsx?day={today.isoformat()}")
    assert export.status_code == 200 and export.mimetype.endswith("spreadsheetml.sheet")
    book = openpyxl.load_workbook(io.BytesIO(export.data))
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["兑换笔数"] == 2 and summary["兑换积分"] == 80 and summary["作废笔数"] == 1
    top = list(book["商品排行"].iter_rows(min_row=2, values_only=True))
    assert top[0][1:] == ("肥皂", 3, 30)
    lines = list(book["兑换明细"].iter_rows(min_row=2, values_only=True))
    assert len(lines) == 3 and {line[3] for line in lines} == {"李*明"}
    assert sum(1 for line in lines if line[6] == "已作废") == 1
    stock = {row[0]: row[3] for row in book["库存"].iter_rows(min_row=2, values_only=True)}
    assert stock == {"肥皂": 17, "大米": 1}
    month = client.get(f"/shops/{scene.shop.id}/report.xlsx?month={today.strftime('%Y-%m')}")
    assert month.status_code == 200


@pytest.mark.parametrize("query", ["day=2026-02-30", "day=abc", "day=2026-1-5", "month=2026-13", "month=99999-01",
                                   "month=2026"])
def test_bad_report_dates_are_a_plain_4xx(client, login, scene, query):
    login(scene.clerk)
    for path in ("report", "report.xlsx"):
        response = client.get(f"/shops/{scene.shop.id}/{path}?{query}")
        assert response.status_code == 400, (path, query)
        assert "格式应为" in response.get_data(as_text=True)


def test_products_are_made_edited_restocked_and_counted_with_their_history(client, login, scene):
    login(scene.clerk)
    page = client.get(f"/shops/{scene.shop.id}/products").get_data(as_text=True)
    assert "肥皂" in page and "10 分/块" in page and "库存 20" in page and "添加商品" in page
    made = client.post(f"/shops/{scene.shop.id}/products", data={
        "name": "酱油", "unit": "瓶", "price": "15", "stock": "12", "active": "y",
        "photo": (io.BytesIO(factories.gen_photo()), "soy.jpg")}, content_type="multipart/form-data")
    assert made.status_code == 302, made.get_data(as_text=True)
    soy = db.session.scalar(select(Product).where(Product.name == "酱油"))
    assert (soy.price, soy.unit, soy.stock, soy.active) == (15, "瓶", 12, True) and soy.photo

    bad = client.post(f"/shops/{scene.shop.id}/products", data={
        "name": "醋", "unit": "瓶", "price": "0", "stock": "1"})
    assert bad.status_code == 422 and db.session.scalar(select(Product).where(Product.name == "醋")) is None
    not_image = client.post(f"/shops/{scene.shop.id}/products", data={
        "name": "醋", "unit": "瓶", "price": "5", "stock": "1", "photo": (io.BytesIO(b"not a photo"), "x.jpg")},
        content_type="multipart/form-data")
    assert not_image.status_code == 422 and "只能上传 JPEG" in not_image.get_data(as_text=True)
    assert db.session.scalar(select(Product).where(Product.name == "醋")) is None

    edited = client.post(f"/products/{soy.id}", data={"name": "生抽", "unit": "瓶", "price": "18"})
    assert edited.status_code == 302
    db.session.expire_all()
    soy = db.session.get(Product, soy.id)
    assert (soy.name, soy.price, soy.active) == ("生抽", 18, False)  # the box unticked: off the shelf
    assert client.post(f"/products/{soy.id}/restock", data={"restock-quantity": "30",
                                                           "restock-reason": "镇里送来"}).status_code == 302
    assert _stock(soy) == 42
    assert client.post(f"/products/{soy.id}/count", data={"count-counted": "40",
                                                         "count-reason": "盘点少两瓶"}).status_code == 302
    assert _stock(soy) == 40
    no_reason = client.post(f"/products/{soy.id}/count", data={"count-counted": "39", "count-reason": ""})
    assert no_reason.status_code == 422 and "请填写调整原因" in no_reason.get_data(as_text=True)
    zero = client.post(f"/products/{soy.id}/restock", data={"restock-quantity": "0"})
    assert zero.status_code == 422 and _stock(soy) == 40
    history = client.get(f"/products/{soy.id}").get_data(as_text=True)
    assert "镇里送来" in history and "盘点少两瓶" in history and "初始库存" in history
    assert "+30" in history and "-2" in history and scene.clerk.display_name in history
    kinds = db.session.scalars(select(StockMovement.kind).where(StockMovement.product_id == soy.id)
                               .order_by(StockMovement.id)).all()
    assert kinds == [StockChange.RESTOCK, StockChange.RESTOCK, StockChange.CORRECTION]

    # The picture, for the shop's staff and villagers, not for another village's.
    picture = client.get(f"/products/{soy.id}/photo")
    assert picture.status_code == 200 and picture.mimetype == "image/jpeg" and picture.data[:2] == b"\xff\xd8"
    assert client.get(f"/products/{scene.soap.id}/photo").status_code == 404  # none uploaded
    replaced = client.post(f"/products/{scene.soap.id}", data={
        "name": "肥皂", "unit": "块", "price": "10", "active": "y",
        "photo": (io.BytesIO(factories.gen_photo("PNG", (300, 200))), "soap.png")},
        content_type="multipart/form-data")
    assert replaced.status_code == 302
    assert client.get(f"/products/{scene.soap.id}/photo").status_code == 200
    login(scene.villager)
    assert client.get(f"/products/{scene.soap.id}/photo").status_code == 200
    assert f"/products/{scene.soap.id}/photo" in client.get(f"/shops/{scene.shop.id}").get_data(as_text=True)
    assert "生抽" not in client.get(f"/shops/{scene.shop.id}").get_data(as_text=True)  # off the shelf
    login(scene.stranger)
    assert client.get(f"/products/{scene.soap.id}/photo").status_code == 403


def test_the_shop_entry_sends_the_clerk_to_the_counter(client, login, scene):
    login(scene.clerk)
    assert client.get("/shop").headers["Location"].endswith(f"/shops/{scene.shop.id}/counter")
    assert "超市" in client.get(f"/shops/{scene.shop.id}/counter").get_data(as_text=True)
    lonely = factories.gen_user(Role.SHOP_CLERK, factories.gen_village().village)
    login(lonely)
    assert "本村还没有开设积分超市" in client.get("/shop").get_data(as_text=True)
    assert client.get(f"/shops/{scene.shop.id}/counter").status_code == 403


def test_a_village_admin_opens_the_shop_from_the_empty_page(client, login):
    village = factories.gen_village()
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    clerk = factories.gen_user(Role.SHOP_CLERK, village.village)
    db.session.commit()
    login(clerk)
    page = client.get("/shop").get_data(as_text=True)
    assert "本村还没有开设积分超市" in page and "开设" not in page.split("本村还没有开设积分超市")[1]
    assert client.post(f"/villages/{village.village.id}/shop", data={"name": "驿站"}).status_code == 403
    login(admin)
    assert "为" + village.village.name + "开设积分超市" in client.get("/shop").get_data(as_text=True)
    assert "请填写超市名称" in client.post(f"/villages/{village.village.id}/shop", data={"name": " "},
                                          follow_redirects=True).get_data(as_text=True)
    opened = client.post(f"/villages/{village.village.id}/shop", data={"name": "共享驿站"})
    assert opened.status_code == 302 and "/products" in opened.headers["Location"]
    assert client.get("/shop").headers["Location"].endswith("/counter")


def test_a_double_submitted_restock_adds_once(client, login, scene):
    login(scene.clerk)
    page = client.get(f"/products/{scene.soap.id}").get_data(as_text=True)
    key = re.search(r'name="restock-key" type="hidden" value="([0-9a-f]{32})"', page).group(1)
    data = {"restock-key": key, "restock-quantity": "10", "restock-reason": "镇里送来"}
    for _ in range(2):
        assert client.post(f"/products/{scene.soap.id}/restock", data=data).status_code == 302
    db.session.expire_all()
    assert db.session.get(Product, scene.soap.id).stock == 30
