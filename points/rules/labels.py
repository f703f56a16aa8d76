"""How the rule book reads to people: the words for categories and units, signed points, and the bounds of what
a person may type for a rule (on the form and in an imported workbook alike)."""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.fields.choices import SelectChoice

from ..audit.labels import register_words
from .models import CATEGORY_LABELS, Rule, RuleCategory, RuleUnit, RuleVersion

CAP_LABELS = {"cap_day": _l("每日上限"), "cap_week": _l("每周上限"), "cap_month": _l("每月上限"),
              "cap_year": _l("每年上限")}
# The words for what a village changed of a template's rule (rules.queries.COMPARED).
FIELD_LABELS = {"name": _l("名称"), "category": _l("类别"), "points": _l("分值"), "unit": _l("计分方式"),
                "for_registered": _l("适用户籍户"), "for_renters": _l("适用外来租住户"), **CAP_LABELS,
                "evidence_required": _l("需要照片"), "self_claimable": _l("村民可申报"),
                "bars_days": _l("限制兑换天数"), "role_set": _l("谁可记分")}

# No village awards or deducts anything near this much at once; a larger number is a typing mistake.
MAX_POINTS = 10_000
# Far above any real yearly cap, and far inside the database's INTEGER.
MAX_CAP = 1_000_000
CODE_LENGTH = Rule.code.type.length
NAME_LENGTH = RuleVersion.name.type.length
# The longest bar on redeeming a penalty may carry: as long as an admin's bar (ledger.bars.MOST_DAYS), and the
# database's check (rule_versions.bars_only_penalties) says the same.
MAX_BARS_DAYS = 730
YEARS_AHEAD = 10  # a rule date further ahead than this is a typing mistake (and past 9999 breaks date arithmetic)


def signed(points: int) -> str:
    """Points as a rule book prints them: +20 for an award, −10 (a true minus sign) for a penalty."""
    return f"+{points}" if points > 0 else f"−{-points}"


def rule_choices(versions: list[RuleVersion], mention_evidence: bool = False) -> list[SelectChoice]:
    """A rule select's options: "请选择", then each rule with its points per time or hour, the days a penalty bars
    redeeming (so that whoever deducts knows), and, for a villager claiming, whether it needs a photo."""
    def label(v: RuleVersion) -> str:
        unit = _("分/小时") if v.unit is RuleUnit.HOUR else _("分/次")
        evidence = _("，需照片") if mention_evidence and v.evidence_required else ""
        bars = _("，另限制兑换 %(n)d 天", n=v.bars_days) if v.bars_days else ""
        return f"{v.name}（{v.points:+d} {unit}{bars}{evidence}）"

    return [SelectChoice(0, _("请选择"))] + [SelectChoice(v.rule_id, label(v)) for v in versions]


def by_category(versions: list[RuleVersion]) -> list[tuple[RuleCategory, list[RuleVersion]]]:
    """The versions grouped by category in reading order, each group by code; empty categories left out."""
    groups = {category: [] for category in CATEGORY_LABELS}
    for version in sorted(versions, key=lambda v: v.rule.code):
        groups[version.category].append(version)
    return [(category, found) for category, found in groups.items() if found]


register_words(fields={"bars_days": _l("限制兑换天数")})
