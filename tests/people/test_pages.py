"""The household list (search, grid filter, pages) and detail pages."""
from points.auth.models import Role
from points.extensions import db

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
