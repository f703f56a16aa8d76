"""Finding a household on a phone: search /households by a name or a 户号 and open the detail."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from points.extensions import db
from points.people.models import Household, Resident

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def target(live_server):
    """A demo household whose head's name no other resident of the village shares: (户号, head's name)."""
    with live_server.app.app_context():
        unique_names = select(Resident.name).group_by(Resident.name).having(func.count() == 1)
        row = db.session.execute(
            select(Household.number, Resident.name)
            .join(Resident, Household.head_id == Resident.id)
            .where(Resident.name.in_(unique_names), func.length(Resident.name) == 3)
            .order_by(Household.number)
            .offset(40)
        ).first()
    assert row is not None, "the demo village has no household with a unique head name"
    return row.number, row.name


def _search(phone, text: str) -> None:
    box = phone.page.get_by_role("searchbox", name="搜索")
    box.fill(text)
    phone.page.get_by_role("button", name="搜索", exact=True).click()
    expect(phone.page).to_have_url(re.compile(r"[?&]q="))


def test_village_admin_finds_a_household_by_name(phone, target):
    number, name = target
    phone.log_in("cunwei")
    phone.page.locator("header nav").get_by_role("link", name="户", exact=True).click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("住户")
    expect(phone.page.get_by_text("共 450 户")).to_be_visible()
    phone.check("list")

    _search(phone, name)

    rows = phone.page.locator("ul.list a.row")
    expect(rows.filter(has_text=f"户号 {number}")).to_have_count(1)
    phone.check("by-name")
    rows.filter(has_text=f"户号 {number}").click()

    expect(phone.page.get_by_role("heading", level=1)).to_have_text(f"户号 {number} · {name}")
    expect(phone.page.locator("dl.facts")).to_contain_text("瑶前村")
    expect(phone.page.locator("ul.list a.row").first).to_contain_text(name)
    phone.check("detail")


def test_grid_leader_finds_a_household_by_number(phone, live_server):
    with live_server.app.app_context():
        number, _grid = db.session.execute(
            select(Household.number, Household.grid_id).order_by(Household.number).offset(10)
        ).first()
    phone.log_in("leader1")
    phone.open("/households")

    _search(phone, number)

    row = phone.page.locator("ul.list a.row").filter(has_text=f"户号 {number}")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("第一网格")
    phone.check("by-number")
    row.click()

    expect(phone.page.get_by_role("heading", level=1)).to_have_text(re.compile(rf"^户号 {number} · "))
    phone.check("detail")

    phone.page.locator("ul.list a.row").first.click()
    expect(phone.page.get_by_text("与户主关系")).to_be_visible()
    phone.check("resident")


def test_search_without_a_match_says_so(phone):
    phone.log_in("cunwei")
    phone.open("/households")

    _search(phone, "没有这个人")

    expect(phone.page.get_by_text("共 0 户")).to_be_visible()
    expect(phone.page.get_by_text("没有找到住户")).to_be_visible()
    phone.check("no-match")


def test_household_list_pages_through_the_village(phone):
    phone.log_in("cunwei")
    phone.open("/households")
    expect(phone.page.get_by_text("第 1 / 23 页")).to_be_visible()

    phone.page.get_by_role("link", name="下一页").click()

    expect(phone.page.get_by_text("第 2 / 23 页")).to_be_visible()
    expect(phone.page.locator("ul.list a.row")).to_have_count(20)
    phone.check("page-2")
