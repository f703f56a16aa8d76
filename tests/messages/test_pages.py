"""The pages of messages: /messages (the inbox, read by opening it), the top bar's 消息 with its unread count (and
what it costs a page), the 网格 hub at /grid-work, and the links to it."""
from datetime import datetime

import pytest

from points.auth.models import Role
from points.extensions import db
from points.messages.models import Message
from points.messages.queries import unread_count
from points.messages.services import tell

from .. import factories


@pytest.fixture
def world(village):
    grid = village.grids[0]
    home = factories.gen_household(grid, head_name="王秀英")
    w = dict(
        village=village,
        home=home,
        villager=factories.gen_villager(home),
        neighbour=factories.gen_villager(factories.gen_household(grid)),
        worker=factories.gen_user(Role.GRID_WORKER, grid),
        admin=factories.gen_user(Role.VILLAGE_ADMIN, village.village),
        clerk=factories.gen_user(Role.SHOP_CLERK, village.village),
    )
    db.session.commit()
    return w


def page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_an_empty_inbox_says_so_in_plain_words(world, client, login):
    login(world["villager"])
    assert "还没有消息" in page(client, "/messages")


def test_the_inbox_lists_newest_first_marks_unread_and_is_read_by_opening_it(world, client, login):
    v = world["villager"]
    db.session.add_all([
        Message(user_id=v.id, kind="claim", text="你家的积分申报已通过：报告安全隐患，+5 分", link="/claims/7",
                created_at=datetime(2026, 12, 7, 6, 5)),
        Message(user_id=v.id, kind="report", text="你的诉求已办结", link="", created_at=datetime(2026, 12, 6, 1, 0)),
        Message(user_id=world["neighbour"].id, kind="claim", text="邻居家的申报", created_at=datetime(2026, 12, 7)),
    ])
    factories.gen_points(world["home"], 5)
    login(v)
    assert unread_count(v) == 3
    before = page(client, "/my/points")
    assert '消息 <span class="badge">3</span>' in before
    html = page(client, "/messages")
    assert "邻居家的申报" not in html
    points, claim, report = html.index("加分 +5 分"), html.index("你家的积分申报已通过"), html.index("你的诉求已办结")
    assert points < claim < report  # newest first: the points were posted just now
    assert html.count("未读") == 3
    assert "12月7日 14:05" in html and "12月6日 09:00" in html  # local time, plain
    assert 'href="/claims/7"' in html and 'href="/my/points"' in html
    assert 'class="badge"' not in html  # read now, as the top bar of this very page says
    assert unread_count(v) == 0
    assert "未读" not in page(client, "/messages")
    tell([v.id], "report", "新的一条")
    db.session.commit()
    assert '消息 <span class="badge">1</span>' in page(client, "/my/points")


def test_a_link_that_leaves_the_app_is_not_one(world, client, login):
    tell([world["worker"].id], "report", "外面的链接", "//example.com/x")
    login(world["worker"])
    html = page(client, "/messages")
    assert "外面的链接" in html and "example.com" not in html


def test_a_page_pays_one_statement_for_the_badge(world, client, login, statements, app, monkeypatch):
    """The unread count is one statement of two indexed counts; pages without the top bar pay nothing."""
    tell([world["villager"].id, world["worker"].id], "claim", "一条")
    factories.gen_points(world["home"], 5)
    counts = {}
    for who, url in (("villager", "/my/points"), ("worker", "/claims")):
        login(world[who])
        for badge in (False, True):
            with monkeypatch.context() as patch:
                if not badge:
                    patch.setitem(app.jinja_env.globals, "unread_messages", lambda: 0)
                client.get(url)
                statements.clear()
                assert client.get(url).status_code == 200
                counts[who, badge] = len(statements)
    assert counts["villager", True] == counts["villager", False] + 1, counts
    assert counts["worker", True] == counts["worker", False] + 1, counts
    print("statements per page (without badge, with):", counts)


def test_the_top_bar_offers_messages_to_everyone_and_the_hub_to_grid_staff(world, client, login):
    for who, hub in (("villager", False), ("worker", True), ("admin", True), ("clerk", False)):
        login(world[who])
        html = page(client, "/me")
        assert 'href="/messages"' in html, who
        assert ('href="/grid-work"' in html) is hub, who


def test_villagers_get_their_grid_work_entries_in_the_bar(world, client, login):
    login(world["villager"])
    html = page(client, "/me")
    assert 'href="/reports">随拍<' in html and 'href="/wishes">心愿<' in html
    login(world["worker"])
    assert 'href="/reports">随拍<' not in page(client, "/me")


def test_the_hub_lists_the_work_and_the_settings_of_the_admin_s_villages(world, client, login):
    other = factories.gen_village(grids=1)
    db.session.commit()
    login(world["worker"])
    html = page(client, "/grid-work")
    for url, title in (("/reports", "民情诉求"), ("/visits", "走访"), ("/wishes", "心愿墙"),
                       ("/wishes/mine", "心愿待办"), ("/duty", "履职排行")):
        assert f'href="{url}"' in html and title in html
    assert "设置" not in html
    login(world["admin"])
    html = page(client, "/grid-work")
    village = world["village"].village
    assert f'href="/villages/{village.id}/report-settings"' in html and f"{village.name}诉求设置" in html
    assert f'href="/villages/{village.id}/visit-settings"' in html and f"{village.name}走访设置" in html
    assert f"/villages/{other.village.id}/" not in html


def test_the_hub_refuses_in_words_who_does_no_grid_work(world, client, login):
    for who in ("villager", "clerk"):
        login(world[who])
        response = client.get("/grid-work")
        assert response.status_code == 403
        assert "网格工作只对网格员、网格长和村、镇管理员开放" in response.get_data(as_text=True)


def test_manage_links_the_hub(world, client, login):
    login(world["admin"])
    assert 'href="/grid-work"' in page(client, "/manage")
