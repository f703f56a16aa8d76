"""The authorization matrix of 各村对比 (the town's 数据看板 and its .xlsx) and of the town's 村 board, in the world
of tests/auth/test_policy_matrix.py: only a town admin opens a town's dashboard, its own town only; the board is
public, the 村 tab only on a town's."""
import pytest

from points.extensions import db

from .. import factories
from ..auth.test_policy_matrix import ALLOW, DENY, LOGIN, ROLES, build_world, outcome

MONTH = "month=2026-11&week=2026-W47"


def _urls(world) -> dict[str, tuple[str, str]]:
    """endpoint → (url inside the town T, url of the other town U)."""
    t, u = world.nodes["T"].id, world.nodes["U"].id
    return {
        "dashboard": (f"/dashboards?node={t}&{MONTH}", f"/dashboards?node={u}&{MONTH}"),
        "villages_xlsx": (f"/dashboards/villages.xlsx?node={t}&{MONTH}", f"/dashboards/villages.xlsx?node={u}&{MONTH}"),
        "board": (f"/boards/{t}?subject=village", f"/boards/{u}?subject=village"),
    }


def expected(role: str, endpoint: str, where: str) -> str:
    if endpoint == "board":
        return ALLOW
    if role == "anonymous":
        return LOGIN
    return ALLOW if role == "town_admin" and where == "inside" else DENY


def sign_in(role, world, client):
    kind, node, *_ = ROLES[role]
    if role == "villager":
        actor = factories.gen_villager(world.households["A1own"], username="actor")
    else:
        actor = factories.gen_user(kind, world.nodes[node], username="actor")
    db.session.commit()
    assert client.post("/login", data={"username": "actor", "password": factories.PASSWORD}).status_code == 302
    return actor


@pytest.mark.parametrize("role", list(ROLES))
def test_authorization_matrix(role, client):
    world = build_world()
    if role != "anonymous":
        sign_in(role, world, client)
    mismatches = []
    for endpoint, (inside, outside) in _urls(world).items():
        for where, url in (("inside", inside), ("outside", outside)):
            status = client.get(url).status_code
            got, want = outcome(status, False), expected(role, endpoint, where)
            if got != want:
                mismatches.append(f"{role} {endpoint} {where}: expected {want}, got {got} ({status})")
    assert mismatches == []
