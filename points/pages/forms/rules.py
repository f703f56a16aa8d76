"""The forms of the rule book: a new rule, a revision of one, and the import of a workbook."""
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, IntegerField, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ...auth.models import ROLE_LABELS, Role
from ...errors import MESSAGES, DomainError
from ...rules.labels import CAP_LABELS, CODE_LENGTH, MAX_BARS_DAYS, MAX_CAP, MAX_POINTS, NAME_LENGTH, YEARS_AHEAD
from ...rules.models import CATEGORY_LABELS, UNIT_LABELS, RuleCategory, RuleUnit
from ...rules.services import CAPS, RuleTerms
from ...timeutil import local_today
from . import Form


def _choices(labels: dict) -> list[SelectChoice]:
    """An enum's labels as choices: the form sends the stored value, coerce turns it back into the member."""
    return [SelectChoice(member.value, label) for member, label in labels.items()]


def _not_zero(form, field) -> None:
    if field.data == 0:
        raise ValidationError(MESSAGES["rule_points_zero"])


def _cap_field(name: str) -> IntegerField:
    return IntegerField(
        CAP_LABELS[name],
        validators=[Optional(), NumberRange(1, MAX_CAP, _l("上限必须是 1 到 %(max)s 之间的整数，或留空表示不设上限"))],
    )


def tomorrow() -> date:
    """The default first day of a change: today's entries stay under the version they were posted under."""
    return local_today() + timedelta(days=1)


class RuleTermsForm(Form):
    """What one version of a rule says (RuleTerms): shared by the new-rule and the revision forms."""

    name = StringField(
        _l("名称"),
        validators=[
            DataRequired(MESSAGES["rule_name_required"]),
            Length(max=NAME_LENGTH, message=_l("名称不能超过 %(max)d 个字")),
        ],
    )
    category = SelectField(
        _l("类别"), choices=_choices(CATEGORY_LABELS), coerce=RuleCategory, default=RuleCategory.HYGIENE
    )
    points = IntegerField(
        _l("分值（加分填正数，扣分填负数）"),
        validators=[
            InputRequired(_l("请填写分值")),
            NumberRange(-MAX_POINTS, MAX_POINTS, _l("分值必须在 %(min)s 到 %(max)s 之间")),
            _not_zero,
        ],
    )
    unit = RadioField(_l("计分方式"), choices=_choices(UNIT_LABELS), coerce=RuleUnit, default=RuleUnit.OCCURRENCE)
    for_registered = BooleanField(_l("户籍村民"), default=True)
    for_renters = BooleanField(_l("外来租住人员"), default=True)
    cap_day = _cap_field("cap_day")
    cap_week = _cap_field("cap_week")
    cap_month = _cap_field("cap_month")
    cap_year = _cap_field("cap_year")
    evidence_required = BooleanField(_l("需要上传照片作为证明"))
    self_claimable = BooleanField(_l("村民可以自行申报"))
    # 限制兑换天数: the days a penalty also bars its household from redeeming; blank is 0.
    bars_days = IntegerField(_l("限制兑换天数（扣分时附加，0 为不限制）"), default=0, validators=[Optional()])
    roles = SelectMultipleField(
        _l("可使用该细则的角色"),
        choices=_choices(ROLE_LABELS),
        coerce=Role,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )

    def validate_for_renters(self, field) -> None:
        if not (field.data or self.for_registered.data):
            raise ValidationError(MESSAGES["rule_applies_to_no_one"])

    def validate_bars_days(self, field) -> None:
        if not 0 <= (field.data or 0) <= MAX_BARS_DAYS:
            raise ValidationError(DomainError("rule_bars_days_invalid", most=MAX_BARS_DAYS).message)
        if field.data and self.points.data is not None and self.points.data > 0:
            raise ValidationError(DomainError("rule_bars_only_penalty").message)

    def terms(self) -> RuleTerms:
        """The terms as typed (only meaningful after the form validated)."""
        return RuleTerms(
            name=self.name.data.strip(),
            category=self.category.data,
            points=self.points.data,
            unit=self.unit.data,
            for_registered=self.for_registered.data,
            for_renters=self.for_renters.data,
            evidence_required=self.evidence_required.data,
            self_claimable=self.self_claimable.data,
            bars_days=self.bars_days.data or 0,
            roles=frozenset(self.roles.data),
            **{cap: getattr(self, cap).data for cap in CAPS},
        )

    @staticmethod
    def data_of(terms: RuleTerms) -> dict:
        """Form data showing terms, to start a revision from what the rule says now."""
        values = {name: getattr(terms, name) for name in RuleTerms.__dataclass_fields__}
        return values | {"roles": sorted(terms.roles, key=list(Role).index)}


def _within_years(form, field) -> None:
    if field.data and field.data > local_today().replace(year=local_today().year + YEARS_AHEAD, day=1):
        raise ValidationError(_l("日期不能超过 %(years)d 年以后", years=YEARS_AHEAD))


def _after_today(form, field) -> None:
    """A revision starts tomorrow at the earliest: points already posted stay under the version they were posted
    under, and so does today."""
    if field.data and field.data <= local_today():
        raise ValidationError(_l("新版本最早从明天起生效"))


class NewRuleForm(RuleTermsForm):
    code = StringField(
        _l("编码（本村唯一，如 HYG-01）"),
        validators=[
            DataRequired(MESSAGES["rule_code_required"]),
            Length(max=CODE_LENGTH, message=_l("编码不能超过 %(max)d 个字符")),
        ],
    )
    effective_from = DateField(_l("生效日期"), validators=[InputRequired(_l("请选择生效日期")), _within_years],
                               default=local_today)
    effective_until = DateField(_l("失效日期（可空，不设期限）"), validators=[Optional(), _within_years])

    def validate_effective_until(self, field) -> None:
        if field.data and self.effective_from.data and field.data <= self.effective_from.data:
            raise ValidationError(MESSAGES["rule_window_empty"])


class ReviseRuleForm(RuleTermsForm):
    effective_from = DateField(_l("新版本的生效日期"),
                               validators=[InputRequired(_l("请选择生效日期")), _after_today, _within_years])


class ImportForm(Form):
    file = FileField(_l("选择文件（.xlsx 或 .csv）"), validators=[FileRequired(_l("请选择要导入的文件"))])
    effective_from = DateField(
        _l("修改过的细则从哪天起按新内容执行"),
        validators=[InputRequired(_l("请选择生效日期")), _after_today, _within_years],
        default=tomorrow,
    )
