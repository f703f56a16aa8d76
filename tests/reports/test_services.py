"""民情诉求 through its services: every transition, the refusals, points once, reversal on void, two at once."""
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth import services as auth_services
from points.auth.models import Role, User
from points.errors import DomainError, Forbidden
from points.extensions import db
from points.ledger.models import DutyRecord, EntrySource, LedgerEntry
from points.ledger.queries import balance_of
from points.messages.models import Message
from points.reports import services
from points.reports.models import Feedback, Report, ReportStatus, StepKind

from .. import factories
from ..ledger.helpers import assert_ledger_consistent
from .helpers import T0, file_report


def entries(source=EntrySource.REPORT) -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.source == source))


def told(user) -> list[Message]:
    return list(db.session.scalars(select(Message).where(Message.user_id == user.id).order_by(Message.id)))


def test_a_report_lands_with_its_grid_and_its_staff_are_told(world):
    report = file_report(world, photos=[factories.gen_photo()])
    assert (report.status, report.node_id, report.grid_id) == (ReportStatus.SUBMITTED, world["grid"].id,
                                                               world["grid"].id)
    assert report.household_id == world["home"].id and report.submitted_by_id == world["villager"].id
    assert report.landed_at == T0 and report.deadline_at == T0 + timedelta(hours=24)
    assert len(report.photos) == 1 and [s.kind for s in report.steps] == [StepKind.SUBMITTED]
    for staff in (world["worker"], world["leader"]):
        assert [m.link for m in told(staff)] == [f"/reports/{report.id}"]
    assert told(world["other_worker"]) == [] and told(world["villager"]) == []
    assert db.session.scalar(select(AuditEvent.action).where(
        AuditEvent.subject_type == "report", AuditEvent.subject_id == report.id)) == "report.submitted"


def test_an_empty_report_and_a_file_that_is_not_an_image_are_refused(world):
    with pytest.raises(DomainError) as refusal:
        file_report(world, text="  ")
    assert refusal.value.code == "report_empty" and "照片" in refusal.value.message
    with pytest.raises(DomainError) as refusal:
        file_report(world, photos=[b"not an image"])
    assert refusal.value.code == "not_an_image"
    with pytest.raises(DomainError) as refusal:
        file_report(world, photos=[factories.gen_photo()] * 4)
    assert refusal.value.code == "too_many_photos"
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Report)) == 0


def test_a_photo_alone_is_a_report(world):
    assert file_report(world, text="", photos=[factories.gen_photo()]).text == ""


def test_the_same_client_key_makes_one_report(world):
    first = file_report(world, client_key="k1")
    assert file_report(world, client_key="k1").id == first.id
    with pytest.raises(DomainError) as refusal:
        file_report(world, text="另一件事", client_key="k1")
    assert refusal.value.code == "idempotency_key_reused"


def test_a_worker_files_for_an_elder_of_their_grid_only(world):
    report = file_report(world, user=world["worker"], household_id=world["elder"].id)
    assert (report.household_id, report.submitted_by_id) == (world["elder"].id, world["worker"].id)
    assert report.steps[0].note == "代报"
    with pytest.raises(DomainError) as refusal:
        file_report(world, user=world["other_worker"], household_id=world["elder"].id)
    assert refusal.value.code == "report_household_unknown"
    with pytest.raises(DomainError) as refusal:
        file_report(world, user=world["worker"])
    assert refusal.value.code == "report_not_for_staff"


def test_acceptance_pays_the_reporter_once(world):
    report = file_report(world)
    services.accept_report(world["worker"], report.id, now=T0 + timedelta(hours=1))
    services.accept_report(world["worker"], report.id)  # the same again: unchanged
    db.session.commit()
    assert report.status is ReportStatus.ACCEPTED and report.handler_id == world["worker"].id
    assert report.due_at == T0 + timedelta(hours=1, days=3) and report.deadline_at == report.due_at
    assert entries() == 1 and balance_of(world["home"].id) == 5
    entry = db.session.get(LedgerEntry, report.reward_entry_id)
    assert entry.resident_id == world["villager"].resident_id and entry.idempotency_key == f"report:{report.id}"
    assert [m.link for m in told(world["villager"])] == [f"/reports/{report.id}"]
    with pytest.raises(DomainError) as refusal:
        services.accept_report(world["leader"], report.id)
    assert refusal.value.code == "report_already_handled"


def test_a_report_filed_by_a_worker_pays_the_elders_household_without_a_resident(world):
    report = file_report(world, user=world["worker"], household_id=world["elder"].id)
    with pytest.raises(DomainError) as refusal:
        services.accept_report(world["worker"], report.id)
    assert refusal.value.code == "own_report"
    services.accept_report(world["leader"], report.id)
    entry = db.session.get(LedgerEntry, report.reward_entry_id)
    assert entry.household_id == world["elder"].id and entry.resident_id is None


def test_only_the_grids_staff_decide_and_never_for_their_own_household(world):
    report = file_report(world)
    with pytest.raises(Forbidden):
        services.accept_report(world["other_worker"], report.id)
    with pytest.raises(Forbidden):
        services.accept_report(world["villager"], report.id)
    auth_services.assign_role(None, world["villager"], Role.GRID_WORKER, world["grid"])
    for_home = file_report(world, user=world["worker"], household_id=world["home"].id)
    with pytest.raises(DomainError) as refusal:
        services.accept_report(world["villager"], for_home.id)  # a worker of the household it is for
    assert refusal.value.code == "own_report"
    assert services.accept_report(world["admin"], report.id).status is ReportStatus.ACCEPTED


def test_rejection_needs_a_reason_and_pays_nothing(world):
    report = file_report(world)
    with pytest.raises(DomainError) as refusal:
        services.reject_report(world["worker"], report.id, " ")
    assert refusal.value.code == "report_reason_required"
    services.reject_report(world["worker"], report.id, "不属于村里管理的事项")
    assert services.reject_report(world["worker"], report.id, "不属于村里管理的事项", retry=True) is report
    db.session.commit()
    assert report.status is ReportStatus.REJECTED and report.reason == "不属于村里管理的事项"
    assert entries() == 0 and report.deadline_at is None
    assert len(told(world["villager"])) == 1
    with pytest.raises(DomainError):
        services.accept_report(world["leader"], report.id)


def test_progress_finish_in_time_and_satisfied_closes_it_with_duty_points(world):
    report = file_report(world)
    services.accept_report(world["worker"], report.id, now=T0 + timedelta(hours=1))
    with pytest.raises(DomainError) as refusal:
        services.add_progress(world["worker"], report.id, "", [], world["store"])
    assert refusal.value.code == "report_note_required"
    step = services.add_progress(world["worker"], report.id, "已联系电工", [factories.gen_photo()], world["store"],
                                 now=T0 + timedelta(hours=2))
    assert step.kind is StepKind.PROGRESS and len(step.photos) == 1
    with pytest.raises(DomainError) as refusal:
        services.finish_report(world["worker"], report.id, "", [], world["store"])
    assert refusal.value.code == "report_note_required"
    services.finish_report(world["worker"], report.id, "已换新灯泡", [factories.gen_photo()], world["store"],
                           now=T0 + timedelta(days=1))
    db.session.commit()
    assert report.status is ReportStatus.FINISHED and report.finished_at == T0 + timedelta(days=1)
    duty = db.session.scalar(select(DutyRecord).where(DutyRecord.idempotency_key == f"report:{report.id}:duty"))
    assert duty.worker_id == world["worker"].id and duty.amount == 3
    with pytest.raises(DomainError) as refusal:
        services.give_feedback(world["worker"], report.id, True)
    assert refusal.value.code == "report_not_yours"
    services.give_feedback(world["villager"], report.id, True, now=T0 + timedelta(days=2))
    db.session.commit()
    assert report.status is ReportStatus.CLOSED and report.feedback is Feedback.SATISFIED
    assert [s.kind for s in report.steps] == [StepKind.SUBMITTED, StepKind.ACCEPTED, StepKind.PROGRESS,
                                              StepKind.FINISHED, StepKind.FEEDBACK]
    assert len(told(world["villager"])) == 2  # accepted, finished


def test_finished_late_earns_no_duty_points(world):
    report = file_report(world)
    services.accept_report(world["worker"], report.id, now=T0)
    services.finish_report(world["worker"], report.id, "已处理", [], world["store"], now=T0 + timedelta(days=4))
    assert db.session.scalar(select(func.count()).select_from(DutyRecord)) == 0


def test_unsatisfied_reopens_it_with_a_new_due_time_and_tells_the_staff(world):
    report = file_report(world)
    services.accept_report(world["worker"], report.id, now=T0)
    services.finish_report(world["worker"], report.id, "已处理", [], world["store"], now=T0 + timedelta(days=1))
    with pytest.raises(DomainError) as refusal:
        services.give_feedback(world["villager"], report.id, False, "")
    assert refusal.value.code == "report_reason_required"
    before = len(told(world["leader"]))
    services.give_feedback(world["villager"], report.id, False, "灯还是不亮", now=T0 + timedelta(days=2))
    db.session.commit()
    assert report.status is ReportStatus.ACCEPTED and report.feedback is Feedback.UNSATISFIED
    assert report.due_at == T0 + timedelta(days=5) and report.finished_at is None
    assert len(told(world["leader"])) == before + 1 and told(world["worker"])[-1].text.find("不满意") >= 0
    services.finish_report(world["leader"], report.id, "换了线路", [], world["store"], now=T0 + timedelta(days=3))
    services.give_feedback(world["villager"], report.id, True, now=T0 + timedelta(days=3, hours=1))
    assert report.status is ReportStatus.CLOSED and entries() == 1


def test_the_worker_who_filed_for_an_elder_gives_the_feedback(world):
    report = file_report(world, user=world["worker"], household_id=world["elder"].id)
    services.accept_report(world["leader"], report.id)
    services.finish_report(world["leader"], report.id, "已处理", [], world["store"])
    services.give_feedback(world["worker"], report.id, True)
    assert report.status is ReportStatus.CLOSED


def test_voiding_takes_back_the_points_of_reporter_and_handler(world):
    report = file_report(world)
    services.accept_report(world["worker"], report.id, now=T0)
    services.finish_report(world["worker"], report.id, "已处理", [], world["store"], now=T0 + timedelta(hours=5))
    db.session.commit()
    assert balance_of(world["home"].id) == 5
    with pytest.raises(Forbidden):
        services.void_report(world["leader"], report.id, "重复反映")
    with pytest.raises(DomainError) as refusal:
        services.void_report(world["admin"], report.id, "")
    assert refusal.value.code == "report_reason_required"
    services.void_report(world["admin"], report.id, "经核实为重复反映")
    db.session.commit()
    assert report.status is ReportStatus.VOIDED and balance_of(world["home"].id) == 0
    assert db.session.scalar(select(func.sum(DutyRecord.amount))) == 0
    with pytest.raises(DomainError) as refusal:
        services.void_report(world["admin"], report.id, "再撤销一次")
    assert refusal.value.code == "report_already_handled"
    assert_ledger_consistent(world["home"].id)


def test_a_submitted_report_cannot_be_voided(world):
    report = file_report(world)
    with pytest.raises(DomainError) as refusal:
        services.void_report(world["admin"], report.id, "无效")
    assert refusal.value.code == "report_already_handled"


def test_no_reward_rule_means_no_points_but_the_report_goes_on(world):
    from points.reports import settings
    settings.update_settings(world["admin"], world["village"].village, 24, 3, None, None)
    report = file_report(world)
    services.accept_report(world["worker"], report.id)
    assert report.reward_entry_id is None and entries() == 0


def test_the_reward_rules_cap_stops_the_points_not_the_acceptance(world):
    ids = [file_report(world, text=f"第{i}件", now=T0).id for i in range(4)]
    for report_id in ids:
        services.accept_report(world["worker"], report_id, now=T0 + timedelta(hours=1))
    db.session.commit()
    assert entries() == 3 and balance_of(world["home"].id) == 15
    assert all(db.session.get(Report, i).status is ReportStatus.ACCEPTED for i in ids)


def test_messages_name_no_household_or_address(world):
    report = file_report(world, user=world["worker"], household_id=world["elder"].id)
    services.accept_report(world["leader"], report.id)
    services.finish_report(world["leader"], report.id, "已处理", [], world["store"])
    services.give_feedback(world["worker"], report.id, False, "没修好")
    for message in db.session.scalars(select(Message)):
        assert "李老伯" not in message.text and world["elder"].address not in message.text
        assert world["elder"].number not in message.text


def _in_thread(app, action, user_id, report_id):
    with app.app_context():
        user = db.session.get(User, user_id)
        try:
            action(user, report_id)
            db.session.commit()
            return "ok"
        except DomainError as refusal:
            db.session.rollback()
            return refusal.code


def test_two_workers_accepting_at_once_leave_one_acceptance(app, world):
    report_id = file_report(world).id
    actions = [(services.accept_report, world["worker"].id), (services.accept_report, world["leader"].id)]
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda a: _in_thread(app, a[0], a[1], report_id), actions * 3))
    db.session.expire_all()
    report = db.session.get(Report, report_id)
    assert report.status is ReportStatus.ACCEPTED and entries() == 1
    assert outcomes.count("ok") >= 1 and "report_already_handled" in outcomes
    accepted = [s for s in report.steps if s.kind is StepKind.ACCEPTED]
    assert len(accepted) == 1 and accepted[0].actor_id == report.handler_id
    assert_ledger_consistent(world["home"].id)


def test_accept_and_reject_at_once_leave_one_decision(app, world):
    report_id = file_report(world).id
    actions = [(services.accept_report, world["worker"].id),
               (lambda u, r: services.reject_report(u, r, "不属实"), world["leader"].id)]
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda a: _in_thread(app, a[0], a[1], report_id), actions * 3))
    db.session.expire_all()
    report = db.session.get(Report, report_id)
    assert (report.status is ReportStatus.ACCEPTED) == (entries() == 1)
    assert "report_already_handled" in outcomes


def test_voiding_takes_back_points_the_household_spent_already(world):
    """A correction of a decided result: the reward spent at the shop is taken back all the same, below zero."""
    from points.shop import services as shop

    report = file_report(world)
    services.accept_report(world["worker"], report.id, now=T0)
    product = factories.gen_product(factories.gen_shop(world["village"].village), price=5)
    shop.redeem(world["admin"], product.shop, [(product.id, 1)], household_id=world["home"].id)
    db.session.commit()
    assert balance_of(world["home"].id) == 0
    services.void_report(world["admin"], report.id, "经核实为重复反映")
    db.session.commit()
    assert report.status is ReportStatus.VOIDED and balance_of(world["home"].id) == -5
    assert_ledger_consistent(world["home"].id)


def test_voiding_skips_a_reward_an_admin_reversed_by_hand_and_still_takes_back_the_duty(world):
    from points.ledger import services as ledger

    report = file_report(world)
    services.accept_report(world["worker"], report.id, now=T0)
    services.finish_report(world["worker"], report.id, "已处理", [], world["store"], now=T0 + timedelta(hours=5))
    ledger.reverse_by_admin(world["admin"], report.reward_entry_id, "by-hand-1", "误记")
    db.session.commit()
    assert balance_of(world["home"].id) == 0
    services.void_report(world["admin"], report.id, "经核实为重复反映")
    db.session.commit()
    assert report.status is ReportStatus.VOIDED and balance_of(world["home"].id) == 0
    assert db.session.scalar(select(func.sum(DutyRecord.amount))) == 0
    assert entries(EntrySource.REVERSAL) == 1  # the admin's own; none more


def test_accepting_again_with_a_key_after_it_moved_on_returns_it_to_its_handler_only(world):
    report = file_report(world)
    services.accept_report(world["worker"], report.id, now=T0)
    services.finish_report(world["worker"], report.id, "已处理", [], world["store"], now=T0 + timedelta(hours=5))
    assert services.accept_report(world["worker"], report.id, retry=True) is report
    assert report.status is ReportStatus.FINISHED and entries() == 1
    with pytest.raises(DomainError) as refusal:
        services.accept_report(world["worker"], report.id)  # no key: a new request, too late
    assert refusal.value.code == "report_already_handled"
    with pytest.raises(DomainError) as refusal:
        services.accept_report(world["leader"], report.id, retry=True)  # they did not accept it
    assert refusal.value.code == "report_already_handled"
    rejected = file_report(world, text="第二件")
    services.reject_report(world["worker"], rejected.id, "不属实")
    with pytest.raises(DomainError) as refusal:
        services.accept_report(world["worker"], rejected.id, retry=True)  # its handler, who rejected it
    assert refusal.value.code == "report_already_handled"


def test_a_worker_who_filed_for_a_household_with_an_account_leaves_the_feedback_to_it(world):
    report = file_report(world, user=world["worker"], household_id=world["home"].id)
    services.accept_report(world["leader"], report.id)
    services.finish_report(world["leader"], report.id, "已处理", [], world["store"])
    assert not services.may_give_feedback(world["worker"], report)
    with pytest.raises(DomainError) as refusal:
        services.give_feedback(world["worker"], report.id, True)
    assert refusal.value.code == "report_feedback_by_household" and "村民本人" in refusal.value.message
    services.give_feedback(world["villager"], report.id, True)
    assert report.status is ReportStatus.CLOSED


def test_a_worker_acting_in_english_tells_the_villager_in_chinese(world, app):
    report = file_report(world)
    for ask in ({"headers": {"Accept-Language": "en"}}, {"query_string": {"lang": "en"}}):
        with app.test_request_context("/reports", **ask):
            from flask_babel import gettext
            assert gettext("已受理，请在期限内办结") != "已受理，请在期限内办结"  # the request is in English
            if report.status is ReportStatus.SUBMITTED:
                services.accept_report(world["worker"], report.id, now=T0)
            else:
                services.finish_report(world["worker"], report.id, "已处理", [], world["store"], now=T0)
    texts = [m.text for m in told(world["villager"])]
    assert texts == ["您反映的问题（路灯 · 村口）已受理，网格员会尽快处理",
                     "您反映的问题（路灯 · 村口）已办结，请看看处理得怎么样并评价"]
    with app.test_request_context("/reports", headers={"Accept-Language": "en"}):
        services.give_feedback(world["villager"], report.id, False, "灯还是不亮", now=T0)
    assert told(world["leader"])[-1].text == "有一条民情诉求（路灯）反映人不满意，已重新打开，请再处理"
