"""微心愿 through its services: every move, every refusal, the points once, and who is told."""
import os
from datetime import datetime

import pytest
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth import services as auth_services
from points.auth.models import Role
from points.errors import DomainError, Forbidden, NotFound
from points.extensions import db
from points.ledger.models import EntrySource, LedgerEntry
from points.ledger.queries import balance_of
from points.messages.models import Message
from points.people.models import CareTag
from points.people.services import add_resident
from points.rules.models import RuleCategory, RuleUnit
from points.wishes import services
from points.wishes.models import Wish, WishStatus

from .. import factories

NOW = datetime(2026, 11, 20, 2, 0)


@pytest.fixture
def world(village, tmp_path):
    grid, other_grid = village.grids[0], village.grids[1]
    elder = factories.gen_household(grid, "王阿婆", care_tags=[CareTag.EMPTY_NEST])
    elder_account = factories.gen_villager(elder)
    helper_home = factories.gen_household(grid, "李四海")
    helper = factories.gen_villager(helper_home)
    neighbour = factories.gen_villager(factories.gen_household(other_grid, "赵五六"))
    worker = factories.gen_user(Role.GRID_WORKER, grid)
    leader = factories.gen_user(Role.GRID_LEADER, grid)
    other_worker = factories.gen_user(Role.GRID_WORKER, other_grid)
    clerk = factories.gen_user(Role.SHOP_CLERK, village.village)
    aid = factories.gen_rule(village.village, "邻里互助", 5, category=RuleCategory.MUTUAL_AID)
    hour = factories.gen_rule(village.village, "志愿服务", 2, category=RuleCategory.VOLUNTEERING,
                              unit=RuleUnit.HOUR)
    yard = factories.gen_rule(village.village, "庭院整洁", 5)
    fine = factories.gen_rule(village.village, "乱丢垃圾", -5, category=RuleCategory.MUTUAL_AID)
    db.session.commit()
    return dict(village=village, elder=elder, elder_account=elder_account, helper_home=helper_home, helper=helper,
                neighbour=neighbour, worker=worker, leader=leader, other_worker=other_worker, clerk=clerk, aid=aid,
                hour=hour, yard=yard, fine=fine, store=services.PhotoStore(str(tmp_path), 8 * 1024 * 1024))


def post(world, **kwargs) -> Wish:
    args = dict(title="想装一个楼梯扶手", detail="独居，腿脚不便", rule_id=world["aid"].id, now=NOW)
    args.update(kwargs)
    return services.post_wish(args.pop("worker", world["worker"]), args.pop("household", world["elder"]).id,
                              args.pop("title"), args.pop("detail"), args.pop("rule_id"), **args)


def fulfilled(world, adopter=None) -> Wish:
    wish = post(world)
    services.adopt_wish(adopter or world["helper"], wish.id)
    services.fulfil(adopter or world["helper"], wish.id, "装好了")
    return wish


def refusal(call) -> str:
    with pytest.raises(DomainError) as raised:
        call()
    return raised.value.code


def messages_to(user) -> list[str]:
    return list(db.session.scalars(select(Message.text).where(Message.user_id == user.id).order_by(Message.id)))


def test_a_wish_goes_from_the_wall_to_lit_and_the_adopters_household_earns_once(world):
    wish = post(world)
    assert (wish.status, wish.grid_id, wish.village_id) == (WishStatus.OPEN, world["elder"].grid_id,
                                                            world["village"].village.id)
    services.adopt_wish(world["helper"], wish.id)
    assert (wish.status, wish.adopter_id) == (WishStatus.ADOPTED, world["helper"].id)
    services.fulfil(world["helper"], wish.id, "装好了")
    assert (wish.status, wish.fulfil_note) == (WishStatus.FULFILLED, "装好了")
    services.light(world["leader"], wish.id, factories.gen_photo(), world["store"], now=NOW)
    assert wish.status is WishStatus.LIT and wish.confirmed_by_id == world["leader"].id
    entry = wish.entry
    assert (entry.household_id, entry.amount, entry.source, entry.idempotency_key, entry.resident_id) == (
        world["helper_home"].id, 5, EntrySource.WISH, f"wish:{wish.id}", world["helper"].resident_id)
    assert balance_of(world["helper_home"].id) == 5 and balance_of(world["elder"].id) == 0
    photo = wish.photo
    assert os.path.isfile(os.path.join(world["store"].folder, photo.filename))
    # Lit again (a resent request), nothing more is posted.
    assert services.light(world["leader"], wish.id, factories.gen_photo(), world["store"], retry=True) is wish
    assert refusal(lambda: services.light(world["leader"], wish.id, factories.gen_photo(), world["store"])) \
        == "wish_not_fulfilled"
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.subject_type == "wish")
                                      .order_by(AuditEvent.id)))
    assert actions == ["wish.posted", "wish.adopted", "wish.fulfilled", "wish.lit"]


def test_who_is_told_and_never_of_a_name(world):
    wish = post(world)
    services.adopt_wish(world["helper"], wish.id)
    services.fulfil(world["helper"], wish.id)
    services.light(world["worker"], wish.id, factories.gen_photo(), world["store"], now=NOW)
    assert messages_to(world["elder_account"]) == ["您家的微心愿已被认领", "您家的微心愿已点亮"]
    assert messages_to(world["helper"]) == ["您认领的微心愿已点亮，感谢您的帮助"]
    assert messages_to(world["leader"]) == ["有一个微心愿已完成，请去确认点亮"]
    assert messages_to(world["worker"]) == ["有一个微心愿已完成，请去确认点亮"]  # the one who lit it was told before
    texts = " ".join(db.session.scalars(select(Message.text)))
    assert "李" not in texts and "王" not in texts


def test_posting_is_for_staff_of_the_grid_with_a_wish_rule(world):
    assert pytest.raises(Forbidden, post, world, worker=world["other_worker"])
    assert pytest.raises(Forbidden, post, world, worker=world["clerk"])
    assert pytest.raises(Forbidden, post, world, worker=world["helper"])
    assert refusal(lambda: post(world, rule_id=world["yard"].id)) == "wish_rule_invalid"  # 人居环境
    assert refusal(lambda: post(world, rule_id=world["fine"].id)) == "wish_rule_invalid"  # a deduction
    assert refusal(lambda: post(world, rule_id=999999)) == "wish_rule_invalid"
    assert refusal(lambda: post(world, title=" ")) == "wish_title_required"
    assert refusal(lambda: post(world, title="愿" * 41)) == "wish_title_too_long"
    assert refusal(lambda: post(world, detail="情" * 301)) == "wish_detail_too_long"
    assert post(world, rule_id=world["hour"].id).rule_id == world["hour"].id
    assert pytest.raises(NotFound, services.post_wish, world["worker"], 999999, "心愿", "", world["aid"].id)


def test_a_worker_posts_no_wish_for_their_own_household(world, village):
    own_home = factories.gen_household(village.grids[0], "网格员")
    worker = factories.gen_villager(own_home)
    auth_services.assign_role(None, worker, Role.GRID_WORKER, village.grids[0])
    assert refusal(lambda: post(world, worker=worker, household=own_home)) == "wish_own_household"


def test_a_post_with_the_same_key_makes_one_wish(world):
    first = post(world, client_key="k1")
    assert post(world, client_key="k1") is first
    assert refusal(lambda: post(world, client_key="k1", title="别的心愿")) == "idempotency_key_reused"


def test_adopting_is_for_the_village_but_not_the_wishing_household(world, village):
    wish = post(world)
    assert refusal(lambda: services.adopt_wish(world["elder_account"], wish.id)) == "wish_own_adoption"
    stranger = factories.gen_villager(factories.gen_household(factories.gen_village().grids[0]))
    assert refusal(lambda: services.adopt_wish(stranger, wish.id)) == "wish_other_village"
    services.adopt_wish(world["neighbour"], wish.id)  # another grid of the same village
    assert services.adopt_wish(world["neighbour"], wish.id) is wish  # again: unchanged
    assert refusal(lambda: services.adopt_wish(world["helper"], wish.id)) == "wish_taken"


def test_staff_of_the_village_may_adopt_but_earn_nothing(world):
    wish = fulfilled(world, adopter=world["clerk"])
    services.light(world["worker"], wish.id, factories.gen_photo(), world["store"], now=NOW)
    assert wish.status is WishStatus.LIT and wish.entry_id is None and wish.no_points == "wish_not_resident"
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


def test_giving_back_puts_it_on_the_wall_again(world):
    wish = post(world)
    services.adopt_wish(world["helper"], wish.id)
    assert refusal(lambda: services.give_back(world["neighbour"], wish.id)) == "wish_not_adopter"
    services.give_back(world["helper"], wish.id)
    assert (wish.status, wish.adopter_id) == (WishStatus.OPEN, None)
    assert messages_to(world["worker"]) == ["有一个微心愿被退回，重新待认领"]
    assert refusal(lambda: services.give_back(world["helper"], wish.id)) == "wish_not_adopter"
    services.adopt_wish(world["neighbour"], wish.id)
    assert wish.adopter_id == world["neighbour"].id


def test_only_the_adopter_fulfils_and_only_once_adopted(world):
    wish = post(world)
    assert refusal(lambda: services.fulfil(world["helper"], wish.id)) == "wish_not_adopter"
    services.adopt_wish(world["helper"], wish.id)
    assert refusal(lambda: services.fulfil(world["neighbour"], wish.id)) == "wish_not_adopter"
    assert refusal(lambda: services.fulfil(world["helper"], wish.id, "说" * 201)) == "wish_note_too_long"
    services.fulfil(world["helper"], wish.id)
    assert services.fulfil(world["helper"], wish.id) is wish
    assert refusal(lambda: services.give_back(world["helper"], wish.id)) == "wish_not_adopted"


def test_lighting_is_refused_to_the_wrong_grid_the_adopter_and_their_household(world, village):
    wish = fulfilled(world)
    photo = factories.gen_photo()
    assert pytest.raises(Forbidden, services.light, world["other_worker"], wish.id, photo, world["store"])
    assert pytest.raises(Forbidden, services.light, world["helper"], wish.id, photo, world["store"])
    assert refusal(lambda: services.light(world["worker"], wish.id, None, world["store"])) == "wish_photo_required"
    # A worker of the adopter's household
    relative = auth_services.create_user("relative", factories.PASSWORD,
                                         resident=add_resident(world["helper_home"], "李小海", "子女", None, None))
    auth_services.assign_role(None, relative, Role.GRID_WORKER, village.grids[0])
    assert refusal(lambda: services.light(relative, wish.id, photo, world["store"])) == "wish_confirm_own_household"
    assert wish.status is WishStatus.FULFILLED


def test_a_worker_who_adopted_does_not_light_it(world):
    wish = fulfilled(world, adopter=world["leader"])
    assert refusal(lambda: services.light(world["leader"], wish.id, factories.gen_photo(), world["store"])) \
        == "wish_confirm_own"
    services.light(world["worker"], wish.id, factories.gen_photo(), world["store"], now=NOW)


def test_lighting_needs_a_fulfilled_wish(world):
    wish = post(world)
    assert refusal(lambda: services.light(world["worker"], wish.id, factories.gen_photo(), world["store"])) \
        == "wish_not_fulfilled"
    services.adopt_wish(world["helper"], wish.id)
    assert refusal(lambda: services.light(world["worker"], wish.id, factories.gen_photo(), world["store"])) \
        == "wish_not_fulfilled"


def test_not_an_image_is_refused(world):
    wish = fulfilled(world)
    assert refusal(lambda: services.light(world["worker"], wish.id, b"not a photo", world["store"])) \
        == "not_an_image"


def test_a_refusal_of_the_ledger_lights_it_without_points(world, village):
    capped = factories.gen_rule(village.village, "帮扶", 5, category=RuleCategory.MUTUAL_AID, cap_month=5)
    first = post(world, rule_id=capped.id)
    services.adopt_wish(world["helper"], first.id)
    services.fulfil(world["helper"], first.id)
    services.light(world["worker"], first.id, factories.gen_photo(), world["store"], now=NOW)
    second = post(world, rule_id=capped.id, title="想有人陪聊天")
    services.adopt_wish(world["helper"], second.id)
    services.fulfil(world["helper"], second.id)
    services.light(world["worker"], second.id, factories.gen_photo(), world["store"], now=NOW)
    assert first.entry_id is not None
    assert (second.status, second.entry_id, second.no_points) == (WishStatus.LIT, None, "cap_exceeded")
    assert balance_of(world["helper_home"].id) == 5


def test_withdrawing_an_open_wish(world):
    wish = post(world)
    assert pytest.raises(Forbidden, services.withdraw, world["other_worker"], wish.id, "已解决")
    assert refusal(lambda: services.withdraw(world["worker"], wish.id, " ")) == "wish_reason_required"
    services.withdraw(world["leader"], wish.id, "家人已经装好")
    assert (wish.status, wish.withdrawn_reason) == (WishStatus.WITHDRAWN, "家人已经装好")
    assert pytest.raises(NotFound, services.visible_wish, world["helper"], wish.id)
    assert services.visible_wish(world["worker"], wish.id) is wish
    assert refusal(lambda: services.adopt_wish(world["leader"], wish.id)) in ("wish_not_open",)
    taken = post(world, title="想修电视")
    services.adopt_wish(world["helper"], taken.id)
    assert refusal(lambda: services.withdraw(world["worker"], taken.id, "理由")) == "wish_not_withdrawable"


def test_the_photo_is_for_staff_the_household_and_the_adopter(world):
    wish = fulfilled(world)
    services.light(world["worker"], wish.id, factories.gen_photo(), world["store"], now=NOW)
    folder = world["store"].folder
    for user in (world["worker"], world["leader"], world["helper"], world["elder_account"]):
        assert services.photo_path(user, wish, folder)
    for user in (world["neighbour"], world["other_worker"], world["clerk"], None):
        assert pytest.raises(NotFound, services.photo_path, user, wish, folder)


def test_the_poster_and_the_posters_household_may_not_adopt(world):
    # The poster is a worker who lives in the village: adopting their own posting would earn their household points.
    world["worker"].resident = add_resident(world["helper_home"], "李小海", "子女", None, None)
    wish = post(world)
    for somebody in (world["worker"], world["helper"]):  # the poster, and a villager of the poster's household
        assert not services.may_adopt(somebody, wish)
        assert refusal(lambda who=somebody: services.adopt_wish(who, wish.id)) == "wish_own_adoption"
    assert wish.status is WishStatus.OPEN
    assert services.may_adopt(world["leader"], wish)
    services.adopt_wish(world["leader"], wish.id)  # a colleague may
    assert wish.adopter_id == world["leader"].id


def test_a_poster_without_a_household_may_not_adopt_either(world):
    wish = post(world)
    assert not services.may_adopt(world["worker"], wish)
    assert refusal(lambda: services.adopt_wish(world["worker"], wish.id)) == "wish_own_adoption"


@pytest.mark.parametrize("title, code", [
    ("王阿婆想装扶手", "wish_title_name"),  # the head's whole name
    ("阿婆想装个扶手", "wish_title_name"),  # the given name
    ("李小花想学手机", "wish_title_name"),  # another resident of the household
    ("小花想学手机", "wish_title_name"),
    ("空巢老人想装扶手", "wish_title_care_tag"),
    ("低保家庭想要一台风扇", "wish_title_care_tag"),
    ("留守的孩子想要书包", "wish_title_care_tag"),
    ("想装扶手，电话13900001111", "wish_title_phone"),
    ("想装扶手 139-0000-1111", "wish_title_phone"),
    ("想装扶手８８８６６６６", "wish_title_phone"),  # full-width digits
])
def test_a_title_that_tells_who_it_is_is_refused(world, title, code):
    add_resident(world["elder"], "李小花", "子女", None, None)
    assert refusal(lambda: post(world, title=title)) == code
    assert db.session.scalar(select(func.count()).select_from(Wish)) == 0


def test_a_title_with_the_address_or_number_is_refused_and_a_plain_one_is_taken(world):
    elder = world["elder"]
    elder.address = "瑶前村3组12号"
    elder.number = "A-0371"
    db.session.flush()
    assert refusal(lambda: post(world, title="瑶前村3组12号想装扶手")) == "wish_title_address"
    assert refusal(lambda: post(world, title="12号想装扶手")) == "wish_title_address"
    assert refusal(lambda: post(world, title="A-0371户想装扶手")) == "wish_title_address"
    assert "王阿婆" not in post(world, title="想装2个楼梯扶手").title  # a plain wish, a digit in it


def test_the_title_refusals_say_why_in_chinese(app):
    for code in ("wish_title_name", "wish_title_care_tag", "wish_title_phone", "wish_title_address",
                 "wish_own_adoption"):
        message = DomainError(code).message
        assert message != DomainError("bad_request").message and "不能" in message, code


def test_a_photo_never_confirmed_is_not_kept_for_ever(world):
    import time
    folder = world["store"].folder
    stale = services.keep_photo(world["store"], factories.gen_photo())
    old = time.time() - 2 * 3600
    os.utime(os.path.join(folder, stale), (old, old))
    wish = fulfilled(world)
    lit_name = services.keep_photo(world["store"], factories.gen_photo())
    services.light(world["worker"], wish.id, None, world["store"], stored_name=lit_name, settle=True, now=NOW)
    kept = wish.photo.filename
    assert not kept.startswith(services.PENDING_PREFIX)
    os.utime(os.path.join(folder, kept), (old, old))
    fresh = services.keep_photo(world["store"], factories.gen_photo())
    assert not os.path.exists(os.path.join(folder, stale))  # stale and never confirmed: gone
    assert os.path.exists(os.path.join(folder, kept))  # the lit wish's photo stays, however old
    assert os.path.exists(os.path.join(folder, fresh))


def test_a_lighting_lost_to_a_colleague_at_the_same_moment_leaves_no_photo(world, monkeypatch):
    wish = fulfilled(world)
    monkeypatch.setattr(services, "_move", lambda *args, **values: False)  # a colleague lit it a moment ago
    assert refusal(lambda: services.light(world["worker"], wish.id, factories.gen_photo(), world["store"],
                                          now=NOW)) == "wish_not_fulfilled"
    assert os.listdir(world["store"].folder) == []
