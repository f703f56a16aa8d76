"""民情诉求 through the pages: a villager reports with a photo, the grid's staff accept and finish it, the villager
answers; 代报, void with its confirmation, the settings and the public counts."""
import io

import pytest
from sqlalchemy import select

from points.extensions import db
from points.ledger.queries import balance_of
from points.reports import services
from points.reports.models import Report, ReportCategory, ReportSettings, ReportStatus

from .. import factories
from ..reports.helpers import build_world, file_report


@pytest.fixture
def world(village, tmp_path):
    return build_world(village, tmp_path)


def report_data(world, photos=(), **values):
    data = dict(category="路灯", text="村口路灯坏了", place="村口", key="a" * 32,
                photos=[(io.BytesIO(p), f"p{i}.jpg") for i, p in enumerate(photos)])
    data.update(values)
    return data


def test_report_accept_finish_and_satisfied(world, client, login):
    login(world["villager"])
    page = client.get("/reports/new", follow_redirects=True).get_data(as_text=True)
    assert "路灯" in page and "户号" not in page
    response = client.post("/reports/new", data=report_data(world, [factories.gen_photo()]),
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    report = db.session.scalar(select(Report))
    assert client.get(f"/reports/{report.id}/photos/1").mimetype == "image/jpeg"
    assert client.get(f"/reports/{report.id}/photos/1/small").status_code == 200
    assert "村口路灯坏了" in client.get("/reports").get_data(as_text=True)

    login(world["other_worker"])
    assert client.get(f"/reports/{report.id}").status_code == 403
    assert client.get(f"/reports/{report.id}/photos/1").status_code == 403
    assert client.post(f"/reports/{report.id}/accept").status_code == 403

    login(world["worker"])
    page = client.get(f"/reports/{report.id}").get_data(as_text=True)
    assert "受理" in page and world["home"].number in page
    assert client.post(f"/reports/{report.id}/accept").status_code == 302
    assert client.post(f"/reports/{report.id}/finish", data={"note": "已换灯泡",
                                                             "photos": [(io.BytesIO(factories.gen_photo()), "a.jpg")]},
                       content_type="multipart/form-data").status_code == 302
    db.session.expire_all()
    report = db.session.get(Report, report.id)
    assert report.status is ReportStatus.FINISHED and balance_of(world["home"].id) == 5
    step = report.steps[-1]
    assert client.get(f"/reports/{report.id}/steps/{step.id}/photos/1/small").status_code == 200

    login(world["villager"])
    page = client.get(f"/reports/{report.id}").get_data(as_text=True)
    assert "回访评价" in page and world["worker"].display_name not in page and "网格员" in page
    assert client.get(f"/reports/{report.id}/steps/{step.id}/photos/1").status_code == 200
    client.post(f"/reports/{report.id}/feedback", data={"satisfied": "no", "reason": ""})
    db.session.expire_all()
    assert db.session.get(Report, report.id).status is ReportStatus.FINISHED  # no reason: refused
    assert "请填写理由" in client.get(f"/reports/{report.id}").get_data(as_text=True)
    client.post(f"/reports/{report.id}/feedback", data={"satisfied": "yes"})
    db.session.expire_all()
    assert db.session.get(Report, report.id).status is ReportStatus.CLOSED


def test_an_empty_report_is_refused_on_the_form(world, client, login):
    login(world["villager"])
    response = client.post("/reports/new", data=report_data(world, text=""), content_type="multipart/form-data")
    assert response.status_code == 422 and "请写一句话说明问题，或拍一张照片" in response.get_data(as_text=True)
    response = client.post("/reports/new", data=report_data(world, [b"<html>"]), content_type="multipart/form-data")
    assert response.status_code == 422 and "只能上传" in response.get_data(as_text=True)


def test_a_worker_reports_for_an_elder_by_household_number(world, client, login):
    login(world["worker"])
    page = client.get("/reports/new", follow_redirects=True).get_data(as_text=True)
    assert "户号" in page
    response = client.post("/reports/new", data=report_data(world, household_number="no-such"),
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "找不到这个户号" in response.get_data(as_text=True)
    response = client.post("/reports/new", data=report_data(world, household_number=world["elder"].number),
                           content_type="multipart/form-data")
    assert response.status_code == 302
    report = db.session.scalar(select(Report))
    assert report.household_id == world["elder"].id and report.submitted_by_id == world["worker"].id
    assert "不予受理" not in client.get(f"/reports/{report.id}").get_data(as_text=True)  # not their own to decide


def test_staff_tabs(world, client, login):
    report = file_report(world)
    services.accept_report(world["worker"], report.id)
    file_report(world, text="第二件")
    db.session.commit()
    login(world["worker"])
    assert client.get("/reports?tab=mine").get_data(as_text=True).count('class="row"') == 1
    assert client.get("/reports?tab=grid").get_data(as_text=True).count('class="row"') == 2
    assert client.get("/reports?tab=overdue").get_data(as_text=True).count('class="row"') == 1  # waiting since T0
    login(world["other_worker"])
    assert client.get("/reports?tab=grid").get_data(as_text=True).count('class="row"') == 0


def test_void_asks_first_naming_the_points(world, client, login):
    report = file_report(world)
    services.accept_report(world["worker"], report.id)
    db.session.commit()
    login(world["admin"])
    page = client.post(f"/reports/{report.id}/void", data={"reason": "重复反映"}).get_data(as_text=True)
    assert "确认撤销" in page and "5 分" in page
    db.session.expire_all()
    assert db.session.get(Report, report.id).status is ReportStatus.ACCEPTED
    client.post(f"/reports/{report.id}/void", data={"reason": "重复反映", "confirmed": "1"})
    db.session.expire_all()
    assert db.session.get(Report, report.id).status is ReportStatus.VOIDED and balance_of(world["home"].id) == 0


def test_settings_page(world, client, login):
    village = world["village"].village
    login(world["worker"])
    assert client.get(f"/villages/{village.id}/report-settings").status_code == 403
    login(world["admin"])
    page = client.get(f"/villages/{village.id}/report-settings").get_data(as_text=True)
    assert "反映安全隐患" in page and "及时办结民情诉求" in page
    response = client.post(f"/villages/{village.id}/report-settings", data={
        "accept_hours": 12, "finish_days": 5, "reward_rule_id": world["reward"].id, "duty_rule_id": 0,
        "name-路灯": "路灯照明", "retire": "其他", "new_category": "河道"})
    assert response.status_code == 302, response.get_data(as_text=True)
    saved = db.session.get(ReportSettings, village.id)
    assert (saved.accept_hours, saved.finish_days, saved.duty_rule_id) == (12, 5, None)
    names = {c.name: c.retired_at is None for c in db.session.scalars(select(ReportCategory))}
    assert names["路灯照明"] and names["河道"] and not names["其他"]


def test_public_counts_need_no_login_and_show_numbers_only(world, client):
    report = file_report(world, user=world["worker"], household_id=world["elder"].id)
    services.accept_report(world["leader"], report.id)
    services.finish_report(world["leader"], report.id, "已处理", [], world["store"])
    file_report(world)
    db.session.commit()
    page = client.get(f"/villages/{world['village'].village.id}/reports/public").get_data(as_text=True)
    assert world["grid"].name in page
    for private in ("李老伯", "张三明", world["elder"].number, world["elder"].address, "村口", "路灯坏了"):
        assert private not in page
    assert client.get(f"/villages/{world['grid'].id}/reports/public").status_code == 404


def test_the_worker_who_filed_gives_the_feedback_only_for_a_household_without_an_account(world, client, login):
    for_home = file_report(world, user=world["worker"], household_id=world["home"].id)
    for_elder = file_report(world, user=world["worker"], household_id=world["elder"].id, text="后墙有裂缝")
    for report in (for_home, for_elder):
        services.accept_report(world["leader"], report.id)
        services.finish_report(world["leader"], report.id, "已处理", [], world["store"])
    db.session.commit()
    login(world["worker"])
    page = client.get(f"/reports/{for_home.id}").get_data(as_text=True)
    assert "提交评价" not in page and "由村民本人回访评价" in page
    refused = client.post(f"/reports/{for_home.id}/feedback", data={"satisfied": "yes"})
    assert refused.status_code == 403 and "这户有村民账号，请由村民本人评价" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Report, for_home.id).status is ReportStatus.FINISHED
    page = client.get(f"/reports/{for_elder.id}").get_data(as_text=True)
    assert "提交评价" in page and "由村民本人回访评价" not in page
    client.post(f"/reports/{for_elder.id}/feedback", data={"satisfied": "yes"})
    login(world["villager"])
    assert "提交评价" in client.get(f"/reports/{for_home.id}").get_data(as_text=True)
    client.post(f"/reports/{for_home.id}/feedback", data={"satisfied": "yes"})
    db.session.expire_all()
    assert {db.session.get(Report, r.id).status for r in (for_home, for_elder)} == {ReportStatus.CLOSED}


def test_a_town_admin_chooses_the_village_of_a_report_it_files(world, client, login):
    from points.auth.models import Role
    from points.reports import settings

    other = factories.gen_village(town=world["village"].town)
    settings.save_categories(world["admin"], world["village"].village, {}, set(), ["河道"])
    far_home = factories.gen_household(other.grids[0])
    town_admin = factories.gen_user(Role.TOWN_ADMIN, world["village"].town)
    login(town_admin)
    page = client.get("/reports/new", follow_redirects=True).get_data(as_text=True)
    assert "替哪个村反映" in page and other.village.name in page and 'name="category"' not in page
    response = client.post("/reports/new", data=report_data(world, household_number=world["elder"].number),
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "请先选择替哪个村反映" in response.get_data(as_text=True)

    page = client.get(f"/reports/new?village={other.village.id}", follow_redirects=True).get_data(as_text=True)
    assert 'name="category"' in page and "河道" not in page  # the other village's own (default) categories
    response = client.post("/reports/new", data=report_data(world, village=other.village.id,
                                                            household_number=world["elder"].number),
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "找不到这个户号" in response.get_data(as_text=True)  # not in that village

    page = client.get(f"/reports/new?village={world['village'].village.id}", follow_redirects=True)
    assert "河道" in page.get_data(as_text=True)
    response = client.post("/reports/new", data=report_data(world, village=world["village"].village.id,
                                                            household_number=world["elder"].number,
                                                            category="河道", key="b" * 32),
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    response = client.post("/reports/new", data=report_data(world, village=other.village.id, key="c" * 32,
                                                            household_number=far_home.number),
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    reports = {r.household_id: r for r in db.session.scalars(select(Report))}
    assert reports[world["elder"].id].category.name == "河道"
    assert reports[far_home.id].village_id == other.village.id and reports[far_home.id].category.name == "路灯"
