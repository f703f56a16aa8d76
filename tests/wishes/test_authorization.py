"""The authorization matrix of 微心愿: role × page or endpoint × inside or outside the role's scope → allow, deny
or login, in the world of tests/auth/test_policy_matrix.py. The wall and a wish's public page need no login;
adopting is for villagers and staff of the wish's village (not its own household); posting, withdrawing and
lighting are GRID_WORK at the wish's grid."""
import io

import pytest

from points.auth import services as auth_services
from points.auth.models import Role
from points.extensions import db
from points.rules.models import RuleCategory
from points.wishes import services
from points.wishes.models import Wish, WishStatus

from .. import factories
from ..auth.test_policy_matrix import ROLES, build_world

ALLOW, DENY, LOGIN = "allow", "deny", "login"
STAFF = {"town_admin", "village_admin", "grid_leader", "grid_worker"}
PUBLIC = ("wall", "wish")
SIGNED_IN = ("mine", "api_wall", "api_wish")
GRID_WORK = ("withdraw", "confirm", "api_post", "api_withdraw", "api_confirm")
ADOPT = ("adopt", "api_adopt")
# Outside its grid, but in its village: a grid leader or worker still sees the village's wall and adopts there.
SAME_VILLAGE_OUTSIDE = {"grid_leader", "grid_worker"}


def expected(role: str, endpoint: str, where: str) -> str:
    if endpoint in PUBLIC:
        return ALLOW
    if role == "anonymous":
        return LOGIN
    if endpoint in SIGNED_IN:
        return ALLOW
    if endpoint in ADOPT:
        if role == "villager":  # inside is the villager's own household: never their own wish
            return ALLOW if where == "outside" else DENY
        return ALLOW if where == "inside" or role in SAME_VILLAGE_OUTSIDE else DENY
    if endpoint == "new":  # the form of a village where the user does grid work
        return ALLOW if role in STAFF and (where == "inside" or role in SAME_VILLAGE_OUTSIDE) else DENY
    if endpoint in GRID_WORK:
        return ALLOW if role in STAFF and where == "inside" else DENY
    if endpoint in ("give_back", "api_give_back"):  # only the adopter, who is none of them
        return DENY
    raise AssertionError(endpoint)


def _setup(world):
    """A wish rule in each village, a poster with GRID_WORK over everything, and a helper villager per village."""
    rules = {name: factories.gen_rule(world.nodes[name], "邻里互助", 5, category=RuleCategory.MUTUAL_AID)
             for name in ("A", "B", "C")}
    poster = factories.gen_user(Role.TOWN_ADMIN, world.nodes["T"], username="poster")
    auth_services.assign_role(None, poster, Role.TOWN_ADMIN, world.nodes["U"])
    helpers = {name: factories.gen_villager(factories.gen_household(world.nodes[grid], "帮手"))
               for name, grid in (("A", "A1"), ("B", "B1"), ("C", "C1"))}
    return rules, poster, helpers


def _wish(world, setup, household, state: WishStatus) -> int:
    rules, poster, helpers = setup
    village = db.session.get(type(world.nodes["A"]), household.village_id)
    wish = services.post_wish(poster, household.id, "想装一个扶手", "", rules[village.code.upper()].id)
    helper = helpers[village.code.upper()]
    if state is not WishStatus.OPEN:
        services.adopt_wish(helper, wish.id)
    if state is WishStatus.FULFILLED:
        services.fulfil(helper, wish.id)
    return wish.id


def _photo():
    return {"photo": (io.BytesIO(factories.gen_photo(size=(64, 48))), "p.jpg")}


def _status(wish_id: int) -> WishStatus:
    db.session.expire_all()
    return db.session.get(Wish, wish_id).status


def outcome(response, api: bool, changed: bool | None = None) -> str:
    status = response.status_code
    if status == 401 or (not api and status == 302 and "/login" in response.headers.get("Location", "")):
        return LOGIN
    if changed is not None:  # a page's post: it redirects either way; what it did tells
        return ALLOW if changed else DENY
    if status in (200, 201):
        return ALLOW
    if status in (403, 404, 409):
        return DENY
    return f"unexpected {status}"


def _checks(client, world, setup, household, headers):
    """endpoint → (response, api, changed) for one target household."""
    open_id = _wish(world, setup, household, WishStatus.OPEN)
    grid = db.session.get(type(world.nodes["A"]), household.grid_id)
    wishes = {s: _wish(world, setup, household, s) for s in (WishStatus.OPEN, WishStatus.ADOPTED,
                                                             WishStatus.FULFILLED)}
    api_open = _wish(world, setup, household, WishStatus.OPEN)
    api_withdraw = _wish(world, setup, household, WishStatus.OPEN)
    api_adopted = _wish(world, setup, household, WishStatus.ADOPTED)
    api_fulfilled = _wish(world, setup, household, WishStatus.FULFILLED)
    db.session.commit()
    rule_id = setup[0][db.session.get(type(grid), grid.village_id).code.upper()].id
    checks = {
        "wall": (client.get(f"/villages/{grid.village_id}/wishes"), False, None),
        "wish": (client.get(f"/wishes/{open_id}"), False, None),
        "mine": (client.get("/wishes/mine"), False, None),
        "new": (client.get(f"/wishes/new?village={grid.village_id}&key={'0' * 32}"), False, None),
        "api_wall": (client.get(f"/api/v1/villages/{grid.village_id}/wishes", headers=headers), True, None),
        "api_wish": (client.get(f"/api/v1/wishes/{open_id}", headers=headers), True, None),
        "api_post": (client.post("/api/v1/wishes", headers=headers, json=dict(
            household_id=household.id, title="心愿", rule_id=rule_id)), True, None),
        "api_adopt": (client.post(f"/api/v1/wishes/{api_open}/adopt", headers=headers), True, None),
        "api_give_back": (client.post(f"/api/v1/wishes/{api_adopted}/give-back", headers=headers), True, None),
        "api_withdraw": (client.post(f"/api/v1/wishes/{api_withdraw}/withdraw", headers=headers,
                                     json={"reason": "已解决"}), True, None),
        "api_confirm": (client.post(f"/api/v1/wishes/{api_fulfilled}/confirm", headers=headers, data=_photo(),
                                    content_type="multipart/form-data"), True, None),
        "confirm": (client.post(f"/wishes/{wishes[WishStatus.FULFILLED]}/confirm", data=_photo(),
                                content_type="multipart/form-data"), False, None),
    }
    response = client.post(f"/wishes/{wishes[WishStatus.OPEN]}/adopt")
    checks["adopt"] = (response, False, _status(wishes[WishStatus.OPEN]) is WishStatus.ADOPTED)
    response = client.post(f"/wishes/{wishes[WishStatus.ADOPTED]}/give-back")
    checks["give_back"] = (response, False, _status(wishes[WishStatus.ADOPTED]) is WishStatus.OPEN)
    withdrawn = _wish(world, setup, household, WishStatus.OPEN)
    db.session.commit()
    response = client.post(f"/wishes/{withdrawn}/withdraw", data={"reason": "已解决"})
    checks["withdraw"] = (response, False, _status(withdrawn) is WishStatus.WITHDRAWN)
    return checks


@pytest.mark.parametrize("role", list(ROLES))
def test_wishes_authorization_matrix(role, client):
    world = build_world()
    setup = _setup(world)
    kind, node, grid_in, grid_out, hh_in, hh_out, _, _ = ROLES[role]
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
    else:
        db.session.commit()
    mismatches = []
    for where, household in (("inside", world.households[hh_in]), ("outside", world.households[hh_out])):
        for endpoint, (response, api, changed) in _checks(client, world, setup, household, headers).items():
            got, want = outcome(response, api, changed), expected(role, endpoint, where)
            if got != want:
                mismatches.append(f"{role} {endpoint} {where}: expected {want}, got {got} ({response.status_code})")
    assert mismatches == []
