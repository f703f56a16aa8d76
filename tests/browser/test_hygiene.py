"""卫生评比 on a phone: the leader assigned this week scores households of the grid they inspect, the village admin
publishes it, the results show the 示范户, and the villager's balance shows the award."""
import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from points.auth.models import User
from points.extensions import db
from points.grids.models import GridNode
from points.hygiene import inspection
from points.hygiene.models import Assignment, MonthlySummary
from points.people.models import Household
from points.periods import week_of
from points.timeutil import local_today

pytestmark = pytest.mark.browser


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
    phone.page.get_by_role("button", name="保存，评下一户").click()  # a clean door: nothing to tap
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
