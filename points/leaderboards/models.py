"""A village's leaderboard settings: how long its 红榜 is, and whether it lists a 黑榜 for 晾晒."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from ..audit.labels import register_words
from ..extensions import db


class BoardSettings(db.Model):
    """A village without a row has the defaults: a 红榜 of 10 households and no 黑榜."""

    __tablename__ = "board_settings"
    __table_args__ = (
        CheckConstraint("red_count BETWEEN 1 AND 50 AND black_count BETWEEN 0 AND 50", name="counts_in_range"),
    )

    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"), primary_key=True)
    red_count: Mapped[int] = mapped_column(default=10)
    black_count: Mapped[int] = mapped_column(default=0)  # 0: the village lists no 黑榜


register_words(
    actions={
        "boards.settings": _l("修改红黑榜设置"),
    },
    fields={
        "red_count": _l("红榜户数"),
        "black_count": _l("黑榜户数"),
    },
)
