"""The authorization matrix of 走访 and the 履职 ranking: role × page or endpoint × inside or outside the role's scope
→ allow, deny or login, in the world of tests/auth/test_policy_matrix.py."""
import pytest
from flask import current_app

from points.auth import services as auth_services
from points.auth.models import Role
from points.extensions import db
from points.timeutil import local_today
from points.visits import services

from .. import factories
from ..auth.test_policy_matrix import ADMINS, ALLOW, DENY, LOGIN, ROLES, STAFF, build_world, outcome

GRID_STAFF = {"grid_leader", "grid_worker"}
LISTS = ("visits_due", "visits_mine", "api_due", "api_visits", "duty_home")  # show what is in scope, never deny


def expected(role: str, endpoint: str, where: str) -> str:
    if role == "anonymous":
        return LOGIN
    if endpoint in ("visit_new", "visit", "visit_photo", "visit_thumbnail", "api_visit", "api_visit_photo",
                    "api_visit_post", "visits_due", "visits_mine", "api_due", "api_visits"):
        allowed = role in STAFF
    elif endpoint == "visit_settings":
        allowed = role in ADMINS
    elif endpoint in ("duty", "api_duty", "duty_home"):
        # admins of the node; the grid staff of the village (both their grids, inside and outside, lie in A)
        if role in GRID_STAFF:
            return ALLOW
        allowed = role in ADMINS
    else:
        raise AssertionError(endpoint)
    return ALLOW if allowed and (where == "inside" or endpoint in LISTS) else DENY


def _visits(world) -> dict:
    """A visit (with a photo) to each household, by a worker of its grid."""
    worker_a2 = factories.gen_user(Role.GRID_WORKER, world.nodes["A2"], username="worker_A2")
    by = {"A1": world.users["worker_A1"], "A1own": world.users["worker_A1"], "A2": worker_a2,
          "B1": world.users["worker_B1"], "C1": world.users["worker_C1"]}
    store = services.PhotoStore(current_app.config["UPLOAD_FOLDER"], current_app.config["PHOTO_MAX_BYTES"])
    visits = {}
    for name, worker in by.items():
        asked = services.VisitAsked(world.households[name].id, local_today(), "routine", "情况",
                                    factories.gen_photo(size=(64, 48)))
        visits[name] = services.log_visit(worker, asked, store)
    db.session.commit()
    return visits


def _actor(world, role: str):
    kind, node = ROLES[role][:2]
    if role == "villager":
        return factories.gen_villager(world.households["A1own"], username="actor")
    return factories.gen_user(kind, world.nodes[node], username="actor")


@pytest.mark.parametrize("role", list(ROLES))
def test_visit_authorization_matrix(role, client):
    world = build_world()
    visits = _visits(world)
    headers = {}
    if role != "anonymous":
        actor = _actor(world, role)
        token, _ = auth_services.issue_token(actor, 1)
        db.session.commit()
        assert client.post("/login", data={"username": "actor", "password": factories.PASSWORD}).status_code == 302
        headers = {"Authorization": f"Bearer {token}"}
    _, _, grid_in, grid_out, hh_in, hh_out, _, _ = ROLES[role]
    mismatches = []
    for where, (grid_name, hh_name) in {"inside": (grid_in, hh_in), "outside": (grid_out, hh_out)}.items():
        household, visit = world.households[hh_name], visits[hh_name]
        village_id = world.nodes[grid_name].parent_id
        urls = {
            "visits_due": "/visits",
            "visits_mine": "/visits?tab=mine",
            "visit_new": f"/households/{household.id}/visits/new?key={'a' * 32}",
            "visit": f"/visits/{visit.id}",
            "visit_photo": f"/visits/{visit.id}/photo",
            "visit_thumbnail": f"/visits/{visit.id}/photo/small",
            "visit_settings": f"/villages/{village_id}/visit-settings",
            "duty": f"/duty?node={village_id}",
            "duty_home": "/duty",
            "api_due": "/api/v1/visits/due",
            "api_visits": "/api/v1/visits",
            "api_visit": f"/api/v1/visits/{visit.id}",
            "api_visit_photo": f"/api/v1/visits/{visit.id}/photo",
            "api_duty": f"/api/v1/duty-ranking?node={village_id}",
        }
        for endpoint, url in urls.items():
            api = url.startswith("/api/")
            status = client.get(url, headers=headers if api else {}).status_code
            got, want = outcome(status, api), expected(role, endpoint, where)
            if got != want:
                mismatches.append(f"{role} {endpoint} {where}: expected {want}, got {got} ({status})")
        posted = client.post("/api/v1/visits", headers={**headers, "Idempotency-Key": f"m-{where}"},
                             json={"household_id": household.id, "kind": "routine"})
        got = ALLOW if posted.status_code == 201 else outcome(posted.status_code, True)
        if got != expected(role, "api_visit_post", where):
            mismatches.append(f"{role} api_visit_post {where}: got {got} ({posted.status_code})")
    assert mismatches == []
