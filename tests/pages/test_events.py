"""志愿活动 and 户卡 through the pages: the village's events and the new-event form, the event page and its
attendance list, the TV display and the printed code, the villager's check-in by scanning, the staff's desk,
closing, editing an event, monthly series, and the household cards of a grid."""
import html
import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from points.auth.cards import issue_card
from points.auth.models import Role
from points.events import checkins, services
from points.events.models import Attendance, CheckinMode, Event
from points.extensions import db
from points.ledger.queries import balance_of
from points.people.cards import card_text
from points.people.models import HouseholdCard
from points.rules.models import RuleCategory
from points.timeutil import utc_to_local, utcnow

from .. import factories


class Scene:
    def __init__(self, mode=CheckinMode.IN, households=2):
        self.village = factories.gen_village()
        self.households = [factories.gen_household(self.village.grids[0], head_name=f"李{'四五六七八'[i]}明")
                           for i in range(households)]
        self.villager = factories.gen_villager(self.households[0])
        self.admin = factories.gen_user(Role.VILLAGE_ADMIN, self.village.village)
        self.rule = factories.gen_rule(self.village.village, "志愿服务", 5, category=RuleCategory.VOLUNTEERING)
        now = utc_to_local(utcnow())
        self.event = services.create_event(self.admin, self.village.village, services.EventTerms(
            "清理河道", "村委会门口", now - timedelta(hours=1), now + timedelta(hours=1), self.rule.id, mode))
        other = factories.gen_village()
        self.stranger = factories.gen_villager(factories.gen_household(other.grids[0]))
        self.other_admin = factories.gen_user(Role.VILLAGE_ADMIN, other.village)
        db.session.commit()


def test_the_admin_creates_an_event_and_a_villager_sees_it(client, login):
    scene = Scene()
    village = scene.village.village
    login(scene.admin)
    page = client.get(f"/villages/{village.id}/events").get_data(as_text=True)
    assert "新建活动" in page and "清理河道" in page and "志愿服务" in page
    now = utc_to_local(utcnow()).replace(second=0, microsecond=0)
    response = client.post(f"/villages/{village.id}/events", data={
        "title": "敬老院打扫", "place": "敬老院", "starts": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "ends": (now + timedelta(days=1, hours=2)).strftime("%Y-%m-%dT%H:%M"), "rule_id": scene.rule.id,
        "mode": "in_out", "capacity": "20", "grid_id": 0})
    assert response.status_code == 302, response.get_data(as_text=True)
    event = db.session.scalar(select(Event).where(Event.title == "敬老院打扫"))
    assert event.mode is CheckinMode.IN_OUT and event.capacity == 20
    assert utc_to_local(event.starts_at) == now + timedelta(days=1)
    # The end before the start: refused with the message, nothing made.
    refused = client.post(f"/villages/{village.id}/events", data={
        "title": "错的", "place": "某处", "starts": now.strftime("%Y-%m-%dT%H:%M"),
        "ends": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"), "rule_id": scene.rule.id, "mode": "in",
        "grid_id": 0})
    assert refused.status_code == 422 and "结束时间必须晚于开始时间" in refused.get_data(as_text=True)

    login(scene.villager)
    mine = client.get("/events").get_data(as_text=True)
    assert "清理河道" in mine and "敬老院打扫" in mine and "活动" in mine
    village_page = client.get(f"/villages/{village.id}/events").get_data(as_text=True)
    assert "新建活动" not in village_page
    assert client.post(f"/villages/{village.id}/events", data={"title": "x"}).status_code == 403
    assert client.get(f"/events/{event.id}").status_code == 200
    login(scene.stranger)
    assert client.get(f"/villages/{village.id}/events").status_code == 403
    assert client.get(f"/events/{event.id}").status_code == 403
    assert "清理河道" not in client.get("/events").get_data(as_text=True)
    login(scene.admin)
    assert client.get("/events").status_code == 302


def test_staff_pages_answer_the_runner_only(client, login):
    scene = Scene()
    event = scene.event
    pages = [f"/events/{event.id}/display", f"/events/{event.id}/print", f"/events/{event.id}/checkin-desk"]
    assert client.get(pages[0]).status_code == 302  # logged out: to the login page
    login(scene.admin)
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "<svg" in response.get_data(as_text=True) or url.endswith("desk")
    display = client.get(pages[0]).get_data(as_text=True)
    assert 'http-equiv="refresh" content="30"' in display and "已签到 0 人" in display
    detail = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "大屏签到码" in detail and "签到名单" in detail
    for user in (scene.villager, scene.other_admin):
        login(user)
        for url in pages:
            assert client.get(url).status_code == 403, url
        assert client.post(f"/events/{event.id}/close").status_code == 403
    login(scene.villager)
    assert "签到名单" not in client.get(f"/events/{event.id}").get_data(as_text=True)


def test_a_villager_checks_in_by_the_displayed_code(client, login):
    scene = Scene()
    scanned = client.get(f"/c/{checkins.rotating_token(scene.event)}")
    # The 30-second code is exchanged for one that outlasts logging in.
    assert scanned.status_code == 302
    token = scanned.headers["Location"].removeprefix("/c/")
    # Logged out: the login form, under the event's name, sends them back here.
    response = client.get(f"/c/{token}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "清理河道" in page and "登录后即可签到" in page
    action = html.unescape(re.search(r'<form method="post" class="stack" novalidate action="([^"]+)"', page).group(1))
    location = urlsplit(action)
    assert location.path == "/login" and parse_qs(location.query)["next"] == [f"/c/{token}"]
    db.session.commit()
    back = client.post(action, data={"username": scene.villager.username, "password": factories.PASSWORD})
    assert back.status_code == 302 and back.headers["Location"] == f"/c/{token}"
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "清理河道" in page and "签到" in page
    done = client.post(f"/c/{token}", data={"action": "in"})
    assert done.status_code == 200 and "签到成功" in done.get_data(as_text=True)
    again = client.post(f"/c/{token}", data={"action": "in"})
    assert "您已签到过" in again.get_data(as_text=True)
    assert db.session.scalar(select(Event.attendees).where(Event.id == scene.event.id)) == 1

    login(scene.stranger)
    refused = client.post(f"/c/{token}", data={"action": "in"})
    assert refused.status_code == 403 and "不是本活动所在村" in refused.get_data(as_text=True)
    bad = client.get("/c/nonsense")
    assert bad.status_code == 400 and "二维码无效" in bad.get_data(as_text=True)

    # The organizer sees the masked name, and closes: the points are posted.
    login(scene.admin)
    detail = client.get(f"/events/{scene.event.id}").get_data(as_text=True)
    assert "李*明" in detail and "李四明" not in detail
    assert client.post(f"/events/{scene.event.id}/close", data={"confirmed": "1"}).status_code == 302
    assert balance_of(scene.households[0].id) == 5
    closed = client.get(f"/events/{scene.event.id}").get_data(as_text=True)
    assert "+5" in closed and "已结束并记分" in closed
    login(scene.villager)
    late = client.post(f"/c/{token}", data={"action": "in"})
    assert "您已签到过" in late.get_data(as_text=True)


def _attendance():
    return db.session.scalar(select(Attendance).execution_options(populate_existing=True))


def test_in_out_mode_offers_check_out_only_after_the_village_s_wait(client, login):
    scene = Scene(mode=CheckinMode.IN_OUT)
    token = checkins.static_token(scene.event)
    login(scene.villager)
    done = client.post(f"/c/{token}", data={"action": "in"}).get_data(as_text=True)
    # Right after 签到成功 no 签退 button sits where 签到 was: only when it will be offered.
    assert "签到成功" in done and 'value="out"' not in done and "以后可以签退" in done
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "提前签退" in page and 'class="wide big"' not in page
    # A 签退 before the wait asks first, naming how long and what it pays, and writes nothing.
    asked = client.post(f"/c/{token}", data={"action": "out"})
    text = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "确认现在签退" in text and "您签到才 0 分钟。现在签退，记 5 分" in text
    assert "签到不满 30 分钟" in text and 'name="confirmed" value="1"' in text and 'value="out"' in text
    assert _attendance().checked_out_at is None
    out = client.post(f"/c/{token}", data={"action": "out", "confirmed": "1"})
    assert out.status_code == 200 and "签退成功" in out.get_data(as_text=True)
    assert _attendance().checked_out_at is not None


def test_after_the_wait_the_big_check_out_button_checks_out_at_once(client, login):
    scene = Scene(mode=CheckinMode.IN_OUT)
    token = checkins.static_token(scene.event)
    checkins.check_in_resident(scene.admin, scene.event, scene.households[0].head_id,
                               now=utcnow() - timedelta(minutes=31))
    db.session.commit()
    login(scene.villager)
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert 'class="wide big">签退' in page and "提前签退" not in page
    out = client.post(f"/c/{token}", data={"action": "out"})
    assert out.status_code == 200 and "签退成功" in out.get_data(as_text=True)
    assert _attendance().checked_out_at is not None


def test_the_desk_checks_out_by_card_confirming_before_the_wait(client, login):
    scene = Scene(mode=CheckinMode.IN_OUT)
    event = scene.event
    text = card_text(issue_card(scene.admin, scene.households[0]))
    db.session.commit()
    login(scene.admin)
    desk = f"/events/{event.id}/checkin-desk"
    assert "换成签退" in client.get(desk).get_data(as_text=True)
    client.post(desk, data={"card": text})
    page = client.get(f"{desk}?out=1").get_data(as_text=True)
    assert "签退台" in page and "扫户卡签退" in page
    asked = client.post(f"{desk}?out=1", data={"card": text}).get_data(as_text=True)
    assert "确认现在签退" in asked and "李*明（户号 " in asked and "签到才 0 分钟" in asked
    assert f'action="{desk}?out=1"' in asked and f'href="{desk}?out=1"' in asked
    assert _attendance().checked_out_at is None
    done = client.post(f"{desk}?out=1", data={"card": text, "confirmed": "1"}, follow_redirects=True)
    assert "签退成功" in done.get_data(as_text=True) and _attendance().checked_out_at is not None
    # A check-in-only event has no 签退台: ?out=1 is the 签到台.
    plain = Scene()
    login(plain.admin)
    assert "换成签退" not in client.get(f"/events/{plain.event.id}/checkin-desk?out=1").get_data(as_text=True)


def test_the_village_sets_the_wait_before_check_out(client, login):
    scene = Scene()
    village = scene.village.village
    login(scene.admin)
    page = client.get(f"/villages/{village.id}/events").get_data(as_text=True)
    assert "签到后多少分钟可以签退" in page and 'value="30"' in page
    saved = client.post(f"/villages/{village.id}/events/checkout-after", data={"minutes": "45"},
                        follow_redirects=True)
    assert "签到满 45 分钟后可以签退" in saved.get_data(as_text=True) and services.checkout_after(village.id) == 45
    bad = client.post(f"/villages/{village.id}/events/checkout-after", data={"minutes": "0"}, follow_redirects=True)
    assert "应为 1 到 720 之间的整数" in bad.get_data(as_text=True) and services.checkout_after(village.id) == 45
    login(scene.villager)
    assert client.post(f"/villages/{village.id}/events/checkout-after", data={"minutes": "5"}).status_code == 403
    assert services.checkout_after(village.id) == 45


def test_closing_asks_first_with_the_time_left_and_the_points_and_cancel_writes_nothing(client, login):
    scene = Scene()
    event = scene.event
    checkins.check_in_resident(scene.admin, event, scene.households[0].head_id)
    db.session.commit()
    login(scene.admin)
    asked = client.post(f"/events/{event.id}/close")
    text = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "确认结束活动" in text
    assert re.search(r"活动还有 (59|60) 分钟才结束；现在结束，之后来的人不能再签到", text)
    assert "将为 1 人（1 户）记分，共 5 分" in text and "按细则：志愿服务，每次 +5 分" in text
    assert f'href="/events/{event.id}"' in text  # 取消 goes back
    assert db.session.scalar(select(Event.closed_at).where(Event.id == event.id)) is None
    assert balance_of(scene.households[0].id) == 0
    assert client.post(f"/events/{event.id}/close", data={"confirmed": "1"}).status_code == 302
    assert balance_of(scene.households[0].id) == 5
    # After its end it still asks (it cannot be undone), without the time left.
    ended = services.create_event(scene.admin, scene.village.village, services.EventTerms(
        "捡垃圾", "河边", utc_to_local(utcnow()) - timedelta(hours=3), utc_to_local(utcnow()) - timedelta(hours=1),
        scene.rule.id))
    db.session.commit()
    text = client.post(f"/events/{ended.id}/close").get_data(as_text=True)
    assert "确认结束活动" in text and "将为 0 人（0 户）记分，共 0 分" in text and "活动还有" not in text
    assert db.session.scalar(select(Event.closed_at).where(Event.id == ended.id)) is None


def test_reissuing_a_card_asks_first_naming_the_household_and_the_card_it_voids(client, login):
    scene = Scene()
    household = scene.households[0]
    issue_card(scene.admin, household)
    db.session.commit()
    login(scene.admin)
    asked = client.post(f"/households/{household.id}/card/reissue")
    text = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "确认补办户卡" in text
    assert f"将为户号 {household.number}（李*明）补办第 2 张户卡" in text and "旧卡（第 1 张）立即作废" in text
    assert f'href="/grids/{household.grid_id}/cards"' in text
    cards = db.session.scalars(select(HouseholdCard).where(HouseholdCard.household_id == household.id)).all()
    assert [(c.serial, c.revoked_at) for c in cards] == [(1, None)]
    assert client.post(f"/households/{household.id}/card/reissue", data={"confirmed": "1"}).status_code == 302
    db.session.expire_all()
    cards = db.session.scalars(select(HouseholdCard).where(HouseholdCard.household_id == household.id)).all()
    assert sorted((c.serial, c.revoked_at is None) for c in cards) == [(1, False), (2, True)]


def test_a_new_event_s_rule_must_be_chosen_and_is_shown_by_name_and_points(client, login):
    scene = Scene()
    village = scene.village.village
    login(scene.admin)
    form = client.get(f"/villages/{village.id}/events").get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="rule_id".*?</select>', form, re.S).group(0)
    assert '<option selected value="">请选择…</option>' in select_html and select_html.count("selected") == 1
    now = utc_to_local(utcnow()).replace(second=0, microsecond=0)
    data = {"title": "敬老院打扫", "place": "敬老院", "starts": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
            "ends": (now + timedelta(days=1, hours=2)).strftime("%Y-%m-%dT%H:%M"), "mode": "in", "grid_id": 0}
    for rule_id in ("", None):
        refused = client.post(f"/villages/{village.id}/events",
                              data=data if rule_id is None else {**data, "rule_id": rule_id})
        assert refused.status_code == 422 and "请选择本活动按哪条积分细则记分" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Event)) == 1

    # The event page and the printed code say which rule pays, by name and points, not by code.
    event = scene.event
    for path in (f"/events/{event.id}", f"/events/{event.id}/print"):
        page = client.get(path).get_data(as_text=True)
        assert "志愿服务，每次 +5 分" in page and scene.rule.code not in page, path
    checkins.check_in_resident(scene.admin, event, scene.households[0].head_id)
    services.close_event(scene.admin, event, early=True)
    db.session.commit()
    login(scene.villager)
    assert "志愿服务，每次 +5 分" in client.get(f"/events/{event.id}").get_data(as_text=True)
    mine = client.get("/my/points").get_data(as_text=True)
    assert "志愿服务" in mine and "清理河道" in mine and "按细则每次 +5 分" in mine


def test_the_desk_checks_in_by_card_and_by_name_and_removes(client, login):
    scene = Scene()
    event = scene.event
    card = issue_card(scene.admin, scene.households[0])
    text = card_text(card)
    db.session.commit()
    login(scene.admin)
    desk = client.get(f"/events/{event.id}/checkin-desk").get_data(as_text=True)
    assert "autofocus" in desk
    response = client.post(f"/events/{event.id}/checkin-desk", data={"card": text}, follow_redirects=True)
    assert "签到成功" in response.get_data(as_text=True)
    again = client.post(f"/events/{event.id}/checkin-desk", data={"card": text}, follow_redirects=True)
    assert "已签到过" in again.get_data(as_text=True)
    wrong = client.post(f"/events/{event.id}/checkin-desk", data={"card": "HC-XXXX-yyy"}, follow_redirects=True)
    assert "无法识别的户卡" in wrong.get_data(as_text=True)

    found = client.get(f"/events/{event.id}/checkin-desk?q=李五").get_data(as_text=True)
    assert "李*明" in found
    second = scene.households[1].head
    assert client.post(f"/events/{event.id}/checkin-desk", data={"resident_id": second.id}).status_code == 302
    rows = db.session.scalars(select(Attendance).where(Attendance.event_id == event.id)).all()
    assert sorted(a.resident_id for a in rows) == sorted([scene.households[0].head_id, second.id])

    removed = next(a for a in rows if a.resident_id == second.id)
    assert client.post(f"/attendances/{removed.id}/remove").status_code == 302
    assert db.session.scalar(select(Event.attendees).where(Event.id == event.id)) == 1
    login(scene.other_admin)
    assert client.post(f"/events/{event.id}/checkin-desk", data={"card": text}).status_code == 403
    assert client.post(f"/attendances/{removed.id}/remove").status_code == 403


def test_the_cards_page_changes_nothing_and_its_button_issues_the_missing_cards_once(client, login):
    scene = Scene(households=3)
    grid = scene.village.grids[0]
    cards_url = f"/grids/{grid.id}/cards"

    def count_cards():
        return db.session.scalar(select(func.count()).select_from(HouseholdCard))

    login(scene.admin)
    page = client.get(cards_url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<svg" not in html and "还没有户卡：3 户" in html and "发放户卡（3 户）" in html and "李*明" in html
    assert count_cards() == 0
    issued = client.post(cards_url, follow_redirects=True)
    html = issued.get_data(as_text=True)
    assert "已发放 3 户的户卡" in html and html.count("<svg") == 3 and "第1张" in html and "发放户卡" not in html
    assert count_cards() == 3
    again = client.post(cards_url, follow_redirects=True)
    assert "每户都已有户卡" in again.get_data(as_text=True) and count_cards() == 3

    household = scene.households[1]
    response = client.post(f"/households/{household.id}/card/reissue", data={"confirmed": "1"})
    assert response.status_code == 302
    assert "第2张" in client.get(cards_url).get_data(as_text=True)
    cards = db.session.scalars(select(HouseholdCard).where(HouseholdCard.household_id == household.id)).all()
    assert len(cards) == 2 and sum(1 for c in cards if c.revoked_at is None) == 1
    # A household added later: one more card, and only that one.
    factories.gen_household(grid, head_name="王小明")
    db.session.commit()
    assert "发放户卡（1 户）" in client.get(cards_url).get_data(as_text=True)
    client.post(cards_url)
    assert count_cards() == 5
    for user in (scene.villager, scene.other_admin):
        login(user)
        assert client.get(cards_url).status_code == 403
        assert client.post(cards_url).status_code == 403
        assert client.post(f"/households/{household.id}/card/reissue").status_code == 403
    assert count_cards() == 5


def test_a_grids_sheet_of_150_cards_is_light(client, login):
    """Each card's QR is one compact SVG path, not an image: the sheet of a full grid stays well under the 300 KB that
    a 3G phone fetches in about two seconds, and far less compressed."""
    village = factories.gen_village(grids=1)
    grid = village.grids[0]
    for _ in range(150):
        factories.gen_household(grid)
    login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
    client.post(f"/grids/{grid.id}/cards")
    page = client.get(f"/grids/{grid.id}/cards")
    html = page.get_data(as_text=True)
    assert html.count('<svg class="qr"') == 150 and html.count("<path ") == 150
    assert "<img" not in html and "base64" not in html
    assert len(page.data) < 450_000  # 1.3 MB with a square per module
    packed = client.get(f"/grids/{grid.id}/cards", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip" and len(packed.data) < 80_000


def _edit_data(scene, **changes):
    event = scene.event
    data = {"title": event.title, "place": event.place,
            "starts": utc_to_local(event.starts_at).strftime("%Y-%m-%dT%H:%M"),
            "ends": utc_to_local(event.ends_at).strftime("%Y-%m-%dT%H:%M"), "rule_id": event.rule_id,
            "mode": event.mode.value, "capacity": "", "grid_id": 0}
    data.update(changes)
    return data


def _stored(event_id):
    return db.session.scalar(select(Event).where(Event.id == event_id).execution_options(populate_existing=True))


def test_the_runner_edits_an_event_and_sees_the_new_terms(client, login):
    scene = Scene()
    event = scene.event
    login(scene.admin)
    assert f"/events/{event.id}/edit" in client.get(f"/events/{event.id}").get_data(as_text=True)
    form = client.get(f"/events/{event.id}/edit")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    # Prefilled, the times in local time.
    assert 'value="清理河道"' in html and 'value="村委会门口"' in html
    assert f'value="{utc_to_local(event.starts_at).strftime("%Y-%m-%dT%H:%M")}"' in html

    tomorrow = (utc_to_local(utcnow()) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    grid = scene.village.grids[1]
    response = client.post(f"/events/{event.id}/edit", data=_edit_data(
        scene, title="清理河道（改期）", place="河边", starts=tomorrow.strftime("%Y-%m-%dT%H:%M"),
        ends=(tomorrow + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"), mode="in_out", capacity="30",
        grid_id=grid.id))
    assert response.status_code == 302 and response.headers["Location"] == f"/events/{event.id}"
    stored = _stored(event.id)
    assert (stored.title, stored.place, stored.mode, stored.capacity, stored.grid_id) == (
        "清理河道（改期）", "河边", CheckinMode.IN_OUT, 30, grid.id)
    assert utc_to_local(stored.starts_at) == tomorrow and utc_to_local(stored.ends_at) == tomorrow + timedelta(hours=3)
    assert stored.organizer_id == event.organizer_id and stored.series_id is None
    detail = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "活动已保存" in detail and "清理河道（改期）" in detail and "河边" in detail and "上限 30 人" in detail
    assert tomorrow.strftime("%Y-%m-%d 09:00") in detail and grid.name in detail


def test_editing_is_refused_to_whoever_does_not_run_the_event(client, login):
    scene = Scene()
    event = scene.event
    for user in (scene.villager, scene.other_admin, scene.stranger):
        login(user)
        assert client.get(f"/events/{event.id}/edit").status_code == 403
        assert client.post(f"/events/{event.id}/edit", data=_edit_data(scene, title="改掉")).status_code == 403
    login(scene.villager)
    assert f"/events/{event.id}/edit" not in client.get(f"/events/{event.id}").get_data(as_text=True)
    assert _stored(event.id).title == "清理河道"


def test_bad_edits_are_refused_in_chinese_and_change_nothing(client, login):
    scene = Scene()
    event = scene.event
    starts, ends = event.starts_at, event.ends_at
    login(scene.admin)
    url = f"/events/{event.id}/edit"
    local_start = utc_to_local(starts)
    cases = [
        (_edit_data(scene, title="改了", ends=(local_start - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")),
         "结束时间必须晚于开始时间"),
        (_edit_data(scene, title=""), "请填写活动名称"),
        (_edit_data(scene, title="改了", ends=(local_start + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")),
         "一场活动不能超过"),
        (_edit_data(scene, title="改了", capacity="0"), "人数上限应为 1 到 100000 之间的整数"),
        (_edit_data(scene, title="改了", starts=""), "请填写开始时间"),
    ]
    for data, message in cases:
        refused = client.post(url, data=data)
        html = refused.get_data(as_text=True)
        assert refused.status_code == 422 and message in html, message
        assert '<form method="post"' in html  # the form again, with what was typed
        stored = _stored(event.id)
        assert (stored.title, stored.starts_at, stored.ends_at, stored.capacity) == ("清理河道", starts, ends, None)

    # Closed: the page says why, and the service refuses a save.
    assert client.post(f"/events/{event.id}/close", data={"confirmed": "1"}).status_code == 302
    assert f"/events/{event.id}/edit" not in client.get(f"/events/{event.id}").get_data(as_text=True)
    closed = client.get(url)
    assert closed.status_code == 409 and "活动已结束，不能再签到或修改" in closed.get_data(as_text=True)
    refused = client.post(url, data=_edit_data(scene, title="结束后改"))
    assert refused.status_code == 422 and "活动已结束，不能再签到或修改" in refused.get_data(as_text=True)
    assert _stored(event.id).title == "清理河道"


def _series_data(scene, **changes):
    data = {"title": "环境整治日", "place": "各网格", "nth": 3, "weekday": 5, "start_time": "08:30",
            "end_time": "10:30", "first_month": "2026-12", "last_month": "2027-02", "rule_id": scene.rule.id,
            "mode": "in", "capacity": "", "grid_id": 0}
    data.update(changes)
    return data


def _series_starts():
    return [utc_to_local(e.starts_at) for e in db.session.scalars(
        select(Event).where(Event.series_id.is_not(None)).order_by(Event.starts_at))]


def test_the_series_page_makes_an_event_on_the_third_saturday_of_each_month(client, login):
    scene = Scene()
    village = scene.village.village
    url = f"/villages/{village.id}/series"
    login(scene.admin)
    assert url in client.get(f"/villages/{village.id}/events").get_data(as_text=True)
    page = client.get(url)
    assert page.status_code == 200 and "最后一个" in page.get_data(as_text=True)
    response = client.post(url, data=_series_data(scene))
    assert response.status_code == 302 and response.headers["Location"] == f"/villages/{village.id}/events"
    assert _series_starts() == [datetime(2026, 12, 19, 8, 30), datetime(2027, 1, 16, 8, 30),
                                datetime(2027, 2, 20, 8, 30)]
    events = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已创建 3 场“环境整治日”：每月第 3 个星期六" in events
    ends = [utc_to_local(e.ends_at) for e in db.session.scalars(select(Event).where(Event.series_id.is_not(None)))]
    assert sorted(ends) == [datetime(2026, 12, 19, 10, 30), datetime(2027, 1, 16, 10, 30),
                            datetime(2027, 2, 20, 10, 30)]


def test_the_last_weekday_of_the_month_and_bad_series_are_refused_in_chinese(client, login):
    scene = Scene()
    village = scene.village.village
    url = f"/villages/{village.id}/series"
    login(scene.admin)
    cases = [
        (_series_data(scene, end_time="08:00"), "结束时刻必须晚于开始时刻"),
        (_series_data(scene, first_month="2027-02", last_month="2026-12"), "结束月份不能早于开始月份"),
        (_series_data(scene, first_month="2026-12", last_month="2029-12"), "重复规则有误"),
        (_series_data(scene, first_month="9999-12", last_month="9999-12"), "重复规则有误"),
        (_series_data(scene, title=""), "请填写活动名称"),
        (_series_data(scene, first_month=""), "请选择开始月份"),
    ]
    for data, message in cases:
        refused = client.post(url, data=data)
        assert refused.status_code == 422 and message in refused.get_data(as_text=True), message
    assert _series_starts() == []
    response = client.post(url, data=_series_data(scene, nth=-1, weekday=0, first_month="2027-03",
                                                  last_month="2027-03"))
    assert response.status_code == 302
    assert _series_starts() == [datetime(2027, 3, 29, 8, 30)]  # the last Monday of March 2027


def test_the_series_page_is_refused_to_a_villager(client, login):
    scene = Scene()
    village = scene.village.village
    url = f"/villages/{village.id}/series"
    for user in (scene.villager, scene.other_admin):
        login(user)
        assert client.get(url).status_code == 403
        assert client.post(url, data=_series_data(scene)).status_code == 403
    login(scene.villager)
    assert url not in client.get(f"/villages/{village.id}/events").get_data(as_text=True)
    assert _series_starts() == []


def test_a_reissue_sent_twice_voids_only_the_card_the_page_showed(client, login):
    """A double tap on 补办户卡, or the confirmation sent again after printing: the card just printed stays good."""
    scene = Scene()
    household = scene.households[0]
    issue_card(scene.admin, household)
    db.session.commit()
    login(scene.admin)
    form = {"serial": "1", "confirmed": "1"}
    assert client.post(f"/households/{household.id}/card/reissue", data=form).status_code == 302
    again = client.post(f"/households/{household.id}/card/reissue", data=form, follow_redirects=True)
    assert f"户号 {household.number} 的卡已经补办过了，不再补办" in again.get_data(as_text=True)
    db.session.expire_all()
    cards = db.session.scalars(select(HouseholdCard).where(HouseholdCard.household_id == household.id)).all()
    assert sorted((c.serial, c.revoked_at is None) for c in cards) == [(1, False), (2, True)]
