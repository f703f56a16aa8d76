"""The sweep of 走访: each grid with overdue households has its staff told once per local day, however often (or
however many at once) it runs; the next day, again."""
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from flask import current_app
from flask_babel import force_locale
from sqlalchemy import func, select

from points.extensions import db
from points.messages.models import Message
from points.visits.models import VisitReminder
from points.visits.sweep import sweep_visits

from .helpers import DAY, build, log

MORNING = datetime(2026, 6, 15, 1, 0)  # UTC: 09:00 on DAY in Asia/Shanghai


@pytest.fixture
def world(village):
    return build(village)


def _messages(user=None) -> list[Message]:
    query = select(Message).order_by(Message.id)
    return list(db.session.scalars(query.where(Message.user_id == user.id) if user else query))


def test_each_grids_staff_are_told_once_a_day(world):
    result = sweep_visits(MORNING)
    db.session.commit()
    assert result == {"grids": 2, "told": 3, "overdue": 5}
    told = _messages(world.worker)
    assert [(m.kind, m.text, m.link) for m in told] == [("visit", f"{world.grid.name}有 4 户走访已超期", "/visits")]
    assert len(_messages(world.worker_at_home)) == 1
    assert [m.text for m in _messages(world.other_worker)] == [f"{world.other_grid.name}有 1 户走访已超期"]
    assert _messages(world.villager) == [] and _messages(world.admin) == []  # the admin is not at the grid
    for text in (m.text for m in _messages()):
        assert "张三明" not in text and "空巢" not in text and "低保" not in text

    assert sweep_visits(MORNING) == {"grids": 0, "told": 0, "overdue": 5}
    assert sweep_visits(MORNING + timedelta(hours=14, minutes=59)) == {"grids": 0, "told": 0, "overdue": 5}  # 23:59
    db.session.commit()
    assert len(_messages()) == 3


def test_the_next_local_day_tells_again_with_what_is_overdue_then(world):
    sweep_visits(MORNING)
    log(world.worker, world.plain, DAY)
    log(world.other_worker, world.across, DAY)
    db.session.commit()
    result = sweep_visits(MORNING + timedelta(hours=15))  # 00:00 the next day, local
    db.session.commit()
    assert result == {"grids": 1, "told": 2, "overdue": 3}
    assert [m.text for m in _messages(world.worker)][-1] == f"{world.grid.name}有 3 户走访已超期"
    assert len(_messages(world.other_worker)) == 1  # nothing overdue in grid 2 any more
    assert db.session.scalar(select(func.count()).select_from(VisitReminder)) == 3


def test_nothing_overdue_tells_nobody(world):
    assert sweep_visits(datetime(2026, 4, 2, 1, 0)) == {"grids": 0, "told": 0, "overdue": 0}


def test_an_aware_now_is_read_as_the_moment_it_is(world):
    from zoneinfo import ZoneInfo
    local = datetime(2026, 6, 15, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    sweep_visits(local)
    db.session.commit()
    assert db.session.scalar(select(VisitReminder.day).limit(1)) == DAY


def _sweep_in_thread(app, now):
    with app.app_context():
        result = sweep_visits(now)
        db.session.commit()
        return result["told"]


def test_two_sweeps_at_once_tell_once(app, world):
    with ThreadPoolExecutor(2) as pool:
        told = list(pool.map(lambda _i: _sweep_in_thread(app, MORNING), range(4)))
    assert sum(told) == 3
    db.session.expire_all()
    assert len(_messages()) == 3


def test_the_reminder_is_in_the_villages_language_whatever_the_request_speaks(world):
    with current_app.test_request_context("/?lang=en", headers={"Accept-Language": "en"}), force_locale("en"):
        sweep_visits(MORNING)
    db.session.commit()
    assert [m.text for m in _messages(world.worker)] == [f"{world.grid.name}有 4 户走访已超期"]
