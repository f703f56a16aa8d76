"""微心愿 through the pages: the public wall shows no name, care tag or address; a worker posts, a villager adopts and
fulfils, a worker lights it with a photo after a confirmation naming who earns what."""
import io
import re

import pytest
from sqlalchemy import select

from points.auth.models import Role
from points.extensions import db
from points.ledger.queries import balance_of
from points.people.models import CareTag
from points.rules.models import RuleCategory
from points.wishes import services
from points.wishes.models import Wish, WishStatus

from .. import factories


@pytest.fixture
def world(village):
    grid = village.grids[0]
    elder = factories.gen_household(grid, "王秀英", care_tags=[CareTag.EMPTY_NEST], phone="13900001111")
    helper_home = factories.gen_household(grid, "李建国")
    world = dict(
        village=village,
        elder=elder,
        elder_account=factories.gen_villager(elder, username="elder"),
        helper_home=helper_home,
        helper=factories.gen_villager(helper_home, username="helper"),
        worker=factories.gen_user(Role.GRID_WORKER, grid, username="w1"),
        other_worker=factories.gen_user(Role.GRID_WORKER, village.grids[1], username="w2"),
        clerk=factories.gen_user(Role.SHOP_CLERK, village.village, username="clerk"),
        aid=factories.gen_rule(village.village, "邻里互助", 5, category=RuleCategory.MUTUAL_AID),
    )
    db.session.commit()
    return world


def posted(world, title="想装一个楼梯扶手") -> Wish:
    wish = services.post_wish(world["worker"], world["elder"].id, title, "独居，腿脚不便，住二楼", world["aid"].id)
    db.session.commit()
    return wish


def test_the_wall_is_public_and_shows_no_name_care_tag_or_address(world, client):
    wish = posted(world)
    village_id = world["village"].village.id
    page = client.get(f"/villages/{village_id}/wishes")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "想装一个楼梯扶手" in html and "第1网格" in html
    for secret in ("王秀英", "王*英", world["elder"].address, "空巢", "独居", world["elder"].number, "13900001111"):
        assert secret not in html, secret
    assert "我来认领" not in html and "登录后认领" in html
    detail = client.get(f"/wishes/{wish.id}").get_data(as_text=True)
    for secret in ("王秀英", world["elder"].address, "空巢", "独居", world["elder"].number):
        assert secret not in detail, secret
    assert client.get("/villages/999999/wishes").status_code == 404


def test_the_counts_on_the_wall(world, client, login):
    first, second, third = posted(world), posted(world, "想学用智能手机"), posted(world, "想有人陪下棋")
    services.adopt_wish(world["helper"], second.id)
    services.adopt_wish(world["helper"], third.id)
    services.fulfil(world["helper"], third.id)
    services.light(world["worker"], third.id, factories.gen_photo(),
                   services.PhotoStore(client.application.config["UPLOAD_FOLDER"], 8 * 1024 * 1024))
    services.withdraw(world["worker"], posted(world, "撤下的心愿").id, "已解决")
    db.session.commit()
    html = client.get(f"/villages/{world['village'].village.id}/wishes").get_data(as_text=True)
    counts = re.findall(r'<div class="stat"><b>(\d+)</b>', html)
    assert counts == ["1", "1", "1"]
    assert "撤下的心愿" not in html
    login(world["clerk"])
    html = client.get(f"/villages/{world['village'].village.id}/wishes").get_data(as_text=True)
    assert html.count("我来认领") == 1 and first.title in html


def test_a_wish_from_posting_to_lit(world, client, login):
    login(world["worker"])
    form = client.get("/wishes/new", follow_redirects=True)
    assert "邻里互助" in form.get_data(as_text=True)
    key = re.search(r'name="key" type="hidden" value="([0-9a-f]+)"', form.get_data(as_text=True)).group(1)
    data = dict(number=world["elder"].number, title="想装一个楼梯扶手", detail="住二楼", rule_id=world["aid"].id,
                key=key)
    response = client.post(f"/wishes/new?village={world['village'].village.id}", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    wish = db.session.scalar(select(Wish))
    staff_view = client.get(f"/wishes/{wish.id}").get_data(as_text=True)
    assert world["elder"].number in staff_view and "住二楼" in staff_view and "空巢老人" in staff_view

    login(world["helper"])
    assert client.post(f"/wishes/{wish.id}/adopt").status_code == 302
    page = client.get(f"/wishes/{wish.id}").get_data(as_text=True)
    assert "已完成" in page and "退回心愿" in page and "住二楼" not in page
    assert client.post(f"/wishes/{wish.id}/fulfil", data={"note": "装好了"}).status_code == 302
    db.session.expire_all()
    assert wish.status is WishStatus.FULFILLED

    login(world["worker"])
    photo = {"photo": (io.BytesIO(factories.gen_photo()), "done.jpg")}
    asked = client.post(f"/wishes/{wish.id}/confirm", data=photo, content_type="multipart/form-data")
    html = asked.get_data(as_text=True)
    assert asked.status_code == 200 and f"户号 {world['helper_home'].number}" in html and "+5" in html
    db.session.expire_all()
    assert wish.status is WishStatus.FULFILLED and balance_of(world["helper_home"].id) == 0  # asking wrote nothing
    token = re.search(r'name="photo_token" value="([^"]+)"', html).group(1)
    done = client.post(f"/wishes/{wish.id}/confirm", data={"photo_token": token, "confirmed": "1"})
    assert done.status_code == 302
    db.session.expire_all()
    assert wish.status is WishStatus.LIT and balance_of(world["helper_home"].id) == 5
    assert client.get(f"/wishes/{wish.id}/photo").mimetype == "image/jpeg"
    assert client.get(f"/wishes/{wish.id}/photo/small").status_code == 200
    client.post("/logout")
    assert client.get(f"/wishes/{wish.id}/photo").status_code == 302  # to the login page
    login(world["other_worker"])
    assert client.get(f"/wishes/{wish.id}/photo").status_code == 404
    login(world["elder_account"])
    assert client.get(f"/wishes/{wish.id}/photo").status_code == 200
    assert "李*国" in client.get(f"/wishes/{wish.id}").get_data(as_text=True)


def test_a_forged_or_foreign_photo_token_lights_nothing(world, client, login):
    wish = posted(world)
    services.adopt_wish(world["helper"], wish.id)
    services.fulfil(world["helper"], wish.id)
    db.session.commit()
    login(world["worker"])
    response = client.post(f"/wishes/{wish.id}/confirm", data={"photo_token": "abc", "confirmed": "1"},
                           follow_redirects=True)
    assert "照片已过期" in response.get_data(as_text=True)
    response = client.post(f"/wishes/{wish.id}/confirm", data={}, follow_redirects=True)
    assert "请上传一张照片" in response.get_data(as_text=True)
    db.session.expire_all()
    assert wish.status is WishStatus.FULFILLED


def test_refusals_are_said_on_the_page(world, client, login):
    wish = posted(world)
    login(world["elder_account"])
    response = client.post(f"/wishes/{wish.id}/adopt", follow_redirects=True)
    assert "不能认领自己家的微心愿" in response.get_data(as_text=True)
    login(world["helper"])
    client.post(f"/wishes/{wish.id}/adopt")
    login(world["clerk"])
    response = client.post(f"/wishes/{wish.id}/adopt", follow_redirects=True)
    assert "已被别人认领" in response.get_data(as_text=True)
    login(world["other_worker"])
    assert client.post(f"/wishes/{wish.id}/withdraw", data={"reason": "x"}).status_code == 403


def test_a_staff_adopter_is_told_no_points_come(world, client, login):
    wish = posted(world)
    login(world["clerk"])
    assert "认领人不是本村村民，不记积分" in client.get(f"/wishes/{wish.id}").get_data(as_text=True)
    client.post(f"/wishes/{wish.id}/adopt")
    client.post(f"/wishes/{wish.id}/fulfil", data={})
    login(world["worker"])
    photo = {"photo": (io.BytesIO(factories.gen_photo()), "done.jpg")}
    asked = client.post(f"/wishes/{wish.id}/confirm", data=photo, content_type="multipart/form-data")
    assert "认领人不是本村村民，不记积分" in asked.get_data(as_text=True)


def test_start_and_mine(world, client, login):
    wish = posted(world)
    services.adopt_wish(world["helper"], wish.id)
    db.session.commit()
    assert client.get("/wishes").status_code == 302  # to the login page
    login(world["helper"])
    assert client.get("/wishes").headers["Location"].endswith(f"/villages/{world['village'].village.id}/wishes")
    assert wish.title in client.get("/wishes/mine").get_data(as_text=True)
    login(world["elder_account"])
    assert "我家的心愿" in client.get("/wishes/mine").get_data(as_text=True)
    login(world["worker"])
    html = client.get("/wishes/mine").get_data(as_text=True)
    assert "待确认点亮" in html and world["elder"].number in html
    assert f'value="{world["elder"].number}"' in client.get(
        f"/wishes/new?number={world['elder'].number}", follow_redirects=True).get_data(as_text=True)
    login(world["helper"])
    assert client.get("/wishes/new").status_code == 403
    login(world["other_worker"])
    response = client.post(f"/wishes/new?village={world['village'].village.id}",
                           data=dict(number=world["elder"].number, title="心愿", rule_id=world["aid"].id, key="k"))
    assert response.status_code == 422 and "该户不在您负责的网格" in response.get_data(as_text=True)


def test_the_poster_sees_no_adopt_button_and_is_refused(world, client, login):
    wish = posted(world)
    login(world["worker"])
    assert "我来认领" not in client.get(f"/villages/{world['village'].village.id}/wishes").get_data(as_text=True)
    assert "我来认领" not in client.get(f"/wishes/{wish.id}").get_data(as_text=True)
    response = client.post(f"/wishes/{wish.id}/adopt", follow_redirects=True)
    assert "不能认领您或您家人发布的微心愿" in response.get_data(as_text=True)
    db.session.expire_all()
    assert wish.status is WishStatus.OPEN and wish.adopter_id is None
    login(world["other_worker"])  # a colleague sees it and may adopt it
    assert "我来认领" in client.get(f"/wishes/{wish.id}").get_data(as_text=True)


def test_a_title_naming_the_household_is_refused_on_the_form(world, client, login):
    login(world["worker"])
    form = client.get("/wishes/new", follow_redirects=True).get_data(as_text=True)
    key = re.search(r'name="key" type="hidden" value="([0-9a-f]+)"', form).group(1)
    data = dict(number=world["elder"].number, title="王秀英（空巢老人）想装扶手", rule_id=world["aid"].id, key=key)
    response = client.post(f"/wishes/new?village={world['village'].village.id}", data=data)
    assert response.status_code == 422
    assert "不能写这户人的姓名" in response.get_data(as_text=True)
    assert db.session.scalar(select(Wish)) is None


@pytest.mark.parametrize("absurd", ["99999999999999999999", "2147483648", "-1"])
def test_an_absurd_village_id_is_refused_not_an_error(world, client, login, absurd):
    login(world["worker"])
    assert client.get(f"/wishes/new?village={absurd}").status_code == 403
    assert client.post(f"/wishes/new?village={absurd}", data={}).status_code == 403


def test_a_worker_reading_english_tells_the_villager_in_chinese(world, client, login):
    from points.messages.models import Message
    wish = posted(world)
    login(world["other_worker"])
    response = client.post(f"/wishes/{wish.id}/adopt?lang=en", headers={"Accept-Language": "en"})
    assert response.status_code == 302
    texts = list(db.session.scalars(select(Message.text).where(Message.user_id == world["elder_account"].id)))
    assert texts == ["您家的微心愿已被认领"]
