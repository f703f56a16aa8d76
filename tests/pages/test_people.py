"""The household list (search, grid filter, pages) and detail pages, and the admins' pages that keep the register."""
from datetime import timedelta

from sqlalchemy import select

from points.auth.models import Role
from points.extensions import db
from points.people.models import Household, Resident
from points.timeutil import local_today

from .. import factories


def test_search_finds_by_name_number_and_phone(client, login, village):
    factories.gen_household(village.grids[0], head_name="许鸿源", phone="13900001111")
    factories.gen_household(village.grids[0], head_name="姚大伯", phone="13700002222")
    login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
    db.session.commit()
    for query in ("许鸿源", "13900001111", "0001"):
        page = client.get("/households", query_string={"q": query}).get_data(as_text=True)
        assert "共 1 户" in page and "许*源" in page, query


def test_grid_filter_and_pagination(client, login, village):
    for _ in range(25):
        factories.gen_household(village.grids[0])
    for _ in range(3):
        factories.gen_household(village.grids[1])
    login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
    db.session.commit()
    assert "共 28 户" in client.get("/households").get_data(as_text=True)
    assert "共 3 户" in client.get("/households", query_string={"grid": village.grids[1].id}).get_data(as_text=True)
    second = client.get("/households", query_string={"page": 2}).get_data(as_text=True)
    assert "第 2 / 2 页" in second
    assert second.count('class="row"') == 8


def test_unknown_household_is_a_404_in_chinese(client, login, village):
    login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
    db.session.commit()
    response = client.get("/households/999999")
    assert response.status_code == 404 and "找不到该内容" in response.get_data(as_text=True)


def test_grid_filter_offers_only_grids_in_scope(client, login, village):
    login(factories.gen_user(Role.GRID_LEADER, village.grids[0]))
    db.session.commit()
    page = client.get("/households").get_data(as_text=True)
    assert f'value="{village.grids[0].id}"' in page
    assert f'value="{village.grids[1].id}"' not in page


# --------------------------------------------------------------------------------------------- keeping the register


def test_an_admin_keeps_the_register_on_pages(client, login, village):
    login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
    made = client.post("/households/new", data={
        "grid_id": village.grids[1].id, "address": "瑶前村新街 1 号", "kind": "renter", "head_name": "王大山",
        "head_phone": "", "head_id_number": "", "care_tags": ["empty_nest"]})
    assert made.status_code == 302, made.get_data(as_text=True)
    household = db.session.scalar(select(Household).where(Household.address == "瑶前村新街 1 号"))
    page = client.get(made.headers["Location"]).get_data(as_text=True)
    assert "已新增户号 0001" in page and "修改户信息" in page and "整户迁出" in page

    child = client.post(f"/households/{household.id}/residents/new",
                        data={"name": "王小山", "relation": "子女", "phone": "12345", "id_number": ""})
    assert child.status_code == 422 and "手机号格式不正确" in child.get_data(as_text=True)
    assert client.post(f"/households/{household.id}/residents/new",
                       data={"name": "王小山", "relation": "子女", "phone": "", "id_number": ""}).status_code == 302
    son = db.session.scalar(select(Resident).where(Resident.name == "王小山"))
    edited = client.post(f"/households/{household.id}/edit", data={
        "address": "瑶前村新街 2 号", "kind": "registered", "head_id": son.id, "care_tags": []})
    assert edited.status_code == 302
    db.session.refresh(household)
    assert (household.address, household.kind.value, household.head_id, household.care_tags) == (
        "瑶前村新街 2 号", "registered", son.id, [])

    father = db.session.scalar(select(Resident).where(Resident.name == "王大山"))
    leave = client.get(f"/residents/{father.id}/leave").get_data(as_text=True)
    assert "确认登记 王大山 离开" in leave and "账号随之停用" in leave
    assert client.post(f"/residents/{father.id}/leave",
                       data={"reason": "deceased", "day": local_today().isoformat()}).status_code == 302
    page = client.get(f"/households/{household.id}").get_data(as_text=True)
    assert "已离开的成员" in page and "死亡" in page

    close = client.get(f"/households/{household.id}/close").get_data(as_text=True)
    assert "确认户号 0001 整户迁出" in close and "这一户的 0 分和所有记录照旧保留" in close
    future = client.post(f"/households/{household.id}/close",
                         data={"reason": "moved_out", "day": (local_today() + timedelta(days=1)).isoformat()})
    assert future.status_code == 422 and "日期不能晚于今天" in future.get_data(as_text=True)
    assert client.post(f"/households/{household.id}/close",
                       data={"reason": "renter_left", "day": local_today().isoformat()}).status_code == 302
    page = client.get(f"/households/{household.id}").get_data(as_text=True)
    assert "租户搬离" in page and "恢复在册" in page and "修改户信息" not in page
    assert "租户搬离" in client.get("/households").get_data(as_text=True)
    assert client.post(f"/households/{household.id}/reopen").status_code == 302
    assert db.session.get(Household, household.id).closed_on is None


def test_grid_staff_see_the_register_but_do_not_keep_it(client, login, village):
    household = factories.gen_household(village.grids[0])
    login(factories.gen_user(Role.GRID_LEADER, village.grids[0]))
    page = client.get(f"/households/{household.id}").get_data(as_text=True)
    assert "整户迁出" not in page and "修改户信息" not in page
    refused = client.get(f"/households/{household.id}/close")
    assert refused.status_code == 403 and "您没有权限执行此操作" in refused.get_data(as_text=True)
    assert client.post(f"/households/{household.id}/reopen").status_code == 403


def test_the_household_page_offers_add_and_deduct_to_who_may_and_never_on_their_own(client, login, village):
    """加分 and 扣分 as the award page allows them: the rules the user's role may apply there, each side offered only
    when there is a rule for it; not to villagers, not on one's own household, not on one off the register."""
    home, own, gone = (factories.gen_household(village.grids[0]) for _ in range(3))
    factories.gen_rule(village.village, "参加村民大会", 2)
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    worker.resident = own.head
    gone.closed_on = local_today()
    db.session.commit()

    def buttons(household) -> set[str]:
        page = client.get(f"/households/{household.id}").get_data(as_text=True)
        return {side for side in ("award", "deduct") if f'href="/households/{household.id}/award?side={side}"' in page}

    login(worker)
    assert buttons(home) == {"award"}  # no penalty in the book yet: no 扣分
    factories.gen_rule(village.village, "乱堆乱放", -10)
    db.session.commit()
    assert buttons(home) == {"award", "deduct"}
    assert buttons(own) == set() and buttons(gone) == set()
    assert client.get(f"/households/{home.id}/award?side=deduct").status_code == 200
    login(factories.gen_user(Role.GRID_LEADER, village.grids[1]))  # another grid: not theirs to see at all
    assert client.get(f"/households/{home.id}").status_code == 403
    login(factories.gen_villager(home))
    assert buttons(home) == set()
