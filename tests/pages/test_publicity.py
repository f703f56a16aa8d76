"""积分公示表 pages: public and printable with nothing personal on them; a villager's objection; the admin's answer."""
import re
from datetime import date

import pytest
from sqlalchemy import select

from points.auth import services as auth_services
from points.auth.models import Role
from points.claims.models import Objection, ObjectionStatus
from points.extensions import db
from points.ledger.models import EntrySource
from points.ledger.services import post_entry
from points.rules.models import RuleCategory

from .. import factories

TODAY = date(2026, 12, 3)  # November's 公示 is on: objections until 12月7日
PEOPLE = [("王大明", "13912345678"), ("欧阳建国", "13700001111"), ("李小红", "15800002222")]


def set_today(monkeypatch, day: date) -> None:
    for module in ("points.pages.publicity", "points.ledger.publicity", "points.claims.objections"):
        monkeypatch.setattr(f"{module}.local_today", lambda: day)


@pytest.fixture
def world(village, monkeypatch):
    set_today(monkeypatch, TODAY)
    households = []
    for i, (name, phone) in enumerate(PEOPLE):
        household = factories.gen_household(village.grids[i % 2], head_name=name, phone=phone,
                                            id_number=factories.gen_id_number())
        post_entry(household.id, 10 + i, EntrySource.MANUAL, f"nov-{i}", occurred_on=date(2026, 11, 5),
                   category=RuleCategory.HYGIENE)
        households.append(household)
    w = dict(village=village, households=households,
             villager=factories.gen_villager(households[0], username="v1"),
             admin=factories.gen_user(Role.VILLAGE_ADMIN, village.village, username="a1"))
    db.session.commit()
    return w


def url(world, **args) -> str:
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return f"/villages/{world['village'].village.id}/publicity" + (f"?{query}" if query else "")


def assert_nothing_personal(world, html: str) -> None:
    for household in world["households"]:
        head = household.head
        assert head.name not in html
        assert head.phone not in html and head.phone[-4:] + "<" not in html
        assert head.id_number not in html and head.id_number[-6:] not in html
    assert not re.search(r"1[3-9][0-9]{9}", html)


def test_the_public_table_and_its_print_show_masked_names_and_nothing_personal(world, client):
    for path in (url(world), url(world, month="2026-11"), url(world).replace("publicity", "publicity/print")):
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert_nothing_personal(world, html)
        for masked in ("王*明", "欧**国", "李*红"):
            assert masked in html
        assert f"{world['village'].village.name} 2026年11月 积分公示表" in html
        assert "公示中（异议截止 12月7日）" in html
        assert "如有异议，请于12月7日（含）前向村委会或在手机上提出" in html
    assert "提出异议" not in client.get(url(world)).get_data(as_text=True)  # nobody is logged in


def test_the_table_is_grouped_by_grid_and_a_grid_s_table_holds_its_own(world, client):
    html = client.get(url(world)).get_data(as_text=True)
    assert html.index("<h2>第1网格") < html.index("王*明") < html.index("李*红") < html.index(
        "<h2>第2网格") < html.index("欧**国")
    grid = client.get(url(world, grid=world["village"].grids[1].id)).get_data(as_text=True)
    assert "欧**国" in grid and "王*明" not in grid


def test_a_month_ahead_is_refused_in_chinese(world, client):
    response = client.get(url(world, month="2027-01"))
    assert response.status_code == 400
    assert "2027年1月还没到，没有公示表" in response.get_data(as_text=True)
    assert client.get(url(world, month="abc")).status_code == 400


def test_a_villager_objects_with_a_confirmation_and_the_admin_is_told(world, client, login):
    login(world["villager"])
    neighbour = world["households"][1]
    html = client.get(url(world)).get_data(as_text=True)
    link = f"/villages/{world['village'].village.id}/publicity/objection?household={neighbour.id}&amp;month=2026-11"
    assert link in html
    form = client.get(link.replace("&amp;", "&"))
    assert form.status_code == 200 and "欧**国" in form.get_data(as_text=True)
    asked = client.post(link.replace("&amp;", "&"), data={"reason": "11月5日的卫生分不对", "key": "k1"})
    assert "确认提出异议" in asked.get_data(as_text=True)
    assert db.session.scalar(select(Objection)) is None  # asking wrote nothing
    done = client.post(link.replace("&amp;", "&"), data={"reason": "11月5日的卫生分不对", "key": "k1",
                                                         "confirmed": "1"})
    objection = db.session.scalar(select(Objection))
    assert done.status_code == 302 and done.location.endswith(f"/objections/{objection.id}")
    page = client.get(done.location).get_data(as_text=True)
    assert "异议已提交，村委会会尽快处理" in page and "待处理" in page


def test_after_the_window_the_link_is_gone_and_a_late_objection_is_refused_in_chinese(world, client, login,
                                                                                      monkeypatch):
    set_today(monkeypatch, date(2026, 12, 9))
    login(world["villager"])
    html = client.get(url(world, month="2026-11")).get_data(as_text=True)
    assert "已公示" in html and "提出异议" not in html and "如有异议" not in html
    link = f"{url(world)}/objection?household={world['households'][1].id}&month=2026-11"
    response = client.post(link, data={"reason": "不对", "key": "k2", "confirmed": "1"})
    assert response.status_code == 422
    assert "2026年11月的公示期已于12月7日截止，不能再提出异议" in response.get_data(as_text=True)


def test_the_admin_answers_after_a_confirmation_and_is_pointed_to_the_household_s_page(world, client, login):
    objection = Objection(village_id=world["village"].village.id, household_id=world["households"][1].id,
                          month="2026-11", objector_id=world["villager"].id, reason="不对")
    db.session.add(objection)
    db.session.commit()
    login(world["admin"])
    listing = client.get("/objections").get_data(as_text=True)
    assert "2026年11月 · 户号" in listing and "待处理" in listing
    page = client.get(f"/objections/{objection.id}").get_data(as_text=True)
    assert "采纳更正" in page and "不予采纳" in page and f"/households/{world['households'][1].id}/points" in page
    asked = client.post(f"/objections/{objection.id}/decision", data={"decision": "accept", "note": "已核实"})
    assert "确认采纳异议" in asked.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Objection, objection.id).status is ObjectionStatus.PENDING
    client.post(f"/objections/{objection.id}/decision", data={"decision": "accept", "note": "已核实", "confirmed": "1"})
    db.session.expire_all()
    assert db.session.get(Objection, objection.id).status is ObjectionStatus.ACCEPTED
    again = client.post(f"/objections/{objection.id}/decision", data={"decision": "dismiss", "confirmed": "1"},
                        follow_redirects=True)
    assert "这条公示异议已经处理过了" in again.get_data(as_text=True)


def test_an_admin_may_not_answer_an_objection_about_their_own_household(world, client, login):
    owner = world["households"][1]
    admin_at_home = factories.gen_villager(owner, username="v2")
    auth_services.assign_role(None, admin_at_home, Role.VILLAGE_ADMIN, world["village"].village)
    objection = Objection(village_id=world["village"].village.id, household_id=owner.id, month="2026-11",
                          objector_id=world["villager"].id, reason="不对")
    db.session.add(objection)
    db.session.commit()
    login(admin_at_home)
    assert "答复异议" not in client.get(f"/objections/{objection.id}").get_data(as_text=True)
    refused = client.post(f"/objections/{objection.id}/decision", data={"decision": "accept", "confirmed": "1"},
                          follow_redirects=True)
    assert "不能处理自己家的或自己提出的公示异议" in refused.get_data(as_text=True)


@pytest.mark.parametrize("number", ["99999999999999999999999", "0"])
def test_an_id_out_of_range_is_not_found_not_an_error(world, client, login, number):
    village_id = world["village"].village.id
    assert client.get(f"/villages/{village_id}/publicity?grid={number}").status_code == 404
    assert client.get(f"/villages/{village_id}/publicity/print?grid={number}").status_code == 404
    login(world["villager"])
    assert client.get(f"/villages/{village_id}/publicity/objection?month=2026-11&household={number}").status_code == 404
