"""The authorization matrix: role × page or endpoint × inside or outside the role's scope → allow or deny.

The world: two towns; town T holds villages A (grids A1, A2) and B (grid B1); town U holds village C (grid C1).
Each role is assigned where the demo would assign it; "inside" is a target in its scope, "outside" one beyond.
"""
from dataclasses import dataclass

import pytest

from points.auth import services as auth_services
from points.auth.models import Role
from points.extensions import db
from points.grids.models import NodeKind
from points.grids.services import create_node

from .. import factories

ALLOW, DENY, LOGIN = "allow", "deny", "login"


@dataclass
class World:
    nodes: dict
    households: dict
    users: dict


def build_world() -> World:
    t = create_node("T镇", "t", NodeKind.TOWN)
    u = create_node("U镇", "u", NodeKind.TOWN)
    a = create_node("A村", "a", NodeKind.VILLAGE, t)
    b = create_node("B村", "b", NodeKind.VILLAGE, t)
    c = create_node("C村", "c", NodeKind.VILLAGE, u)
    nodes = dict(
        T=t, U=u, A=a, B=b, C=c,
        A1=create_node("A1", "a1", NodeKind.GRID, a),
        A2=create_node("A2", "a2", NodeKind.GRID, a),
        B1=create_node("B1", "b1", NodeKind.GRID, b),
        C1=create_node("C1", "c1", NodeKind.GRID, c),
    )
    households = {name: factories.gen_household(nodes[name], head_name=f"{name}户主")
                  for name in ("A1", "A2", "B1", "C1")}
    households["A1own"] = factories.gen_household(nodes["A1"], head_name="本户主")
    # The same rule in every village, for every role that awards, so that only the scope decides.
    for village in (a, b, c):
        factories.gen_rule(village, "参加会议", 2, roles=AWARDING_ROLES)
    users = {
        "worker_A1": factories.gen_user(Role.GRID_WORKER, nodes["A1"], username="worker_A1"),
        "worker_B1": factories.gen_user(Role.GRID_WORKER, nodes["B1"], username="worker_B1"),
        "worker_C1": factories.gen_user(Role.GRID_WORKER, nodes["C1"], username="worker_C1"),
    }
    db.session.commit()
    return World(nodes, households, users)


# role → (node it is assigned on, inside grid, outside grid, inside household, outside household, inside user,
# outside user)
ROLES = {
    "town_admin": (Role.TOWN_ADMIN, "T", "A1", "C1", "A1", "C1", "worker_A1", "worker_C1"),
    "village_admin": (Role.VILLAGE_ADMIN, "A", "A1", "B1", "A1", "B1", "worker_A1", "worker_B1"),
    "grid_leader": (Role.GRID_LEADER, "A1", "A1", "A2", "A1", "A2", "worker_A1", "worker_B1"),
    "grid_worker": (Role.GRID_WORKER, "A1", "A1", "A2", "A1", "A2", "worker_A1", "worker_B1"),
    "shop_clerk": (Role.SHOP_CLERK, "A", "A1", "B1", "A1", "B1", "worker_A1", "worker_B1"),
    "event_organizer": (Role.EVENT_ORGANIZER, "A", "A1", "B1", "A1", "B1", "worker_A1", "worker_B1"),
    # A villager of household A1own: "inside" is their own household, "outside" the neighbour's in the same grid.
    "villager": (None, None, "A1", "A2", "A1own", "A1", "worker_A1", "worker_B1"),
    "anonymous": (None, None, "A1", "C1", "A1", "C1", "worker_A1", "worker_C1"),
}

AWARDING_ROLES = frozenset({Role.TOWN_ADMIN, Role.VILLAGE_ADMIN, Role.GRID_LEADER, Role.GRID_WORKER})
GRID_VIEWERS = {"town_admin", "village_admin", "grid_leader", "grid_worker", "shop_clerk", "event_organizer"}
HOUSEHOLD_VIEWERS = {"town_admin", "village_admin", "grid_leader", "grid_worker", "villager"}
ADMINS = {"town_admin", "village_admin"}
STAFF = {"town_admin", "village_admin", "grid_leader", "grid_worker"}
# pages that list what is in scope, never deny it
UNSCOPED = ("import", "open_accounts", "users", "batch_award", "claims", "audit", "household_new")


def expected(role: str, endpoint: str, where: str) -> str:
    """What the rules of DESIGN.md "Roles and scopes" say should happen."""
    if role == "anonymous":
        return LOGIN
    if endpoint in ("grid_overview", "grid_tree", "api_grid"):
        allowed = role in GRID_VIEWERS
    elif endpoint in ("household", "resident", "api_household", "api_resident", "household_points"):
        allowed = role in HOUSEHOLD_VIEWERS
    elif endpoint in ("import", "export", "open_accounts", "slips", "users", "user_detail", "audit", "grid_new",
                      "grid_edit", "grid_retire", "grid_import", "grid_import_template",
                      "household_new", "household_edit", "household_close", "resident_new", "resident_edit",
                      "resident_leave"):
        allowed = role in ADMINS
    elif endpoint == "user_slip":  # a slip is only for a villager's account: these are staff accounts
        allowed = False
    elif endpoint in ("award", "batch_award"):
        allowed = role in STAFF
    elif endpoint == "claims":  # a villager's own claims, a reviewer's queue
        allowed = role in STAFF or role == "villager"
    else:
        raise AssertionError(endpoint)
    return ALLOW if allowed and (where == "inside" or endpoint in UNSCOPED) else DENY


def outcome(status: int, api: bool) -> str:
    if status == 200:
        return ALLOW
    if status == 401 or (status == 302 and not api):  # pages send the anonymous to the login page
        return LOGIN
    if status in (403, 404):
        return DENY
    return f"unexpected {status}"


@pytest.mark.parametrize("role", list(ROLES))
def test_authorization_matrix(role, client):
    world = build_world()
    kind, node, grid_in, grid_out, hh_in, hh_out, user_in, user_out = ROLES[role]
    headers = {}
    if role != "anonymous":
        if role == "villager":
            actor = factories.gen_villager(world.households["A1own"], username="actor")
        else:
            actor = factories.gen_user(kind, world.nodes[node], username="actor")
        token, _ = auth_services.issue_token(actor, 1)
        db.session.commit()
        response = client.post("/login", data={"username": "actor", "password": factories.PASSWORD})
        assert response.status_code == 302
        headers = {"Authorization": f"Bearer {token}"}

    targets = {
        "inside": (world.nodes[grid_in], world.households[hh_in], world.users[user_in]),
        "outside": (world.nodes[grid_out], world.households[hh_out], world.users[user_out]),
    }
    mismatches = []
    for where, (grid, household, user) in targets.items():
        resident = household.head
        urls = {
            "grid_overview": f"/grids/{grid.id}",
            "grid_tree": f"/grids/{grid.id}/tree",
            "grid_new": f"/grids/{grid.id}/new",
            "grid_edit": f"/grids/{grid.id}/edit",
            "grid_retire": f"/grids/{grid.id}/retire",
            "grid_import": f"/grids/{grid.id}/import",
            "grid_import_template": f"/grids/{grid.id}/import/template.xlsx",
            "household": f"/households/{household.id}",
            "resident": f"/residents/{resident.id}",
            "import": "/import",
            "export": f"/import/register.xlsx?village={grid.village_id}",
            "open_accounts": "/admin/accounts",
            "user_slip": f"/admin/users/{user.id}/slip",
            "slips": f"/admin/accounts/slips?node={grid.id}",
            "users": "/admin/users",
            "user_detail": f"/admin/users/{user.id}",
            "api_grid": f"/api/v1/grids/{grid.id}",
            "api_household": f"/api/v1/households/{household.id}",
            "api_resident": f"/api/v1/residents/{resident.id}",
            "household_points": f"/households/{household.id}/points",
            "household_new": "/households/new",
            "household_edit": f"/households/{household.id}/edit",
            "household_close": f"/households/{household.id}/close",
            "resident_new": f"/households/{household.id}/residents/new",
            "resident_edit": f"/residents/{resident.id}/edit",
            "resident_leave": f"/residents/{resident.id}/leave",
            "award": f"/households/{household.id}/award",
            "batch_award": "/award",
            "claims": "/claims",
            "audit": "/audit",
        }
        for endpoint, url in urls.items():
            api = url.startswith("/api/")
            status = client.get(url, headers=headers if api else {}).status_code
            got, want = outcome(status, api), expected(role, endpoint, where)
            if got != want:
                mismatches.append(f"{role} {endpoint} {where}: expected {want}, got {got} ({status})")
    assert mismatches == []


@pytest.mark.parametrize("role", [r for r in ROLES if r != "anonymous"])
def test_household_lists_keep_to_the_scope(role, client):
    """Lists never deny: they show what is in scope and nothing else."""
    world = build_world()
    kind, node, _, _, hh_in, hh_out, _, _ = ROLES[role]
    if role == "villager":
        actor = factories.gen_villager(world.households["A1own"], username="actor")
    else:
        actor = factories.gen_user(kind, world.nodes[node], username="actor")
    token, _ = auth_services.issue_token(actor, 1)
    db.session.commit()
    listed = {
        item["id"]
        for item in client.get("/api/v1/households?per_page=100", headers={"Authorization": f"Bearer {token}"}).json[
            "items"
        ]
    }
    sees_households = role in HOUSEHOLD_VIEWERS
    assert (world.households[hh_in].id in listed) is sees_households
    assert world.households[hh_out].id not in listed
    if role == "villager":
        assert listed == {world.households["A1own"].id}
