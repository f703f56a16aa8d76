"""The grid tree: nodes with a parent, and a closure table for cheap subtree queries."""
import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.labels import register_words
from ..extensions import db, value_enum


class NodeKind(str, enum.Enum):
    """镇/街道, 村/社区, 网格 (any level down to 微网格)."""

    TOWN = "town"
    VILLAGE = "village"
    GRID = "grid"


class GridNode(db.Model):
    __tablename__ = "grid_nodes"
    __table_args__ = (
        UniqueConstraint("code", name="uq_grid_nodes_code"),
        CheckConstraint("depth >= 0", name="depth_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[NodeKind] = mapped_column(value_enum(NodeKind, "node_kind", 16))
    name: Mapped[str] = mapped_column(String(64))
    # A short stable identifier (e.g. the village code given to import-households --village).
    code: Mapped[str] = mapped_column(String(32))
    depth: Mapped[int] = mapped_column(default=0)
    # The village this node belongs to (itself for a village, None for a town).
    village_id: Mapped[int | None] = mapped_column(ForeignKey("grid_nodes.id"), index=True)
    # 撤销: a node no longer in use stays for the history that names it, out of every list and choice.
    retired_at: Mapped[datetime | None]

    parent: Mapped["GridNode | None"] = relationship(remote_side=[id], foreign_keys=[parent_id])

    def __repr__(self) -> str:
        return f"<GridNode {self.code} {self.name}>"


class GridPath(db.Model):
    """Closure table: one row per (ancestor, descendant) pair, including each node with itself."""

    __tablename__ = "grid_paths"
    __table_args__ = (
        Index("ix_grid_paths_descendant", "descendant_id", "ancestor_id"),
        CheckConstraint("distance >= 0", name="distance_not_negative"),
    )

    ancestor_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="CASCADE"), primary_key=True)
    descendant_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="CASCADE"), primary_key=True)
    distance: Mapped[int]


register_words(
    actions={
        "node.created": _l("新增网格"),
        "node.changed": _l("修改网格"),
        "node.retired": _l("撤销网格"),
        "grids.imported": _l("导入网格和工作人员"),
    },
    fields={
        "parent": _l("上级"),
        "grids": _l("网格数"),
    },
)
