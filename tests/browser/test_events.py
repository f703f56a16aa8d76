"""志愿活动 on a phone: the village admin creates an event with the form, opens its desk, display and printed code
and the household cards; a villager scans the TV's code while logged out, logs in, lands back and checks in; the
admin closes the event and the villager's 我的积分 shows the points. And the desk reads a household card held in
front of the phone's camera (Chromium's fake camera playing a picture of the card)."""
import io
import re
from datetime import timedelta

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from points.auth.cards import issue_card
from points.auth.models import User
from points.events import checkins, services
from points.events.models import Attendance, CheckinMethod, CheckinMode, Event
from points.extensions import db
from points.grids.models import GridNode
from points.ledger.queries import balance_of
from points.people.cards import card_of_household, card_text
from points.people.models import Household
from points.qr import qr_png
from points.rules.models import Rule
from points.timeutil import local_now

from .camera import still_video
from .conftest import CHROMIUM, CHROMIUM_ARGS, PHONE, Phone

pytestmark = pytest.mark.browser


def _village_and_grid() -> tuple[int, int]:
    village_id = db.session.scalar(select(GridNode.id).where(GridNode.code == "yaoqian"))
    grid_id = db.session.scalar(select(GridNode.id).where(GridNode.code == "yaoqian-3"))
    return village_id, grid_id


def test_the_admin_makes_an_event_and_a_villager_checks_in_and_earns_points(phone, live_server):
    with live_server.app.app_context():
        village_id, grid_id = _village_and_grid()
        villager = db.session.scalar(select(User).where(User.username == "villager5"))
        household_id = villager.resident.household_id
        balance_before = balance_of(household_id)
        rule_id = db.session.scalar(select(Rule.id).where(Rule.village_id == village_id, Rule.code == "VOL-HOUR"))
    now = local_now().replace(second=0, microsecond=0)

    phone.log_in("cunwei")
    phone.page.locator("header nav").get_by_role("link", name="活动").click()
    expect(phone.page.get_by_role("heading", level=1)).to_contain_text("志愿活动")
    phone.page.get_by_text("新建活动", exact=True).first.click()
    phone.page.get_by_label("活动名称").fill("清理河道（浏览器）")
    phone.page.get_by_label("地点", exact=True).fill("村委会门口")
    phone.page.get_by_label("开始时间").fill((now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M"))
    phone.page.get_by_label("结束时间").fill((now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    expect(phone.page.get_by_label("积分细则")).to_have_value("")  # no rule until one is chosen
    phone.page.get_by_label("积分细则").select_option(value=str(rule_id))
    phone.check("new-event")
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="新建活动").click()
    expect(phone.page.locator(".flash")).to_contain_text("活动已创建")
    phone.check("event")
    with live_server.app.app_context():
        event = db.session.scalar(select(Event).where(Event.title == "清理河道（浏览器）"))
        event_id, token = event.id, checkins.rotating_token(event)
    for path in (f"/events/{event_id}/checkin-desk", f"/events/{event_id}/display", f"/events/{event_id}/print",
                 f"/events/{event_id}/edit", f"/villages/{village_id}/series", f"/grids/{grid_id}/cards"):
        assert phone.open(path).status == 200, path
    with phone.page.expect_navigation():  # 第三网格 has no cards in the demo: the page offers to issue them
        phone.page.get_by_role("button", name=re.compile(r"^发放户卡")).click()
    expect(phone.page.locator(".flash")).to_contain_text("已发放")
    expect(phone.page.locator(".hcard").first).to_be_visible()
    phone.check("cards-issued")
    phone.open(f"/villages/{village_id}/events")
    expect(phone.page.locator("ul.list").first).to_contain_text("清理河道（浏览器）")

    # The villager's phone camera opens the TV's code; not logged in, they see which event and log in there, and land
    # back on the check-in.
    phone.page.context.clear_cookies()
    phone.open(f"/c/{token}")
    expect(phone.page.locator(".event-login")).to_have_text("清理河道（浏览器）登录后即可签到")
    phone.page.get_by_label("用户名或手机号", exact=True).fill("villager5")
    phone.page.get_by_label("密码", exact=True).fill("demo12345")
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="登录", exact=True).click()
    expect(phone.page).to_have_url(re.compile(r"/c/"))
    phone.check("back-on-checkin")
    phone.page.get_by_role("button", name="签到").click()
    expect(phone.page.locator(".result")).to_have_text("签到成功")
    phone.check("checked-in")
    phone.open("/events")
    expect(phone.page.locator("main")).to_contain_text("清理河道（浏览器）")

    phone.log_in("cunwei")
    phone.open(f"/events/{event_id}")
    expect(phone.page.get_by_role("heading", level=2)).to_contain_text("1 人")
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="结束活动并记分").click()
    expect(phone.page.locator(".confirm-what")).to_have_text(re.compile(r"^将为 1 人（1 户）记分，共 \d+ 分$"))
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="结束活动并记分").click()
    expect(phone.page.locator(".flash")).to_contain_text("1 人记分")
    phone.check("closed")
    with live_server.app.app_context():
        balance_after = balance_of(household_id)
        earned = db.session.scalar(select(Attendance).where(Attendance.event_id == event_id)).entry.amount
    assert earned > 0 and balance_after == balance_before + earned

    phone.log_in("villager5")
    phone.open("/my/points")
    expect(phone.page.locator(".balance")).to_have_text(str(balance_after))
    expect(phone.page.locator(".entries li").first).to_contain_text(f"+{earned}")
    expect(phone.page.locator(".entries li").first).to_contain_text("清理河道（浏览器）")
    phone.check("my-points")


def test_the_desk_reads_a_household_card_with_the_phone_camera(browser, live_server, artifacts, tmp_path):
    with live_server.app.app_context():
        village_id, grid_id = _village_and_grid()
        admin = db.session.scalar(select(User).where(User.username == "cunwei"))
        village = db.session.get(GridNode, village_id)
        rule_id = db.session.scalar(select(Rule.id).where(Rule.village_id == village_id, Rule.code == "VOL-HOUR"))
        now = local_now().replace(second=0, microsecond=0)
        event = services.create_event(admin, village, services.EventTerms(
            title="摄像头签到（浏览器）", place="文化礼堂", starts=now - timedelta(minutes=5),
            ends=now + timedelta(hours=1), rule_id=rule_id, organizer_id=admin.id))
        household = db.session.scalars(select(Household).where(Household.grid_id == grid_id)
                                       .order_by(Household.number)).first()
        card = issue_card(admin, household)
        db.session.commit()
        event_id, number, text = event.id, household.number, card_text(card)
    video = still_video(Image.open(io.BytesIO(qr_png(text))), tmp_path / "card.y4m")

    camera = browser.browser_type.launch(executable_path=CHROMIUM, args=[
        *CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}"])
    try:
        context = camera.new_context(base_url=live_server.url, permissions=["camera"], **PHONE)
        context.set_default_timeout(15_000)
        desk = Phone(context.new_page(), artifacts, "test_the_desk_reads_a_household_card_with_the_phone_camera")
        desk.log_in("cunwei")
        desk.open(f"/events/{event_id}/checkin-desk")
        with desk.page.expect_navigation():
            desk.page.get_by_role("button", name="用摄像头扫户卡").click()
        expect(desk.page.locator(".flash")).to_contain_text(f"（{number}）签到成功")
        desk.check("card-read")
        expect(desk.page.get_by_role("button", name="关闭摄像头")).to_be_visible()  # it starts again by itself
        assert not desk.problems, desk.problems
    finally:
        camera.close()
    with live_server.app.app_context():
        attendance = db.session.scalar(select(Attendance).where(Attendance.event_id == event_id))
        assert attendance.method is CheckinMethod.CARD and attendance.household_id == household.id


def test_closing_early_reissuing_a_card_and_checking_out_early_ask_first_and_cancel_writes_nothing(phone, live_server):
    with live_server.app.app_context():
        village_id, grid_id = _village_and_grid()
        admin = db.session.scalar(select(User).where(User.username == "cunwei"))
        rule_id = db.session.scalar(select(Rule.id).where(Rule.village_id == village_id, Rule.code == "VOL-HOUR"))
        now = local_now().replace(second=0, microsecond=0)
        event = services.create_event(admin, db.session.get(GridNode, village_id), services.EventTerms(
            title="签到并签退（浏览器）", place="文化礼堂", starts=now - timedelta(minutes=10),
            ends=now + timedelta(hours=3), rule_id=rule_id, mode=CheckinMode.IN_OUT, organizer_id=admin.id))
        household = db.session.scalars(select(Household).where(Household.grid_id == grid_id)
                                       .order_by(Household.number.desc())).first()
        card = issue_card(admin, household)
        checkins.check_in_card(admin, event, card_text(card))
        db.session.commit()
        event_id, token, number = event.id, checkins.static_token(event), household.number
        serial, text, head_id = card.serial, card_text(card), household.head_id

    def attendance(of_head=False):
        with live_server.app.app_context():
            return db.session.scalar(select(Attendance).where(Attendance.event_id == event_id,
                                                              (Attendance.resident_id == head_id) == of_head))

    # A villager checks in: no 签退 button where 签到 was; an early 签退 asks first, and 取消 leaves them checked in.
    phone.log_in("villager4")
    phone.open(f"/c/{token}")
    phone.page.get_by_role("button", name="签到").click()
    expect(phone.page.locator(".result")).to_have_text("签到成功")
    expect(phone.page.get_by_role("button", name=re.compile("签退"))).to_have_count(0)
    phone.check("checked-in-no-check-out")
    phone.open(f"/c/{token}")
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="提前签退").click()
    expect(phone.page.locator(".confirm-what")).to_have_text(
        re.compile(r"^您签到才 0 分钟。现在签退，按 1 小时记 5 分$"))
    phone.check("check-out-confirm")
    with phone.page.expect_navigation():
        phone.page.get_by_role("link", name="取消，不做任何改动").click()
    assert attendance().checked_out_at is None
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="提前签退").click()
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="确认签退").click()
    expect(phone.page.locator(".result")).to_have_text("签退成功")
    assert attendance().checked_out_at is not None

    # The desk's 签退台: the elder's card scanned right after check-in asks first; 取消 leaves them checked in.
    phone.log_in("cunwei")
    phone.open(f"/events/{event_id}/checkin-desk")
    with phone.page.expect_navigation():
        phone.page.get_by_role("link", name="换成签退（有人离开时）").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("签退台")
    phone.check("desk-out")
    phone.page.locator("#card").fill(text)
    with phone.page.expect_navigation():
        phone.page.locator("#card-form").get_by_role("button", name="签退").click()
    expect(phone.page.locator(".confirm-what")).to_contain_text(f"（户号 {number}）签到才")
    phone.check("desk-check-out-confirm")
    with phone.page.expect_navigation():
        phone.page.get_by_role("link", name="取消，不做任何改动").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("签退台")
    assert attendance(of_head=True).checked_out_at is None
    phone.page.locator("#card").fill(text)
    with phone.page.expect_navigation():
        phone.page.locator("#card-form").get_by_role("button", name="签退").click()
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="确认签退").click()
    expect(phone.page.locator(".flash")).to_contain_text(f"（{number}）签退成功")
    assert attendance(of_head=True).checked_out_at is not None

    # The organizer closes three hours early: the confirmation says how long is left and what is paid.
    phone.open(f"/events/{event_id}")
    expect(phone.page.locator(".facts")).to_contain_text("志愿服务（按小时），每小时 +5 分")
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="结束活动并记分").click()
    expect(phone.page.locator(".confirm-step .error-box")).to_have_text(re.compile(r"^活动还有 2 小时 \d+ 分才结束"))
    expect(phone.page.locator(".confirm-what")).to_have_text("将为 2 人（2 户）记分，共 10 分")
    phone.check("close-confirm")
    with phone.page.expect_navigation():
        phone.page.get_by_role("link", name="取消，不做任何改动").click()
    with live_server.app.app_context():
        assert db.session.get(Event, event_id).closed_at is None
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="结束活动并记分").click()
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="结束活动并记分").click()
    expect(phone.page.locator(".flash")).to_contain_text("2 人记分")

    # 补办 names the household and the card it voids; 取消 keeps the card.
    phone.open(f"/grids/{grid_id}/cards")
    with phone.page.expect_navigation():
        phone.page.locator(".hcard", has_text=number).get_by_role("button", name="补办").click()
    expect(phone.page.locator(".confirm-what")).to_contain_text(f"将为户号 {number}")
    expect(phone.page.locator(".confirm-step .error-box")).to_contain_text(f"旧卡（第 {serial} 张）立即作废")
    phone.check("reissue-confirm")
    with phone.page.expect_navigation():
        phone.page.get_by_role("link", name="取消，不做任何改动").click()
    with live_server.app.app_context():
        assert card_of_household(db.session.get(Household, household.id)).serial == serial
    with phone.page.expect_navigation():
        phone.page.locator(".hcard", has_text=number).get_by_role("button", name="补办").click()
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="补办户卡").click()
    expect(phone.page.locator(".flash")).to_contain_text(f"第 {serial + 1} 张")
