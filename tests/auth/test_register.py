"""Keeping the 花名册: admins edit households and residents in their scope, close a household that left the register
and reopen it, and record a resident who left; nothing of the ledger changes, and nobody keeps their own entry."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth import register
from points.auth.models import Role, User
from points.errors import DomainError, Forbidden
from points.extensions import db
from points.ledger.models import EntrySource, LedgerEntry
from points.ledger.queries import balance_of
from points.ledger.services import apply_rule, post_entry, reverse_entry
from points.people.models import CareTag, Closure, Departure, HouseholdKind, Resident
from points.people.services import add_resident
from points.shop.services import redeem
from points.timeutil import local_today

from .. import factories


@pytest.fixture
def scene(village):
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    home = factories.gen_household(village.grids[0], "张三明")
    spouse = add_resident(home, "李小红", "配偶", "13900001111")
    factories.gen_points(home, 120)
    db.session.commit()
    return village, admin, home, spouse


def audit(action: str) -> AuditEvent:
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).one()


def test_a_household_is_edited_and_the_log_says_what_changed(scene):
    village, admin, home, spouse = scene
    register.update_household(admin, home.id, address="瑶前村后街 8 号", kind=HouseholdKind.RENTER,
                              care_tags=[CareTag.EMPTY_NEST], head_id=spouse.id)
    assert (home.address, home.kind, [t.tag for t in home.care_tags]) == (
        "瑶前村后街 8 号", HouseholdKind.RENTER, [CareTag.EMPTY_NEST])
    assert home.head_id == spouse.id and spouse.relation == "户主"
    event = audit("household.updated")
    assert (event.before["head"] == "张三明" and event.after["head"] == "李小红"
            and event.after["care_tags"] == "空巢老人")
    register.update_household(admin, home.id, address="瑶前村后街 8 号")  # nothing changes: nothing is logged
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "household.updated")) == 1


def test_a_closed_household_keeps_its_ledger_and_earns_and_redeems_no_more(scene):
    village, admin, home, spouse = scene
    yard = factories.gen_rule(village.village, "庭院整洁", 5)
    shop = factories.gen_shop(village.village)
    soap = factories.gen_product(shop, "肥皂", 5)
    apply_rule(admin, home.id, yard.id, "before-closing")
    entries = db.session.scalar(select(func.count()).select_from(LedgerEntry))
    register.close_household(admin, home.id, Closure.MOVED_OUT, local_today())
    assert (home.closure, home.closed_on) == (Closure.MOVED_OUT, local_today())
    assert balance_of(home.id) == 125 and db.session.scalar(select(func.count()).select_from(LedgerEntry)) == entries
    with pytest.raises(DomainError) as refusal:
        apply_rule(admin, home.id, yard.id, "after-closing")
    assert refusal.value.code == "household_closed" and "已整户迁出" in refusal.value.message
    with pytest.raises(DomainError) as refusal:
        redeem(factories.gen_user(Role.SHOP_CLERK, village.village), shop, [(soap.id, 1)], household_id=home.id)
    assert refusal.value.code == "household_closed"
    first = db.session.scalars(select(LedgerEntry).where(LedgerEntry.household_id == home.id)
                               .order_by(LedgerEntry.id)).first()
    reverse_entry(first.id, "correction-after-closing", admin)  # a correction of what was posted before still goes
    assert balance_of(home.id) == 5 and db.session.scalar(select(func.count()).select_from(LedgerEntry)) == entries + 1
    register.reopen_household(admin, home.id)
    assert home.closed_on is None
    assert [e.action for e in db.session.scalars(select(AuditEvent).where(
        AuditEvent.action.in_(["household.closed", "household.reopened"])).order_by(AuditEvent.id))] == [
        "household.closed", "household.reopened"]


def test_a_closing_day_is_not_after_today_and_may_be_long_ago(scene):
    village, admin, home, spouse = scene
    with pytest.raises(DomainError) as refusal:
        register.close_household(admin, home.id, Closure.RENTER_LEFT, local_today() + timedelta(days=1))
    assert refusal.value.code == "day_in_future" and home.closed_on is None
    register.close_household(admin, home.id, Closure.RENTER_LEFT, local_today() - timedelta(days=400))
    assert home.closed_on == local_today() - timedelta(days=400)


def test_a_resident_who_leaves_keeps_their_history_and_their_account_is_disabled(scene):
    village, admin, home, spouse = scene
    account = factories.auth_services.create_user("lixiaohong", factories.PASSWORD, resident=spouse)
    register.remove_resident(admin, spouse.id, Departure.MARRIED_OUT, local_today() - timedelta(days=1))
    assert (spouse.departure, spouse.left_on) == (Departure.MARRIED_OUT, local_today() - timedelta(days=1))
    assert db.session.get(Resident, spouse.id) is not None and not db.session.get(User, account.id).active
    with pytest.raises(DomainError) as refusal:
        post_entry(home.id, 5, EntrySource.MANUAL, "for-someone-gone", resident_id=spouse.id)
    assert refusal.value.code == "resident_left"
    with pytest.raises(DomainError) as refusal:
        register.update_resident(admin, spouse.id, name="李晓红")
    assert refusal.value.code == "resident_left"


def test_the_head_leaves_only_after_another_member_is_made_head(scene):
    village, admin, home, spouse = scene
    with pytest.raises(DomainError) as refusal:
        register.remove_resident(admin, home.head_id, Departure.DECEASED, local_today())
    assert refusal.value.code == "head_cannot_leave" and "请先指定新的户主" in refusal.value.message
    old_head = home.head_id
    register.update_household(admin, home.id, head_id=spouse.id)
    register.remove_resident(admin, old_head, Departure.DECEASED, local_today())
    assert db.session.get(Resident, old_head).departure is Departure.DECEASED


def test_a_resident_is_added_and_edited_as_an_import_checks_them(scene):
    village, admin, home, spouse = scene
    child = register.add_resident(admin, home.id, "张小明", "子女", "138 0000 2222")
    assert (child.phone, child.relation) == ("13800002222", "子女")
    for change, code in [(dict(phone="12345"), "invalid_phone"), (dict(id_number="350582199001011234"),
                                                                   "invalid_id_number"),
                         (dict(relation="户主"), "relation_invalid"), (dict(name=" "), "missing_name")]:
        with pytest.raises(DomainError) as refusal:
            register.update_resident(admin, child.id, **change)
        assert refusal.value.code == code
    register.update_resident(admin, child.id, phone=None, name="张晓明")
    assert (child.name, child.phone) == ("张晓明", None)
    event = audit("resident.updated")
    assert event.after["phone"] == "" and event.before["phone"] == "138****2222"  # masked in the log
    with pytest.raises(DomainError) as refusal:
        register.add_resident(admin, home.id, "王五", "户主")
    assert refusal.value.code == "relation_invalid"


def test_a_new_household_gets_the_next_number_in_a_grid_of_the_scope(scene):
    village, admin, home, spouse = scene
    made = register.add_household(admin, village.grids[1].id, "瑶前村新街 1 号", HouseholdKind.RENTER, "王大山")
    assert made.number == "0002" and made.head.name == "王大山" and made.grid_id == village.grids[1].id
    elsewhere = factories.gen_village(1)
    with pytest.raises(Forbidden):
        register.add_household(admin, elsewhere.grids[0].id, "别村", HouseholdKind.REGISTERED, "外人")


def test_only_admins_in_scope_keep_the_register_and_never_their_own_household(scene):
    village, admin, home, spouse = scene
    leader = factories.gen_user(Role.GRID_LEADER, village.grids[0])
    outsider = factories.gen_user(Role.VILLAGE_ADMIN, factories.gen_village(1).village)
    for user in (leader, outsider):
        with pytest.raises(Forbidden):
            register.update_household(user, home.id, address="x")
        with pytest.raises(Forbidden):
            register.close_household(user, home.id, Closure.MOVED_OUT, local_today())
    own = factories.auth_services.create_user("own-admin", factories.PASSWORD, resident=spouse)
    factories.auth_services.assign_role(None, own, Role.VILLAGE_ADMIN, village.village)
    for attempt in (lambda: register.update_household(own, home.id, address="x"),
                    lambda: register.close_household(own, home.id, Closure.MOVED_OUT, local_today()),
                    lambda: register.update_resident(own, spouse.id, name="x")):
        with pytest.raises(DomainError) as refusal:
            attempt()
        assert refusal.value.code == "own_household" and refusal.value.status == 403
