"""Users, their role assignments on grid subtrees, and API tokens."""
import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.labels import register_words
from ..extensions import db, value_enum
from ..grids.models import GridNode
from ..people.models import Resident
from ..timeutil import utcnow


class Role(str, enum.Enum):
    TOWN_ADMIN = "town_admin"  # 镇管理员
    VILLAGE_ADMIN = "village_admin"  # 村管理员
    GRID_LEADER = "grid_leader"  # 网格长
    GRID_WORKER = "grid_worker"  # 网格员
    SHOP_CLERK = "shop_clerk"  # 店员
    EVENT_ORGANIZER = "event_organizer"  # 活动组织者


ROLE_LABELS = {
    Role.TOWN_ADMIN: _l("镇管理员"),
    Role.VILLAGE_ADMIN: _l("村管理员"),
    Role.GRID_LEADER: _l("网格长"),
    Role.GRID_WORKER: _l("网格员"),
    Role.SHOP_CLERK: _l("积分超市店员"),
    Role.EVENT_ORGANIZER: _l("活动组织者"),
}


# The password hash of an account that has none yet: no password checks against it.
NO_PASSWORD = "!"


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("username", name="uq_users_username"),
        UniqueConstraint("resident_id", name="uq_users_resident_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    # A villager account is linked to the resident it belongs to.
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped on a password change: every session and remember-me cookie issued before it stops working.
    session_version: Mapped[int] = mapped_column(default=1)
    # Bumped when an activation slip is used or reissued: every slip printed before it is void.
    slip_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    resident: Mapped[Resident | None] = relationship()
    assignments: Mapped[list["RoleAssignment"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="RoleAssignment.id"
    )

    @property
    def activated(self) -> bool:
        """An account opened in bulk has no password until its villager sets one from the activation slip."""
        return self.password_hash != NO_PASSWORD

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    # The login this object was loaded for, or begun by (auth.services.begin_login): one per device that logged in.
    login_id = None  # a str once loaded or begun; not a column

    def get_id(self) -> str:
        """What the session and the remember-me cookie hold: the account, its session version (a new password ends
        every login) and the login (logging out ends that one, on the server)."""
        return (f"{self.id}:{self.session_version}:{self.login_id}" if self.login_id
                else f"{self.id}:{self.session_version}")


class RoleAssignment(db.Model):
    """(user, role, grid node): the role holds in that node's subtree."""

    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("user_id", "role", "node_id", name="uq_role_assignments_user_role_node"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(value_enum(Role, "role", 24))
    node_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="assignments")
    node: Mapped[GridNode] = relationship()


class EndedLogin(db.Model):
    """A login ended by logging out: its session and remember-me cookies open nothing more, even if copied. Kept as
    long as a remember-me cookie lives."""

    __tablename__ = "ended_logins"

    login_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ended_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ApiToken(db.Model):
    """A bearer token for /api/v1; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    session_version: Mapped[int]
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


register_words(
    actions={
        "role.assigned": _l("分配角色"),
        "role.revoked": _l("撤销角色"),
        "account.created": _l("开设账号"),
        "accounts.opened": _l("批量开通村民账号"),
        "account.activated": _l("村民激活账号"),
        "slip.reissued": _l("补发激活单"),
        "account.enabled": _l("启用账号"),
        "account.disabled": _l("停用账号"),
    },
    fields={
        "username": _l("用户名"),
        "role": _l("角色"),
        "node": _l("范围"),
        "accounts": _l("账号数"),
        "min_age": _l("最低年龄"),
    },
    values=(ROLE_LABELS,),
)
