"""The authorization matrix of the messages' pages and endpoints, in the world of tests/auth/test_policy_matrix.py.

/messages and /api/v1/messages are every signed-in account's own (no scope: "inside" is a notice to the actor,
"outside" one to another account, or the points of another household, which must never show); /grid-work is for
whoever does grid work. The anonymous are sent to sign in."""
import pytest

from points.auth import services as auth_services
from points.extensions import db
from points.ledger.models import EntrySource
from points.ledger.services import post_entry
from points.messages.services import tell

from .. import factories
from ..auth.test_policy_matrix import ALLOW, DENY, LOGIN, ROLES, STAFF, build_world, outcome

ENDPOINTS = {
    "messages": ("GET", "/messages"),
    "grid_work": ("GET", "/grid-work"),
    "api_messages": ("GET", "/api/v1/messages"),
    "api_messages_read": ("POST", "/api/v1/messages/read"),
}


def expected(role: str, endpoint: str) -> str:
    if role == "anonymous":
        return LOGIN
    if endpoint == "grid_work":
        return ALLOW if role in STAFF else DENY
    return ALLOW


def sign_in(role, world, client):
    kind, node, *_ = ROLES[role]
    if role == "villager":
        actor = factories.gen_villager(world.households["A1own"], username="actor")
    else:
        actor = factories.gen_user(kind, world.nodes[node], username="actor")
    token, _ = auth_services.issue_token(actor, 1)
    db.session.commit()
    assert client.post("/login", data={"username": "actor", "password": factories.PASSWORD}).status_code == 302
    return actor, {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("role", list(ROLES))
def test_authorization_matrix(role, client):
    world = build_world()
    headers, actor = {}, None
    if role != "anonymous":
        actor, headers = sign_in(role, world, client)
    mismatches = []
    for endpoint, (method, url) in ENDPOINTS.items():
        api = url.startswith("/api/")
        status = client.open(url, method=method, headers=headers if api else {}).status_code
        got, want = outcome(status, api), expected(role, endpoint)
        if got != want:
            mismatches.append(f"{role} {endpoint}: expected {want}, got {got} ({status})")
    assert mismatches == []


@pytest.mark.parametrize("role", [r for r in ROLES if r != "anonymous"])
def test_each_reads_their_own_and_nothing_beyond(role, client):
    world = build_world()
    actor, headers = sign_in(role, world, client)
    _, _, _, _, _, hh_out, user_in, user_out = ROLES[role]
    tell([actor.id], "claim", "给本人的消息")
    tell([world.users[user_in].id, world.users[user_out].id], "claim", "给别人的消息")
    post_entry(world.households[hh_out].id, 7, EntrySource.MANUAL, "outside-points")
    post_entry(world.households["A1own"].id, 3, EntrySource.MANUAL, "own-points")
    db.session.commit()
    html = client.get("/messages").get_data(as_text=True)
    body = client.get("/api/v1/messages", headers=headers).get_json()
    texts = {item["text"] for item in body["items"]}
    assert "给本人的消息" in html and "给本人的消息" in texts
    assert "给别人的消息" not in html and "给别人的消息" not in texts
    assert "+7" not in html and not any("+7" in t for t in texts)
    own_points = role == "villager"
    assert ("加分 +3 分" in html) is own_points and any("+3" in t for t in texts) is own_points
