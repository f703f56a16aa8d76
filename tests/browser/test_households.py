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


# ---- issue 23: 加分 and 扣分 on the household page (helper 23-E) ----


def test_a_grid_worker_deducts_from_the_household_page(phone, live_server):
    import os

    from points.grids.models import GridNode

    with live_server.app.app_context():
        grid = db.session.scalar(select(GridNode).where(GridNode.code == "yaoqian-1"))
        household_id, number = db.session.execute(
            select(Household.id, Household.number).where(Household.grid_id == grid.id, Household.closed_on.is_(None))
            .order_by(Household.number).offset(30)
        ).first()
    phone.log_in("worker1")
    phone.open(f"/households/{household_id}")

    buttons = phone.page.locator(".award-sides")
    expect(buttons.get_by_role("link", name="加分", exact=True)).to_be_visible()
    expect(buttons.get_by_role("link", name="扣分", exact=True)).to_be_visible()
    assert buttons.bounding_box()["y"] + buttons.bounding_box()["height"] <= 740  # on the first screen
    os.makedirs("/tmp/shots/23-E", exist_ok=True)
    phone.page.screenshot(path="/tmp/shots/23-E/household.png", full_page=True)

    buttons.get_by_role("link", name="扣分", exact=True).click()
    rule = phone.page.get_by_label("细则", exact=True)
    labels = [t for t in rule.locator("option").all_inner_texts() if t != "请选择"]
    assert labels and all("−" in t or "-" in t for t in labels), labels  # the penalties only
    rule.select_option(rule.locator("option", has_text="乱扔垃圾").get_attribute("value"))
    phone.page.get_by_role("button", name="确认记分").click()
    expect(phone.page.locator(".confirm-what")).to_contain_text(f"将给户号 {number}")
    phone.check("deduct-confirm")
    phone.page.get_by_role("button", name="确认扣分").click()
    expect(phone.page.locator(".flash")).to_have_text(re.compile(r"^已记 -\d+ 分$"))


def test_a_villager_sees_no_award_buttons_on_their_own_household(phone):
    phone.log_in("villager1")
    phone.page.locator("header nav").get_by_role("link", name="我的", exact=True).click()
    phone.page.get_by_role("link", name=re.compile(r"^户号 \d{4} · ")).click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^户号 \d{4}"))
    expect(phone.page.get_by_role("link", name="扣分", exact=True)).to_have_count(0)
    expect(phone.page.get_by_role("link", name="加分", exact=True)).to_have_count(0)
