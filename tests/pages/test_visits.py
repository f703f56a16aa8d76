"""Pages of 走访: the due list and my visits, logging a visit from the household page (with a photo), a visit and its
photo, the village's settings, the 履职 ranking; every refusal said in Chinese."""
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from points.extensions import db
from points.ledger.models import LedgerEntry
from points.people.models import CareTag
from points.timeutil import local_today
from points.visits.models import Unearned, Visit, VisitCadence, VisitSettings

from .. import factories
from ..visits.helpers import build


@pytest.fixture
def world(village):
    return build(village)


def _visit_data(**extra) -> dict:
    data = {"visited_on": local_today().isoformat(), "kind": "care", "note": "老人身体很好", "key": "a" * 32}
    data.update(extra)
    return data


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Visit))


def test_a_worker_logs_a_visit_with_a_photo_from_the_household_page(world, client, login):
    login(world.worker)
    page = client.get(f"/households/{world.elder.id}").get_data(as_text=True)
    assert f"/households/{world.elder.id}/visits/new" in page and "记走访" in page
    form = client.get(f"/households/{world.elder.id}/visits/new", follow_redirects=True)
    assert form.status_code == 200 and "data-shrink" in form.get_data(as_text=True)
    response = client.post(f"/households/{world.elder.id}/visits/new",
                           data=_visit_data(photo=(io.BytesIO(factories.gen_photo()), "a.jpg")),
                           content_type="multipart/form-data", follow_redirects=True)
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "走访已记录，履职积分 +2 分" in text and "老人身体很好" in text
    visit = db.session.scalar(select(Visit))
    assert visit.photo_filename
    assert client.get(f"/visits/{visit.id}/photo").mimetype == "image/jpeg"
    assert client.get(f"/visits/{visit.id}/photo/small").status_code == 200
    # the same form sent again (a double tap) logs nothing more
    client.post(f"/households/{world.elder.id}/visits/new", data=_visit_data(), content_type="multipart/form-data")
    assert _count() == 1
    mine = client.get("/visits?tab=mine").get_data(as_text=True)
    assert world.elder.number in mine and "关爱走访" in mine

    login(world.other_worker)
    for url in (f"/visits/{visit.id}", f"/visits/{visit.id}/photo"):
        assert client.get(url).status_code == 403


def test_the_page_says_why_a_visit_earned_no_points(village, client, login):
    world = build(village, rule=False)
    login(world.worker)
    response = client.post(f"/households/{world.plain.id}/visits/new", data=_visit_data(),
                           follow_redirects=True)
    assert "本次没有履职积分：村里还没有设置走访的履职积分细则" in response.get_data(as_text=True)


def test_refusals_are_said_on_the_page_and_write_nothing(world, client, login):
    login(world.worker)
    outside = client.get(f"/households/{world.across.id}/visits/new")
    assert outside.status_code == 403 and "不在您负责的网格" in outside.get_data(as_text=True)
    not_image = client.post(f"/households/{world.plain.id}/visits/new",
                            data=_visit_data(photo=(io.BytesIO(b"not a photo"), "a.jpg")),
                            content_type="multipart/form-data")
    assert not_image.status_code == 422 and "只能上传 JPEG" in not_image.get_data(as_text=True)
    future = client.post(f"/households/{world.plain.id}/visits/new",
                         data=_visit_data(visited_on=(local_today() + timedelta(days=1)).isoformat()))
    assert future.status_code == 422 and "不能晚于今天" in future.get_data(as_text=True)
    login(world.worker_at_home)
    assert "记走访" not in client.get(f"/households/{world.home.id}").get_data(as_text=True)
    assert "不能给自己家记录走访" in client.get(f"/households/{world.home.id}/visits/new?key={'a' * 32}").get_data(
        as_text=True)
    own = client.post(f"/households/{world.home.id}/visits/new", data=_visit_data())
    assert own.status_code == 403 and "不能给自己家记录走访" in own.get_data(as_text=True)
    assert _count() == 0


def test_the_due_list_shows_overdue_care_households_first(world, client, login):
    login(world.worker)
    page = client.get("/visits").get_data(as_text=True)
    assert "已超期（4 户）" in page
    assert page.index(world.elder.number) < page.index(world.plain.number)
    assert "空巢老人" in page and world.across.number not in page


def test_villagers_and_clerks_are_told_the_pages_are_for_grid_staff(world, client, login):
    login(world.villager)
    response = client.get("/visits")
    assert response.status_code == 403 and "网格工作只对" in response.get_data(as_text=True)
    assert "记走访" not in client.get(f"/households/{world.plain.id}").get_data(as_text=True)
    assert client.get(f"/households/{world.plain.id}/visits/new").status_code == 403


def test_the_village_settings(world, client, login):
    url = f"/villages/{world.village.village.id}/visit-settings"
    login(world.worker)
    assert client.get(url).status_code == 403
    login(world.admin)
    page = client.get(url).get_data(as_text=True)
    assert "走访（每次 +2 分）" in page and 'value="14"' in page
    response = client.post(url, data={"rule_id": "0", "knock_days": "60", "days-empty_nest": "7",
                                      "days-disabled": "30", "days-low_income": ""}, follow_redirects=True)
    assert "走访设置已保存" in response.get_data(as_text=True)
    saved = db.session.get(VisitSettings, world.village.village.id)
    assert (saved.rule_id, saved.knock_days) == (None, 60)
    assert {c.tag: c.days for c in db.session.scalars(select(VisitCadence))} == {
        CareTag.EMPTY_NEST: 7, CareTag.DISABLED: 30}
    bad = client.post(url, data={"rule_id": "0", "knock_days": "30", "days-empty_nest": "999"})
    assert bad.status_code == 422 and "0 到 366" in bad.get_data(as_text=True)


def test_the_duty_ranking_is_for_admins_and_the_villages_grid_staff(world, client, login):
    login(world.worker)
    client.post(f"/households/{world.plain.id}/visits/new", data=_visit_data())
    month = local_today().strftime("%Y-%m")
    url = f"/duty?node={world.village.village.id}&month={month}"
    for user in (world.admin, world.worker, world.other_worker):
        login(user)
        page = client.get(url)
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert world.worker.display_name in text and "走访 1 次" in text and f"{local_today().month}月" in text
    town_admin = factories.gen_user(factories.Role.TOWN_ADMIN, world.village.town)
    login(town_admin)
    town_page = client.get(f"/duty?node={world.village.town.id}")
    assert town_page.status_code == 200
    assert f'<option value="{world.village.village.id}">{world.village.village.name}</option>' in town_page.get_data(
        as_text=True)  # the town's villages to choose from
    assert client.get("/duty").status_code == 200
    login(world.worker)
    assert client.get(f"/duty?node={world.village.town.id}").status_code == 403
    assert "月份格式" in client.get(f"/duty?node={world.village.village.id}&month=2026-13",
                                     follow_redirects=True).get_data(as_text=True)
    login(world.villager)
    assert client.get(url).status_code == 403


def test_a_second_visit_the_same_day_is_logged_and_says_why_it_earned_nothing(world, client, login):
    login(world.worker)
    first = client.post(f"/households/{world.plain.id}/visits/new", data=_visit_data(), follow_redirects=True)
    assert "走访已记录，履职积分 +2 分" in first.get_data(as_text=True)
    again = client.post(f"/households/{world.plain.id}/visits/new", data=_visit_data(key="b" * 32),
                        follow_redirects=True)
    text = again.get_data(as_text=True)
    assert "本次没有履职积分：当天已走访过这一户，同一户每天只计一次履职积分" in text
    assert "未记分：当天已走访过这一户" in text  # the visit's own page
    assert _count() == 2
    assert "走访 1 次" in client.get(f"/duty?node={world.village.village.id}").get_data(as_text=True)


def test_a_visit_back_dated_into_an_ended_month_says_why_it_earned_nothing(world, client, login, monkeypatch):
    monkeypatch.setattr("points.visits.services.local_today", lambda: date(2026, 6, 15))
    login(world.worker)
    response = client.post(f"/households/{world.plain.id}/visits/new", data=_visit_data(visited_on="2026-05-31"),
                           follow_redirects=True)
    assert "本次没有履职积分：走访日期不在本月，补记以前月份的走访不计履职积分" in response.get_data(as_text=True)
    assert db.session.scalar(select(Visit)).unearned is Unearned.PAST_MONTH


def test_the_ledger_note_is_in_the_villages_language_when_the_worker_reads_english(world, client, login):
    login(world.worker_at_home)
    client.post(f"/households/{world.plain.id}/visits/new?lang=en", data=_visit_data(),
                headers={"Accept-Language": "en"})
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.household_id == world.home.id))
    assert entry.amount == 2 and entry.note == "走访"


@pytest.mark.parametrize("url", ["/visits?tab=mine&page=99999999999999999999", "/visits?tab=mine&page=-5",
                                 "/visits?tab=mine&page=1000001"])
def test_an_absurd_page_is_an_empty_page(world, client, login, url):
    login(world.worker)
    response = client.get(url)
    assert response.status_code == 200 and "还没有走访记录" in response.get_data(as_text=True)


@pytest.mark.parametrize("node", ["99999999999999999999", "2147483648", "0", "-1"])
def test_an_absurd_ranking_node_is_not_found(world, client, login, node):
    login(world.admin)
    assert client.get(f"/duty?node={node}").status_code == 404
