"""Rules and their versions. A rule keeps its code; an edit makes a new version, and entries keep pointing at
the version they were posted under."""
import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.labels import register_words
from ..auth.models import Role
from ..extensions import db, value_enum
from ..people.models import HouseholdKind
from ..timeutil import utcnow


class RuleCategory(str, enum.Enum):
    HYGIENE = "hygiene"  # 人居环境
    VOLUNTEERING = "volunteering"  # 志愿服务
    VILLAGE_RULES = "village_rules"  # 村规民约
    MUTUAL_AID = "mutual_aid"  # 村民互助
    PUBLICITY = "publicity"  # 宣传监督
    GRID_DUTY = "grid_duty"  # 网格员履职


class RuleUnit(str, enum.Enum):
    OCCURRENCE = "occurrence"  # 每次
    HOUR = "hour"  # 每小时


# In the order the rule book is read: the order of the enum, not of its stored values.
CATEGORY_LABELS = {
    RuleCategory.HYGIENE: _l("人居环境"),
    RuleCategory.VOLUNTEERING: _l("志愿服务"),
    RuleCategory.VILLAGE_RULES: _l("村规民约"),
    RuleCategory.MUTUAL_AID: _l("村民互助"),
    RuleCategory.PUBLICITY: _l("宣传监督"),
    RuleCategory.GRID_DUTY: _l("网格员履职"),
}
UNIT_LABELS = {RuleUnit.OCCURRENCE: _l("每次"), RuleUnit.HOUR: _l("每小时")}


class Rule(db.Model):
    __tablename__ = "rules"
    __table_args__ = (UniqueConstraint("village_id", "code", name="uq_rules_village_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("grid_nodes.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(32))

    versions: Mapped[list["RuleVersion"]] = relationship(
        back_populates="rule", order_by="RuleVersion.version", cascade="all, delete-orphan"
    )


class RuleVersion(db.Model):
    """What a rule says from effective_from until (not including) effective_until."""

    __tablename__ = "rule_versions"
    __table_args__ = (
        UniqueConstraint("rule_id", "version", name="uq_rule_versions_rule_version"),
        CheckConstraint("points != 0", name="points_not_zero"),
        CheckConstraint("for_registered OR for_renters", name="applies_to_someone"),
        CheckConstraint("effective_until IS NULL OR effective_until > effective_from", name="window_not_empty"),
        CheckConstraint("bars_days = 0 OR (bars_days BETWEEN 1 AND 730 AND points < 0)", name="bars_only_penalties"),
        CheckConstraint(
            "(cap_day IS NULL OR cap_day > 0) AND (cap_week IS NULL OR cap_week > 0)"
            " AND (cap_month IS NULL OR cap_month > 0) AND (cap_year IS NULL OR cap_year > 0)",
            name="caps_positive",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[RuleCategory] = mapped_column(value_enum(RuleCategory, "rule_category", 24))
    # Signed: an award is positive, a penalty negative. Per occurrence or per hour (unit).
    points: Mapped[int]
    unit: Mapped[RuleUnit] = mapped_column(value_enum(RuleUnit, "rule_unit", 16))
    # The two rule books of 瑶前村: 户籍村民 and 外来租住人员.
    for_registered: Mapped[bool] = mapped_column(default=True)
    for_renters: Mapped[bool] = mapped_column(default=True)
    # The most points (in absolute value) one household may receive under this rule in a day, ISO week,
    # month or year; None for no cap.
    cap_day: Mapped[int | None]
    cap_week: Mapped[int | None]
    cap_month: Mapped[int | None]
    cap_year: Mapped[int | None]
    evidence_required: Mapped[bool] = mapped_column(default=False)
    # A penalty that also bars the household from redeeming for this many days from the day it is posted (赌博, 违建 …
    # in some rule books); 0: none.
    bars_days: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    self_claimable: Mapped[bool] = mapped_column(default=False)
    effective_from: Mapped[date]
    effective_until: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    rule: Mapped[Rule] = relationship(back_populates="versions")
    roles: Mapped[list["RuleVersionRole"]] = relationship(cascade="all, delete-orphan", order_by="RuleVersionRole.role")

    @property
    def role_set(self) -> frozenset[Role]:
        return frozenset(r.role for r in self.roles)

    def applies_to(self, kind: HouseholdKind) -> bool:
        """Whether this version is in the rule book of households of this kind (户籍村民 / 外来租住人员)."""
        return self.for_registered if kind is HouseholdKind.REGISTERED else self.for_renters

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_until is None or day < self.effective_until)


class RuleVersionRole(db.Model):
    """A role that may apply this version of the rule (award or deduct under it)."""

    __tablename__ = "rule_version_roles"

    rule_version_id: Mapped[int] = mapped_column(
        ForeignKey("rule_versions.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[Role] = mapped_column(value_enum(Role, "role", 24), primary_key=True)


register_words(
    actions={
        "rule.created": _l("新增细则"),
        "rule.revised": _l("修改细则"),
        "rules.imported": _l("导入细则"),
        "rules.from_template": _l("按镇模板建立细则"),
    },
    fields={
        "category": _l("类别"),
        "points": _l("分值"),
        "unit": _l("单位"),
        "version": _l("版本"),
        "roles": _l("可使用角色"),
        "effective_from": _l("生效日期"),
        "effective_until": _l("失效日期"),
        "for_registered": _l("适用户籍村民"),
        "for_renters": _l("适用外来租住人员"),
        "cap_day": _l("每日上限"),
        "cap_week": _l("每周上限"),
        "cap_month": _l("每月上限"),
        "cap_year": _l("每年上限"),
        "evidence_required": _l("需要照片"),
        "self_claimable": _l("村民可申报"),
        "revise_from": _l("修改生效日期"),
    },
    values=(CATEGORY_LABELS, UNIT_LABELS),
)
