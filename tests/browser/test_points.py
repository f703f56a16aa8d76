"""Points on a phone: a villager claims with a photo, the grid worker approves it, the villager sees the points;
a worker awards a meeting to several households at once; the village admin reverses an appealed deduction."""
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from points.extensions import db
from points.grids.models import GridNode
from points.ledger.models import LedgerEntry
from points.people.models import Household

from .. import factories

pytestmark = pytest.mark.browser


def choose(select, text: str) -> None:
    """Select the option whose label contains text (labels carry the points, which the test need not know)."""
    select.select_option(select.locator("option", has_text=text).get_attribute("value"))


def test_a_claim_with_a_photo_is_approved_and_shows_in_my_points(phone, tmp_path):
    photo = tmp_path / "yard.jpg"
    photo.write_bytes(factories.gen_photo())
    phone.log_in("villager1")
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("我的积分")
    balance = int(phone.page.locator("b.balance").inner_text())
    phone.page.get_by_role("link", name="申报积分").first.click()
    phone.check("claim-form")
    choose(phone.page.get_by_label("申报哪一项"), "门前三包")
    phone.page.get_by_label("说明").fill("门前屋后打扫干净，杂物已清理")
    phone.page.get_by_label("照片（最多 3 张）").set_input_files(str(photo))
    phone.page.get_by_role("button", name="提交申报").click()
    expect(phone.page.get_by_text("申报已提交，请等待网格员审核")).to_be_visible()
    expect(phone.page.locator(".photos img")).to_have_count(1)
    expect(phone.page.locator(".status")).to_have_text("待审核")
    phone.check("claim-submitted")
    claim_url = phone.page.url

    phone.log_in("worker1")
    phone.page.locator("header nav").get_by_role("link", name="审核").click()
    phone.check("review-queue")
    phone.page.locator("ul.list a.row").filter(has_text="门前屋后打扫干净").click()
    phone.page.get_by_role("button", name="通过并记分").click()
    expect(phone.page.get_by_text("已通过，+5 分已记入")).to_be_visible()
    phone.check("approved")

    phone.log_in("villager1")
    expect(phone.page.locator("b.balance")).to_have_text(str(balance + 5))
    expect(phone.page.locator("li.entry").first).to_contain_text("门前三包")
    phone.check("my-points-after")
    phone.open(urlsplit(claim_url).path)
    expect(phone.page.locator(".status")).to_have_text("已通过")


def test_a_worker_awards_a_meeting_to_three_households_at_once(phone, live_server):
    with live_server.app.app_context():  # three households of the first grid with no points yet (no cap in the way)
        grid = db.session.scalar(select(GridNode).where(GridNode.code == "yaoqian-1"))
        chosen = db.session.scalars(
            select(Household.id).where(Household.grid_id == grid.id,
                                       Household.id.not_in(select(LedgerEntry.household_id)))
            .order_by(Household.number).limit(3)
        ).all()
    phone.log_in("worker1")
    phone.page.locator("header nav").get_by_role("link", name="记分").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("批量记分")
    choose(phone.page.get_by_label("细则", exact=True), "参加村民代表会议")
    phone.page.get_by_label("备注").fill("11月村民代表会议")
    for household_id in chosen:
        phone.page.locator(f"fieldset.households input[value='{household_id}']").check()
    phone.check("batch-form")
    phone.page.get_by_role("button", name="为选中的住户记分").click()
    expect(phone.page.locator(".confirm-what")).to_have_text(re.compile(r"^将为 3 户各记 \+\d+ 分，共 \+\d+ 分$"))
    expect(phone.page.locator(".confirm-details")).to_contain_text("细则：参加村民代表会议")
    phone.check("batch-confirm")
    phone.page.get_by_role("link", name="取消，不做任何改动").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("批量记分")
    with live_server.app.app_context():
        assert db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.household_id.in_(chosen))) is None
    choose(phone.page.get_by_label("细则", exact=True), "参加村民代表会议")
    for household_id in chosen:
        phone.page.locator(f"fieldset.households input[value='{household_id}']").check()
    phone.page.get_by_role("button", name="为选中的住户记分").click()
    phone.page.get_by_role("button", name="确认记分（3 户）").click()
    expect(phone.page.get_by_text("已为 3 户记分")).to_be_visible()
    phone.check("batch-done")


def test_the_village_admin_reverses_an_appealed_deduction(phone):
    phone.log_in("villager3")
    expect(phone.page.locator("li.entry").filter(has_text="乱堆乱放").first).to_contain_text("已申诉")
    balance = int(phone.page.locator("b.balance").inner_text())

    phone.log_in("cunwei")
    phone.page.locator("header nav").get_by_role("link", name="管理").click()
    phone.check("manage")
    phone.page.get_by_role("link", name="申诉处理").click()
    phone.page.locator("ul.list a.row").filter(has_text="修屋顶").click()
    phone.page.get_by_label("处理结果").select_option("reverse")
    phone.page.get_by_label("处理说明").fill("核实属实，已清走")
    phone.page.get_by_role("button", name="处理申诉").click()
    phone.page.get_by_role("button", name="确认撤销，记 +10 分").click()
    expect(phone.page.locator(".status")).to_have_text("已撤销扣分")
    phone.check("appeal-reversed")
    phone.open("/audit")
    expect(phone.page.locator("li.event").first).to_contain_text("撤销扣分")

    phone.log_in("villager3")
    expect(phone.page.locator("b.balance")).to_have_text(str(balance + 10))


def test_villagers_read_the_rule_book_and_the_admin_revises_a_rule(phone):
    phone.log_in("villager2")
    phone.page.get_by_role("link", name="积分细则").click()
    for category in ("人居环境", "志愿服务", "村规民约", "村民互助", "宣传监督", "网格员履职"):
        expect(phone.page.get_by_role("heading", name=category)).to_be_visible()
    expect(phone.page.get_by_role("link", name="新增细则")).to_have_count(0)
    phone.check("rule-book-villager")

    phone.log_in("cunwei")
    phone.page.locator("header nav").get_by_role("link", name="管理").click()
    phone.page.get_by_role("link", name="积分细则").click()
    phone.check("rule-book-admin")
    phone.page.locator(".rule").filter(has_text="参与赌博").get_by_role("link", name="修改").click()
    phone.check("rule-edit")
    phone.page.get_by_label("分值（加分填正数，扣分填负数）").fill("-30")
    phone.page.get_by_role("button", name="保存为新版本").click()
    expect(phone.page.get_by_text(
        re.compile(r"已修改细则 VR-GAMBLE：第 2 版自 \d{4}-\d{2}-\d{2} 起生效"))).to_be_visible()
    phone.check("rule-revised")


def test_a_worker_confirms_a_penalty_before_it_is_posted(phone, live_server):
    with live_server.app.app_context():
        grid = db.session.scalar(select(GridNode).where(GridNode.code == "yaoqian-1"))
        household = db.session.scalar(select(Household).where(Household.grid_id == grid.id)
                                      .order_by(Household.number.desc()))
        household_id, number = household.id, household.number

    def count():
        with live_server.app.app_context():
            return len(db.session.scalars(select(LedgerEntry.id).where(LedgerEntry.household_id == household_id)).all())

    before = count()
    phone.log_in("worker1")
    phone.open(f"/households/{household_id}/award")
    choose(phone.page.get_by_label("细则", exact=True), "乱扔垃圾、污水乱排")
    phone.page.get_by_role("button", name="确认记分").click()
    expect(phone.page.locator(".confirm-what")).to_contain_text(f"将给户号 {number}（")
    expect(phone.page.locator(".confirm-what")).to_contain_text("扣 5 分：乱扔垃圾、污水乱排")
    phone.check("penalty-confirm")
    phone.page.get_by_role("link", name="取消，不做任何改动").click()
    expect(phone.page.get_by_role("heading", level=1)).to_contain_text(number)
    assert count() == before
    phone.open(f"/households/{household_id}/award")
    choose(phone.page.get_by_label("细则", exact=True), "乱扔垃圾、污水乱排")
    phone.page.get_by_role("button", name="确认记分").click()
    phone.page.get_by_role("button", name="确认扣分").click()
    expect(phone.page.locator(".flash")).to_have_text("已记 -5 分")
    assert count() == before + 1


def test_a_worker_searches_the_batch_list_and_chooses_all_it_shows(phone, live_server):
    """批量记分 at 360 px: the list flows with the page (no box scrolling inside it); a search for 001 shows 0001 and
    0010–0019, 全选 ticks those only, the count says so, and the button goes to the confirmation naming them."""
    shots = Path("/tmp/shots/23-D")
    shots.mkdir(parents=True, exist_ok=True)
    with live_server.app.app_context():
        last = db.session.scalar(select(Household.id).where(Household.number == "0150"))
    phone.log_in("worker1")
    phone.page.locator("header nav").get_by_role("link", name="记分").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("批量记分")
    rows = phone.page.locator("label.household")
    every = rows.count()
    assert every > 100
    assert phone.page.evaluate("getComputedStyle(document.getElementById('households')).overflowY") == "visible"
    expect(phone.page.locator("label.household .tag.renter").first).to_have_text("外来")
    expect(phone.page.locator("label.household .tag").first).to_have_text("户籍")
    count = phone.page.locator("#household-count")
    expect(count).to_have_text("已选 0 户")
    expect(phone.page.get_by_role("button", name="为选中的住户记分")).to_be_in_viewport()
    phone.page.screenshot(path=shots / "batch-top.png")
    phone.check("batch-list")

    choose(phone.page.get_by_label("细则", exact=True), "参加村民代表会议")
    phone.page.locator(f"label.household input[value='{last}']").check()  # one chosen before
    search = phone.page.get_by_label("查找住户")
    search.fill("001")
    shown = phone.page.locator("label.household:visible")
    expect(shown).to_have_count(11)
    numbers = [re.match(r"\s*(\d{4})", text).group(1) for text in shown.all_inner_texts()]
    assert numbers == ["0001", *(f"00{n}" for n in range(10, 20))]
    everyone = phone.page.get_by_role("checkbox", name=re.compile("全选"))
    expect(everyone).not_to_be_checked()
    expect(phone.page.locator("#household-all-label")).to_have_text("全选（显示的 11 户）")
    everyone.check()
    expect(count).to_have_text("已选 12 户")  # the 11 shown, and the one chosen before the search
    assert phone.page.locator("label.household input:checked").count() == 12
    search.press("Enter")  # searches; does not send the form
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("批量记分")
    phone.page.screenshot(path=shots / "batch-search.png")
    phone.check("batch-search")
    everyone.uncheck()  # 全选 again takes away the shown ones only
    expect(count).to_have_text("已选 1 户")
    everyone.check()
    search.fill("")
    expect(phone.page.locator("label.household:visible")).to_have_count(every)
    expect(phone.page.locator("#household-all")).not_to_be_checked()
    expect(count).to_have_text("已选 12 户")

    phone.page.get_by_role("button", name="为选中的住户记分").click()
    expect(phone.page.locator(".confirm-what")).to_have_text(re.compile(r"^将为 12 户各记 \+2 分，共 \+24 分$"))
    expect(phone.page.locator(".confirm-details")).to_contain_text("、".join([*numbers, "0150"]))
    phone.page.screenshot(path=shots / "batch-confirm.png", full_page=True)
    phone.check("batch-search-confirm")
    phone.page.get_by_role("link", name="取消，不做任何改动").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("批量记分")
