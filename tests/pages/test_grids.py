"""The village overview and the grid tree pages, and the admins' pages that keep the tree."""
from sqlalchemy import select

from points.auth.models import Role
from points.extensions import db
from points.grids.models import GridNode, NodeKind
from points.grids.services import create_node
from points.people.models import HouseholdKind
from points.people.services import add_resident

from .. import factories


def test_village_overview_counts_households_people_and_renters(client, login, village):
    household = factories.gen_household(village.grids[0])
    factories.gen_household(village.grids[1], kind=HouseholdKind.RENTER)
    add_resident(household, "李秀英", "配偶")
    login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
    db.session.commit()
    page = client.get(f"/grids/{village.village.id}").get_data(as_text=True)
    assert village.village.name in page
    for grid in village.grids:
        assert grid.name in page
    assert '<b>2</b>户' in page and '<b>3</b>人' in page and '<b>1</b>外来租住户' in page


def test_home_shows_a_leader_their_grids_and_takes_villagers_to_their_page(client, login, village):
    login(factories.gen_user(Role.GRID_LEADER, village.grids[2]))
    db.session.commit()
    home = client.get("/")
    assert home.status_code == 200 and f'href="/grids/{village.grids[2].id}"' in home.get_data(as_text=True)
    login(factories.gen_villager(factories.gen_household(village.grids[0])))
    db.session.commit()
    assert client.get("/").headers["Location"].endswith("/my/points")


def test_tree_lists_every_level(client, login, village):
    create_node("一组微网格", "micro", NodeKind.GRID, village.grids[0])
    login(factories.gen_user(Role.TOWN_ADMIN, village.town))
    db.session.commit()
    page = client.get(f"/grids/{village.town.id}/tree").get_data(as_text=True)
    assert all(name in page for name in (village.town.name, village.village.name, "第1网格", "一组微网格"))


def test_a_village_admin_adds_a_micro_grid_renames_moves_and_retires_it(client, login, village):
    login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
    tree_page = client.get(f"/grids/{village.village.id}/tree").get_data(as_text=True)
    assert f"/grids/{village.grids[0].id}/edit" in tree_page and f"/grids/{village.village.id}/new" in tree_page
    assert f"/grids/{village.village.id}/edit" not in tree_page  # the village itself is the town's to change

    form = client.get(f"/grids/{village.grids[0].id}/new").get_data(as_text=True)
    assert "在 第1网格 下新增网格" in form
    made = client.post(f"/grids/{village.grids[0].id}/new", data={"name": "一号楼栋", "code": "lou-1"})
    assert made.status_code == 302
    micro = db.session.scalar(select(GridNode).where(GridNode.code == "lou-1"))
    assert micro.parent_id == village.grids[0].id
    assert "已新增 一号楼栋（编码 lou-1）" in client.get(made.headers["Location"]).get_data(as_text=True)

    edit = client.get(f"/grids/{micro.id}/edit").get_data(as_text=True)
    assert "第2网格" in edit and village.town.name not in edit  # where it may go: its own village only
    moved = client.post(f"/grids/{micro.id}/edit",
                        data={"name": "二号楼栋", "code": "lou-2", "parent_id": village.grids[1].id})
    assert moved.status_code == 302
    db.session.refresh(micro)
    assert (micro.name, micro.code, micro.parent_id) == ("二号楼栋", "lou-2", village.grids[1].id)

    confirm = client.get(f"/grids/{micro.id}/retire").get_data(as_text=True)
    assert "确认撤销 二号楼栋" in confirm and "不能恢复" in confirm
    assert client.post(f"/grids/{micro.id}/retire").status_code == 302
    db.session.refresh(micro)
    assert micro.retired_at is not None
    assert f'href="/grids/{micro.id}"' not in client.get(f"/grids/{village.village.id}/tree").get_data(as_text=True)


def test_refusals_are_shown_on_the_form_in_chinese(client, login, village):
    login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
    factories.gen_household(village.grids[0])
    db.session.commit()
    taken = client.post(f"/grids/{village.village.id}/new", data={"name": "新网格", "code": village.grids[1].code})
    assert taken.status_code == 422 and f"编码 {village.grids[1].code} 已被使用" in taken.get_data(as_text=True)
    inside = client.post(f"/grids/{village.grids[0].id}/edit",
                         data={"name": "第1网格", "code": village.grids[0].code, "parent_id": village.grids[0].id})
    # it is not among the choices
    assert inside.status_code == 422 and "不是有效的选择" in inside.get_data(as_text=True)
    retire = client.get(f"/grids/{village.grids[0].id}/retire").get_data(as_text=True)
    assert "第1网格 里还有 1 户，不能撤销" in retire and "确认撤销" not in retire
    refused = client.post(f"/grids/{village.grids[0].id}/retire")
    assert refused.status_code == 409 and db.session.get(GridNode, village.grids[0].id).retired_at is None


def test_a_grid_leader_is_told_why_not(client, login, village):
    login(factories.gen_user(Role.GRID_LEADER, village.grids[0]))
    page = client.get(f"/grids/{village.grids[0].id}/new")
    assert page.status_code == 403 and "您没有权限执行此操作" in page.get_data(as_text=True)
    assert f"/grids/{village.grids[0].id}/edit" not in client.get(f"/grids/{village.grids[0].id}/tree").get_data(
        as_text=True)
