"""卫生评比 on a phone: the leader assigned this week scores households of the grid they inspect, one after another
from the save bar kept on screen, the village admin publishes it, the results show the 示范户, and the villager's
balance shows the award."""
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import func, select

from points.auth.models import User
from points.extensions import db
from points.grids.models import GridNode
from points.hygiene import inspection
from points.hygiene.models import Assignment, MonthlySummary, Score
from points.people.models import Household
from points.periods import week_of
from points.timeutil import local_today

from .conftest import PHONE, Phone

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots/23-C")  # each sheet's first screen, as the leader sees it, to look at


def test_a_leader_scores_the_admin_publishes_and_the_villager_gets_the_award(phone, live_server):
    with live_server.app.app_context():
        village = db.session.scalar(select(GridNode).where(GridNode.code == "yaoqian"))
        grid = db.session.scalar(select(GridNode).where(GridNode.code == "yaoqian-3"))
        round_ = inspection.round_for(village, week_of(local_today()))
        inspector = inspection.assignment_of(round_, grid.id).inspector_grid
        leader = f"leader{inspector.code.rsplit('-', 1)[1]}"
        home = db.session.scalar(select(User).where(User.username == "villager5")).resident.household_id
        others = db.session.scalars(select(Household.id).where(Household.grid_id == grid.id, Household.id != home)
                                    .order_by(Household.number).limit(3)).all()
        round_id, village_id, week = round_.id, village.id, round_.week

    phone.log_in("villager5")
    before = int(phone.page.locator("b.balance").inner_text())

    phone.log_in(leader)
    phone.page.locator("header nav").get_by_role("link", name="评比").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("每周卫生评比")
    phone.check("week")
    phone.page.locator("section.grid-week").filter(has_text="第三网格").get_by_role("link", name="去评分").click()
    expect(phone.page.locator(".progress-line")).to_contain_text("已评")
    phone.check("sheet-list")
    phone.open(f"/hygiene/rounds/{round_id}/households/{home}")
    phone.page.get_by_role("button", name="无扣分，保存并下一户").click()  # a clean door: one tap
    expect(phone.page.locator(".flash")).to_contain_text("扣 0 分")
    for taps, household_id in enumerate(others, start=1):
        phone.open(f"/hygiene/rounds/{round_id}/households/{household_id}")
        for item in range(taps):
            phone.page.locator("fieldset.item").nth(item).locator("label.minus").last.click()
        phone.check(f"sheet-{taps}")
        phone.page.get_by_role("button", name="保存，评下一户").click()
        expect(phone.page.locator(".flash")).to_contain_text(f"扣 {taps * 5} 分")

    # The week is not over and the grid is not fully scored: publishing it now is the admin's explicit 提前发布,
    # confirmed on a page that names the numbers; 取消 writes nothing.
    phone.log_in("cunwei")
    phone.open(f"/villages/{village_id}/hygiene?week={week}")
    expect(phone.page.locator(".card.early")).to_contain_text("第三网格")
    phone.check("week-early")
    third = phone.page.locator("section.grid-week").filter(has=phone.page.get_by_role("heading", name="第三网格"))
    third.get_by_role("button", name="提前发布本网格").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("发布评比结果")
    expect(phone.page.locator(".confirm-what")).to_contain_text("第三网格的评比：3 户评为示范户各 +20 分")
    expect(phone.page.locator(".confirm-what")).to_contain_text("户未评分")
    expect(phone.page.get_by_role("alert")).to_contain_text("提前发布：本周还没结束")
    phone.check("publish-confirm")
    phone.page.get_by_role("link", name="取消，不做任何改动").click()
    expect(third).to_contain_text("未发布")
    expect(third.locator("ul.honours")).to_have_count(0)
    third.get_by_role("button", name="提前发布本网格").click()
    phone.page.get_by_role("button", name="确认提前发布").click()
    expect(phone.page.get_by_text("已发布：记分")).to_be_visible()
    expect(third.locator("ul.honours li")).to_have_count(3)
    phone.check("published")
    # All grids at once: the confirmation names each grid's numbers; 取消 leaves the others unpublished.
    phone.page.get_by_role("button", name="提前发布全部网格").click()
    expect(phone.page.locator(".confirm-what")).to_contain_text("全部网格的评比")
    expect(phone.page.locator(".confirm-details")).to_contain_text("第一网格：")
    phone.check("publish-all-confirm")
    phone.page.get_by_role("link", name="取消，不做任何改动").click()
    with live_server.app.app_context():
        unpublished = db.session.scalar(select(func.count()).select_from(Assignment).where(
            Assignment.round_id == round_id, Assignment.published_at.is_(None)))
        assert unpublished == len(inspection.inspected_grids(village_id)) - 1

    phone.log_in("villager5")
    expect(phone.page.locator("b.balance")).to_have_text(str(before + 20))
    expect(phone.page.locator("li.entry").first).to_contain_text("卫生保洁示范户")
    phone.page.get_by_role("link", name="卫生评比记录").click()
    expect(phone.page.locator("body")).to_contain_text("卫生保洁示范户")
    phone.check("history")


def test_the_admin_confirms_the_months_summary_and_cancelling_changes_nothing(phone, live_server):
    with live_server.app.app_context():
        village = db.session.scalar(select(GridNode).where(GridNode.code == "yaoqian"))
        # The demo sums up the latest month that is over, whatever the day.
        month = db.session.scalar(select(MonthlySummary.month).where(MonthlySummary.village_id == village.id))
        village_id = village.id
    phone.log_in("cunwei")
    phone.open(f"/villages/{village_id}/hygiene/settings")  # where the 晾晒 rule is set: its count, ties and most
    expect(phone.page.get_by_label("并列时晾晒最多几户（不少于晾晒户数；超过时并列的都不列）")).to_have_value("4")
    phone.check("settings")
    phone.open(f"/villages/{village_id}/hygiene/months/{month}")
    published = phone.page.locator("p.muted").filter(has_text="发布于").inner_text()
    phone.page.get_by_role("button", name="重新汇总").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("发布本月汇总")
    expect(phone.page.locator(".confirm-what")).to_contain_text("户获流动红旗")
    expect(phone.page.locator(".confirm-details li").first).to_contain_text("获流动红旗")
    phone.check("month-confirm")
    phone.page.get_by_role("link", name="取消，不做任何改动").click()
    expect(phone.page.locator("p.muted").filter(has_text="发布于")).to_have_text(published)
    phone.page.get_by_role("button", name="重新汇总").click()
    phone.page.get_by_role("button", name="确认发布").click()
    expect(phone.page.locator(".flash")).to_contain_text("汇总已发布")
    phone.check("month-published")



def _second_grid(live_server) -> tuple[int, int, str, list[tuple[int, str]]]:
    """This week's round, 第二网格 (which the demo leaves unscored), its inspector's username and its unscored
    households (id, 户号) by 户号."""
    with live_server.app.app_context():
        village = db.session.scalar(select(GridNode).where(GridNode.code == "yaoqian"))
        grid = db.session.scalar(select(GridNode).where(GridNode.code == "yaoqian-2"))
        round_ = inspection.round_for(village, week_of(local_today()))
        inspector = inspection.assignment_of(round_, grid.id).inspector_grid
        scored = select(Score.household_id).where(Score.round_id == round_.id)
        households = db.session.execute(select(Household.id, Household.number).where(
            Household.grid_id == grid.id, Household.closed_on.is_(None), Household.id.not_in(scored))
            .order_by(Household.number)).all()
        db.session.commit()
        return round_.id, grid.id, f"leader{inspector.code.rsplit('-', 1)[1]}", [tuple(h) for h in households]


def _on_first_screen(page, locator) -> dict:
    """The locator's box, asserted to lie wholly inside the phone's screen as the page opened (not scrolled)."""
    box = locator.bounding_box()
    height = page.viewport_size["height"]
    assert page.evaluate("window.scrollY") == 0
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height, (box, height)
    return box


def _centre(box: dict) -> dict:
    return {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}


def _tap(page, box: dict) -> None:
    """A finger on the screen where the box is: no scrolling, and whatever lies on top there gets the tap."""
    with page.expect_navigation():
        page.touchscreen.tap(**_centre(box))


def test_a_leader_scores_five_households_in_a_row_without_scrolling_to_a_button(phone, live_server, tmp_path):
    round_id, grid_id, leader, households = _second_grid(live_server)
    photo = tmp_path / "door.jpg"
    Image.new("RGB", (2000, 1500), (120, 140, 90)).save(photo, quality=90)
    SHOTS.mkdir(parents=True, exist_ok=True)
    phone.log_in(leader)
    phone.open(f"/hygiene/rounds/{round_id}/grids/{grid_id}")
    phone.page.get_by_role("link", name="评下一户（未评）").click()
    page = phone.page
    plan = [0, 3, 0, 0, 5]  # points off 门前卫生, the first item: most doors are clean
    for index, points in enumerate(plan):
        number = households[index][1]
        expect(page.get_by_role("heading", level=1)).to_contain_text(number)
        if index:  # what was saved, said on the next household's sheet
            saved = f"已保存 {households[index - 1][1]} 户：扣 {plan[index - 1]} 分"
            expect(page.locator(".flash")).to_have_text(saved)
        bar = page.locator(".save-bar")
        expect(bar).to_contain_text(number)
        expect(bar.locator(".sheet-total")).to_have_text("无扣分")
        if points:
            chip = page.locator("fieldset.item").first.get_by_text(f"-{points}", exact=True)
            page.touchscreen.tap(**_centre(_on_first_screen(page, chip)))
            expect(bar.locator(".sheet-total")).to_have_text(f"已扣 {points} 分")
            button = bar.get_by_role("button", name="保存，评下一户")
            expect(bar.get_by_role("button", name="无扣分，保存并下一户")).to_be_hidden()
        else:
            button = bar.get_by_role("button", name="无扣分，保存并下一户")
            expect(bar.get_by_role("button", name="保存，评下一户")).to_be_hidden()
        if index == len(plan) - 1:  # a photo of the door, shrunk in the phone and sent with a progress bar
            page.locator("input[type=file]").set_input_files(photo)
            expect(page.locator(".photo-previews figure")).to_have_count(1)
            page.evaluate("window.scrollTo(0, 0)")
        box = _on_first_screen(page, button)
        page.screenshot(path=SHOTS / f"sheet-{index + 1}-{number}.png")
        _tap(page, box)
    expect(page.locator(".flash")).to_have_text(f"已保存 {households[4][1]} 户：扣 5 分")
    expect(page.get_by_role("heading", level=1)).to_contain_text(households[5][1])
    expect(page.locator(".save-bar .sheet-total")).to_have_text("无扣分")  # the next sheet's script runs too
    phone.check("sheet-after-five")
    with live_server.app.app_context():
        saved = dict(db.session.execute(select(Score.household_id, Score.deductions).where(
            Score.round_id == round_id, Score.household_id.in_([h[0] for h in households[:5]]))).all())
        by = set(db.session.scalars(select(User.username).join(Score, Score.scored_by_id == User.id).where(
            Score.round_id == round_id, Score.household_id.in_([h[0] for h in households[:5]]))))
        photographed = db.session.scalar(select(Score.photo).where(Score.round_id == round_id,
                                                                   Score.household_id == households[4][0]))
    assert [saved.get(h[0]) for h in households[:5]] == plan and by == {leader}
    assert photographed is not None


def test_without_script_the_bar_stays_on_screen_and_both_buttons_save(browser, live_server, artifacts):
    round_id, grid_id, leader, households = _second_grid(live_server)
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False, **PHONE)
    context.set_default_timeout(15_000)
    phone = Phone(context.new_page(), artifacts, "sheet-no-script")
    try:
        phone.log_in(leader)
        page = phone.page
        phone.open(f"/hygiene/rounds/{round_id}/households/{households[0][0]}")
        bar = page.locator(".save-bar")
        expect(bar.locator(".sheet-total")).to_be_hidden()  # no running total to go stale
        save = _on_first_screen(page, bar.get_by_role("button", name="保存，评下一户"))
        _on_first_screen(page, bar.get_by_role("button", name="无扣分，保存并下一户"))
        # Halfway down the sheet, the bar is still at the bottom of the screen.
        page.evaluate("window.scrollTo(0, (document.documentElement.scrollHeight - innerHeight) / 2)")
        page.screenshot(path=SHOTS / "no-script-scrolled.png")
        box = bar.bounding_box()
        assert abs(box["y"] + box["height"] - page.viewport_size["height"]) <= 1, box
        page.evaluate("window.scrollTo(0, 0)")
        page.locator("fieldset.item").first.get_by_text("-2", exact=True).tap()
        page.screenshot(path=SHOTS / "no-script-first-screen.png")
        _tap(page, save)
        expect(page.locator(".flash")).to_have_text(f"已保存 {households[0][1]} 户：扣 2 分")
        expect(page.get_by_role("heading", level=1)).to_contain_text(households[1][1])
        page.locator("fieldset.item").first.get_by_text("-4", exact=True).tap()
        page.evaluate("window.scrollTo(0, 0)")
        _tap(page, _on_first_screen(page, bar.get_by_role("button", name="无扣分，保存并下一户")))
        expect(page.locator(".flash")).to_have_text(f"已保存 {households[1][1]} 户：扣 0 分")  # 无扣分 means none
        phone.check("saved-clean")
        assert not phone.problems, phone.problems
    finally:
        context.close()
