"""站内消息 through the domain: who is told (exactly the accounts meant, nobody beyond), what a villager reads of
their household's points, and the unread count going to 0 once read."""
from datetime import timedelta

import pytest

from points.auth import services as auth_services
from points.auth.models import Role
from points.auth.policy import Permission
from points.extensions import db
from points.ledger.models import EntrySource
from points.ledger.services import apply_rule, post_entry
from points.messages.channels import CHANNELS, Notice, register_channel
from points.messages.models import Message
from points.messages.queries import inbox, unread_count
from points.messages.services import household_accounts, mark_read, tell, tell_household, tell_staff
from points.people.services import add_resident
from points.shop import services as shop_services
from points.timeutil import utcnow

from .. import factories


@pytest.fixture
def world(village):
    grid, other_grid = village.grids[0], village.grids[1]
    home = factories.gen_household(grid)
    next_door = factories.gen_household(grid)
    far_home = factories.gen_household(other_grid)
    users = dict(
        villager=factories.gen_villager(home),
        neighbour=factories.gen_villager(next_door),
        far=factories.gen_villager(far_home),
        worker=factories.gen_user(Role.GRID_WORKER, grid),
        leader=factories.gen_user(Role.GRID_LEADER, grid),
        other_worker=factories.gen_user(Role.GRID_WORKER, other_grid),
        admin=factories.gen_user(Role.VILLAGE_ADMIN, village.village),
        town_admin=factories.gen_user(Role.TOWN_ADMIN, village.town),
        clerk=factories.gen_user(Role.SHOP_CLERK, village.village),
        organizer=factories.gen_user(Role.EVENT_ORGANIZER, village.village),
    )
    db.session.commit()
    return dict(village=village, home=home, next_door=next_door, far_home=far_home, **users)


def told(user) -> list[str]:
    return [m.text for m in db.session.query(Message).filter_by(user_id=user.id).order_by(Message.id)]


def everyone(world) -> list:
    return [world[k] for k in ("villager", "neighbour", "far", "worker", "leader", "other_worker", "admin",
                               "town_admin", "clerk", "organizer")]


def test_tell_reaches_each_account_once_and_not_the_actor(world):
    v, w = world["villager"], world["worker"]
    assert tell([v.id, v.id, w.id, None], "report", "你的诉求已受理", "/reports/1", skip=w) == 1
    assert told(v) == ["你的诉求已受理"] and told(w) == []
    assert db.session.query(Message).one().link == "/reports/1"


def test_tell_household_reaches_its_villagers_only(world):
    second = factories.gen_villager(factories.gen_household(world["village"].grids[0]))
    same_home = auth_services.create_user("same_home", factories.PASSWORD,
                                          resident=add_resident(world["home"], "李四", "配偶"))
    db.session.commit()
    assert sorted(household_accounts(world["home"].id)) == sorted([world["villager"].id, same_home.id])
    assert tell_household(world["home"].id, "claim", "你家的积分申报已通过") == 2
    for user in everyone(world) + [second]:
        assert told(user) == (["你家的积分申报已通过"] if user is world["villager"] else []), user.username
    assert told(same_home) == ["你家的积分申报已通过"]


def test_tell_household_skips_inactive_accounts_and_the_actor(world):
    world["neighbour"].active = False
    db.session.flush()
    assert tell_household(world["next_door"].id, "claim", "x") == 0
    assert tell_household(world["home"].id, "claim", "x", skip=world["villager"]) == 0


def test_tell_staff_reaches_the_staff_at_exactly_that_node(world):
    grid = world["village"].grids[0]
    assert tell_staff(grid.id, "report", "有一条新的诉求") == 2
    for user in everyone(world):
        assert told(user) == (["有一条新的诉求"] if user in (world["worker"], world["leader"]) else []), user.username


def test_tell_staff_asks_the_permission_of_the_role(world):
    village = world["village"].village
    assert tell_staff(village.id, "appeal", "有一条扣分申诉", permission=Permission.DECIDE_APPEALS) == 1
    assert told(world["admin"]) == ["有一条扣分申诉"]
    assert told(world["town_admin"]) == [] and told(world["clerk"]) == [] and told(world["organizer"]) == []
    assert tell_staff(world["village"].grids[0].id, "claim", "x", skip=world["worker"],
                      permission=Permission.REVIEW_CLAIMS) == 1
    assert told(world["leader"]) == ["x"] and told(world["worker"]) == []


def test_a_long_text_is_cut_to_what_a_message_holds(world):
    tell([world["villager"].id], "report", "长" * 300)
    assert told(world["villager"]) == ["长" * 200]


def test_another_channel_gets_the_same_notices(world):
    sent: list[Notice] = []

    class Recorder:
        def deliver(self, notices):
            sent.extend(notices)

    register_channel(Recorder())
    try:
        tell([world["villager"].id], "wish", "你认领的心愿已点亮", "/wishes/3")
    finally:
        CHANNELS.pop()
    assert sent == [Notice(world["villager"].id, "wish", "你认领的心愿已点亮", "/wishes/3")]


def test_points_posted_are_in_the_inbox_of_the_household_s_villagers_only(world):
    rule = factories.gen_rule(world["village"].village, "参加会议", 2)
    db.session.flush()
    apply_rule(world["worker"], world["home"].id, rule.id, "meeting-1")
    post_entry(world["home"].id, -3, EntrySource.MANUAL, "manual-1", correction=True)
    db.session.flush()
    mine = inbox(world["villager"])
    assert [(i.kind, i.text, i.link, i.unread) for i in mine] == [
        ("points", "扣分 -3 分：网格员记分", "/my/points", True),
        ("points", "加分 +2 分：参加会议", "/my/points", True),
    ]
    assert unread_count(world["villager"]) == 2
    for other in ("neighbour", "far", "worker", "admin", "town_admin"):
        assert inbox(world[other]) == [] and unread_count(world[other]) == 0, other


def test_a_villager_never_sees_another_household_s_messages_or_points(world):
    tell_household(world["next_door"].id, "claim", "邻居家的申报已通过")
    tell([world["far"].id], "report", "别的网格")
    post_entry(world["next_door"].id, 5, EntrySource.MANUAL, "n-1")
    db.session.flush()
    assert inbox(world["villager"]) == [] and unread_count(world["villager"]) == 0
    assert [i.text for i in inbox(world["neighbour"]) if i.kind == "claim"] == ["邻居家的申报已通过"]


def test_spending_at_the_counter_is_not_told(world):
    shop = factories.gen_shop(world["village"].village)
    soap = factories.gen_product(shop, "肥皂", price=10)
    factories.gen_points(world["home"], 50)
    db.session.commit()
    mark_read(world["villager"])
    db.session.commit()
    shop_services.redeem(world["clerk"], shop, [(soap.id, 2)], household_id=world["home"].id)
    db.session.flush()
    assert unread_count(world["villager"]) == 0
    assert all(i.unread is False for i in inbox(world["villager"]))
    assert not any("肥皂" in i.text or "-20" in i.text for i in inbox(world["villager"]))


def test_reading_brings_the_count_to_zero_and_keeps_the_list(world):
    v = world["villager"]
    tell([v.id], "report", "你的诉求已办结", "/reports/1")
    factories.gen_points(world["home"], 5)
    db.session.flush()
    assert unread_count(v) == 2
    mark_read(v)
    assert unread_count(v) == 0
    assert [i.unread for i in inbox(v)] == [False, False]
    mark_read(v)  # again: nothing changes, nothing fails
    assert unread_count(v) == 0
    tell([v.id], "report", "新的一条")
    assert unread_count(v) == 1


def test_what_arrives_after_the_reading_stays_unread(world):
    v = world["villager"]
    shown = utcnow()
    later = Message(user_id=v.id, kind="report", text="之后来的", created_at=shown + timedelta(seconds=1))
    db.session.add(later)
    db.session.flush()
    mark_read(v, shown)
    assert unread_count(v) == 1


def test_staff_count_is_messages_only(world):
    tell([world["worker"].id, world["admin"].id], "claim", "有一条新的积分申报")
    assert unread_count(world["worker"]) == 1 and unread_count(world["admin"]) == 1
    mark_read(world["worker"])
    assert unread_count(world["worker"]) == 0 and unread_count(world["admin"]) == 1
