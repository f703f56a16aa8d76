"""Login, remember-me, rate limiting, password changes, and the admin pages for accounts and roles."""
import pytest
from sqlalchemy import select

from points.auth import services as auth_services
from points.auth.models import Role, RoleAssignment, User
from points.errors import DomainError
from points.extensions import db

from .. import factories


def test_login_page_is_chinese_and_logs_in_with_remember_me(client, village):
    factories.gen_user(Role.GRID_LEADER, village.grids[0], username="leader")
    db.session.commit()
    page = client.get("/login").get_data(as_text=True)
    assert "用户名" in page and "密码" in page
    response = client.post("/login", data={"username": "leader", "password": factories.PASSWORD, "remember": "y"})
    assert response.status_code == 302
    assert any(c.key == "remember_token" for c in client._cookies.values())
    home = client.get("/")  # a leader's home: this week's 卫生评比 they inspect and their grids
    assert home.status_code == 200 and "我的网格" in home.get_data(as_text=True)


def test_wrong_password_gets_a_chinese_error_and_no_session(client, village):
    factories.gen_user(Role.GRID_LEADER, village.grids[0], username="leader")
    db.session.commit()
    response = client.post("/login", data={"username": "leader", "password": "wrong-password"})
    assert response.status_code == 401
    assert "用户名或密码不正确" in response.get_data(as_text=True)
    assert client.get("/households").status_code == 302


def test_disabled_account_cannot_log_in(client, village):
    user = factories.gen_user(Role.GRID_LEADER, village.grids[0], username="leader")
    user.active = False
    db.session.commit()
    response = client.post("/login", data={"username": "leader", "password": factories.PASSWORD})
    assert "该账号已停用" in response.get_data(as_text=True)


def test_login_does_not_redirect_off_site(client, village):
    factories.gen_user(Role.GRID_LEADER, village.grids[0], username="leader")
    db.session.commit()
    response = client.post(
        "/login?next=//evil.example/x", data={"username": "leader", "password": factories.PASSWORD}
    )
    assert response.headers["Location"] == "/"


def test_password_change_ends_every_other_session(app, village):
    user = factories.gen_user(Role.GRID_LEADER, village.grids[0], username="leader")
    db.session.commit()
    phone, tablet = app.test_client(), app.test_client()
    for device in (phone, tablet):
        device.post("/login", data={"username": "leader", "password": factories.PASSWORD, "remember": "y"})
        assert device.get("/households").status_code == 200
    response = phone.post("/me", data={"current": factories.PASSWORD, "new": "another-pass-2"})
    assert response.status_code == 302
    assert phone.get("/households").status_code == 200
    assert tablet.get("/households").status_code == 302  # its session and remember-me cookie are void
    assert auth_services.authenticate("leader", "another-pass-2").id == user.id


def test_password_change_needs_the_current_password(client, login, village):
    login(factories.gen_user(Role.GRID_LEADER, village.grids[0]))
    db.session.commit()
    response = client.post("/me", data={"current": "not-it-at-all", "new": "another-pass-2"})
    assert "当前密码不正确" in response.get_data(as_text=True)


def test_short_passwords_are_refused():
    with pytest.raises(DomainError) as refusal:
        auth_services.create_user("someone", "short")
    assert refusal.value.code == "weak_password"


class TestAccountAdministration:
    def test_village_admin_creates_a_leader_for_a_grid_of_the_village(self, client, login, village):
        login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
        response = client.post(
            "/admin/users/new",
            data={"username": "newleader", "password": "long-enough-1", "role": "grid_leader",
                  "node_id": village.grids[1].id},
        )
        assert response.status_code == 302
        user = db.session.scalar(select(User).where(User.username == "newleader"))
        assert [(a.role, a.node_id) for a in user.assignments] == [(Role.GRID_LEADER, village.grids[1].id)]

    def test_village_admin_opens_a_villager_account(self, client, login, village):
        household = factories.gen_household(village.grids[0])
        login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
        response = client.post(
            "/admin/users/new",
            data={"username": "zhang", "password": "long-enough-1", "role": "", "resident_id": household.head.id},
        )
        assert response.status_code == 302
        assert db.session.scalar(select(User).where(User.username == "zhang")).resident_id == household.head.id

    def test_village_admin_cannot_grant_roles_in_another_village(self, client, login, village):
        other = factories.gen_village(town=village.town)
        admin = login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
        target = factories.gen_user(Role.GRID_WORKER, village.grids[0])
        db.session.commit()
        client.post(
            f"/admin/users/{target.id}",
            data={"action": "assign", "role-role": "grid_leader", "role-node_id": other.grids[0].id},
        )
        assert db.session.scalar(
            select(RoleAssignment).where(RoleAssignment.node_id == other.grids[0].id)
        ) is None
        with pytest.raises(DomainError) as refusal:
            auth_services.assign_role(admin, target, Role.GRID_LEADER, other.grids[0])
        assert refusal.value.code == "forbidden"

    def test_a_role_is_assigned_on_a_node_of_its_kind(self, village):
        user = factories.gen_user()
        with pytest.raises(DomainError) as refusal:
            auth_services.assign_role(None, user, Role.GRID_LEADER, village.village)
        assert refusal.value.code == "role_scope_mismatch"

    def test_revoking_a_role_removes_access(self, client, login, village):
        admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
        worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
        db.session.commit()
        login(admin)
        [assignment] = worker.assignments
        asked = client.post(f"/admin/assignments/{assignment.id}/revoke")
        assert asked.status_code == 200 and f"撤销 {worker.username} 的角色：网格员 · " in asked.get_data(as_text=True)
        db.session.expire_all()
        assert len(db.session.get(User, worker.id).assignments) == 1
        assert client.post(f"/admin/assignments/{assignment.id}/revoke", data={"confirmed": "1"}).status_code == 302
        db.session.expire_all()
        assert db.session.get(User, worker.id).assignments == []
