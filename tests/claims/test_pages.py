"""Claims and appeals through the pages: a villager claims with a photo, a worker reviews, the villager sees it."""
import io
import re

import pytest
from sqlalchemy import func, select

from points.auth.models import Role
from points.claims.models import Appeal, Claim, ClaimStatus
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
    assert "庭院整洁" in client.get("/claims/new").get_data(as_text=True)
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
    client.post(f"/appeals/{appeal.id}/decision", data={"decision": "reverse", "note": "核实"})
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
    assert [c.note for c in db.session.scalars(select(Claim).order_by(Claim.id))] == ["门前打扫干净", "门前和院子都扫了"]


def test_staff_have_no_claim_form(world, client, login):
    login(world["worker"])
    assert client.get("/claims/new").status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Claim)) == 0
    assert ClaimStatus.PENDING.value == "pending"
