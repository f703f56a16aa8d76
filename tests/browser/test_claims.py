"""积分申报 and 申诉 in a browser at 360 px: a claim sent again (Back, reload, a double tap) is one claim; deciding
an appeal asks first, naming the household, the deduction and its points, and cancelling writes nothing."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from points.auth.models import User
from points.claims.models import Appeal, AppealStatus, Claim
from points.claims.services import submit_appeal
from points.extensions import db
from points.ledger.queries import balance_of
from points.ledger.services import apply_rule
from points.rules.models import Rule

from .. import factories

pytestmark = pytest.mark.browser
YARD = "门前三包、庭院整洁（拍照申报）（+5 分/次，需照片）"


def _claims(live_server) -> int:
    with live_server.app.app_context():
        return db.session.scalar(select(func.count()).select_from(Claim))


def test_a_claim_sent_again_by_back_reload_or_double_tap_is_one_claim(phone, live_server, tmp_path):
    photo = tmp_path / "yard.jpg"
    photo.write_bytes(factories.gen_photo(size=(800, 600)))
    before = _claims(live_server)
    phone.log_in("villager2")
    phone.open("/claims/new")
    page = phone.page
    assert re.search(r"/claims/new\?key=[0-9a-f]{32}$", page.url)
    page.get_by_label("申报哪一项").select_option(label=YARD)
    page.locator("input[type=file]").set_input_files(photo)
    with page.expect_navigation():
        page.get_by_role("button", name="提交申报").click()
    claim_url = page.url
    phone.check("claim-submitted")
    assert _claims(live_server) == before + 1

    page.go_back()  # the form again, as the browser fetches it anew
    phone.check("claim-back")
    page.get_by_label("申报哪一项").select_option(label=YARD)
    page.locator("input[type=file]").set_input_files(photo)
    with page.expect_navigation():
        page.get_by_role("button", name="提交申报").click()
    assert page.url == claim_url
    page.reload()
    phone.check("claim-sent-again")
    assert _claims(live_server) == before + 1

    phone.open("/claims/new")  # a new form: a new claim, however many times its button is tapped
    page.get_by_label("申报哪一项").select_option(label=YARD)
    page.locator("input[type=file]").set_input_files(photo)
    page.get_by_role("button", name="提交申报").dblclick()  # the second tap's post may cut the first one's short
    expect(page).to_have_url(re.compile(r"/claims/\d+$"))
    page.wait_for_load_state()
    phone.check("claim-double-tapped")
    assert _claims(live_server) == before + 2


@pytest.fixture
def appeal(live_server):
    """A deduction of villager4's household (乱扔垃圾, -5) that the household has appealed."""
    with live_server.app.app_context():
        villager = db.session.scalar(select(User).where(User.username == "villager4"))
        admin = db.session.scalar(select(User).where(User.username == "cunwei"))
        litter = db.session.scalar(select(Rule).where(Rule.code == "HYG-LITTER"))
        entry = apply_rule(admin, villager.resident.household_id, litter.id, "browser-appeal-litter")
        appeal = submit_appeal(villager, entry.id, "那天家里没人，垃圾是路人扔的")
        db.session.commit()
        return appeal.id, appeal.household.number, appeal.household_id, entry.occurred_on


def _state(live_server, appeal_id, household_id):
    with live_server.app.app_context():
        return db.session.get(Appeal, appeal_id).status, balance_of(household_id)


def test_the_admin_confirms_reversing_an_appealed_deduction_and_cancelling_writes_nothing(phone, live_server, appeal):
    appeal_id, number, household_id, day = appeal
    before = _state(live_server, appeal_id, household_id)
    assert before[0] is AppealStatus.PENDING
    phone.log_in("cunwei")
    phone.open(f"/appeals/{appeal_id}")
    page = phone.page
    page.get_by_label("处理结果").select_option("reverse")
    page.get_by_label("处理说明").fill("核实是路人所扔")
    page.get_by_role("button", name="处理申诉").click()
    expect(page.locator(".confirm-what")).to_have_text(
        f"撤销户号 {number} 在 {day.month}月{day.day}日 的扣分 -5 分（乱扔垃圾、污水乱排）：将为该户记 +5 分")
    expect(page.locator(".confirm-details")).to_contain_text("处理说明：核实是路人所扔")
    phone.check("appeal-confirm")
    page.get_by_role("link", name="取消，不做任何改动").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("申诉详情")
    phone.check("appeal-cancelled")
    assert _state(live_server, appeal_id, household_id) == before

    page.get_by_label("处理结果").select_option("reverse")
    page.get_by_role("button", name="处理申诉").click()
    page.get_by_role("button", name="确认撤销，记 +5 分").click()
    expect(page.locator(".status")).to_have_text("已撤销扣分")
    phone.check("appeal-reversed")
    assert _state(live_server, appeal_id, household_id) == (AppealStatus.REVERSED, before[1] + 5)
