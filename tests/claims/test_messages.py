"""What claims and appeals tell, and whom: the grid's reviewers of a new claim, the household of a decision on it,
the village's admins of an appeal, the household of its outcome. Never the one who acted, nobody beyond scope, no
names."""
import pytest
from sqlalchemy import select

from points.auth.models import Role
from points.claims import services
from points.extensions import db
from points.ledger.services import apply_rule
from points.messages.models import Message
from points.messages.queries import inbox

from .. import factories


@pytest.fixture
def world(village, tmp_path):
    grid, other_grid = village.grids[0], village.grids[1]
    home = factories.gen_household(grid, head_name="王秀英")
    w = dict(
        home=home,
        villager=factories.gen_villager(home),
        neighbour=factories.gen_villager(factories.gen_household(grid)),
        worker=factories.gen_user(Role.GRID_WORKER, grid),
        leader=factories.gen_user(Role.GRID_LEADER, grid),
        other_worker=factories.gen_user(Role.GRID_WORKER, other_grid),
        admin=factories.gen_user(Role.VILLAGE_ADMIN, village.village),
        town_admin=factories.gen_user(Role.TOWN_ADMIN, village.town),
        hazard=factories.gen_rule(village.village, "报告安全隐患", 5, self_claimable=True),
        pile=factories.gen_rule(village.village, "乱堆乱放", -10),
        store=services.PhotoStore(str(tmp_path), 8 * 1024 * 1024),
    )
    db.session.commit()
    return w


PEOPLE = ("villager", "neighbour", "worker", "leader", "other_worker", "admin", "town_admin")


def messages(world) -> dict[str, list[tuple[str, str, str]]]:
    """Each account's messages: (kind, text, link)."""
    found = {}
    for name in PEOPLE:
        rows = db.session.scalars(select(Message).where(Message.user_id == world[name].id).order_by(Message.id))
        found[name] = [(m.kind, m.text, m.link) for m in rows]
    return found


def only(told: dict, **expected) -> None:
    assert told == {name: expected.get(name, []) for name in PEOPLE}


def test_a_new_claim_tells_the_grid_s_reviewers(world):
    claim = services.submit_claim(world["villager"], world["hazard"].id, [], world["store"])
    notice = ("claim", "有一条新的积分申报等您审核：报告安全隐患", f"/claims/{claim.id}")
    only(messages(world), worker=[notice], leader=[notice])


def test_a_claim_sent_again_with_its_key_tells_nobody_again(world):
    services.submit_claim(world["villager"], world["hazard"].id, [], world["store"], client_key="web:k1")
    services.submit_claim(world["villager"], world["hazard"].id, [], world["store"], client_key="web:k1")
    assert len(messages(world)["worker"]) == 1


def test_an_approval_tells_the_household_and_not_the_reviewer(world):
    claim = services.submit_claim(world["villager"], world["hazard"].id, [], world["store"])
    db.session.execute(Message.__table__.delete())
    services.approve_claim(world["worker"], claim.id)
    services.approve_claim(world["worker"], claim.id)  # again: nothing more
    only(messages(world), villager=[("claim", "您家的积分申报已通过：报告安全隐患，+5 分", f"/claims/{claim.id}")])
    texts = [i.text for i in inbox(world["villager"])]
    assert "加分 +5 分：报告安全隐患" in texts  # the points themselves, from the ledger


def test_a_rejection_tells_the_household_its_reason(world):
    claim = services.submit_claim(world["villager"], world["hazard"].id, [], world["store"])
    db.session.execute(Message.__table__.delete())
    services.reject_claim(world["leader"], claim.id, "照片看不清")
    services.reject_claim(world["leader"], claim.id, "照片看不清", retry=True)
    only(messages(world), villager=[
        ("claim", "您家的积分申报未通过：报告安全隐患。理由：照片看不清", f"/claims/{claim.id}")])


@pytest.mark.parametrize("reverse, text", [
    (True, "您家的扣分申诉已受理：扣的 10 分已撤销，积分已退回。说明：核实无误"),
    (False, "您家的扣分申诉已处理：维持扣 10 分。说明：核实无误"),
])
def test_an_appeal_tells_the_village_admins_then_the_household(world, reverse, text):
    entry = apply_rule(world["worker"], world["home"].id, world["pile"].id, "pile-1")
    appeal = services.submit_appeal(world["villager"], entry.id, "那天我家没有堆放东西，是邻居王五家的")
    only(messages(world), admin=[("appeal", "有一条扣分申诉等您处理：扣 10 分", f"/appeals/{appeal.id}")])
    db.session.execute(Message.__table__.delete())
    services.decide_appeal(world["admin"], appeal.id, reverse, "核实无误")
    only(messages(world), villager=[("appeal", text, f"/appeals/{appeal.id}")])


def test_messages_name_nobody(world):
    claim = services.submit_claim(world["villager"], world["hazard"].id, [], world["store"])
    services.reject_claim(world["worker"], claim.id, "请补充照片")
    entry = apply_rule(world["worker"], world["home"].id, world["pile"].id, "pile-1")
    appeal = services.submit_appeal(world["villager"], entry.id, "邻居王五家的东西")
    services.decide_appeal(world["admin"], appeal.id, False)
    texts = [m.text for m in db.session.scalars(select(Message))]
    assert len(texts) == 5
    assert not any(name in text for text in texts for name in ("王秀英", "王五", world["villager"].username))


def test_a_reviewer_reading_english_still_tells_the_household_in_chinese(world, client, login):
    """Messages are written in the village's language: a reviewer whose pages are in English does not send English
    to the villagers."""
    claim = services.submit_claim(world["villager"], world["hazard"].id, [], world["store"])
    db.session.execute(Message.__table__.delete())
    db.session.commit()
    login(world["leader"])
    response = client.post(f"/claims/{claim.id}/reject?lang=en", data={"reason": "照片看不清"},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 302
    only(messages(world), villager=[
        ("claim", "您家的积分申报未通过：报告安全隐患。理由：照片看不清", f"/claims/{claim.id}")])
