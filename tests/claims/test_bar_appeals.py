"""限制兑换 with its notices (claims.bar_appeals): who is told what when a bar is set, appealed and lifted, the
refusals in Chinese, and a retry that finds the same decision made."""
from datetime import date, datetime

import pytest
import time_machine
from sqlalchemy import select

from points.auth.models import Role
from points.claims.bar_appeals import appeal_bar, lift_bar, set_bar
from points.errors import DomainError, Forbidden, NotFound
from points.extensions import db
from points.ledger.models import RedemptionBar
from points.messages.models import Message
from points.people.services import add_resident
from points.periods import full_day_label
from points.timeutil import LOCAL

from .. import factories

TODAY = date(2026, 12, 20)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(datetime(2026, 12, 20, 10, 0, tzinfo=LOCAL)):
        yield


@pytest.fixture
def world(village):
    household = factories.gen_household(village.grids[0], head_name="张三明")
    other = factories.gen_household(village.grids[1], head_name="李四")
    world = dict(
        household=household, other=other,
        villager=factories.gen_villager(household),
        outsider=factories.gen_villager(other),
        admin=factories.gen_user(Role.VILLAGE_ADMIN, village.village),
        worker=factories.gen_user(Role.GRID_WORKER, village.grids[0]),
    )
    db.session.commit()
    return world


def told(user) -> list[tuple[str, str, str]]:
    return [(m.kind, m.text, m.link) for m in db.session.scalars(
        select(Message).where(Message.user_id == user.id).order_by(Message.id))]


def test_setting_a_bar_tells_the_household_until_when_and_why(world):
    found, new = set_bar(world["admin"], world["household"], TODAY, date(2027, 1, 31), " 参与赌博 ")
    assert new and found.reason == "参与赌博" and found.status_on(TODAY) == "in_force"
    assert told(world["villager"]) == [("bar", "您家被限制兑换到 2027年1月31日：参与赌博", f"/bars/{found.id}")]
    assert told(world["outsider"]) == [] and told(world["admin"]) == []


def test_a_retry_finds_the_same_bar_and_tells_nobody_again(world):
    first, _ = set_bar(world["admin"], world["household"], TODAY, date(2027, 1, 31), "参与赌博")
    again, new = set_bar(world["admin"], world["household"], TODAY, date(2027, 1, 31), "参与赌博", retry=True)
    assert again.id == first.id and not new
    assert len(told(world["villager"])) == 1
    other, new = set_bar(world["admin"], world["household"], TODAY, date(2027, 2, 28), "参与赌博", retry=True)
    assert new and other.id != first.id  # another decision: a second bar, the first stands beside it
    db.session.refresh(first)
    assert first.status_on(TODAY) == "in_force"


@pytest.mark.parametrize(("starts", "ends", "reason", "words"), [
    (date(2027, 1, 10), date(2027, 1, 1), "赌博", "限制的结束日期不能早于开始日期"),
    (date(2026, 12, 1), date(2026, 12, 19), "赌博", "限制的结束日期已经过去了"),
    (TODAY, date(2027, 1, 31), "  ", "请写明限制兑换的原因"),
])
def test_bad_bars_are_refused_in_chinese(world, starts, ends, reason, words):
    with pytest.raises(DomainError) as refusal:
        set_bar(world["admin"], world["household"], starts, ends, reason)
    assert words in refusal.value.message
    assert told(world["villager"]) == []


def test_nobody_bars_their_own_household_and_a_worker_bars_nobody(world, village):
    admin_at_home = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    admin_at_home.resident = add_resident(world["household"], "张小红", "配偶", "13900001111")
    db.session.commit()
    with pytest.raises(DomainError) as refusal:
        set_bar(admin_at_home, world["household"], TODAY, date(2027, 1, 31), "赌博")
    assert refusal.value.code == "own_bar" and refusal.value.status == 403
    with pytest.raises(Forbidden):
        set_bar(world["worker"], world["household"], TODAY, date(2027, 1, 31), "赌博")


def test_an_appeal_tells_the_admins_without_naming_anyone(world):
    found, _ = set_bar(world["admin"], world["household"], TODAY, date(2027, 1, 31), "参与赌博")
    appeal_bar(world["villager"], found.id, "那天我在外地打工")
    assert found.appeal == "那天我在外地打工"
    assert told(world["admin"]) == [("bar", "有一条限制兑换的申诉等您处理", f"/bars/{found.id}")]
    assert told(world["worker"]) == []
    assert appeal_bar(world["villager"], found.id, "那天我在外地打工", retry=True).id == found.id
    assert len(told(world["admin"])) == 1
    with pytest.raises(DomainError) as refusal:
        appeal_bar(world["villager"], found.id, "另一个理由", retry=True)
    assert refusal.value.code == "bar_already_appealed"


def test_another_household_cannot_appeal(world):
    found, _ = set_bar(world["admin"], world["household"], TODAY, date(2027, 1, 31), "参与赌博")
    with pytest.raises(NotFound):
        appeal_bar(world["outsider"], found.id, "不对")
    with pytest.raises(NotFound):
        appeal_bar(world["outsider"], found.id, "不对", retry=True)


def test_lifting_tells_the_household_and_a_retry_answers_the_same(world):
    found, _ = set_bar(world["admin"], world["household"], TODAY, date(2027, 1, 31), "参与赌博")
    lift_bar(world["admin"], found.id, "已改正")
    assert found.status_on(TODAY) == "lifted" and found.lift_note == "已改正"
    assert told(world["villager"])[-1] == ("bar", "您家的限制兑换已解除", f"/bars/{found.id}")
    assert lift_bar(world["admin"], found.id, "已改正", retry=True).id == found.id
    assert len(told(world["villager"])) == 2
    with pytest.raises(DomainError) as refusal:
        lift_bar(world["admin"], found.id, "别的说明", retry=True)
    assert refusal.value.code == "bar_already_lifted"


def test_a_bar_to_come_is_upcoming_and_the_day_names_its_year(world):
    found, _ = set_bar(world["admin"], world["household"], date(2027, 1, 5), date(2027, 1, 31), "违建")
    assert found.status_on(TODAY) == "upcoming" and found.status_on(date(2027, 2, 1)) == "ended"
    assert str(full_day_label(found.starts_on)) == "2027年1月5日"
    assert db.session.get(RedemptionBar, found.id).in_force(date(2027, 1, 5))
