"""Masking of personal data, and who sees it unmasked."""
import pytest

from points.auth.models import Role
from points.extensions import db
from points.people.models import CareTag
from points.people.privacy import mask_id_number, mask_name, mask_phone

from .. import factories


@pytest.mark.parametrize(
    "name, masked", [("张三明", "张*明"), ("张三", "张*"), ("欧阳小明", "欧**明"), ("张", "张"), ("", "")]
)
def test_names_keep_the_first_and_last_character(name, masked):
    assert mask_name(name) == masked


def test_phones_and_id_numbers_keep_only_their_ends():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone(None) == ""
    assert mask_id_number("350582199001011234") == "350***********1234"


def test_household_list_masks_names_and_phones(client, login, village):
    factories.gen_household(village.grids[0], head_name="王小明", phone="13912345678")
    login(factories.gen_user(Role.GRID_LEADER, village.grids[0]))
    db.session.commit()
    page = client.get("/households").get_data(as_text=True)
    assert "王*明" in page and "139****5678" in page
    assert "王小明" not in page and "13912345678" not in page


def test_grid_staff_see_phones_and_care_tags_but_a_masked_id_number(client, login, village):
    id_number = factories.gen_id_number()
    household = factories.gen_household(
        village.grids[0], phone="13912345678", id_number=id_number, care_tags=[CareTag.EMPTY_NEST]
    )
    login(factories.gen_user(Role.GRID_WORKER, village.grids[0]))
    db.session.commit()
    page = client.get(f"/households/{household.id}").get_data(as_text=True)
    assert "13912345678" in page and "空巢老人" in page
    resident = client.get(f"/residents/{household.head.id}").get_data(as_text=True)
    assert mask_id_number(id_number) in resident and id_number not in resident


def test_village_admin_sees_the_whole_id_number(client, login, village):
    id_number = factories.gen_id_number()
    household = factories.gen_household(village.grids[0], id_number=id_number)
    login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
    db.session.commit()
    assert id_number in client.get(f"/residents/{household.head.id}").get_data(as_text=True)


def test_a_villager_sees_their_own_phones_but_never_care_tags(client, login, village):
    household = factories.gen_household(village.grids[0], phone="13912345678", care_tags=[CareTag.LOW_INCOME])
    login(factories.gen_villager(household))
    db.session.commit()
    page = client.get(f"/households/{household.id}").get_data(as_text=True)
    assert "13912345678" in page
    assert "低保" not in page and "关爱标签" not in page


def test_shop_clerks_and_organizers_cannot_open_households(client, login, village):
    household = factories.gen_household(village.grids[0])
    for role in (Role.SHOP_CLERK, Role.EVENT_ORGANIZER):
        login(factories.gen_user(role, village.village))
        db.session.commit()
        assert client.get(f"/households/{household.id}").status_code == 403
        assert "共 0 户" in client.get("/households").get_data(as_text=True)
