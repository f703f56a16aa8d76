"""Absurd numbers and characters in URLs are a miss, never a 500, on the pages as in the API."""
import pytest

from points.auth.models import Role
from points.extensions import db

from . import factories

HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    "url",
    [f"/households/{HUGE}", f"/residents/{HUGE}", f"/grids/{HUGE}", f"/grids/{HUGE}/tree", f"/admin/users/{HUGE}",
     "/households/0", "/grids/-1"],
)
def test_huge_ids_are_not_found(client, login, village, url):
    login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
    db.session.commit()
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("query", [{"page": HUGE}, {"grid": HUGE}, {"q": "张\x00三"}, {"page": "-5"}])
def test_household_list_survives_odd_arguments(client, login, village, query):
    factories.gen_household(village.grids[0])
    login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
    db.session.commit()
    assert client.get("/households", query_string=query).status_code == 200


def test_new_user_with_a_huge_resident_number_is_refused_politely(client, login, village):
    login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
    db.session.commit()
    response = client.post("/admin/users/new",
                           data={"username": "x1", "password": "long-enough-1", "resident_id": HUGE})
    assert response.status_code == 200 and "找不到该村民" in response.get_data(as_text=True)
