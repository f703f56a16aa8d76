"""积分申报 and 申诉 through their services: who may, what posts, what is refused and writes nothing."""
import io
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from points.auth import services as auth_services
from points.auth.models import Role, User
from points.claims import services
from points.claims.models import Appeal, AppealStatus, Claim, ClaimStatus
from points.errors import DomainError
from points.extensions import db
from points.ledger.models import EntrySource, LedgerEntry
from points.ledger.queries import balance_of
from points.ledger.services import apply_rule, reverse_entry
from points.people.models import HouseholdKind
from points.timeutil import local_today

from .. import factories
from ..ledger.helpers import assert_ledger_consistent


@pytest.fixture
def world(village, tmp_path):
    grid, other_grid = village.grids[0], village.grids[1]
    home = factories.gen_household(grid)
    villager = factories.gen_villager(home)
    worker = factories.gen_user(Role.GRID_WORKER, grid)
    other_worker = factories.gen_user(Role.GRID_WORKER, other_grid)
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    hazard = factories.gen_rule(village.village, "报告安全隐患", 5, self_claimable=True, cap_month=10)
    yard = factories.gen_rule(village.village, "庭院整洁", 5, self_claimable=True, evidence_required=True)
    meeting = factories.gen_rule(village.village, "参加会议", 2)
    pile = factories.gen_rule(village.village, "乱堆乱放", -10)
    db.session.commit()
    return dict(village=village, home=home, villager=villager, worker=worker, other_worker=other_worker,
                admin=admin, hazard=hazard, yard=yard, meeting=meeting, pile=pile,
                store=services.PhotoStore(str(tmp_path), 8 * 1024 * 1024))


def claims_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Claim))


def test_a_photo_is_stored_upright_shrunk_and_without_exif(world):
    claim = services.submit_claim(world["villager"], world["yard"].id, [factories.gen_photo()], world["store"])
    stored = claim.photos[0]
    with Image.open(os.path.join(world["store"].folder, stored.filename)) as image:
        assert image.format == "JPEG"
        assert not image.getexif() and "exif" not in image.info
        assert max(image.size) == 1600
        assert image.size == (1200, 1600)  # the orientation tag was applied: the phone was held upright
    assert (stored.width, stored.height) == (1200, 1600)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_are_accepted(world, fmt):
    claim = services.submit_claim(world["villager"], world["yard"].id, [factories.gen_photo(fmt, (800, 600))],
                                  world["store"])
    assert claim.photos[0].width == 800


@pytest.mark.parametrize(
    "photos, code",
    [
        ([b"%PDF-1.4 not a photo"], "not_an_image"),
        ([factories.gen_photo("GIF", (50, 50), gps=False)], "not_an_image"),
        ([factories.gen_photo()] * 4, "too_many_photos"),
        ([], "photo_required"),
    ],
)
def test_bad_photos_are_refused_and_nothing_is_written(world, photos, code):
    with pytest.raises(DomainError) as refusal:
        services.submit_claim(world["villager"], world["yard"].id, photos, world["store"])
    assert refusal.value.code == code
    db.session.rollback()
    assert claims_count() == 0 and os.listdir(world["store"].folder) == []


def test_a_photo_over_the_limit_is_refused(world):
    small_store = services.PhotoStore(world["store"].folder, 1024)
    with pytest.raises(DomainError) as refusal:
        services.submit_claim(world["villager"], world["yard"].id, [factories.gen_photo()], small_store)
    assert refusal.value.code == "photo_too_large" and "MB" in refusal.value.message


def test_only_self_claimable_rules_may_be_claimed(world):
    with pytest.raises(DomainError) as refusal:
        services.submit_claim(world["villager"], world["meeting"].id, [], world["store"])
    assert refusal.value.code == "rule_not_claimable"
    assert refusal.value.message == "该细则不能由村民自行申报"


@pytest.mark.parametrize("quantity", [0, -1, 10**9])
def test_a_bad_quantity_is_refused(world, quantity):
    with pytest.raises(DomainError) as refusal:
        services.submit_claim(world["villager"], world["hazard"].id, [], world["store"], quantity=quantity)
    assert refusal.value.code == "invalid_quantity"


def test_a_claim_for_a_future_or_long_past_day_is_refused(world):
    for day in (local_today() + timedelta(days=1), local_today() - timedelta(days=200)):
        with pytest.raises(DomainError) as refusal:
            services.submit_claim(world["villager"], world["hazard"].id, [], world["store"], occurred_on=day)
        assert refusal.value.code == "claim_day_invalid"


def test_staff_without_a_household_cannot_claim(world):
    with pytest.raises(DomainError) as refusal:
        services.submit_claim(world["worker"], world["hazard"].id, [], world["store"])
    assert refusal.value.code == "villagers_only"


def test_a_renters_rule_is_not_claimable_by_a_registered_household(world):
    renters = factories.gen_rule(world["village"].village, "外来人员登记", 5, self_claimable=True, for_registered=False)
    with pytest.raises(DomainError) as refusal:
        services.submit_claim(world["villager"], renters.id, [], world["store"])
    assert refusal.value.code == "rule_not_for_household_kind"
    renter_home = factories.gen_household(world["village"].grids[0], kind=HouseholdKind.RENTER)
    renter = factories.gen_villager(renter_home)
    assert services.submit_claim(renter, renters.id, [], world["store"]).status is ClaimStatus.PENDING


def test_the_same_client_key_makes_one_claim(world):
    first = services.submit_claim(world["villager"], world["hazard"].id, [], world["store"], client_key="k1")
    again = services.submit_claim(world["villager"], world["hazard"].id, [], world["store"], client_key="k1")
    assert again.id == first.id and claims_count() == 1


@pytest.mark.parametrize("other", [{"quantity": 2}, {"note": "另一件事"},
                                   {"occurred_on": local_today() - timedelta(days=1)}])
def test_a_client_key_sent_again_with_another_claim_is_refused(world, other):
    asked = {"quantity": 1, "note": "清理了沟渠", "occurred_on": local_today()}
    first = services.submit_claim(world["villager"], world["hazard"].id, [], world["store"], client_key="k1", **asked)
    assert services.submit_claim(world["villager"], world["hazard"].id, [], world["store"], client_key="k1",
                                 **{**asked, "note": " 清理了沟渠 ", "occurred_on": None}).id == first.id
    with pytest.raises(DomainError) as refusal:
        services.submit_claim(world["villager"], world["hazard"].id, [], world["store"], client_key="k1",
                              **{**asked, **other})
    assert refusal.value.code == "idempotency_key_reused" and claims_count() == 1


def test_approval_posts_once_and_the_villager_sees_it(world):
    claim = services.submit_claim(world["villager"], world["hazard"].id, [], world["store"], quantity=2)
    assert balance_of(world["home"].id) == 0  # nothing before review
    services.approve_claim(world["worker"], claim.id)
    services.approve_claim(world["worker"], claim.id)  # a double tap
    assert claim.status is ClaimStatus.APPROVED and claim.entry.amount == 10
    assert claim.entry.source is EntrySource.CLAIM and claim.entry.actor_id == world["worker"].id
    assert balance_of(world["home"].id) == 10
    assert_ledger_consistent(world["home"].id)


def test_approval_respects_the_rules_cap(world):
    first = services.submit_claim(world["villager"], world["hazard"].id, [], world["store"], quantity=2)
    second = services.submit_claim(world["villager"], world["hazard"].id, [], world["store"])
    services.approve_claim(world["worker"], first.id)
    with pytest.raises(DomainError) as refusal:
        services.approve_claim(world["worker"], second.id)
    assert refusal.value.code == "cap_exceeded" and "报告安全隐患" in refusal.value.message


def test_only_a_reviewer_of_that_grid_decides_and_never_on_their_own_claim(world):
    claim = services.submit_claim(world["villager"], world["hazard"].id, [], world["store"])
    for outsider in (world["other_worker"], world["villager"]):
        with pytest.raises(DomainError) as refusal:
            services.approve_claim(outsider, claim.id)
        assert refusal.value.status == 403
    assert claim.status is ClaimStatus.PENDING and balance_of(world["home"].id) == 0


def test_rejection_needs_a_reason_and_posts_nothing(world):
    claim = services.submit_claim(world["villager"], world["hazard"].id, [], world["store"])
    with pytest.raises(DomainError) as refusal:
        services.reject_claim(world["worker"], claim.id, "  ")
    assert refusal.value.code == "reason_required"
    services.reject_claim(world["worker"], claim.id, "现场未发现该隐患")
    assert claim.status is ClaimStatus.REJECTED and claim.reason == "现场未发现该隐患"
    with pytest.raises(DomainError) as refusal:
        services.approve_claim(world["worker"], claim.id)
    assert refusal.value.code == "claim_already_decided"
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


def penalty(world):
    return apply_rule(world["worker"], world["home"].id, world["pile"].id, factories.unique("k"))


def test_an_appeal_reversed_restores_the_points(world):
    entry = penalty(world)
    assert balance_of(world["home"].id) == -10  # a penalty may take the balance below zero
    appeal = services.submit_appeal(world["villager"], entry.id, "已经清理干净了")
    services.decide_appeal(world["admin"], appeal.id, reverse=True, note="核实属实")
    assert appeal.status is AppealStatus.REVERSED and appeal.reversal_id is not None
    assert balance_of(world["home"].id) == 0
    assert_ledger_consistent(world["home"].id)
    with pytest.raises(DomainError) as refusal:
        services.decide_appeal(world["admin"], appeal.id, reverse=True)
    assert refusal.value.code == "appeal_already_decided"


def test_an_appeal_upheld_changes_no_points(world):
    entry = penalty(world)
    appeal = services.submit_appeal(world["villager"], entry.id, "不服")
    services.decide_appeal(world["admin"], appeal.id, reverse=False, note="经核实确有堆放")
    assert appeal.status is AppealStatus.UPHELD and balance_of(world["home"].id) == -10


def test_only_deductions_of_ones_own_household_may_be_appealed_once(world):
    award = apply_rule(world["worker"], world["home"].id, world["meeting"].id, "award")
    with pytest.raises(DomainError) as refusal:
        services.submit_appeal(world["villager"], award.id, "理由")
    assert refusal.value.code == "not_a_deduction"
    entry = penalty(world)
    with pytest.raises(DomainError) as refusal:
        services.submit_appeal(world["villager"], entry.id, "")
    assert refusal.value.code == "reason_required"
    services.submit_appeal(world["villager"], entry.id, "理由")
    with pytest.raises(DomainError) as refusal:
        services.submit_appeal(world["villager"], entry.id, "再申诉")
    assert refusal.value.code == "already_appealed"
    neighbour = factories.gen_villager(factories.gen_household(world["village"].grids[0]))
    with pytest.raises(DomainError) as refusal:
        services.submit_appeal(neighbour, entry.id, "理由")
    assert refusal.value.status == 404


def test_a_client_key_sent_again_with_another_appeal_is_refused(world):
    entry, other = penalty(world), penalty(world)
    first = services.submit_appeal(world["villager"], entry.id, "已经清理干净了", client_key="k1")
    assert services.submit_appeal(world["villager"], entry.id, "已经清理干净了 ", client_key="k1").id == first.id
    for asked in ((entry.id, "另一个理由"), (other.id, "已经清理干净了")):
        with pytest.raises(DomainError) as refusal:
            services.submit_appeal(world["villager"], *asked, client_key="k1")
        assert refusal.value.code == "idempotency_key_reused"


def test_only_the_village_admin_decides_appeals(world):
    appeal = services.submit_appeal(world["villager"], penalty(world).id, "理由")
    for user in (world["worker"], world["villager"]):
        with pytest.raises(DomainError) as refusal:
            services.decide_appeal(user, appeal.id, reverse=True)
        assert refusal.value.status == 403
    assert balance_of(world["home"].id) == -10


def test_photo_bytes_that_lie_about_their_size_are_refused(world):
    """A decompression bomb: a tiny PNG claiming a huge canvas."""
    out = io.BytesIO()
    Image.new("1", (12000, 12000)).save(out, "PNG")
    with pytest.raises(DomainError) as refusal:
        services.submit_claim(world["villager"], world["yard"].id, [out.getvalue()], world["store"])
    assert refusal.value.code == "not_an_image"


def _decide_in_thread(app, action, user_id, row_id):
    """One decision from its own app context and session, as a second request would make it."""
    with app.app_context():
        user = db.session.get(User, user_id)
        try:
            action(user, row_id)
            db.session.commit()
            return "ok"
        except DomainError as refusal:
            db.session.rollback()
            return refusal.code


def test_two_reviewers_deciding_at_once_leave_one_decision(app, world):
    second = factories.gen_user(Role.GRID_LEADER, world["village"].grids[0])
    claim_id = services.submit_claim(world["villager"], world["hazard"].id, [], world["store"]).id
    db.session.commit()
    actions = [(services.approve_claim, world["worker"].id),
               (lambda u, c: services.reject_claim(u, c, "不符合"), second.id)]
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda a: _decide_in_thread(app, a[0], a[1], claim_id), actions * 5))
    db.session.expire_all()
    decided = db.session.get(Claim, claim_id)
    posted = db.session.scalar(select(func.count()).select_from(LedgerEntry))
    assert (decided.status is ClaimStatus.APPROVED) == (posted == 1) and posted <= 1
    assert (decided.entry_id is not None) == (decided.status is ClaimStatus.APPROVED)
    assert "claim_already_decided" in outcomes
    assert_ledger_consistent(decided.household_id)


def test_two_admins_deciding_an_appeal_at_once_leave_one_decision(app, world):
    second = factories.gen_user(Role.VILLAGE_ADMIN, world["village"].village)
    appeal_id = services.submit_appeal(world["villager"], penalty(world).id, "理由").id
    db.session.commit()
    actions = [(lambda u, a: services.decide_appeal(u, a, True), world["admin"].id),
               (lambda u, a: services.decide_appeal(u, a, False), second.id)]
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda a: _decide_in_thread(app, a[0], a[1], appeal_id), actions * 5))
    db.session.expire_all()
    decided = db.session.get(Appeal, appeal_id)
    assert outcomes.count("ok") == 1
    assert (decided.status is AppealStatus.REVERSED) == (balance_of(decided.household_id) == 0)
    assert (decided.reversal_id is not None) == (decided.status is AppealStatus.REVERSED)


def test_a_reviewer_approves_only_under_a_rule_their_role_may_apply(world):
    admins_only = factories.gen_rule(world["village"].village, "红白喜事简办", 10, self_claimable=True,
                                     roles=frozenset({Role.VILLAGE_ADMIN}))
    claim = services.submit_claim(world["villager"], admins_only.id, [], world["store"])
    with pytest.raises(DomainError) as refusal:
        services.approve_claim(world["worker"], claim.id)
    assert refusal.value.code == "rule_not_for_role" and claim.status is ClaimStatus.PENDING
    assert services.approve_claim(world["admin"], claim.id).entry.amount == 10


def test_staff_never_decide_for_their_own_household(world):
    """A villager who is also the grid worker: their own household's claim and awards are for someone else."""
    claim = services.submit_claim(world["villager"], world["hazard"].id, [], world["store"])
    worker_at_home = world["villager"]
    auth_services.assign_role(None, worker_at_home, Role.GRID_WORKER, world["village"].grids[0])
    with pytest.raises(DomainError) as refusal:
        services.approve_claim(worker_at_home, claim.id)
    assert refusal.value.code == "own_claim"
    with pytest.raises(DomainError) as refusal:
        apply_rule(worker_at_home, world["home"].id, world["meeting"].id, "self")
    assert refusal.value.code == "own_household" and balance_of(world["home"].id) == 0


def test_an_appeal_of_an_entry_reversed_meanwhile_is_answered_by_that_reversal(world):
    entry = penalty(world)
    appeal = services.submit_appeal(world["villager"], entry.id, "理由")
    correction = reverse_entry(entry.id, "by-hand", world["admin"], "误扣")
    services.decide_appeal(world["admin"], appeal.id, reverse=True)
    assert appeal.status is AppealStatus.REVERSED and appeal.reversal_id == correction.id
    assert balance_of(world["home"].id) == 0
