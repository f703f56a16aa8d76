"""Forms of 走访: logging a visit, and the village's visit settings."""
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import DateField, HiddenField, IntegerField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ...people.models import CareTag
from ...visits.models import VISIT_KIND_LABELS, VisitKind
from ...visits.services import MAX_DAYS, MAX_NOTE
from . import Form


class VisitForm(Form):
    visited_on = DateField(_l("走访日期"), validators=[InputRequired(_l("请填写走访日期"))])
    kind = SelectField(_l("走访类型"), choices=[SelectChoice(k.value, VISIT_KIND_LABELS[k]) for k in VisitKind],
                       default=VisitKind.ROUTINE.value, validators=[DataRequired(_l("请选择走访类型"))])
    note = TextAreaField(_l("走访情况（只有工作人员看得到）"),
                         validators=[Optional(), Length(max=MAX_NOTE, message=_l("走访情况不能超过 300 个字"))])
    photo = FileField(_l("照片（可选，1 张）"))
    key = HiddenField(validators=[DataRequired(), Length(max=40)])


_DAYS = [InputRequired(_l("请填写天数")), NumberRange(min=0, max=MAX_DAYS, message=_l("天数应在 0 到 366 之间"))]


class VisitSettingsForm(Form):
    rule_id = SelectField(_l("走访记哪条履职积分"), coerce=int, choices=[])
    knock_days = IntegerField(_l("敲门行动：每户多少天走访一次（0 表示不要求）"), validators=_DAYS)


def cadence_field(tag: CareTag) -> str:
    """The name of a care tag's days field on the settings page."""
    return f"days-{tag.value}"
