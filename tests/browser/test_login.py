"""Signing in on a phone: staff land on the village overview, a villager on their own page, mistakes in Chinese."""
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_village_admin_logs_in_and_sees_the_village_overview(phone):
    phone.open("/")
    expect(phone.page).to_have_url(re.compile(r"/login"))

    phone.log_in("cunwei")

    expect(phone.page).to_have_url(re.compile(r"/grids/\d+$"))
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("瑶前村")
    expect(phone.page.locator(".stat").first).to_contain_text("450")
    expect(phone.page.get_by_role("link", name="第一网格")).to_be_visible()
    for entry in ("户", "记分", "审核", "管理", "我的"):
        expect(phone.page.locator("header nav").get_by_role("link", name=entry, exact=True)).to_be_visible()
    phone.check("overview")
    # The README's picture (docs/screenshot.png is a copy): the overview down to the end of the content.
    bottom = phone.page.locator("main").bounding_box()
    phone.page.screenshot(
        path=phone.artifacts / "readme-overview.png",
        full_page=True,
        clip={"x": 0, "y": 0, "width": 360, "height": bottom["y"] + bottom["height"]},
    )

    phone.page.get_by_role("link", name="网格树").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("网格树")
    phone.check("tree")


def test_wrong_password_is_refused_in_chinese(phone):
    phone.log_in("cunwei", "not-the-password")

    expect(phone.page).to_have_url(re.compile(r"/login"))
    expect(phone.page.get_by_role("alert")).to_have_text("用户名或密码不正确")
    expect(phone.page.locator("header nav")).to_have_count(0)
    phone.check("wrong-password")


def test_empty_login_form_says_what_is_missing(phone):
    phone.open("/login")
    phone.page.get_by_role("button", name="登录", exact=True).click()

    expect(phone.page.locator(".field-error")).to_have_text(["请输入用户名或手机号", "请输入密码"])
    phone.check("empty-form")


def test_villager_lands_on_their_own_page_and_opens_their_household(phone):
    phone.log_in("villager1")

    expect(phone.page).to_have_url(re.compile(r"/my/points$"))
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("我的积分")
    nav = phone.page.locator("header nav")
    for entry in ("概况", "户", "记分", "审核", "管理"):
        expect(nav.get_by_role("link", name=entry, exact=True)).to_have_count(0)
    phone.check("my-points")
    nav.get_by_role("link", name="我的", exact=True).click()
    expect(phone.page.get_by_role("heading", name="我的家庭")).to_be_visible()
    phone.check("me")

    phone.page.get_by_role("link", name=re.compile(r"^户号 \d{4} · 第一网格$")).click()

    expect(phone.page).to_have_url(re.compile(r"/households/\d+$"))
    heading = phone.page.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile(r"^户号 \d{4} · \S+$"))
    expect(phone.page.get_by_role("heading", name=re.compile(r"家庭成员（\d+ 人）"))).to_be_visible()
    # Care tags are for staff who visit; a villager never sees them, not even their own.
    expect(phone.page.get_by_text("关爱标签")).to_have_count(0)
    phone.check("household")


def test_villager_cannot_open_a_neighbours_household(phone, live_server):
    from sqlalchemy import select

    from points.auth.models import User
    from points.extensions import db
    from points.people.models import Household

    with live_server.app.app_context():
        own = db.session.scalar(select(User).where(User.username == "villager1")).resident.household_id
        other = db.session.scalar(select(Household.id).where(Household.id != own).order_by(Household.id))

    phone.log_in("villager1")
    response = phone.open(f"/households/{other}")

    assert response.status == 403
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("您没有权限执行此操作")


def test_accounts_opened_in_bulk_and_a_villager_activates_hers_from_the_slip(phone, live_server):
    phone.log_in("cunwei")
    phone.open("/admin/accounts")
    phone.page.get_by_label("只开通年满几岁的（可不填）").fill("86")
    phone.page.get_by_role("button", name="看看有多少人").click()
    summary = phone.page.locator("#found").get_by_role("status")
    expect(summary).to_have_text(re.compile(r"^将为 \d+ 位村民开通账号。$"))
    count = int(re.search(r"\d+", summary.inner_text()).group())
    phone.check("count")
    phone.page.get_by_role("button", name=f"开通 {count} 个账号并打印激活单").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text(re.compile(rf"激活单（{count} 张）"))
    expect(phone.page.locator(".slip svg.qr")).to_have_count(count)
    phone.check("slips")

    first = phone.page.locator(".slip").first  # its QR, on the screen a link too: the address of its activation page
    address = first.locator("a.qr-box").get_attribute("href")
    username = re.search(r"用户名 (\S+)", first.inner_text()).group(1)
    phone.page.context.clear_cookies()
    phone.open(address)
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("激活账号")
    expect(phone.page.get_by_text(f"用户名：{username}", exact=False)).to_be_visible()
    phone.page.get_by_label("设置密码（至少 8 位）").fill("我的新密码2026")
    phone.page.get_by_label("再输入一次").fill("我的新密码2026")
    phone.page.get_by_role("button", name="设置密码并登录").click()
    expect(phone.page).to_have_url(re.compile(r"/my/points$"))
    expect(phone.page.get_by_role("status").first).to_have_text("密码已设置，欢迎使用村务积分")
    phone.check("activated")

    phone.page.context.clear_cookies()
    response = phone.open(address)
    assert response.status == 410
    expect(phone.page.get_by_role("alert")).to_have_text("这张激活单已经用过或已作废；如忘记密码，请找网格员补发")
    phone.log_in(username, "我的新密码2026")
    expect(phone.page).to_have_url(re.compile(r"/my/points$"))


def test_the_village_admin_confirms_before_disabling_an_account_revoking_a_role_or_reissuing_a_slip(phone, live_server):
    """Each asks first, naming what it does; 取消 writes nothing."""
    from sqlalchemy import select

    from points.auth.models import Role, User
    from points.extensions import db
    from points.grids.models import GridNode
    from tests import factories

    with live_server.app.app_context():
        grid = db.session.scalar(select(GridNode).where(GridNode.code == "yaoqian-2"))
        worker = factories.gen_user(Role.GRID_WORKER, grid, username="confirm-worker")
        villager = db.session.scalar(select(User).where(User.username == "villager1"))
        db.session.commit()
        worker_id, villager_id, resident_id, slip_version = (worker.id, villager.id, villager.resident_id,
                                                             villager.slip_version)

    def stored(user_id):
        with live_server.app.app_context():
            user = db.session.get(User, user_id)
            return user.active, len(user.assignments), user.slip_version

    phone.log_in("cunwei")
    phone.open(f"/admin/users/{worker_id}")
    phone.page.get_by_role("button", name="停用账号").click()
    expect(phone.page.locator(".confirm-what")).to_have_text("停用 confirm-worker（confirm-worker）的账号")
    phone.check("disable-confirm")
    phone.page.get_by_role("link", name="取消，不做任何改动").click()
    assert stored(worker_id)[:2] == (True, 1)
    phone.page.get_by_role("button", name="停用账号").click()
    phone.page.get_by_role("button", name="确认停用").click()
    expect(phone.page.locator(".flash")).to_have_text("账号已停用")
    phone.page.get_by_role("button", name="启用账号").click()  # enabling takes nothing away: no question
    expect(phone.page.locator(".flash")).to_have_text("账号已启用")

    phone.page.locator("form.actions").get_by_role("button", name="撤销").click()
    expect(phone.page.locator(".confirm-what")).to_have_text("撤销 confirm-worker 的角色：网格员 · 第二网格")
    phone.check("revoke-confirm")
    phone.page.get_by_role("link", name="取消，不做任何改动").click()
    assert stored(worker_id)[:2] == (True, 1)
    phone.page.locator("form.actions").get_by_role("button", name="撤销").click()
    phone.page.get_by_role("button", name="确认撤销").click()
    expect(phone.page.locator(".flash")).to_have_text("已撤销角色")
    assert stored(worker_id)[:2] == (True, 0)

    phone.open(f"/residents/{resident_id}")
    phone.page.get_by_role("button", name=re.compile("^补发激活单")).click()
    expect(phone.page.locator(".confirm-details")).to_contain_text("旧激活单马上作废")
    phone.check("reissue-confirm")
    phone.page.get_by_role("link", name="取消，不做任何改动").click()
    assert stored(villager_id)[2] == slip_version
    phone.page.get_by_role("button", name=re.compile("^补发激活单")).click()
    phone.page.get_by_role("button", name="确认补发").click()
    expect(phone.page.locator(".hcard.slip")).to_have_count(1)
    assert stored(villager_id)[2] == slip_version + 1


# ---- issue 23: where each one starts, and the words they read (helper 23-E) ----

SHOTS = "/tmp/shots/23-E"


def _shot(phone, name: str) -> None:
    """The page as the phone shows it, full length, kept for a person to look at."""
    import os

    os.makedirs(SHOTS, exist_ok=True)
    phone.page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)
    phone.check(name)


def test_a_grid_leader_starts_at_the_grid_they_inspect_this_week(phone):
    phone.log_in("leader1")

    expect(phone.page).to_have_url(re.compile(r"/$"))
    card = phone.page.locator("section.inspect-week")
    heading = card.get_by_role("heading", level=2)
    expect(heading).to_have_text(re.compile(r"^本周你检查：第.网格（已评 \d+/\d+）$"))
    expect(card).to_contain_text(re.compile(r"\d+月第\d周（\d+\.\d+–\d+\.\d+）"))
    grid = re.search(r"：(第.网格)（", heading.inner_text()).group(1)
    _shot(phone, "home-leader")

    # One tap to the score sheets; once the grid's week is published (other tests of the session may have done it),
    # to the week's results instead.
    link = card.get_by_role("link", name=re.compile("^(去评分|查看评分|查看本周评比)"))
    published = link.inner_text().startswith("查看本周评比")
    link.click()
    if not published:
        expect(phone.page.get_by_role("heading", level=1)).to_contain_text(grid)
        phone.check("sheets")

    phone.page.locator("header nav").get_by_role("link", name="评比", exact=True).click()
    week = phone.page.locator(".week-nav b")
    expect(week).to_have_text(re.compile(r"^\d+月第\d周（\d+\.\d+–\d+\.\d+）$"))
    expect(phone.page.locator("main")).not_to_contain_text(re.compile(r"\d{4}-W\d{2}"))
    _shot(phone, "week")

    village = re.search(r"/villages/(\d+)/hygiene", phone.page.url).group(1)
    phone.open(f"/boards/{village}?kind=week")
    expect(phone.page.locator(".week-nav b")).to_have_text(re.compile(r"^\d{4}年\d+月第\d周（\d+\.\d+–\d+\.\d+）$"))
    _shot(phone, "board-week")
    phone.page.goto(f"/display/{village}")  # the village TV (made for 1920 px, not the phone)
    expect(phone.page.locator("#slide-models small")).to_have_text(re.compile(r"^\d+月第\d周（\d+\.\d+–\d+\.\d+）$"))


def test_a_clerk_starts_at_the_counter(phone):
    phone.log_in("clerk")

    expect(phone.page).to_have_url(re.compile(r"/shops/\d+/counter$"))
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("兑换台")
    _shot(phone, "home-clerk")
    phone.page.get_by_role("link", name="村务积分").click()  # home: the counter again
    expect(phone.page).to_have_url(re.compile(r"/shops/\d+/counter$"))


def test_a_villager_reads_a_voided_redemption_and_the_rules_in_plain_words(phone, live_server):
    from sqlalchemy import select

    from points.auth import services as auth_services
    from points.auth.models import User
    from points.extensions import db
    from points.shop.models import Redemption

    with live_server.app.app_context():  # the demo's counter voided its last basket (拿错了)
        voided = db.session.scalar(select(Redemption).where(Redemption.voided_at.is_not(None)))
        residents = voided.household.residents
        users = {u.resident_id: u for u in db.session.scalars(
            select(User).where(User.resident_id.in_([r.id for r in residents])))}
        demo = next((u for u in users.values() if re.fullmatch(r"villager\d", u.username)), None)
        if demo is None:  # an account of our own for one of the household, with a password we know
            resident = next(r for r in residents if r.id not in users)
            demo = auth_services.create_user("voided-villager", "demo12345", resident=resident)
            db.session.commit()
        username, total = demo.username, voided.total
    phone.log_in(username)

    expect(phone.page).to_have_url(re.compile(r"/my/points$"))
    back = phone.page.locator("li.entry").filter(has_text="兑换作废，退回积分")
    expect(back).to_have_count(1)
    expect(back.locator(".amount")).to_have_text(f"+{total}")
    expect(phone.page.locator("main")).not_to_contain_text("冲正")
    back.scroll_into_view_if_needed()
    phone.page.screenshot(path=f"{SHOTS}/my-points-voided.png")  # the screen the villager sees there
    _shot(phone, "my-points-voided-full")

    phone.page.get_by_role("link", name="积分细则").click()
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("积分细则")
    expect(phone.page.locator("article.rule").first).to_be_visible()
    expect(phone.page.locator("main")).not_to_contain_text(re.compile(r"\b[A-Z]{2,}-[A-Z]+"))  # no HYG-LITTER
    phone.page.screenshot(path=f"{SHOTS}/rule-book.png")
    phone.check("rule-book")
