"""The warning of a 清零 a month ahead: each villager of a household with points to lose is told once per period."""
from datetime import datetime

import pytest
import time_machine
from sqlalchemy import select

from points.auth import services as auth_services
from points.extensions import db
from points.ledger import lifecycle
from points.messages.expiry import warn_households
from points.messages.models import Message
from points.messages.queries import inbox
from points.people.services import add_resident
from points.timeutil import LOCAL, local_today

from .. import factories
from ..ledger.test_settings import BEFORE, ON_THE_DAY, build_scene


@pytest.fixture
def clock():
    with time_machine.travel(BEFORE, tick=False) as traveller:
        yield traveller


def messages() -> list[Message]:
    return list(db.session.scalars(select(Message).order_by(Message.id)))


def test_each_villager_is_told_once_per_period(clock):
    scene = build_scene()
    spouse = add_resident(scene.home, "王芳", "配偶")
    second = auth_services.create_user(factories.unique("villager"), factories.PASSWORD, resident=spouse)
    assert warn_households(scene.village.village, local_today()) == 2
    told = messages()
    assert {m.user_id for m in told} == {scene.villager.id, second.id}
    assert told[0].text == "将于2027年1月10日清零 120 分，请在清零前到积分超市兑换"
    assert told[0].link == "/my/points#expiry-2027-01-10" and told[0].kind == "points"
    clock.move_to(datetime(2027, 1, 5, 9, 0, tzinfo=LOCAL))
    assert warn_households(scene.village.village, local_today()) == 0
    assert len(messages()) == 2


def test_nobody_is_told_more_than_a_month_ahead_or_with_nothing_to_lose(clock):
    scene = build_scene()
    clock.move_to(datetime(2026, 12, 1, 9, 0, tzinfo=LOCAL))  # 40 days ahead
    assert warn_households(scene.village.village, local_today()) == 0
    clock.move_to(BEFORE)
    lifecycle.update_settings(scene.admin, scene.village.village, carry_percent=100)
    assert warn_households(scene.village.village, local_today()) == 0
    assert messages() == []


def test_the_next_year_is_another_period(clock):
    scene = build_scene()
    warn_households(scene.village.village, local_today())
    clock.move_to(ON_THE_DAY)
    lifecycle.run_expiry(None, scene.village.village)
    factories.gen_points(scene.home, 40)
    clock.move_to(datetime(2027, 12, 20, 9, 0, tzinfo=LOCAL))
    assert warn_households(scene.village.village, local_today()) == 1
    assert messages()[-1].text == "将于2028年1月10日清零 40 分，请在清零前到积分超市兑换"


def test_the_inbox_calls_a_clearing_a_clearing_not_a_penalty(clock):
    scene = build_scene()
    clock.move_to(ON_THE_DAY)
    lifecycle.run_expiry(None, scene.village.village)
    db.session.commit()
    texts = [item.text for item in inbox(scene.villager) if item.kind == "points"]
    assert "积分清零 -120 分：2027年积分清零" in texts and not any(t.startswith("扣分") for t in texts)
