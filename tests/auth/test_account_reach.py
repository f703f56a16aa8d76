"""An admin manages only accounts wholly inside their scope: a password reset on anyone else's account would
open places the admin may not enter."""
import pytest

from points.auth import services as auth_services
from points.auth.models import Role, User
from points.errors import DomainError
from points.extensions import db

from .. import factories


@pytest.fixture
def admin(village, login):
    return login(factories.gen_user(Role.VILLAGE_ADMIN, village.village, username="cunwei"))


def _reset(client, user):
    return client.post(f"/admin/users/{user.id}", data={"action": "password", "pw-password": "taken-over-1"})


def test_a_town_admin_living_in_the_village_is_out_of_reach(client, village, admin):
    town_admin = factories.gen_user(Role.TOWN_ADMIN, village.town, username="zhen")
    town_admin.resident = factories.gen_household(village.grids[0]).head
    db.session.commit()
    assert client.get(f"/admin/users/{town_admin.id}").status_code == 404
    assert _reset(client, town_admin).status_code == 404
    assert "zhen" not in client.get("/admin/users").get_data(as_text=True)
    assert auth_services.authenticate("zhen", factories.PASSWORD)


def test_a_user_with_a_role_in_another_village_is_out_of_reach(client, village, admin):
    other = factories.gen_village(town=village.town)
    both = factories.gen_user(Role.GRID_LEADER, village.grids[0], username="both")
    auth_services.assign_role(None, both, Role.VILLAGE_ADMIN, other.village)
    db.session.commit()
    assert _reset(client, both).status_code == 404
    [inside, _] = both.assignments
    assert client.post(f"/admin/assignments/{inside.id}/revoke").status_code == 404


def test_an_admin_does_not_manage_their_own_account_here(client, admin):
    assert client.get(f"/admin/users/{admin.id}").status_code == 404


def test_a_user_wholly_inside_is_managed(client, village, admin):
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0], username="worker")
    db.session.commit()
    assert _reset(client, worker).status_code == 302
    assert auth_services.authenticate("worker", "taken-over-1").id == worker.id


def test_disabling_an_account_ends_its_sessions(app, client, village, admin):
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0], username="worker")
    db.session.commit()
    phone = app.test_client()
    phone.post("/login", data={"username": "worker", "password": factories.PASSWORD, "remember": "y"})
    assert phone.get("/households").status_code == 200
    asked = client.post(f"/admin/users/{worker.id}", data={"action": "active", "active": "0"}).get_data(as_text=True)
    assert "停用 worker（" in asked and "已登录的手机也会马上退出" in asked
    db.session.expire_all()
    assert db.session.get(User, worker.id).active and phone.get("/households").status_code == 200
    for _ in range(2):  # a double tap on 确认停用 leaves it disabled
        client.post(f"/admin/users/{worker.id}", data={"action": "active", "active": "0", "confirmed": "1"})
    db.session.expire_all()
    assert not db.session.get(User, worker.id).active
    assert phone.get("/households").status_code == 302


def test_a_role_without_a_node_is_refused_in_chinese(client, admin):
    response = client.post(
        "/admin/users/new", data={"username": "nobody", "password": "long-enough-1", "role": "grid_leader"}
    )
    assert response.status_code == 200 and "请选择该角色的负责范围" in response.get_data(as_text=True)


def test_services_refuse_out_of_reach_resets(village):
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    town_admin = factories.gen_user(Role.TOWN_ADMIN, village.town)
    with pytest.raises(DomainError) as refusal:
        auth_services.reset_password(admin, town_admin, "taken-over-1")
    assert refusal.value.code == "not_found"
