"""积分申报 and 申诉 in a browser at 360 px: a camera's large photo is shrunk in the phone and sent with a progress
bar, making one claim; a refused photo keeps the form's other fields, with or without JavaScript; a claim sent again
(Back, reload, a double tap) is one claim; deciding an appeal asks first, naming the household, the deduction and its
points, and cancelling writes nothing."""
import io
import os
import random
import re
import time

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect
from sqlalchemy import func, select

from points.auth.models import User
from points.claims.models import Appeal, AppealStatus, Claim, ClaimPhoto
from points.claims.services import submit_appeal
from points.extensions import db
from points.ledger.queries import balance_of
from points.ledger.services import apply_rule
from points.rules.models import Rule

from .. import factories
from .conftest import PHONE, Phone

pytestmark = pytest.mark.browser
YARD = "门前三包、庭院整洁（拍照申报）（+5 分/次，需照片）"


def _claims(live_server) -> int:
    with live_server.app.app_context():
        return db.session.scalar(select(func.count()).select_from(Claim))


def camera_photo(width: int = 4000, height: int = 3000, seed: int = 23) -> bytes:
    """A JPEG as a phone's camera takes it (~4 MB): gradients, shapes, texture a few pixels across that is still there
    at 1600 px, and sensor noise (a flat picture would shrink to nothing and say little about the upload); taken with
    the phone held upright, so its EXIF says to turn it a quarter."""
    rnd = random.Random(seed)
    picture = Image.merge("RGB", (Image.linear_gradient("L").rotate(90).resize((width, height)),
                                  Image.radial_gradient("L").resize((width, height)),
                                  Image.linear_gradient("L").resize((width, height))))
    draw = ImageDraw.Draw(picture)
    for _shape in range(300):
        x, y, side = rnd.randrange(width), rnd.randrange(height), rnd.randrange(20, 500)
        draw.ellipse((x, y, x + side, y + side * rnd.random()), fill=tuple(rnd.randrange(256) for _c in range(3)))
    texture = Image.merge("RGB", [Image.effect_noise((width // 3, height // 3), 60) for _c in range(3)])
    picture = Image.blend(picture, texture.resize((width, height), Image.BICUBIC), 0.15)
    picture = Image.blend(picture, Image.effect_noise((width, height), 40).convert("RGB"), 0.10)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotated 90°
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def _choose_yard_and_fill(page, note: str) -> None:
    page.get_by_label("申报哪一项").select_option(label=YARD)
    page.get_by_label("次数（按小时计的项目填小时数）").fill("2")
    page.get_by_label("说明").fill(note)


def test_a_large_photo_is_shrunk_in_the_phone_and_sent_with_a_progress_bar_making_one_claim(
        phone, live_server, tmp_path):
    photo = tmp_path / "IMG_20261212_093000.jpg"
    photo.write_bytes(camera_photo())
    before = _claims(live_server)
    phone.log_in("villager5")
    phone.open("/claims/new")
    page = phone.page
    _choose_yard_and_fill(page, "门前屋后都扫干净了")
    page.get_by_label("照片（最多 3 张）").set_input_files(photo)
    preview = page.locator(".photo-previews figure")
    expect(preview).to_have_count(1)
    expect(preview.locator("canvas")).to_be_visible()
    expect(preview).to_contain_text(re.compile(r"^\d\.\d MB → 0\.\d MB$"))  # the camera's megabytes, then the sent
    phone.check("large-photo-chosen")

    # What each upload sent, as the browser counts it (Playwright sees no body made of files): its bytes, and the
    # size and name of the photo in it.
    page.evaluate("""() => { window.sent = []; window.sentPhotos = []; const send = XMLHttpRequest.prototype.send;
        XMLHttpRequest.prototype.send = function (body) {
            body.getAll("photos").forEach((photo) => createImageBitmap(photo).then(
                (picture) => window.sentPhotos.push([picture.width, picture.height, photo.name])));
            this.upload.addEventListener("load", (event) => window.sent.push(event.total));
            return send.call(this, body); }; }""")
    network = page.context.new_cdp_session(page)  # 3G's upload speed, so that the bar has time to move
    network.send("Network.enable")
    network.send("Network.emulateNetworkConditions", {"offline": False, "latency": 150,
                                                       "downloadThroughput": 1_600_000 / 8,
                                                       "uploadThroughput": 750_000 / 8})
    started = time.monotonic()
    page.get_by_role("button", name="提交申报").click()
    expect(page.locator(".upload-status progress")).to_be_visible()
    expect(page.locator(".upload-status")).to_contain_text(re.compile(r"正在上传 [1-9]\d?%"))
    expect(page.get_by_role("button", name="提交申报")).to_be_disabled()  # a second tap sends nothing
    phone.check("large-photo-uploading")
    expect(page).to_have_url(re.compile(r"/claims/\d+$"), timeout=60_000)
    seconds = time.monotonic() - started
    network.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                       "uploadThroughput": -1})
    expect(page.get_by_text("申报已提交，请等待网格员审核")).to_be_visible()
    sent = page.evaluate("window.sent")
    thumb = page.locator(".photos a img")
    expect(thumb).to_have_count(1)
    thumb.scroll_into_view_if_needed()
    expect(thumb).to_have_js_property("complete", True)
    assert 0 < page.evaluate("document.querySelector('.photos a img').naturalWidth") <= 320
    phone.check("large-photo-claim")
    print(f"one 4000x3000 photo of {photo.stat().st_size} bytes went as {sent} bytes in {seconds:.1f} s")

    assert _claims(live_server) == before + 1
    assert page.evaluate("window.sentPhotos") == [[1200, 1600, "IMG_20261212_093000.jpg"]]  # shrunk, upright
    assert len(sent) == 1 and sent[0] < photo.stat().st_size / 10
    with live_server.app.app_context():
        stored = db.session.scalar(select(ClaimPhoto).join(Claim).order_by(Claim.id.desc()))
        assert stored.claim.quantity == 2 and stored.claim.note == "门前屋后都扫干净了"
        with Image.open(os.path.join(live_server.app.config["UPLOAD_FOLDER"], stored.filename)) as kept:
            # Turned upright in the phone: the JPEG it sent had no orientation left for the server to apply.
            assert max(kept.size) <= 1600 and kept.size == (stored.width, stored.height) == (1200, 1600)


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_a_refused_photo_keeps_the_forms_other_fields_and_says_why_at_the_top(browser, live_server, artifacts,
                                                                              tmp_path, javascript):
    """A file that is no photo: the phone cannot draw it, so it goes as chosen and the server refuses it."""
    not_a_photo = tmp_path / "scan.jpg"
    not_a_photo.write_bytes(b"%PDF-1.4 this is a scanned form, not a photo")
    before = _claims(live_server)
    context = browser.new_context(base_url=live_server.url, java_script_enabled=javascript, **PHONE)
    try:
        phone = Phone(context.new_page(), artifacts, f"refused-photo-{'js' if javascript else 'nojs'}")
        phone.log_in("villager5")
        phone.open("/claims/new")
        page = phone.page
        address = page.url
        _choose_yard_and_fill(page, "门前屋后都扫干净了")
        page.get_by_label("照片（最多 3 张）").set_input_files(not_a_photo)
        page.get_by_role("button", name="提交申报").click()
        refusal = page.locator(".refused-form")
        expect(refusal).to_contain_text("只能上传 JPEG、PNG 或 WebP 格式的照片")
        expect(refusal).to_contain_text("请重新选择照片")
        assert page.url == address
        assert refusal.bounding_box()["y"] + refusal.bounding_box()["height"] < 740  # on the first screen
        expect(page.get_by_label("申报哪一项").locator("option:checked")).to_have_text(YARD)
        expect(page.get_by_label("次数（按小时计的项目填小时数）")).to_have_value("2")
        expect(page.get_by_label("说明")).to_have_value("门前屋后都扫干净了")
        phone.check("refused")
        assert _claims(live_server) == before

        page.get_by_label("照片（最多 3 张）").set_input_files(_photo(tmp_path))
        if javascript:  # the page the script wrote has it working again
            expect(page.locator(".photo-previews figure")).to_have_count(1)
        page.get_by_role("button", name="提交申报").click()
        expect(page).to_have_url(re.compile(r"/claims/\d+$"))
        expect(page.get_by_text("申报已提交，请等待网格员审核")).to_be_visible()
        phone.check("sent")
        assert _claims(live_server) == before + 1
        # With the script, the refusal came as the answer to its upload (422), which the page then showed.
        assert [p for p in phone.problems if not (javascript and p == f"422 for {address}")] == []
    finally:
        context.close()


def test_a_file_too_large_that_the_phone_cannot_shrink_is_refused_before_it_is_sent(phone, live_server, tmp_path):
    huge = tmp_path / "video.jpg"
    huge.write_bytes(b"\x00" * (live_server.app.config["PHOTO_MAX_BYTES"] + 1))
    posts = []
    phone.page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    phone.log_in("villager5")
    posts.clear()
    phone.open("/claims/new")
    page = phone.page
    _choose_yard_and_fill(page, "门前屋后都扫干净了")
    page.get_by_label("照片（最多 3 张）").set_input_files(huge)
    page.get_by_role("button", name="提交申报").click()
    expect(page.locator(".upload-status")).to_have_text("照片太大，每张不能超过 8 MB")
    expect(page.get_by_role("button", name="提交申报")).to_be_enabled()
    phone.check("too-large")
    assert posts == []


def _photo(tmp_path):
    path = tmp_path / "yard.jpg"
    path.write_bytes(factories.gen_photo(size=(1200, 900)))
    return path


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
