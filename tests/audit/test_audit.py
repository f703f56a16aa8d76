"""The audit log: every change to points, rules, roles and households leaves who, when, what, before and after;
the log page filters and keeps to the reader's scope."""
import dataclasses
from datetime import date

from sqlalchemy import select

from points.audit.models import AuditEvent
from points.auth import services as auth_services
from points.auth.models import Role
from points.extensions import db
from points.ledger.services import apply_rule, reverse_entry
from points.rules.services import RuleTerms, revise_rule

from .. import factories


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_points_leave_balance_before_and_after(village):
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    home = factories.gen_household(village.grids[0])
    rule = factories.gen_rule(village.village, "参加会议", 2)
    entry = apply_rule(worker, home.id, rule.id, "k1", note="会议")
    apply_rule(worker, home.id, rule.id, "k1", note="会议")  # a retry is not a second change
    reverse_entry(entry.id, "k2", worker)
    posted, reversed_ = events("entry.posted"), events("entry.reversed")
    assert len(posted) == 1 and len(reversed_) == 1
    assert posted[0].actor_id == worker.id and posted[0].node_id == village.grids[0].id
    assert posted[0].before == {"balance": 0} and posted[0].after["balance"] == 2
    assert posted[0].after["rule"] == "参加会议" and posted[0].after["note"] == "会议"
    assert reversed_[0].before == {"balance": 2} and reversed_[0].after["reverses"] == entry.id


def test_a_rule_revision_keeps_the_old_and_new_terms(village):
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    rule = factories.gen_rule(village.village, "乱堆乱放", -10)
    revise_rule(rule, dataclasses.replace(RuleTerms.of(rule.versions[0]), points=-20), date(2026, 6, 1), admin)
    revised = events("rule.revised")[0]
    assert revised.before["points"] == -10 and revised.after["points"] == -20 and revised.after["version"] == 2
    assert revised.actor_id == admin.id and revised.node_id == village.village.id


def test_roles_and_households_are_recorded_without_personal_numbers(village):
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    user = factories.gen_user()
    assignment = auth_services.assign_role(admin, user, Role.GRID_WORKER, village.grids[1])
    auth_services.revoke_role(admin, assignment)
    assert events("role.assigned")[-1].after["role"] == "grid_worker"
    assert events("role.revoked")[0].before["node"] == village.grids[1].name
    factories.gen_household(village.grids[0], head_name="王五", phone="13912345678",
                            id_number=factories.gen_id_number())
    created = events("household.created")[0]
    assert created.after["head"] == "王五"
    assert "13912345678" not in str(created.after) and "phone" not in created.after


def test_the_log_page_filters_and_keeps_to_the_scope(village, client, login):
    other = factories.gen_village()
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village, username="cunwei")
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0], username="worker")
    here = factories.gen_household(village.grids[0], head_name="本村户")
    there = factories.gen_household(other.grids[0], head_name="外村户")
    rule = factories.gen_rule(village.village, "参加会议", 2)
    apply_rule(worker, here.id, rule.id, "k")
    login(admin)
    page = client.get("/audit").get_data(as_text=True)
    assert "本村户" in page and "外村户" not in page
    filtered = client.get("/audit?action=entry.posted&actor=worker").get_data(as_text=True)
    assert "共 1 条" in filtered and "户号" in filtered and "本村户" not in filtered
    assert "共 0 条" in client.get("/audit?actor=nobody").get_data(as_text=True)
    assert "共 0 条" in client.get("/audit?start=2099-01-01").get_data(as_text=True)
    assert client.get("/audit?start=not-a-date&subject_id=99999999999999").status_code == 200
    login(worker)
    assert client.get("/audit").status_code == 403
    assert there.id


def test_odd_filters_are_ignored_not_a_crash(village, client, login):
    login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
    for query in ("start=0001-01-01", "end=9999-12-31", "actor=%00", "action=nope", "page=-1", "page=99999999999"):
        assert client.get(f"/audit?{query}").status_code == 200, query


def test_values_are_shown_in_words(village, client, login):
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    rule = factories.gen_rule(village.village, "乱堆乱放", -10, self_claimable=False)
    revise_rule(rule, dataclasses.replace(RuleTerms.of(rule.versions[0]), points=-20), date(2026, 6, 1), admin)
    login(admin)
    page = client.get("/audit?action=rule.revised").get_data(as_text=True)
    assert "类别=人居环境" in page and "村民可申报=否" in page and "可使用角色=网格长、网格员、村管理员" in page
    assert "=hygiene" not in page and "False" not in page
