"""每周卫生评比 and 每月汇总: the village checklist and settings, weekly rounds with their cross-inspection
assignment and score sheets, the published results, and the ledger entries publishing posted."""
import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.labels import register_words
from ..auth.models import User
from ..extensions import db, value_enum
from ..grids.models import GridNode
from ..ledger.models import LedgerEntry
from ..people.models import Household
from ..rules.models import Rule
from ..timeutil import utcnow


class TiePolicy(str, enum.Enum):
    """Households tied at the cut-off of 示范户 (or of 晾晒, or for the 流动红旗): all of them, or none."""

    ALL = "all"
    NONE = "none"


class UnscoredPolicy(str, enum.Enum):
    """A household of an inspected grid that has no score sheet when the grid is published."""

    SKIP = "skip"  # left out of the ranking
    CLEAN = "clean"  # counted as having no deductions


TIE_LABELS = {TiePolicy.ALL: _l("并列的户全部入选"), TiePolicy.NONE: _l("并列的户都不入选")}
UNSCORED_LABELS = {UnscoredPolicy.SKIP: _l("不参加本周排名"), UnscoredPolicy.CLEAN: _l("按无扣分计")}


class Outcome(str, enum.Enum):
    MODEL = "model"  # 卫生保洁示范户
    SHAME = "shame"  # 晾晒
    FLAG = "flag"  # 流动红旗


OUTCOME_LABELS = {Outcome.MODEL: _l("卫生保洁示范户"), Outcome.SHAME: _l("晾晒"), Outcome.FLAG: _l("流动红旗")}


class ChecklistItem(db.Model):
    """One line of the village checklist (门前卫生, 庭院整洁 …) and the most it may deduct."""

    __tablename__ = "checklist_items"
    __table_args__ = (CheckConstraint("max_deduction > 0", name="max_deduction_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(30))
    max_deduction: Mapped[int]
    position: Mapped[int] = mapped_column(default=0)
    # An item taken off the checklist stays, so that old score sheets still name what they deducted.
    active: Mapped[bool] = mapped_column(default=True)


class HygieneSettings(db.Model):
    """A village's numbers for the weekly round and the monthly summary (a village without a row has the defaults)."""

    __tablename__ = "hygiene_settings"
    __table_args__ = (
        CheckConstraint("full_score > 0 AND model_count >= 0 AND model_points >= 0 AND shame_count >= 0"
                        " AND flag_points >= 0", name="numbers_in_range"),
        CheckConstraint("shame_max >= shame_count", name="shame_max_at_least_count"),
    )

    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"), primary_key=True)
    full_score: Mapped[int] = mapped_column(default=100)  # a household's weekly score is this less its deductions
    model_count: Mapped[int] = mapped_column(default=3)  # 示范户 per grid per week
    model_points: Mapped[int] = mapped_column(default=20)
    shame_count: Mapped[int] = mapped_column(default=0)  # households per grid listed for 晾晒
    # A penalty rule of the village's book posted to each household listed for 晾晒; None: listed only.
    penalty_rule_id: Mapped[int | None] = mapped_column(ForeignKey("rules.id", ondelete="SET NULL"))
    ties: Mapped[TiePolicy] = mapped_column(value_enum(TiePolicy, "tie_policy", 8), default=TiePolicy.ALL)
    # 晾晒 has its own tie rule and a stated most: ties at its cut-off never widen the list beyond shame_max.
    shame_ties: Mapped[TiePolicy] = mapped_column(value_enum(TiePolicy, "tie_policy", 8), default=TiePolicy.ALL)
    shame_max: Mapped[int] = mapped_column(default=0)
    unscored: Mapped[UnscoredPolicy] = mapped_column(value_enum(UnscoredPolicy, "unscored_policy", 8),
                                                     default=UnscoredPolicy.SKIP)
    flag_points: Mapped[int] = mapped_column(default=50)  # 流动红旗, one household per grid per month

    penalty_rule: Mapped[Rule | None] = relationship()


class InspectionRound(db.Model):
    """A village's round for one ISO week. It belongs to the month of its Thursday (as ISO weeks belong to years)."""

    __tablename__ = "inspection_rounds"
    __table_args__ = (
        UniqueConstraint("village_id", "week", name="uq_inspection_rounds_village_week"),
        Index("ix_inspection_rounds_village_month", "village_id", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    week: Mapped[str] = mapped_column(String(8))  # 2026-W47
    monday: Mapped[date]
    month: Mapped[str] = mapped_column(String(7))  # 2026-11
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    village: Mapped[GridNode] = relationship()
    assignments: Mapped[list["Assignment"]] = relationship(
        back_populates="round", order_by="Assignment.grid_id", cascade="all, delete-orphan"
    )


class Assignment(db.Model):
    """交叉检查: which grid inspects grid_id in a round (None: no grid can, the village committee does), and when
    the grid's results were last published."""

    __tablename__ = "inspection_assignments"
    __table_args__ = (
        CheckConstraint("inspector_grid_id IS NULL OR inspector_grid_id != grid_id", name="not_itself"),
    )

    round_id: Mapped[int] = mapped_column(ForeignKey("inspection_rounds.id", ondelete="CASCADE"), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"), primary_key=True)
    inspector_grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    published_at: Mapped[datetime | None]
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Bumped by every publication: the write that serializes two publishers of one grid.
    publications: Mapped[int] = mapped_column(default=0)

    round: Mapped[InspectionRound] = relationship(back_populates="assignments")
    grid: Mapped[GridNode] = relationship(foreign_keys=[grid_id])
    inspector_grid: Mapped[GridNode | None] = relationship(foreign_keys=[inspector_grid_id])
    published_by: Mapped[User | None] = relationship()


class Score(db.Model):
    """One household's score sheet in a round: what each item deducted, saved as the inspector goes."""

    __tablename__ = "inspection_scores"
    __table_args__ = (
        UniqueConstraint("round_id", "household_id", name="uq_inspection_scores_round_household"),
        Index("ix_inspection_scores_round_grid", "round_id", "grid_id"),
        Index("ix_inspection_scores_household", "household_id"),
        CheckConstraint("deductions >= 0", name="deductions_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("inspection_rounds.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))  # where it was inspected
    deductions: Mapped[int] = mapped_column(default=0)
    note: Mapped[str] = mapped_column(String(200), default="")
    photo: Mapped[str | None] = mapped_column(String(64))  # a file name under the upload folder
    # Counts saves: a sheet is saved over only by someone who saw the last save (two inspectors at one door).
    revision: Mapped[int] = mapped_column(default=1)
    scored_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)

    household: Mapped[Household] = relationship()
    scored_by: Mapped[User | None] = relationship()
    items: Mapped[list["Deduction"]] = relationship(cascade="all, delete-orphan", order_by="Deduction.item_id")


class Deduction(db.Model):
    __tablename__ = "inspection_deductions"
    __table_args__ = (CheckConstraint("points > 0", name="points_positive"),)

    score_id: Mapped[int] = mapped_column(ForeignKey("inspection_scores.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("checklist_items.id", ondelete="RESTRICT"), primary_key=True)
    points: Mapped[int]

    item: Mapped[ChecklistItem] = relationship()


class Result(db.Model):
    """A household's place in its grid's published results of a round (rewritten by each publication)."""

    __tablename__ = "inspection_results"
    __table_args__ = (Index("ix_inspection_results_round_grid", "round_id", "grid_id", "rank"),
                      Index("ix_inspection_results_household", "household_id"))

    round_id: Mapped[int] = mapped_column(ForeignKey("inspection_rounds.id", ondelete="CASCADE"), primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    scored: Mapped[bool]
    deductions: Mapped[int]
    score: Mapped[int]
    rank: Mapped[int | None]  # None: left out (not scored, and the village leaves such households out)
    outcome: Mapped[Outcome | None] = mapped_column(value_enum(Outcome, "hygiene_outcome", 8))

    household: Mapped[Household] = relationship()


class MonthlySummary(db.Model):
    __tablename__ = "monthly_summaries"
    __table_args__ = (UniqueConstraint("village_id", "month", name="uq_monthly_summaries_village_month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    month: Mapped[str] = mapped_column(String(7))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    publications: Mapped[int] = mapped_column(default=0)

    village: Mapped[GridNode] = relationship()
    published_by: Mapped[User | None] = relationship()


class MonthlyResult(db.Model):
    """A household's monthly total (the sum of its published weekly scores) and place in its grid."""

    __tablename__ = "monthly_results"
    __table_args__ = (Index("ix_monthly_results_summary_grid", "summary_id", "grid_id", "rank"),
                      Index("ix_monthly_results_household", "household_id"))

    summary_id: Mapped[int] = mapped_column(ForeignKey("monthly_summaries.id", ondelete="CASCADE"), primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    total: Mapped[int]
    weeks: Mapped[int]  # published weeks that counted for it
    rank: Mapped[int]
    flag: Mapped[bool] = mapped_column(default=False)

    household: Mapped[Household] = relationship()


class Posting(db.Model):
    """An entry publishing posted (示范户, 晾晒 penalty, 流动红旗) and, once a correction withdrew it, its reversal."""

    __tablename__ = "hygiene_postings"
    __table_args__ = (Index("ix_hygiene_postings_village_period", "village_id", "period", "household_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    period: Mapped[str] = mapped_column(String(10))  # W2026-47 for a round, M2026-11 for a summary
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))  # where it placed
    outcome: Mapped[Outcome] = mapped_column(value_enum(Outcome, "hygiene_outcome", 8))
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id", ondelete="RESTRICT"), unique=True)
    reversal_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id", ondelete="RESTRICT"))

    entry: Mapped[LedgerEntry] = relationship(foreign_keys=[entry_id])


class Publication(db.Model):
    """Who published a round's grid (or all its grids) or a summary, and when: kept so that a retried request (the
    same Idempotency-Key from the same account) answers as the first and publishes nothing again."""

    __tablename__ = "hygiene_publications"
    __table_args__ = (UniqueConstraint("actor_id", "client_key", name="uq_hygiene_publications_actor_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"), index=True)
    period: Mapped[str] = mapped_column(String(10))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))  # None: every grid
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    client_key: Mapped[str | None] = mapped_column(String(100))
    posted: Mapped[int] = mapped_column(default=0)
    reversed: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped[User | None] = relationship()


register_words(
    actions={
        "hygiene.settings": _l("修改评比设置"),
        "hygiene.checklist": _l("修改检查项目"),
        "hygiene.assigned": _l("调整交叉检查"),
        "inspection.scored": _l("卫生评分"),
        "hygiene.published": _l("发布评比结果"),
        "hygiene.published_early": _l("提前发布评比结果（有户未评分）"),
    },
    fields={
        "full_score": _l("满分"),
        "model_count": _l("每网格示范户数"),
        "model_points": _l("示范户奖励"),
        "shame_count": _l("每网格晾晒户数"),
        "shame_max": _l("晾晒最多户数"),
        "shame_ties": _l("晾晒并列处理"),
        "unscored_households": _l("未评分户数"),
        "flag_points": _l("流动红旗奖励"),
        "ties": _l("并列处理"),
        "unscored": _l("未评分的户"),
        "penalty_rule": _l("晾晒扣分细则"),
        "items": _l("检查项目"),
        "assignment": _l("交叉检查"),
        "deductions": _l("扣分"),
    },
    values=(TIE_LABELS, UNSCORED_LABELS),
)
