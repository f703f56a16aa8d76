"""民情诉求 in a browser at 360 px: villager1 reports a broken street light with a photo; leader1 (grid 1) accepts
it and finishes it with a photo; villager1 answers 满意 and reads the messages and the points; leader1 reads theirs."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from points.auth.models import User
from points.extensions import db
from points.ledger.models import LedgerEntry
from points.messages.models import Message
from points.reports.models import Report, ReportStatus

from .. import factories

pytestmark = pytest.mark.browser


def test_a_street_light_reported_accepted_finished_and_judged(phone, live_server, tmp_path):
    photo = tmp_path / "light.jpg"
    photo.write_bytes(factories.gen_photo(size=(1600, 1200)))
    page = phone.page

    phone.log_in("villager1")
    phone.open("/reports/new")
    page.get_by_label("什么问题").select_option(label="路灯")
    page.get_by_label("说明").fill("桥头路灯坏了，晚上一片黑")
    page.get_by_label("在哪里").fill("桥头")
    page.get_by_label("照片（最多 3 张）").set_input_files(photo)
    phone.check("report-filled")
    page.get_by_role("button", name="提交", exact=True).click()
    expect(page).to_have_url(re.compile(r"/reports/\d+$"), timeout=30_000)
    expect(page.get_by_text("已提交，网格员会尽快受理")).to_be_visible()
    report_path = re.search(r"/reports/\d+$", page.url).group(0)
    report_id = int(report_path.rsplit("/", 1)[1])
    expect(page.locator(".photos img")).to_have_count(1)
    phone.check("report-submitted")

    phone.log_in("leader1")
    phone.open("/reports?tab=grid")
    expect(page.get_by_text("桥头路灯坏了，晚上一片黑")).to_be_visible()
    phone.open(report_path)
    page.get_by_role("button", name="受理", exact=True).click()
    expect(page.get_by_text("已受理，请在期限内办结")).to_be_visible()
    phone.check("report-accepted")
    page.get_by_label("处置结果").fill("已更换灯泡，恢复照明")
    page.locator("#finish-photos").set_input_files(photo)
    page.get_by_role("button", name="办结", exact=True).click()
    expect(page.get_by_text("已办结，等待反映人评价")).to_be_visible(timeout=30_000)
    expect(page.locator(".timeline .photos img")).to_have_count(1)
    phone.check("report-finished")

    phone.log_in("villager1")
    phone.open(report_path)
    expect(page.get_by_text("已更换灯泡，恢复照明")).to_be_visible()
    expect(page.get_by_text("第一网格组长")).to_have_count(0)  # a villager sees 网格员, not a name
    page.get_by_label("满意", exact=True).check()
    page.get_by_role("button", name="提交评价").click()
    expect(page.get_by_text("谢谢您的评价")).to_be_visible()
    expect(page.locator(".status.report-closed")).to_have_text("已回访")
    phone.check("report-closed")

    with live_server.app.app_context():
        report = db.session.get(Report, report_id)
        assert report.status is ReportStatus.CLOSED
        entry = db.session.get(LedgerEntry, report.reward_entry_id)
        assert entry is not None and entry.amount == 5
        villager, leader = (db.session.scalar(select(User).where(User.username == name))
                            for name in ("villager1", "leader1"))
        links = lambda user: db.session.scalars(select(Message.link).where(Message.user_id == user.id)).all()  # noqa: E731
        assert links(villager).count(report_path) == 2  # accepted, finished
        assert report_path in links(leader)  # landed in the grid

    phone.open("/messages")
    expect(page.get_by_text(re.compile("桥头.*已受理"))).to_be_visible()
    expect(page.get_by_text(re.compile("桥头.*已办结"))).to_be_visible()
    phone.check("villager-messages")
    phone.open("/my/points")
    expect(page.get_by_text("+5").first).to_be_visible()
    phone.check("villager-points")

    phone.log_in("leader1")
    phone.open("/messages")
    expect(page.get_by_text("网格内有一条新的民情诉求（路灯），请及时受理").first).to_be_visible()
    phone.check("leader-messages")


def test_settings_public_counts_and_the_dashboard_section_fit_a_phone(phone, live_server):
    with live_server.app.app_context():
        village_id = db.session.scalar(select(Report.village_id).limit(1))
    page = phone.page
    phone.open(f"/villages/{village_id}/reports/public")  # nobody signed in
    expect(page.get_by_role("heading", name=re.compile("民情诉求办理情况"))).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(3)

    phone.log_in("cunwei")
    phone.open(f"/villages/{village_id}/report-settings")
    expect(page.get_by_label("受理时限（小时）")).to_have_value("24")
    page.get_by_label("办结时限（天）").fill("5")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("民情诉求设置已保存")).to_be_visible()
    expect(page.get_by_label("办结时限（天）")).to_have_value("5")
    phone.check("settings-saved")
    phone.open("/reports?tab=overdue")
    phone.open("/dashboards")
    expect(page.locator("#reports")).to_contain_text("满意率")
    page.locator("#reports").scroll_into_view_if_needed()
    phone.check("dashboard-reports")
