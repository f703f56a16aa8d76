"""/api/v1 claims (积分申报 with photos, review) and appeals (申诉, decision)."""
import io
import os
from datetime import timedelta

import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth import services as auth_services
from points.auth.models import Role
from points.claims.models import Appeal, Claim, ClaimPhoto
from points.extensions import db
from points.ledger.models import LedgerEntry
from points.people.models import HouseholdKind
from points.rules.models import RuleCategory
from points.timeutil import local_today

from .. import factories
from .conftest import error_of


def photo(fmt: str = "JPEG", size: tuple[int, int] = (64, 48)) -> bytes:
    """An image as a phone sends it: with the camera's make and the GPS position in its EXIF block."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "VillagePhone"
    exif[ExifTags.Base.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (29.0, 52.0, 7.0),
        ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (121.0, 32.0, 11.0),
    }
    out = io.BytesIO()
    Image.new("RGB", size, (40, 160, 60)).save(out, fmt, exif=exif)
    return out.getvalue()


def noise_png(side: int) -> bytes:
    """A PNG that does not compress: side × side random pixels, about 3 × side² bytes."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def claims(village):
    """Villagers of three households in grid 1 (one a renter) and one in grid 2, claimable rules, and staff."""
    since = local_today() - timedelta(days=100)
    home = factories.gen_household(village.grids[0], "张三明")
    renter = factories.gen_household(village.grids[0], "王大山", kind=HouseholdKind.RENTER)
    other = factories.gen_household(village.grids[0], "赵六")
    across = factories.gen_household(village.grids[1], "欧阳小明")
    rules = {
        "yard": factories.gen_rule(village.village, "庭院整洁", 5, code="YARD", effective_from=since,
                                   self_claimable=True, evidence_required=True, cap_week=5),
        "helping": factories.gen_rule(village.village, "邻里互助", 3, RuleCategory.MUTUAL_AID, code="HELP",
                                      effective_from=since, self_claimable=True),
        "staff_only": factories.gen_rule(village.village, "卫生示范户", 20, code="STAFF", effective_from=since),
        "registered_only": factories.gen_rule(village.village, "户籍专项", 2, code="REG", effective_from=since,
                                              self_claimable=True, for_renters=False),
        "upcoming": factories.gen_rule(village.village, "新规", 1, code="NEW", self_claimable=True,
                                       effective_from=local_today() + timedelta(days=10)),
        "penalty": factories.gen_rule(village.village, "乱堆乱放", -10, RuleCategory.VILLAGE_RULES, code="PEN",
                                      effective_from=since),
    }
    worker_at_home = factories.gen_villager(other)
    auth_services.assign_role(None, worker_at_home, Role.GRID_WORKER, village.grids[0])
    users = {
        "villager": factories.gen_villager(home),
        "renter_villager": factories.gen_villager(renter),
        "across_villager": factories.gen_villager(across),
        "worker_at_home": worker_at_home,
        "worker": factories.gen_user(Role.GRID_WORKER, village.grids[0]),
        "worker2": factories.gen_user(Role.GRID_WORKER, village.grids[1]),
        "admin": factories.gen_user(Role.VILLAGE_ADMIN, village.village),
        "clerk": factories.gen_user(Role.SHOP_CLERK, village.village),
    }
    db.session.commit()
    return dict(village=village, home=home, renter=renter, other=other, across=across, **rules, **users)


def submit(api, user, rule, photos=(), headers=None, **fields):
    data = {"rule_id": str(rule.id if hasattr(rule, "id") else rule), **fields}
    data["photos"] = [(io.BytesIO(content), name) for name, content in photos]
    return api.post("/api/v1/claims", user, headers=headers, data=data, content_type="multipart/form-data")


def uploads(app) -> set[str]:
    folder = app.config["UPLOAD_FOLDER"]
    return set(os.listdir(folder)) if os.path.isdir(folder) else set()


def snapshot(app) -> tuple:
    """What a refusal must leave unchanged: claims, photos (rows and files), appeals, entries and audit events."""
    db.session.expire_all()
    counts = tuple(db.session.scalar(select(func.count()).select_from(model))
                   for model in (Claim, ClaimPhoto, Appeal, LedgerEntry, AuditEvent))
    return counts, uploads(app)


def balance(api, user, household) -> int:
    return api.get(f"/api/v1/households/{household.id}", user).get_json()["balance"]


# Submitting a claim


def test_a_villager_claims_with_photos_stored_without_exif(api, app, client, login, claims):
    villager = claims["villager"]
    response = submit(api, villager, claims["yard"], [("yard.jpg", photo()), ("gate.png", photo("PNG"))],
                      note="打扫了门前", quantity="1")

    assert response.status_code == 201
    claim = response.get_json()
    assert (claim["household_id"], claim["resident_id"], claim["claimant"]) == (
        claims["home"].id, claims["home"].head.id, villager.display_name)
    assert (claim["rule_code"], claim["rule_name"], claim["amount"], claim["status"]) == (
        "YARD", "庭院整洁", 5, "pending")
    assert (claim["occurred_on"], claim["note"], claim["entry_id"], claim["reviewer"]) == (
        local_today().isoformat(), "打扫了门前", None, None)
    assert [p["url"] for p in claim["photos"]] == [
        f"/api/v1/claims/{claim['id']}/photos/1", f"/api/v1/claims/{claim['id']}/photos/2"]

    for stored in db.session.scalars(select(ClaimPhoto).where(ClaimPhoto.claim_id == claim["id"])):
        with Image.open(os.path.join(app.config["UPLOAD_FOLDER"], stored.filename)) as image:
            assert image.format == "JPEG"
            assert not image.getexif() and "exif" not in image.info
    served = api.get(claim["photos"][0]["url"], villager)  # a token client (the mini-program) opens it
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert b"VillagePhone" not in served.data
    assert "private" in served.headers["Cache-Control"]
    assert api.get(claim["photos"][0]["url"], claims["across_villager"]).status_code == 403  # another household
    login(villager)
    assert client.get(f"/claims/{claim['id']}/photos/2").status_code == 200  # and the page, for the browser


def test_a_claim_without_photos_where_none_are_required(api, claims):
    yesterday = local_today() - timedelta(days=1)
    response = submit(api, claims["villager"], claims["helping"], quantity="2", occurred_on=yesterday.isoformat())

    assert response.status_code == 201
    claim = response.get_json()
    assert (claim["amount"], claim["quantity"], claim["occurred_on"], claim["photos"]) == (
        6, 2, yesterday.isoformat(), [])


def test_a_claim_retried_with_its_key_is_made_once(api, app, claims):
    headers = {"Idempotency-Key": "claim-tap"}
    first = submit(api, claims["villager"], claims["yard"], [("a.jpg", photo())], headers=headers)
    after_first = snapshot(app)
    again = submit(api, claims["villager"], claims["yard"], [("a.jpg", photo())], headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert snapshot(app) == after_first


@pytest.mark.parametrize(
    "who, rule, photos, fields, status, code, message",
    [
        ("villager", 999999, [], {}, 400, "unknown_rule", "找不到该细则，或它不属于这一户所在的村"),
        ("villager", "staff_only", [], {}, 400, "rule_not_claimable", "该细则不能由村民自行申报"),
        ("villager", "upcoming", [], {}, 400, "rule_not_in_force", "该细则在 {today} 不在有效期内"),
        ("renter_villager", "registered_only", [], {}, 400, "rule_not_for_household_kind",
         "该细则不适用于这一户的户籍类型"),
        ("villager", "yard", [], {}, 400, "photo_required", "该细则需要上传照片作为证明"),
        ("villager", "yard", ["text"], {}, 400, "not_an_image", "只能上传 JPEG、PNG 或 WebP 格式的照片"),
        ("villager", "yard", ["gif"], {}, 400, "not_an_image", "只能上传 JPEG、PNG 或 WebP 格式的照片"),
        ("villager", "yard", ["jpeg"] * 4, {}, 400, "too_many_photos", "最多上传 3 张照片"),
        ("villager", "helping", [], {"quantity": "0"}, 400, "invalid_quantity",
         "次数或小时数必须是 1 到 100 之间的整数"),
        ("villager", "helping", [], {"quantity": "-1"}, 400, "invalid_quantity",
         "次数或小时数必须是 1 到 100 之间的整数"),
        ("villager", "helping", [], {"quantity": str(10**20)}, 400, "invalid_quantity",
         "次数或小时数必须是 1 到 100 之间的整数"),
        ("villager", "helping", [], {"occurred_on": "tomorrow"}, 400, "claim_day_invalid",
         "申报日期必须是今天或最近 90 天内"),
        ("villager", "helping", [], {"occurred_on": "long ago"}, 400, "claim_day_invalid",
         "申报日期必须是今天或最近 90 天内"),
        ("villager", "helping", [], {"note": "长" * 201}, 400, "note_too_long", "说明不能超过 200 个字"),
        ("worker", "helping", [], {}, 403, "villagers_only", "只有绑定了村民的账号才能申报或申诉"),
    ],
)
def test_a_refused_claim_says_why_in_chinese_and_writes_nothing(api, app, claims, who, rule, photos, fields, status,
                                                                code, message):
    files = {"text": ("yard.jpg", b"this is not a photo"), "jpeg": ("yard.jpg", photo()),
             "gif": ("yard.gif", photo("GIF"))}
    days = {"tomorrow": local_today() + timedelta(days=1), "long ago": local_today() - timedelta(days=91)}
    if "occurred_on" in fields:
        fields = {**fields, "occurred_on": days[fields["occurred_on"]].isoformat()}
    before = snapshot(app)

    response = submit(api, claims[who], claims.get(rule, rule), [files[p] for p in photos], **fields)

    error = error_of(response, status, code)
    assert error["message"] == message.format(today=local_today().isoformat())
    assert snapshot(app) == before


def test_a_photo_over_the_size_limit(api, app, claims):
    big = noise_png(700)
    assert len(big) > 1024 * 1024
    before = snapshot(app)
    app.config["PHOTO_MAX_BYTES"] = 1024 * 1024
    try:
        response = submit(api, claims["villager"], claims["yard"], [("big.png", big)])
    finally:
        app.config["PHOTO_MAX_BYTES"] = 8 * 1024 * 1024

    assert error_of(response, 400, "photo_too_large")["message"] == "照片太大，每张不能超过 1 MB"
    assert snapshot(app) == before


def test_a_body_over_the_upload_limit_is_a_413(api, app, claims):
    before = snapshot(app)
    limit, app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_CONTENT_LENGTH"], 64 * 1024
    try:
        response = submit(api, claims["villager"], claims["yard"], [("big.png", noise_png(200))])
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit

    assert error_of(response, 413, "file_too_large")["message"] == "上传的文件太大"
    assert snapshot(app) == before


@pytest.mark.parametrize("data", [{}, {"rule_id": "abc"}, {"rule_id": "0"}, {"rule_id": "RULE", "photos": "yard.jpg"},
                                  {"rule_id": "RULE", "quantity": "1.5"}, {"rule_id": "RULE", "occurred_on": "today"}])
def test_a_malformed_claim_is_a_422(api, app, claims, data):
    data = {k: str(claims["helping"].id) if v == "RULE" else v for k, v in data.items()}
    before = snapshot(app)
    response = api.post("/api/v1/claims", claims["villager"], data=data, content_type="multipart/form-data")
    assert error_of(response, 422, "validation_error")["message"] == "提交的内容有误"
    assert snapshot(app) == before


# Reading claims


def test_who_sees_which_claims(api, claims):
    mine = submit(api, claims["villager"], claims["helping"]).get_json()["id"]
    neighbours = submit(api, claims["worker_at_home"], claims["helping"]).get_json()["id"]
    across = submit(api, claims["across_villager"], claims["helping"]).get_json()["id"]

    def listed(who, query=""):
        response = api.get(f"/api/v1/claims{query}", claims[who])
        assert response.status_code == 200
        return [c["id"] for c in response.get_json()["items"]]

    assert listed("villager") == [mine]
    assert listed("worker", "?status=pending") == [mine, neighbours]  # the queue: who waited longest first
    assert listed("worker") == [neighbours, mine]
    assert listed("worker_at_home", "?status=pending") == [mine, neighbours]
    assert listed("worker2", "?status=pending") == [across]
    assert listed("admin", "?status=pending") == [mine, neighbours, across]
    assert listed("admin", "?status=approved") == []
    assert listed("clerk") == []
    error_of(api.get("/api/v1/claims?status=maybe", claims["worker"]), 422, "validation_error")

    assert api.get(f"/api/v1/claims/{mine}", claims["villager"]).get_json()["id"] == mine
    assert api.get(f"/api/v1/claims/{mine}", claims["worker"]).status_code == 200
    for who in ("across_villager", "worker2", "clerk"):
        error_of(api.get(f"/api/v1/claims/{mine}", claims[who]), 403, "forbidden")
    error_of(api.get("/api/v1/claims/999999", claims["worker"]), 404, "not_found")


# Review


def test_approving_posts_the_points_once(api, claims):
    claim = submit(api, claims["villager"], claims["helping"], quantity="2").get_json()
    path = f"/api/v1/claims/{claim['id']}/approve"

    first = api.post(path, claims["worker"])
    again = api.post(path, claims["worker"])

    assert (first.status_code, again.status_code) == (200, 200)
    approved = first.get_json()
    assert (approved["status"], approved["reviewer"]) == ("approved", claims["worker"].display_name)
    assert again.get_json() == approved
    entry = api.get(f"/api/v1/entries/{approved['entry_id']}", claims["villager"]).get_json()
    assert (entry["amount"], entry["source"], entry["rule_code"]) == (6, "claim", "HELP")
    assert balance(api, claims["villager"], claims["home"]) == 6
    error_of(api.post(f"/api/v1/claims/{claim['id']}/reject", claims["worker"], json={"reason": "不对"}), 409,
             "claim_already_decided")


def test_rejecting_needs_a_reason(api, app, claims):
    claim = submit(api, claims["villager"], claims["helping"]).get_json()
    path = f"/api/v1/claims/{claim['id']}/reject"
    before = snapshot(app)

    assert error_of(api.post(path, claims["worker"], json={}), 400, "reason_required")["message"] == "请填写理由"
    error_of(api.post(path, claims["worker"], json={"reason": "   "}), 400, "reason_required")
    assert snapshot(app) == before

    rejected = api.post(path, claims["worker"], json={"reason": "照片看不清"})
    assert rejected.status_code == 200
    assert (rejected.get_json()["status"], rejected.get_json()["reason"]) == ("rejected", "照片看不清")
    error_of(api.post(path, claims["worker"], json={"reason": "再驳回"}), 409, "claim_already_decided")
    error_of(api.post(f"/api/v1/claims/{claim['id']}/approve", claims["worker"]), 409, "claim_already_decided")
    assert balance(api, claims["villager"], claims["home"]) == 0


def test_only_reviewers_in_scope_decide_and_never_their_own(api, app, claims):
    mine = submit(api, claims["villager"], claims["helping"]).get_json()["id"]
    own = submit(api, claims["worker_at_home"], claims["helping"]).get_json()["id"]
    before = snapshot(app)

    for who in ("villager", "worker2", "clerk"):
        error_of(api.post(f"/api/v1/claims/{mine}/approve", claims[who]), 403, "forbidden")
        error_of(api.post(f"/api/v1/claims/{mine}/reject", claims[who], json={"reason": "不行"}), 403, "forbidden")
    error = error_of(api.post(f"/api/v1/claims/{own}/approve", claims["worker_at_home"]), 403, "own_claim")
    assert error["message"] == "不能审核自己或本户提交的申报"
    error_of(api.post("/api/v1/claims/999999/approve", claims["worker"]), 404, "not_found")
    assert snapshot(app) == before


def test_approving_beyond_the_cap_is_refused_and_the_claim_waits(api, app, claims):
    first = submit(api, claims["villager"], claims["yard"], [("a.jpg", photo())]).get_json()["id"]
    second = submit(api, claims["villager"], claims["yard"], [("b.jpg", photo())]).get_json()["id"]
    assert api.post(f"/api/v1/claims/{first}/approve", claims["worker"]).status_code == 200
    before = snapshot(app)

    error = error_of(api.post(f"/api/v1/claims/{second}/approve", claims["worker"]), 409, "cap_exceeded")

    assert error["message"] == "超过细则“庭院整洁”的每周上限 5 分（已有 5 分）"
    assert snapshot(app) == before
    assert api.get(f"/api/v1/claims/{second}", claims["worker"]).get_json()["status"] == "pending"


# Appeals


@pytest.fixture
def deduction(api, claims):
    """A deduction from the home household, posted by the grid worker."""
    response = api.post("/api/v1/entries", claims["worker"],
                        json={"household_id": claims["home"].id, "rule_id": claims["penalty"].id})
    assert response.status_code == 201
    return response.get_json()


def appeal(api, user, entry_id, reason="那天我不在家", headers=None):
    return api.post("/api/v1/appeals", user, headers=headers, json={"entry_id": entry_id, "reason": reason})


def test_a_villager_appeals_a_deduction_once(api, app, claims, deduction):
    headers = {"Idempotency-Key": "appeal-tap"}
    first = appeal(api, claims["villager"], deduction["id"], headers=headers)
    after_first = snapshot(app)
    again = appeal(api, claims["villager"], deduction["id"], headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    body = first.get_json()
    assert again.get_json() == body
    assert (body["entry_id"], body["household_id"], body["amount"], body["status"], body["reason"]) == (
        deduction["id"], claims["home"].id, -10, "pending", "那天我不在家")
    assert snapshot(app) == after_first
    error = error_of(appeal(api, claims["villager"], deduction["id"]), 409, "already_appealed")
    assert error["message"] == "这笔扣分已经申诉过了"


@pytest.mark.parametrize(
    "who, entry, reason, status, code, message",
    [
        ("villager", "award", "理由", 400, "not_a_deduction", "只能对扣分记录提出申诉"),
        ("villager", "deduction", "", 400, "reason_required", "请填写理由"),
        ("villager", "deduction", "长" * 501, 400, "reason_too_long", "理由不能超过 500 个字"),
        ("villager", 999999, "理由", 404, "not_found", "找不到该内容"),
        ("across_villager", "deduction", "理由", 404, "not_found", "找不到该内容"),
        ("worker", "deduction", "理由", 403, "villagers_only", "只有绑定了村民的账号才能申报或申诉"),
    ],
)
def test_a_refused_appeal_says_why_and_writes_nothing(api, app, claims, deduction, who, entry, reason, status, code,
                                                      message):
    award = api.post("/api/v1/entries", claims["worker"],
                     json={"household_id": claims["home"].id, "rule_id": claims["helping"].id}).get_json()
    entry_id = {"deduction": deduction["id"], "award": award["id"]}.get(entry, entry)
    before = snapshot(app)

    error = error_of(appeal(api, claims[who], entry_id, reason), status, code)

    assert error["message"] == message
    assert snapshot(app) == before


@pytest.mark.parametrize("body", [{}, {"entry_id": "x"}, {"entry_id": 0}, {"entry_id": 2**40}])
def test_a_malformed_appeal_is_a_422(api, claims, body):
    error_of(api.post("/api/v1/appeals", claims["villager"], json=body), 422, "validation_error")


def test_who_sees_which_appeals(api, claims, deduction):
    appeal_id = appeal(api, claims["villager"], deduction["id"]).get_json()["id"]

    def listed(who, query=""):
        return [a["id"] for a in api.get(f"/api/v1/appeals{query}", claims[who]).get_json()["items"]]

    assert listed("villager") == [appeal_id]
    assert listed("admin", "?status=pending") == [appeal_id]
    assert listed("admin", "?status=upheld") == []
    assert listed("worker") == []
    assert listed("across_villager") == []
    assert api.get(f"/api/v1/appeals/{appeal_id}", claims["admin"]).status_code == 200
    assert api.get(f"/api/v1/appeals/{appeal_id}", claims["villager"]).status_code == 200
    for who in ("across_villager", "worker"):
        error_of(api.get(f"/api/v1/appeals/{appeal_id}", claims[who]), 403, "forbidden")
    error_of(api.get("/api/v1/appeals/999999", claims["admin"]), 404, "not_found")


def test_reversing_an_appealed_deduction_restores_the_points(api, app, claims, deduction):
    appeal_id = appeal(api, claims["villager"], deduction["id"]).get_json()["id"]
    path = f"/api/v1/appeals/{appeal_id}/decision"
    assert balance(api, claims["admin"], claims["home"]) == -10
    before = snapshot(app)

    error_of(api.post(path, claims["worker"], json={"reverse": True}), 403, "forbidden")
    error_of(api.post(path, claims["villager"], json={"reverse": True}), 403, "forbidden")
    error_of(api.post(path, claims["admin"], json={"note": "没说撤不撤"}), 422, "validation_error")
    error_of(api.post(path, claims["admin"], json={"reverse": True, "note": "长" * 201}), 400, "note_too_long")
    assert snapshot(app) == before

    response = api.post(path, claims["admin"], json={"reverse": True, "note": "核实无误，撤销"})

    assert response.status_code == 200
    decided = response.get_json()
    assert (decided["status"], decided["decided_by"], decided["decision_note"]) == (
        "reversed", claims["admin"].display_name, "核实无误，撤销")
    reversal = api.get(f"/api/v1/entries/{decided['reversal_id']}", claims["villager"]).get_json()
    assert (reversal["amount"], reversal["reverses_id"]) == (10, deduction["id"])
    assert balance(api, claims["admin"], claims["home"]) == 0
    error = error_of(api.post(path, claims["admin"], json={"reverse": False}), 409, "appeal_already_decided")
    assert error["message"] == "该申诉已经处理过了"


def test_upholding_a_deduction_moves_no_points(api, claims, deduction):
    appeal_id = appeal(api, claims["villager"], deduction["id"]).get_json()["id"]

    response = api.post(f"/api/v1/appeals/{appeal_id}/decision", claims["admin"], json={"reverse": False})

    assert (response.get_json()["status"], response.get_json()["reversal_id"]) == ("upheld", None)
    assert balance(api, claims["admin"], claims["home"]) == -10
