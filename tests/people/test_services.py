"""Households and residents: validation and normalization of what is typed in."""
import pytest

from points.errors import DomainError
from points.people.models import HouseholdKind
from points.people.services import (
    add_resident,
    create_household,
    next_household_number,
    normalize_id_number,
    normalize_phone,
    with_id_checksum,
)

from .. import factories


@pytest.mark.parametrize(
    "typed, stored",
    [("13812345678", "13812345678"), ("１３８１２３４５６７８", "13812345678"), ("138 1234 5678", "13812345678"),
     ("+8613812345678", "13812345678"), ("", None), (None, None)],
)
def test_phones_are_normalized(typed, stored):
    assert normalize_phone(typed) == stored


@pytest.mark.parametrize("typed", ["12345", "23812345678", "1381234567a", "138123456789"])
def test_malformed_phones_are_refused(typed):
    with pytest.raises(DomainError) as refusal:
        normalize_phone(typed)
    assert refusal.value.code == "invalid_phone"


def test_id_numbers_need_a_valid_check_digit():
    good = with_id_checksum("35058219900101123")
    assert normalize_id_number(good) == good
    assert normalize_id_number(good.lower()) == good
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(DomainError) as refusal:
        normalize_id_number(wrong)
    assert refusal.value.code == "invalid_id_number"


def test_full_width_id_number_is_accepted():
    good = with_id_checksum("35058219900101123")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in good)
    assert normalize_id_number(full_width) == good


def test_household_numbers_count_up_within_a_village(village):
    first = factories.gen_household(village.grids[0])
    second = factories.gen_household(village.grids[1])
    assert (first.number, second.number) == ("0001", "0002")
    other = factories.gen_village(town=village.town)
    assert next_household_number(other.village.id) == "0001"


def test_a_household_belongs_to_a_grid_not_a_village(village):
    with pytest.raises(DomainError) as refusal:
        create_household(village.village, "1号", HouseholdKind.REGISTERED, "张三")
    assert refusal.value.code == "invalid_grid"


def test_id_numbers_are_unique_across_households(village):
    id_number = factories.gen_id_number()
    factories.gen_household(village.grids[0], id_number=id_number)
    household = factories.gen_household(village.grids[1])
    with pytest.raises(DomainError) as refusal:
        add_resident(household, "李四", "配偶", id_number=id_number)
    assert refusal.value.code == "id_number_taken"


def test_the_head_is_the_first_resident(village):
    household = factories.gen_household(village.grids[0], head_name="张三明")
    assert household.head.name == "张三明" and household.head.relation == "户主"
    assert household.residents == [household.head]


def test_a_resident_added_by_hand_is_checked_like_an_imported_one(village):
    household = factories.gen_household(village.grids[0])
    assert add_resident(household, "李四", "配偶", phone="１３９ ００００ １１１１").phone == "13900001111"
    for kwargs, code in (
        ({"phone": "12345"}, "invalid_phone"),
        ({"id_number": "350582199001011230"}, "invalid_id_number"),
        ({"name": "张" * 51}, "name_too_long"),
    ):
        with pytest.raises(DomainError) as refusal:
            add_resident(household, **{"name": "王五", **kwargs})
        assert refusal.value.code == code
