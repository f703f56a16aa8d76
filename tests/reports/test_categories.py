"""A village's categories of 民情诉求: offered by name without being stored (no GET writes: a GET is rolled back, so
ids it flushed would be gone by the POST on PostgreSQL), stored with the village's first report, once even when two
first reports race."""
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from points.auth.models import User
from points.errors import DomainError
from points.extensions import db
from points.reports import services, settings
from points.reports.models import DEFAULT_CATEGORIES, Report, ReportCategory

from .. import factories
from .helpers import file_report


def stored() -> int:
    return db.session.scalar(select(func.count()).select_from(ReportCategory))


def test_a_fresh_village_offers_the_defaults_unsaved(world):
    offered = settings.categories(world["village"].village.id)
    assert [c.name for c in offered] == list(DEFAULT_CATEGORIES) and {c.id for c in offered} == {None}
    db.session.flush()
    assert stored() == 0


def test_the_first_report_stores_the_defaults_and_names_its_category(world):
    report = file_report(world, category="道路")
    assert report.category.name == "道路" and stored() == len(DEFAULT_CATEGORIES)
    again = file_report(world, category="道路")
    assert again.category_id == report.category_id and stored() == len(DEFAULT_CATEGORIES)
    by_id = file_report(world, category=report.category_id)  # a stored one's id still works (the API's category_id)
    assert by_id.category_id == report.category_id


def test_an_unknown_or_retired_category_is_refused_and_a_refusal_stores_nothing(world):
    with pytest.raises(DomainError) as refusal:
        file_report(world, category="下水道")
    assert refusal.value.code == "report_category_invalid" and stored() == 0
    with pytest.raises(DomainError) as refusal:
        file_report(world, text="", category="路灯")
    assert refusal.value.code == "report_empty" and stored() == 0
    with pytest.raises(DomainError):
        file_report(world, category=12345)
    settings.save_categories(world["admin"], world["village"].village, {}, {"其他"}, [])
    with pytest.raises(DomainError) as refusal:
        file_report(world, category="其他")
    assert refusal.value.code == "report_category_invalid"


def test_reading_the_form_and_the_settings_writes_nothing(world, client, login, statements):
    village_id = world["village"].village.id
    login(world["villager"])
    statements.clear()
    assert "路灯" in client.get("/reports/new", follow_redirects=True).get_data(as_text=True)
    login(world["admin"])
    statements.clear()
    assert "路灯" in client.get(f"/villages/{village_id}/report-settings").get_data(as_text=True)
    assert not [s for s in statements.summary() if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert stored() == 0


def test_a_fresh_villages_first_report_through_the_page(world, client, login):
    """The choice the form offers on a GET is still good on the POST after the GET's transaction is gone (on
    PostgreSQL, ids flushed and rolled back are not handed out again)."""
    login(world["villager"])
    page = client.get("/reports/new", follow_redirects=True).get_data(as_text=True)
    value = re.search(r'<option value="([^"]*)">路灯</option>', page).group(1)
    key = re.search(r'name="key" type="hidden" value="([0-9a-f]{32})"', page).group(1)
    db.session.rollback()  # what the end of the GET request does to anything it flushed
    response = client.post("/reports/new", data={"category": value, "text": "村口路灯坏了", "place": "村口",
                                                 "key": key}, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    report = db.session.scalar(select(Report))
    assert report.category.name == "路灯" and stored() == len(DEFAULT_CATEGORIES)


def _first_report(app, user_id: int, key: str) -> str:
    with app.app_context():
        user = db.session.get(User, user_id)
        try:
            services.submit_report(user, "路灯", "路灯坏了", [], services.PhotoStore("", 0), client_key=key)
            db.session.commit()
            return "ok"
        except DomainError as refusal:
            db.session.rollback()
            return refusal.code


def test_two_first_reports_at_once_store_one_set(app, world):
    neighbour = factories.gen_villager(factories.gen_household(world["grid"]))
    db.session.commit()
    users = [world["villager"].id, neighbour.id]
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda i: _first_report(app, users[i % 2], f"k{i}"), range(2)))
    assert outcomes == ["ok", "ok"]
    db.session.expire_all()
    assert stored() == len(DEFAULT_CATEGORIES)
    assert len({r.category_id for r in db.session.scalars(select(Report))}) == 1
