"""微心愿: a grid worker posts a household's small wish on the village's wall; a villager or staff member adopts it,
fulfils it, and the worker lights it with a photo: the adopter's household earns the rule's points."""
import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.labels import register_words
from ..auth.models import User
from ..errors import register_messages
from ..extensions import db, value_enum
from ..grids.models import GridNode
from ..ledger.models import LedgerEntry
from ..people.models import Household
from ..rules.models import Rule
from ..timeutil import utcnow

TITLE_MAX = 40
DETAIL_MAX = 300
NOTE_MAX = 200


class WishStatus(str, enum.Enum):
    OPEN = "open"  # 待认领
    ADOPTED = "adopted"  # 已认领
    FULFILLED = "fulfilled"  # 已完成: the adopter says it is done
    LIT = "lit"  # 已点亮: the grid worker confirmed it with a photo
    WITHDRAWN = "withdrawn"  # 已撤下


WISH_STATUS_LABELS = {
    WishStatus.OPEN: _l("待认领"),
    WishStatus.ADOPTED: _l("已认领"),
    WishStatus.FULFILLED: _l("已完成"),
    WishStatus.LIT: _l("已点亮"),
    WishStatus.WITHDRAWN: _l("已撤下"),
}
# What the public wall shows: a withdrawn wish is off it.
WALL_STATUSES = (WishStatus.OPEN, WishStatus.ADOPTED, WishStatus.FULFILLED, WishStatus.LIT)


class Wish(db.Model):
    """One wish of one household, posted by a grid worker. Its title is public; everything else is staff-only."""

    __tablename__ = "wishes"
    __table_args__ = (
        # A retried post (the same Idempotency-Key from the same account) makes one wish.
        UniqueConstraint("posted_by_id", "client_key", name="uq_wishes_posted_by_client_key"),
        Index("ix_wishes_village_status", "village_id", "status"),
        Index("ix_wishes_adopter", "adopter_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    posted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    detail: Mapped[str] = mapped_column(String(DETAIL_MAX), default="")
    # The rule the adopter's household earns under: 村民互助 or 志愿服务, positive points.
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id", ondelete="RESTRICT"))
    status: Mapped[WishStatus] = mapped_column(value_enum(WishStatus, "wish_status", 16), default=WishStatus.OPEN)
    adopter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    adopted_at: Mapped[datetime | None]
    fulfilled_at: Mapped[datetime | None]
    fulfil_note: Mapped[str] = mapped_column(String(NOTE_MAX), default="")
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lit_at: Mapped[datetime | None]
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id", ondelete="RESTRICT"))
    # Why lighting it earned no points (a refusal code: the adopter is no villager, a cap was reached …).
    no_points: Mapped[str] = mapped_column(String(40), default="")
    withdrawn_reason: Mapped[str] = mapped_column(String(NOTE_MAX), default="")
    withdrawn_at: Mapped[datetime | None]
    client_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    village: Mapped[GridNode] = relationship(foreign_keys=[village_id])
    grid: Mapped[GridNode] = relationship(foreign_keys=[grid_id])
    household: Mapped[Household] = relationship()
    posted_by: Mapped[User | None] = relationship(foreign_keys=[posted_by_id])
    adopter: Mapped[User | None] = relationship(foreign_keys=[adopter_id])
    confirmed_by: Mapped[User | None] = relationship(foreign_keys=[confirmed_by_id])
    rule: Mapped[Rule] = relationship()
    entry: Mapped[LedgerEntry | None] = relationship()
    photos: Mapped[list["WishPhoto"]] = relationship(
        back_populates="wish", cascade="all, delete-orphan", order_by="WishPhoto.position"
    )

    @property
    def photo(self) -> "WishPhoto | None":
        return self.photos[0] if self.photos else None


class WishPhoto(db.Model):
    """The photo that lit a wish: re-encoded as JPEG without EXIF, under a random name."""

    __tablename__ = "wish_photos"
    __table_args__ = (UniqueConstraint("wish_id", "position", name="uq_wish_photos_wish_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    wish_id: Mapped[int] = mapped_column(ForeignKey("wishes.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=1)
    filename: Mapped[str] = mapped_column(String(64))
    width: Mapped[int]
    height: Mapped[int]
    size: Mapped[int]

    wish: Mapped[Wish] = relationship(back_populates="photos")


register_words(
    actions={
        "wish.posted": _l("发布微心愿"),
        "wish.adopted": _l("认领微心愿"),
        "wish.given_back": _l("退回微心愿"),
        "wish.fulfilled": _l("完成微心愿"),
        "wish.lit": _l("点亮微心愿"),
        "wish.withdrawn": _l("撤下微心愿"),
    },
    fields={
        "title": _l("心愿"),
        "adopter": _l("认领人"),
        "no_points": _l("未记积分"),
    },
    values=(WISH_STATUS_LABELS,),
)

register_messages({
    "wish_title_required": _l("请填写心愿"),
    "wish_title_too_long": _l("心愿不能超过 %(limit)d 个字"),
    "wish_detail_too_long": _l("情况说明不能超过 %(limit)d 个字"),
    "wish_note_too_long": _l("说明不能超过 %(limit)d 个字"),
    "wish_rule_invalid": _l("请选择一项正在执行、加分的村民互助或志愿服务细则"),
    "wish_household_closed": _l("该户已迁出，不能发布心愿"),
    "wish_own_household": _l("不能为自己家发布或点亮微心愿，请交给其他网格员"),
    "wish_own_adoption": _l("不能认领自己家的微心愿，也不能认领您或您家人发布的微心愿，请留给其他人"),
    "wish_title_name": _l("心愿会公开在心愿墙上，不能写这户人的姓名，请改成“想装一个扶手”这样的说法"),
    "wish_title_care_tag": _l("心愿会公开在心愿墙上，不能写低保、空巢老人、残疾等关爱情况，请写在情况说明里"),
    "wish_title_phone": _l("心愿会公开在心愿墙上，不能写电话号码"),
    "wish_title_address": _l("心愿会公开在心愿墙上，不能写这户的住址或户号"),
    "wish_other_village": _l("只有本村村民和工作人员才能认领本村的微心愿"),
    "wish_taken": _l("这个心愿刚刚已被别人认领了，请看看其他心愿"),
    "wish_not_open": _l("这个心愿现在不能认领"),
    "wish_not_adopter": _l("只有认领人才能这样做"),
    "wish_not_adopted": _l("这个心愿现在不在认领中"),
    "wish_not_fulfilled": _l("认领人还没有说已完成，现在不能点亮"),
    "wish_confirm_own": _l("不能点亮自己认领的心愿，请交给其他网格员"),
    "wish_confirm_own_household": _l("认领人是您家的人，请交给其他网格员点亮"),
    "wish_photo_required": _l("请上传一张照片作为完成的证明"),
    "wish_reason_required": _l("请填写撤下的理由"),
    "wish_not_withdrawable": _l("只有待认领的心愿才能撤下"),
    "wish_no_household": _l("本村没有这个户号"),
    "wish_household_not_yours": _l("该户不在您负责的网格"),
    "wish_not_resident": _l("认领人不是本村村民，不记积分"),
    "wish_photo_expired": _l("照片已过期，请重新上传"),
})
