"""Claims and appeals through the pages: a villager claims with a photo, a worker reviews, the villager sees it."""
import io
import os
import re
from datetime import date, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth.models import Role
from points.claims.models import Appeal, AppealStatus, Claim, ClaimStatus
from points.claims.services import submit_appeal
from points.extensions import db
from points.ledger.queries import balance_of
from points.ledger.services import apply_rule
from points.timeutil import local_today

from .. import factories


@pytest.fixture
def world(village):
    grid = village.grids[0]
    home = factories.gen_household(grid)
    world = dict(
        home=home,
        villager=factories.gen_villager(home, username="v1"),
        worker=factories.gen_user(Role.GRID_WORKER, grid, username="w1"),
        other_worker=factories.gen_user(Role.GRID_WORKER, village.grids[1], username="w2"),
        admin=factories.gen_user(Role.VILLAGE_ADMIN, village.village, username="a1"),
        yard=factories.gen_rule(village.village, "庭院整洁", 5, self_claimable=True, evidence_required=True),
        pile=factories.gen_rule(village.village, "乱堆乱放", -10),
    )
    db.session.commit()
    return world


def claim_data(world, photos, **values):
    data = dict(rule_id=world["yard"].id, quantity=1, occurred_on=local_today().isoformat(), note="门前打扫干净",
                key="claim-1", photos=[(io.BytesIO(p), f"p{i}.jpg") for i, p in enumerate(photos)])
    data.update(values)
    return data


def test_claim_review_and_outcome(world, client, login):
    login(world["villager"])
    assert "庭院整洁" in client.get("/claims/new", follow_redirects=True).get_data(as_text=True)
    response = client.post("/claims/new", data=claim_data(world, [factories.gen_photo()]),
                           content_type="multipart/form-data")
    assert response.status_code == 302
    claim = db.session.scalar(select(Claim))
    photo = client.get(f"/claims/{claim.id}/photos/1")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg" and b"Exif" not in photo.data[:200]
    assert "private" in photo.headers["Cache-Control"]

    login(world["other_worker"])
    assert client.get(f"/claims/{claim.id}").status_code == 403
    assert client.get(f"/claims/{claim.id}/photos/1").status_code == 403
    assert "没有申报" in client.get("/claims").get_data(as_text=True)

    login(world["worker"])
    assert "门前打扫干净" in client.get("/claims").get_data(as_text=True)
    page = client.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert "通过并记分" in page
    client.post(f"/claims/{claim.id}/approve")
    client.post(f"/claims/{claim.id}/approve")
    assert balance_of(world["home"].id) == 5

    login(world["villager"])
    assert "已通过" in client.get("/claims").get_data(as_text=True)
    assert "庭院整洁" in client.get("/my/points").get_data(as_text=True)


def test_a_rejected_claim_shows_its_reason(world, client, login):
    login(world["villager"])
    client.post("/claims/new", data=claim_data(world, [factories.gen_photo("PNG", (300, 200))]),
                content_type="multipart/form-data")
    claim = db.session.scalar(select(Claim))
    login(world["worker"])
    response = client.post(f"/claims/{claim.id}/reject", data={"reason": ""}, follow_redirects=True)
    assert "请填写理由" in response.get_data(as_text=True)
    client.post(f"/claims/{claim.id}/reject", data={"reason": "照片看不清"})
    login(world["villager"])
    page = client.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert "已驳回" in page and "照片看不清" in page


@pytest.mark.parametrize(
    "photos, message",
    [
        ([b"GIF89a not really"], "只能上传 JPEG、PNG 或 WebP 格式的照片"),
        ([], "该细则需要上传照片作为证明"),
        ([factories.gen_photo("PNG", (50, 50))] * 4, "最多上传 3 张照片"),
    ],
)
def test_bad_uploads_are_refused_with_a_message(world, client, login, photos, message):
    login(world["villager"])
    response = client.post("/claims/new", data=claim_data(world, photos), content_type="multipart/form-data")
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Claim)) == 0


def test_an_upload_over_the_request_limit_shows_the_form_again(world, client, login, app):
    login(world["villager"])
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 100_000
    try:
        response = client.post("/claims/new", data=claim_data(world, [b"\xff" * 200_000]),
                               content_type="multipart/form-data")
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert response.status_code == 413 and "照片太大" in response.get_data(as_text=True)


def test_the_claim_page_shows_small_thumbnails_linking_to_the_photos_seen_by_the_same_people(world, client, login, app):
    login(world["villager"])
    client.post("/claims/new", data=claim_data(world, [factories.gen_photo(size=(4000, 3000))]),
                content_type="multipart/form-data")
    claim = db.session.scalar(select(Claim))
    page = client.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert (f'<a href="/claims/{claim.id}/photos/1"><img src="/claims/{claim.id}/photos/1/small"' in page)
    full, small = client.get(f"/claims/{claim.id}/photos/1"), client.get(f"/claims/{claim.id}/photos/1/small")
    assert small.status_code == 200 and small.mimetype == "image/jpeg"
    assert small.headers["Cache-Control"] == full.headers["Cache-Control"] == "private, max-age=86400"
    with Image.open(io.BytesIO(small.data)) as thumb:
        assert thumb.size == (240, 320)  # upright, as the photo is
    assert len(small.data) < len(full.data) / 3
    thumbs = os.path.join(app.config["UPLOAD_FOLDER"], "thumbs")
    assert os.listdir(thumbs) == [claim.photos[0].filename]  # made once, kept beside the photos
    assert client.get(f"/claims/{claim.id}/photos/1/small").data == small.data

    assert client.get(f"/claims/{claim.id}/photos/2/small").status_code == 404
    login(world["other_worker"])
    assert client.get(f"/claims/{claim.id}/photos/1/small").status_code == 403
    login(world["worker"])
    assert client.get(f"/claims/{claim.id}/photos/1/small").status_code == 200
    client.post("/logout")
    assert client.get(f"/claims/{claim.id}/photos/1/small").status_code in (302, 401)


def assert_refused_keeping_the_fields(response, status: int, message: str, world, day: date) -> None:
    """The form again, saying why at its top (and under the photo field), with what was filled in kept."""
    page = response.get_data(as_text=True)
    assert response.status_code == status
    top, form = page.index('class="error-box refused-form"'), page.index('<form method="post" class="stack card"')
    assert top < form and message in page[top:form]
    assert "项目、次数、日期和说明已保留，请重新选择照片后再提交。" in page
    assert f"<li>{message}</li>" in page and f'<p class="field-error">{message}</p>' in page  # the box, the field
    assert re.search(rf'<option selected value="{world["yard"].id}">', page)
    assert re.search(r'<input id="quantity"[^>]* value="2"', page)
    assert re.search(rf'<input id="occurred_on"[^>]* value="{day.isoformat()}"', page)
    assert re.search(r"<textarea id=\"note\"[^>]*>\s*门前和屋后都扫了</textarea>", page)
    assert claim_count() == 0


@pytest.mark.parametrize("photo, limit, message", [
    (b"%PDF-1.4 not a photo", None, "只能上传 JPEG、PNG 或 WebP 格式的照片"),
    (b"\xff\xd8" + b"\x00" * 300_000, 200_000, "照片太大，每张不能超过 0 MB"),
])
def test_a_refused_photo_keeps_the_forms_other_fields_and_says_why_at_the_top(world, client, login, app, photo,
                                                                              limit, message):
    login(world["villager"])
    day = local_today() - timedelta(days=2)
    data = claim_data(world, [photo], quantity=2, occurred_on=day.isoformat(), note="门前和屋后都扫了",
                      key="0" * 32)
    before, app.config["PHOTO_MAX_BYTES"] = app.config["PHOTO_MAX_BYTES"], limit or app.config["PHOTO_MAX_BYTES"]
    try:
        response = client.post(f"/claims/new?key={'0' * 32}", data=data, content_type="multipart/form-data")
    finally:
        app.config["PHOTO_MAX_BYTES"] = before
    assert_refused_keeping_the_fields(response, 422, message, world, day)


def test_photos_over_the_request_limit_keep_the_fields_sent_before_them(world, client, login, app):
    """Too large to be read at all: the fields come first in the body, and that is enough to show them again."""
    login(world["villager"])
    day = local_today() - timedelta(days=1)
    key = "1" * 32
    data = claim_data(world, [b"\xff" * 200_000], quantity=2, occurred_on=day.isoformat(), note="门前和屋后都扫了",
                      key=key)
    limit, app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_CONTENT_LENGTH"], 100_000
    try:
        response = client.post(f"/claims/new?key={key}", data=data, content_type="multipart/form-data")
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert_refused_keeping_the_fields(response, 413, "照片太大，合计不能超过 0 MB", world, day)
    assert form_key(response.get_data(as_text=True)) == key  # nothing was made under it: the address stays true


def test_a_villager_appeals_and_the_admin_reverses(world, client, login):
    entry = apply_rule(world["worker"], world["home"].id, world["pile"].id, "pile")
    login(world["villager"])
    assert "申诉" in client.get("/my/points").get_data(as_text=True)
    response = client.post(f"/entries/{entry.id}/appeal", data={"reason": "", "key": "a1"})
    assert response.status_code == 422 and "请填写理由" in response.get_data(as_text=True)
    assert client.post(f"/entries/{entry.id}/appeal", data={"reason": "已清理", "key": "a1"}).status_code == 302
    appeal = db.session.scalar(select(Appeal))
    assert "已申诉" in client.get("/my/points").get_data(as_text=True)
    assert client.post(f"/appeals/{appeal.id}/decision", data={"decision": "reverse"}).status_code == 403

    login(world["admin"])
    assert "已清理" in client.get("/appeals").get_data(as_text=True)
    client.post(f"/appeals/{appeal.id}/decision", data={"decision": "reverse", "note": "核实", "confirmed": "1"})
    assert balance_of(world["home"].id) == 0
    login(world["villager"])
    assert "已撤销扣分" in client.get(f"/appeals/{appeal.id}").get_data(as_text=True)


def test_a_claim_form_sent_again_with_another_note_says_so_and_takes_a_fresh_key(world, client, login):
    login(world["villager"])
    photo = factories.gen_photo()
    first = client.post("/claims/new", data=claim_data(world, [photo]), content_type="multipart/form-data")
    assert first.status_code == 302
    again = client.post("/claims/new", data=claim_data(world, [photo], note="门前和院子都扫了"),
                        content_type="multipart/form-data")
    page = again.get_data(as_text=True)
    assert again.status_code == 422 and "这张表单已经提交过了" in page
    key = re.search(r'name="key" type="hidden" value="([0-9a-f]{32})"', page).group(1)
    assert client.post("/claims/new", data=claim_data(world, [photo], note="门前和院子都扫了", key=key),
                       content_type="multipart/form-data").status_code == 302
    assert [c.note for c in db.session.scalars(select(Claim).order_by(Claim.id))] == [
        "门前打扫干净", "门前和院子都扫了"]


def test_staff_have_no_claim_form(world, client, login):
    login(world["worker"])
    assert client.get("/claims/new").status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Claim)) == 0
    assert ClaimStatus.PENDING.value == "pending"


def form_key(page: str) -> str:
    return re.search(r'name="key" type="hidden" value="([0-9a-f]{32})"', page).group(1)


def claim_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Claim))


def test_a_claim_form_tapped_twice_makes_one_claim(world, client, login):
    login(world["villager"])
    photo = factories.gen_photo()
    first, second = (client.post("/claims/new", data=claim_data(world, [photo]), content_type="multipart/form-data")
                     for _tap in range(2))
    assert first.status_code == second.status_code == 302 and first.location == second.location
    assert claim_count() == 1


def test_the_claim_forms_key_is_in_its_address_so_going_back_sends_the_same_claim(world, client, login):
    login(world["villager"])
    opened = client.get("/claims/new")
    assert opened.status_code == 302
    address = opened.location
    key = form_key(client.get(address).get_data(as_text=True))
    assert key in address
    sent = client.post(address, data=claim_data(world, [factories.gen_photo()], key=key),
                       content_type="multipart/form-data")
    assert sent.status_code == 302

    # Back: the browser shows the form again, fetched anew, and the villager sends it (the photo field is empty now).
    again = client.get(address).get_data(as_text=True)
    assert form_key(again) == key
    resent = client.post(address, data=claim_data(world, [], key=form_key(again)), content_type="multipart/form-data")
    assert resent.status_code == 302 and resent.location == sent.location
    assert claim_count() == 1
    assert client.get("/claims/new").location != address  # a new claim starts from a new form


def test_a_claim_post_reloaded_makes_one_claim_with_its_photos_stored_once(world, client, login, app):
    login(world["villager"])
    stored = len(os.listdir(app.config["UPLOAD_FOLDER"]))
    data = claim_data(world, [factories.gen_photo()])
    photos = data.pop("photos")[0][0].getvalue()
    answers = [client.post("/claims/new", data={**data, "photos": [(io.BytesIO(photos), "p.jpg")]},
                           content_type="multipart/form-data") for _send in ("post", "reload")]
    assert [a.status_code for a in answers] == [302, 302] and answers[0].location == answers[1].location
    assert claim_count() == 1
    assert len(os.listdir(app.config["UPLOAD_FOLDER"])) == stored + 1


@pytest.fixture
def appealed(world):
    entry = apply_rule(world["worker"], world["home"].id, world["pile"].id, "pile")
    appeal = submit_appeal(world["villager"], entry.id, "垃圾不是我家堆的")
    db.session.commit()
    return appeal


@pytest.mark.parametrize("decision, said, button, status", [
    ("reverse", "撤销户号 {number} 在 {day} 的扣分 -10 分（乱堆乱放）：将为该户记 +10 分", "确认撤销，记 +10 分",
     AppealStatus.REVERSED),
    ("uphold", "维持户号 {number} 在 {day} 的扣分 -10 分（乱堆乱放）：该户积分不变", "确认维持扣分",
     AppealStatus.UPHELD),
])
def test_deciding_an_appeal_asks_first_naming_the_household_the_entry_and_the_points(
        world, appealed, client, login, decision, said, button, status):
    login(world["admin"])
    url, fields = f"/appeals/{appealed.id}/decision", {"decision": decision, "note": "已核实"}
    asked = client.post(url, data=fields)
    page = asked.get_data(as_text=True)
    today = local_today()
    assert asked.status_code == 200
    assert said.format(number=world["home"].number, day=f"{today.month}月{today.day}日") in page
    assert button in page and "处理说明：已核实" in page and "申诉理由：垃圾不是我家堆的" in page
    assert f'href="/appeals/{appealed.id}"' in page  # 取消 goes back, writing nothing
    db.session.expire_all()
    assert appealed.status is AppealStatus.PENDING and balance_of(world["home"].id) == -10
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action.like("appeal.%"))) == 1  # its submission only

    assert client.post(url, data={**fields, "confirmed": "1"}).status_code == 302
    db.session.expire_all()
    assert appealed.status is status and balance_of(world["home"].id) == (0 if decision == "reverse" else -10)


def test_an_appeal_decided_already_says_so_without_asking(world, appealed, client, login):
    login(world["admin"])
    client.post(f"/appeals/{appealed.id}/decision", data={"decision": "uphold", "confirmed": "1"})
    response = client.post(f"/appeals/{appealed.id}/decision", data={"decision": "reverse"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "该申诉已经处理过了" in page and "确认撤销" not in page
