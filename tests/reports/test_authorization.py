"""Who may open each 民情诉求 page and endpoint, for every role, inside and outside their scope (the world of
tests/auth/test_policy_matrix.py): allow, deny, or sent to log in."""
import pytest

from points.auth import services as auth_services
from points.extensions import db
from points.reports.models import Report
from points.reports.settings import ensure_categories
from points.timeutil import utcnow

from .. import factories
from ..auth.test_policy_matrix import ALLOW, DENY, LOGIN, ROLES, build_world, outcome

STAFF = {"town_admin", "village_admin", "grid_leader", "grid_worker"}
ADMINS = {"town_admin", "village_admin"}
ANYONE = {"public"}
ANY_ACCOUNT = {"api_list", "api_counts"}
REPORTERS_AND_STAFF = {"list", "new"}


def expected(role: str, endpoint: str, where: str) -> str:
    if endpoint in ANYONE:
        return ALLOW
    if role == "anonymous":
        return LOGIN
    if endpoint in ANY_ACCOUNT:
        return ALLOW
    if endpoint in REPORTERS_AND_STAFF:
        return ALLOW if role in STAFF or role == "villager" else DENY
    if endpoint in ("detail", "api_detail", "api_categories"):
        return ALLOW if where == "inside" and (role in STAFF or role == "villager") else DENY
    if endpoint == "api_accept":
        return ALLOW if where == "inside" and role in STAFF else DENY
    if endpoint == "settings":
        return ALLOW if where == "inside" and role in ADMINS else DENY
    raise AssertionError(endpoint)


def _report(household) -> Report:
    """A report of the household, filed by nobody in particular (its filer is not the actor)."""
    now = utcnow()
    category = ensure_categories(household.village_id)[0]
    report = Report(village_id=household.village_id, grid_id=household.grid_id, node_id=household.grid_id,
                    household_id=household.id, category_id=category.id, text="路灯坏了",
                    landed_at=now, created_at=now, deadline_at=now)
    db.session.add(report)
    db.session.flush()
    return report


@pytest.mark.parametrize("role", list(ROLES))
def test_authorization_matrix(role, client):
    world = build_world()
    kind, node, grid_in, grid_out, hh_in, hh_out, _user_in, _user_out = ROLES[role]
    headers = {}
    if role != "anonymous":
        if role == "villager":
            actor = factories.gen_villager(world.households["A1own"], username="actor")
        else:
            actor = factories.gen_user(kind, world.nodes[node], username="actor")
        token, _ = auth_services.issue_token(actor, 1)
        db.session.commit()
        assert client.post("/login", data={"username": "actor", "password": factories.PASSWORD}).status_code == 302
        headers = {"Authorization": f"Bearer {token}"}
    reports = {"inside": _report(world.households[hh_in]), "outside": _report(world.households[hh_out])}
    db.session.commit()
    mismatches = []
    for where, report in reports.items():
        village = world.nodes[grid_in if where == "inside" else grid_out].village_id
        urls = {
            "public": ("GET", f"/villages/{village}/reports/public"),
            "list": ("GET", "/reports"),
            "new": ("GET", "/reports/new?key=" + "0" * 32),
            "detail": ("GET", f"/reports/{report.id}"),
            "settings": ("GET", f"/villages/{village}/report-settings"),
            "api_list": ("GET", "/api/v1/reports"),
            "api_counts": ("GET", f"/api/v1/villages/{village}/report-counts"),
            "api_categories": ("GET", f"/api/v1/villages/{village}/report-categories"),
            "api_detail": ("GET", f"/api/v1/reports/{report.id}"),
            "api_accept": ("POST", f"/api/v1/reports/{report.id}/accept"),
        }
        for endpoint, (method, url) in urls.items():
            api = url.startswith("/api/")
            status = client.open(url, method=method, headers=headers if api else {}).status_code
            # A village's categories are its own accounts' and its staff's: "outside" may be a grid of the same one.
            same = endpoint == "api_categories" and village == world.nodes[grid_in].village_id
            got, want = outcome(status, api), expected(role, endpoint, "inside" if same else where)
            if got != want:
                mismatches.append(f"{role} {endpoint} {where}: expected {want}, got {got} ({status})")
    assert mismatches == []


@pytest.mark.parametrize("action", ["accept", "reject", "progress", "finish", "feedback", "void"])
def test_every_page_action_is_refused_outside_the_scope_and_sends_the_anonymous_to_log_in(action, client):
    world = build_world()
    outsider = factories.gen_user(ROLES["grid_worker"][0], world.nodes["A2"], username="outsider")
    report = _report(world.households["A1"])
    db.session.commit()
    data = {"reason": "无效", "note": "处理了", "satisfied": "yes"}
    assert client.post(f"/reports/{report.id}/{action}", data=data).status_code == 302  # to the login page
    assert client.post("/login", data={"username": outsider.username,
                                       "password": factories.PASSWORD}).status_code == 302
    assert client.post(f"/reports/{report.id}/{action}", data=data).status_code == 403
