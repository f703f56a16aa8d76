"""Villager accounts at scale: opened for a village or grid in one action, activated from a printed slip whose QR
holds nothing personal; a slip works once, expires, and is voided by a reissue; villagers log in by phone too."""
from datetime import datetime, timedelta

import pytest
import time_machine
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from points.auth import services as auth_services
from points.auth import slips
from points.auth.models import NO_PASSWORD, Role, User
from points.errors import DomainError, Forbidden, NotFound
from points.extensions import db
from points.people.models import Closure, Departure
from points.people.services import add_resident, close_household, remove_resident, with_id_checksum
from points.timeutil import LOCAL, local_today

from .. import factories

PASSWORD = "新密码12345"


def born(years_ago: int) -> str:
    """An ID number of someone years_ago old today (born on 1 January, or a little earlier)."""
    year = local_today().year - years_ago - 1
    return with_id_checksum(f"350582{year}0101{factories.unique('')[-3:].zfill(3)}"[:17])


@pytest.fixture
def scene(village):
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    home = factories.gen_household(village.grids[0], "张三明", id_number=born(70))
    add_resident(home, "李小红", "配偶", "13900001111", born(40))
    add_resident(home, "张小宝", "子女", None, None)
    other = factories.gen_household(village.grids[1], "王五", phone="13700002222")
    db.session.commit()
    return village, admin, worker, home, other


def accounts() -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(User.resident_id.is_not(None)))


def test_accounts_open_for_everyone_in_the_scope_who_has_none(scene):
    village, admin, worker, home, other = scene
    factories.gen_villager(other)  # 王五 has one already
    db.session.commit()
    found = slips.candidates(admin, village.village.id)
    assert [r.name for r in found.residents] == ["张三明", "李小红", "张小宝"]
    assert slips.open_accounts(admin, village.village.id) == 3
    db.session.commit()
    opened = db.session.scalars(select(User).where(User.password_hash == NO_PASSWORD).order_by(User.id)).all()
    assert [(u.display_name, u.username) for u in opened] == [
        (r.name, f"{village.village.code}-{r.id}") for r in home.residents]
    assert slips.candidates(admin, village.village.id).residents == [], "opened once"


def test_a_grid_and_an_age_narrow_who_gets_an_account(scene):
    village, admin, worker, home, other = scene
    assert [r.name for r in slips.candidates(admin, village.grids[1].id).residents] == ["王五"]
    over_60 = slips.candidates(admin, village.village.id, min_age=60)
    assert [r.name for r in over_60.residents] == ["张三明"]
    assert over_60.without_age == 2, "张小宝 and 王五 have no ID number: their age is unknown"


def test_households_that_left_and_residents_who_left_get_none(scene):
    village, admin, worker, home, other = scene
    remove_resident(home.residents[2], Departure.MOVED_OUT, local_today())
    close_household(other, Closure.RENTER_LEFT, local_today())
    db.session.commit()
    assert [r.name for r in slips.candidates(admin, village.village.id).residents] == ["张三明", "李小红"]


def test_only_admins_in_scope_open_accounts(scene, villages):
    village, admin, worker, home, other = scene
    with pytest.raises(Forbidden):
        slips.open_accounts(worker, village.village.id)
    with pytest.raises(Forbidden):
        slips.open_accounts(admin, villages[1].village.id)
    assert accounts() == 0


def opened_slip(admin, village, name="张三明") -> slips.Slip:
    slips.open_accounts(admin, village.village.id)
    db.session.commit()
    return next(s for s in slips.pending_slips(admin, village.village.id, 14) if s.resident.name == name)


def test_a_slip_sets_the_password_once(scene):
    village, admin, worker, home, other = scene
    slip = opened_slip(admin, village)
    with pytest.raises(DomainError) as not_yet:
        auth_services.authenticate(slip.user.username, "anything")
    assert not_yet.value.code == "account_not_activated"
    user = slips.activate(slip.token, PASSWORD)
    db.session.commit()
    assert auth_services.authenticate(user.username, PASSWORD) == user
    with pytest.raises(DomainError) as used:
        slips.activate(slip.token, "另一个密码12345")
    assert used.value.code == "slip_used"
    assert [s.resident.name for s in slips.pending_slips(admin, village.village.id, 14)] == ["李小红", "张小宝", "王五"]


def test_a_slips_qr_holds_no_personal_data(scene, app):
    village, admin, worker, home, other = scene
    slip = opened_slip(admin, village)
    claims = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="activation-slip").loads(slip.token)
    assert claims == {"u": slip.user.id, "v": 0, "d": 14}
    for personal in ("张三明", home.address, home.number, "13812345678", home.residents[0].id_number):
        assert personal not in slip.token


def test_a_slip_expires_after_its_days(scene):
    village, admin, worker, home, other = scene
    slips.open_accounts(admin, village.village.id)
    db.session.commit()
    slip = next(s for s in slips.pending_slips(admin, village.village.id, 3) if s.resident.name == "张三明")
    assert slip.valid_until == local_today() + timedelta(days=3)
    with time_machine.travel(datetime.now(LOCAL) + timedelta(days=3, hours=1)):
        with pytest.raises(DomainError) as expired:
            slips.activate(slip.token, PASSWORD)
    assert expired.value.code == "slip_expired"


@pytest.mark.parametrize("token", ["nonsense", "", "a.b.c", "eyJ1IjoxfQ.forged.sig"])
def test_a_forged_slip_is_refused(scene, token):
    with pytest.raises(DomainError) as refused:
        slips.activate(token, PASSWORD)
    assert refused.value.code == "slip_invalid"


def test_a_reissue_voids_the_old_slip_and_a_forgotten_password_is_set_again(scene):
    village, admin, worker, home, other = scene
    first = opened_slip(admin, village)
    slips.activate(first.token, PASSWORD)
    db.session.commit()
    again = slips.reissue_slip(worker, first.user.id, 14)
    db.session.commit()
    assert auth_services.authenticate(first.user.username, PASSWORD), "the old password works until the new slip"
    slips.activate(again.token, "换一个密码123")
    db.session.commit()
    with pytest.raises(DomainError):
        auth_services.authenticate(first.user.username, PASSWORD)
    third = slips.reissue_slip(worker, first.user.id, 14)
    slips.reissue_slip(worker, first.user.id, 14)
    with pytest.raises(DomainError) as void:
        slips.activate(third.token, PASSWORD)
    assert void.value.code == "slip_used"


def test_a_reissue_of_a_slip_already_replaced_voids_nothing(scene):
    """The version the page showed: a second tap, or the form sent again after printing, leaves the new slip good."""
    village, admin, worker, home, other = scene
    first = opened_slip(admin, village)
    version = first.user.slip_version
    printed = slips.reissue_slip(worker, first.user.id, 14, replacing=version)
    db.session.commit()
    assert slips.reissue_slip(worker, first.user.id, 14, replacing=version) is None
    db.session.commit()
    assert slips.user_of_slip(printed.token).id == first.user.id


def test_a_slip_is_not_reissued_for_staff_for_ones_own_household_or_out_of_scope(scene):
    village, admin, worker, home, other = scene
    staff = factories.gen_villager(other)
    auth_services.assign_role(None, staff, Role.GRID_LEADER, village.grids[1])
    leader = factories.gen_user(Role.GRID_LEADER, village.grids[1])
    own = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    own.resident = home.residents[1]
    villager = factories.gen_villager(home)
    db.session.commit()
    with pytest.raises(DomainError) as staff_account:
        slips.reissue_slip(leader, staff.id, 14)
    assert staff_account.value.code == "not_villager_account"
    with pytest.raises(DomainError) as own_home:
        slips.reissue_slip(own, villager.id, 14)
    assert own_home.value.code == "own_household_account"
    with pytest.raises(NotFound):
        slips.reissue_slip(leader, villager.id, 14)  # 张三明 lives in grid 1, the leader's is grid 2


def test_a_disabled_account_cannot_be_activated(scene):
    village, admin, worker, home, other = scene
    slip = opened_slip(admin, village)
    auth_services.set_active(admin, slip.user, False)
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        slips.activate(slip.token, PASSWORD)
    assert refused.value.code == "account_disabled"


def test_a_villager_logs_in_with_their_phone(scene):
    village, admin, worker, home, other = scene
    wang = factories.gen_villager(other)
    db.session.commit()
    assert auth_services.authenticate("137 0000 2222", factories.PASSWORD) == wang
    with pytest.raises(DomainError):
        auth_services.authenticate("13700002222", "wrong-password")
    with pytest.raises(DomainError):
        auth_services.authenticate("13900009999", factories.PASSWORD)


def test_villagers_sharing_a_phone_each_log_in_with_their_own_password(scene):
    village, admin, worker, home, other = scene
    head = auth_services.create_user("head", "户主的密码123", resident=home.residents[0])
    spouse = auth_services.create_user("spouse", "配偶的密码123", resident=home.residents[1])
    home.residents[1].phone = "13812345678"  # the head's
    db.session.commit()
    assert auth_services.authenticate("13812345678", "户主的密码123") == head
    assert auth_services.authenticate("13812345678", "配偶的密码123") == spouse


def test_someone_who_left_no_longer_logs_in_by_phone(scene):
    village, admin, worker, home, other = scene
    spouse = home.residents[1]
    auth_services.create_user("spouse", "配偶的密码123", resident=spouse)
    remove_resident(spouse, Departure.MARRIED_OUT, local_today())
    db.session.commit()
    with pytest.raises(DomainError):
        auth_services.authenticate("13900001111", "配偶的密码123")


def test_a_password_set_otherwise_or_a_role_voids_the_slips_printed_before(scene):
    village, admin, worker, home, other = scene
    slip = opened_slip(admin, village)
    auth_services.reset_password(admin, slip.user, "管理员设的密码1")
    db.session.commit()
    with pytest.raises(DomainError) as after_reset:
        slips.activate(slip.token, PASSWORD)
    assert after_reset.value.code == "slip_used"
    again = slips.slip_of(slip.user, 14)
    auth_services.assign_role(None, slip.user, Role.GRID_WORKER, village.grids[0])
    db.session.commit()
    with pytest.raises(DomainError) as staff:
        slips.activate(again.token, PASSWORD)
    assert staff.value.code == "slip_used"
    with pytest.raises(DomainError) as still_staff:
        slips.activate(slips.slip_of(slip.user, 14).token, PASSWORD)
    assert still_staff.value.code == "not_villager_account"
    assert auth_services.authenticate(slip.user.username, "管理员设的密码1") == slip.user
