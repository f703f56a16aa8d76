"""The pages of villager accounts at scale: 批量开通 with its count first, the A4 sheet of slips, the activation page a
slip's QR opens, 补发激活单 on the resident's page, and logging in by phone."""
import re

import pytest

from points.auth import slips
from points.auth.models import Role
from points.extensions import db
from points.people.services import add_resident

from .. import factories


@pytest.fixture
def scene(village):
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    home = factories.gen_household(village.grids[0], "张三明")
    add_resident(home, "李小红", "配偶", "13900001111", None)
    factories.gen_household(village.grids[1], "王五")
    db.session.commit()
    return village, admin, worker, home


def test_the_admin_sees_how_many_then_opens_them_and_gets_the_slips(client, login, scene):
    village, admin, worker, home = scene
    login(admin)
    page = client.get(f"/admin/accounts?node_id={village.village.id}").get_data(as_text=True)
    assert "将为 3 位村民开通账号" in page and "开通 3 个账号并打印激活单" in page
    opened = client.post("/admin/accounts", data={"node_id": village.village.id})
    assert (opened.status_code == 302
            and opened.headers["Location"] == f"/admin/accounts/slips?node={village.village.id}")
    assert client.post("/admin/accounts", data={"node_id": village.village.id}).status_code == 302, "sent twice"
    sheet = client.get(opened.headers["Location"]).get_data(as_text=True)
    assert "激活单（3 张）" in sheet and sheet.count('<svg class="qr"') == 3
    assert "张*明" in sheet and "李*红" in sheet and "张三明" not in sheet and "13900001111" not in sheet
    assert "用手机扫码，设置密码即可登录" in sheet


def test_the_count_for_a_grid_and_an_age(client, login, scene):
    village, admin, worker, home = scene
    login(admin)
    page = client.get(f"/admin/accounts?node_id={village.grids[0].id}&min_age=18").get_data(as_text=True)
    assert "没有符合年龄的村民" in page and "另有 2 人没有登记身份证号" in page


def test_a_grid_worker_may_not_open_accounts(client, login, scene):
    village, admin, worker, home = scene
    login(worker)
    assert client.get("/admin/accounts").status_code == 403
    assert client.post("/admin/accounts", data={"node_id": village.village.id}).status_code == 403
    assert client.get(f"/admin/accounts/slips?node={village.grids[0].id}").status_code == 403


def test_the_slip_opens_a_page_that_sets_the_password_and_logs_in(client, scene):
    village, admin, worker, home = scene
    slips.open_accounts(admin, village.village.id)
    db.session.commit()
    slip = next(s for s in slips.pending_slips(admin, village.village.id, 14) if s.resident.name == "李小红")
    page = client.get(f"/activate/{slip.token}").get_data(as_text=True)
    assert "李*红（户号 0001）" in page and "也可以用手机号登录" in page
    mismatch = client.post(f"/activate/{slip.token}", data={"password": "新密码12345", "again": "新密码12346"})
    assert mismatch.status_code == 422 and "两次输入的密码不一样" in mismatch.get_data(as_text=True)
    done = client.post(f"/activate/{slip.token}", data={"password": "新密码12345", "again": "新密码12345"})
    assert done.status_code == 302
    assert "remember_token" in done.headers.get("Set-Cookie", "") or any(
        "remember_token" in c for c in done.headers.getlist("Set-Cookie"))
    assert client.get("/me").status_code == 200
    client.post("/logout")
    used = client.get(f"/activate/{slip.token}")
    assert used.status_code == 410 and "已经用过或已作废" in used.get_data(as_text=True)
    by_phone = client.post("/login", data={"username": "13900001111", "password": "新密码12345"})
    assert by_phone.status_code == 302


def test_an_account_not_yet_activated_is_told_how_on_the_login_page(client, scene):
    village, admin, worker, home = scene
    slips.open_accounts(admin, village.village.id)
    db.session.commit()
    username = slips.pending_slips(admin, village.village.id, 14)[0].user.username
    page = client.post("/login", data={"username": username, "password": "whatever1"})
    assert page.status_code == 401 and "该账号还没有激活" in page.get_data(as_text=True)


def test_a_grid_worker_reissues_a_slip_from_the_residents_page(client, login, scene):
    village, admin, worker, home = scene
    villager = factories.gen_villager(home)
    db.session.commit()
    login(worker)
    page = client.get(f"/residents/{home.head_id}").get_data(as_text=True)
    assert f"村民账号：{villager.username}" in page and "补发激活单" in page
    action = re.search(r'action="(/admin/users/\d+/slip)"', page).group(1)
    before = villager.slip_version
    asked = client.post(action).get_data(as_text=True)
    assert "补发激活单" in asked and "旧激活单马上作废" in asked and f'href="/residents/{home.head_id}"' in asked
    db.session.expire_all()
    assert db.session.get(type(villager), villager.id).slip_version == before, "asking voids nothing"
    form = {"confirmed": "1", "slip_version": str(before)}
    reissued = client.post(action, data=form, follow_redirects=True)
    assert reissued.status_code == 200
    assert "已补发激活单" in reissued.get_data(as_text=True) and '<svg class="qr"' in reissued.get_data(as_text=True)
    version = db.session.get(type(villager), villager.id).slip_version
    assert client.get(action).status_code == 200, "a reload shows the slip again"
    db.session.expire_all()
    assert db.session.get(type(villager), villager.id).slip_version == version, "and voids nothing"
    twice = client.post(action, data=form, follow_redirects=True).get_data(as_text=True)
    assert "已经补发过了，下面是现在有效的激活单" in twice and '<svg class="qr"' in twice
    db.session.expire_all()
    assert db.session.get(type(villager), villager.id).slip_version == version, "the form sent twice voids nothing"


def test_a_grid_worker_of_another_grid_gets_no_slip(client, login, scene):
    village, admin, worker, home = scene
    villager = factories.gen_villager(home)
    elsewhere = factories.gen_user(Role.GRID_WORKER, village.grids[1])
    db.session.commit()
    login(elsewhere)
    assert client.post(f"/admin/users/{villager.id}/slip").status_code == 404
