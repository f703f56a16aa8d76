"""公示异议 through its services: the window, who may object and decide, idempotency and who is told."""
from datetime import date

import pytest
from sqlalchemy import select

from points.auth import services as auth_services
from points.auth.models import Role
from points.claims import objections
from points.claims.models import Objection, ObjectionStatus
from points.errors import DomainError, Forbidden, NotFound
from points.extensions import db
from points.messages.models import Message

from .. import factories

IN_WINDOW = date(2026, 12, 3)  # November's 公示: 12月1日 to 12月7日 (7 objection days)


@pytest.fixture
def world(villages):
    village, neighbour_village, _elsewhere = villages
    w = dict(village=village)
    w["home"] = factories.gen_household(village.grids[0], head_name="王大明")
    w["next_door"] = factories.gen_household(village.grids[1], head_name="李小红")
    w["far"] = factories.gen_household(neighbour_village.grids[0])
    w["villager"] = factories.gen_villager(w["home"])
    w["neighbour"] = factories.gen_villager(w["next_door"])
    w["admin"] = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    w["other_admin"] = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    w["worker"] = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    db.session.commit()
    return w


def told(user) -> list[tuple[str, str, str]]:
    return [(m.kind, m.text, m.link) for m in db.session.scalars(
        select(Message).where(Message.user_id == user.id).order_by(Message.id))]


def object_to(world, household="next_door", month="2026-11", today=IN_WINDOW, key=None, user="villager"):
    return objections.submit_objection(world[user], world[household].id, month, "积分算错了，请核实", key, today)


def test_a_villager_objects_to_a_neighbour_s_points_and_the_admins_are_told(world):
    objection = object_to(world)
    assert (objection.household_id, objection.month, objection.status) == (
        world["next_door"].id, "2026-11", ObjectionStatus.PENDING)
    notice = ("objection", f"有一条公示异议等您处理：2026年11月 户号 {world['next_door'].number}",
              f"/objections/{objection.id}")
    assert told(world["admin"]) == told(world["other_admin"]) == [notice]
    assert told(world["worker"]) == told(world["neighbour"]) == []


def test_a_villager_may_object_to_their_own_household_s_points(world):
    assert object_to(world, household="home").household_id == world["home"].id


@pytest.mark.parametrize(("today", "message"), [
    (date(2026, 12, 8), "2026年11月的公示期已于12月7日截止，不能再提出异议"),
    (date(2027, 1, 20), "2026年11月的公示期已于12月7日截止，不能再提出异议"),
    (date(2026, 11, 28), "2026年11月还没开始公示：12月1日开始公示后才能提出异议"),
])
def test_outside_the_window_an_objection_is_refused_in_chinese(world, today, message):
    with pytest.raises(DomainError) as refused:
        object_to(world, today=today)
    assert refused.value.message == message
    assert db.session.scalar(select(db.func.count()).select_from(Objection)) == 0


def test_the_window_s_first_and_last_days_take_objections(world):
    object_to(world, today=date(2026, 12, 1))
    object_to(world, today=date(2026, 12, 7))


def test_staff_and_villagers_of_another_village_may_not_object(world):
    with pytest.raises(DomainError) as staff:
        object_to(world, user="admin")
    assert staff.value.code == "villagers_only"
    with pytest.raises(NotFound):
        object_to(world, household="far")


@pytest.mark.parametrize(("reason", "code"), [("  ", "reason_required"), ("理" * 501, "reason_too_long")])
def test_a_reason_is_required_and_at_most_500_characters(world, reason, code):
    with pytest.raises(DomainError) as refused:
        objections.submit_objection(world["villager"], world["next_door"].id, "2026-11", reason, None, IN_WINDOW)
    assert refused.value.code == code


def test_the_same_key_again_returns_the_same_objection_and_tells_nobody_again(world):
    first = object_to(world, key="k1")
    assert object_to(world, key="k1").id == first.id
    assert len(told(world["admin"])) == 1
    with pytest.raises(DomainError) as reused:
        object_to(world, household="home", key="k1")
    assert reused.value.code == "idempotency_key_reused"


def test_the_admin_dismisses_once_and_the_objector_is_told(world):
    objection = object_to(world)
    decided = objections.decide_objection(world["admin"], objection.id, False, "核实无误")
    assert (decided.status, decided.decided_by_id, decided.decision_note) == (
        ObjectionStatus.DISMISSED, world["admin"].id, "核实无误")
    assert told(world["villager"]) == [(
        "objection", f"您对2026年11月 户号 {world['next_door'].number} 积分的公示异议未予采纳。说明：核实无误",
        f"/objections/{objection.id}")]
    assert told(world["neighbour"]) == []
    assert objections.decide_objection(world["admin"], objection.id, False, "核实无误", retry=True).id == objection.id
    for who, accept in (("admin", True), ("other_admin", False)):
        with pytest.raises(DomainError) as again:
            objections.decide_objection(world[who], objection.id, accept, "核实无误", retry=True)
        assert (again.value.code, again.value.message) == ("objection_already_decided", "这条公示异议已经处理过了")
    assert len(told(world["villager"])) == 1


def test_an_accepted_objection_moves_no_points_and_says_it_will_be_corrected(world):
    objection = object_to(world)
    objections.decide_objection(world["admin"], objection.id, True)
    assert objection.status is ObjectionStatus.ACCEPTED
    assert told(world["villager"])[-1][1] == (
        f"您对2026年11月 户号 {world['next_door'].number} 积分的公示异议已采纳，积分会更正")


def test_nobody_decides_an_objection_about_their_own_household_or_one_they_made(world):
    admin_at_home = world["neighbour"]  # a villager of next_door who is also a village admin
    auth_services.assign_role(None, admin_at_home, Role.VILLAGE_ADMIN, world["village"].village)
    objection = object_to(world)
    with pytest.raises(DomainError) as own:
        objections.decide_objection(admin_at_home, objection.id, True)
    assert (own.value.code, own.value.status) == ("own_objection", 403)
    made = objections.submit_objection(admin_at_home, world["home"].id, "2026-11", "不对", None, IN_WINDOW)
    with pytest.raises(DomainError):
        objections.decide_objection(admin_at_home, made.id, True)
    with pytest.raises(Forbidden):
        objections.decide_objection(world["worker"], objection.id, True)


def test_admins_see_their_village_s_objections_pending_first(world):
    first = object_to(world)
    second = object_to(world, household="home")
    third = objections.submit_objection(world["neighbour"], world["home"].id, "2026-11", "不对", None, IN_WINDOW)
    objections.decide_objection(world["admin"], first.id, False)
    page = objections.objections_in_scope(world["admin"])
    assert [o.id for o in page.items] == [second.id, third.id, first.id]
    assert [o.id for o in objections.objections_in_scope(world["neighbour"]).items] == [third.id]
    assert objections.objections_in_scope(world["worker"]).total == 0
    assert objections.visible_objection(world["villager"], first.id) is first
    with pytest.raises(Forbidden):
        objections.visible_objection(world["neighbour"], first.id)
    with pytest.raises(Forbidden):
        objections.visible_objection(world["worker"], first.id)
