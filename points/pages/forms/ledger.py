"""Forms of the award, batch and reversal pages. Each carries a one-time key, so that a double tap or a
resubmitted form posts once."""
from flask_babel import lazy_gettext as _l
from wtforms import DateField, HiddenField, IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from . import Form

NOTE = Length(max=200, message=_l("备注不能超过 200 个字"))


class AwardForm(Form):
    rule_id = SelectField(_l("细则"), coerce=int, choices=[], validators=[DataRequired(_l("请选择细则"))])
    quantity = IntegerField(_l("次数（按小时计的细则填小时数）"), default=1,
                            validators=[InputRequired(_l("请填写次数或小时数"))])
    resident_id = SelectField(_l("本户成员（可不选）"), coerce=int, choices=[], default=0)
    occurred_on = DateField(_l("日期"), validators=[InputRequired(_l("请填写日期"))])
    note = StringField(_l("备注"), validators=[Optional(), NOTE])
    key = HiddenField(validators=[DataRequired(), Length(max=40)])


class BatchAwardForm(Form):
    rule_id = SelectField(_l("细则"), coerce=int, choices=[], validators=[DataRequired(_l("请选择细则"))])
    quantity = IntegerField(_l("次数（按小时计的细则填小时数）"), default=1,
                            validators=[InputRequired(_l("请填写次数或小时数"))])
    household_ids = SelectMultipleField(
        _l("选择住户"), coerce=int, choices=[], widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
        validate_choice=False,  # the service decides which households the actor may award
    )
    occurred_on = DateField(_l("日期"), validators=[InputRequired(_l("请填写日期"))])
    note = StringField(_l("备注"), validators=[Optional(), NOTE])
    key = HiddenField(validators=[DataRequired(), Length(max=40)])


class ReverseForm(Form):
    note = StringField(_l("冲正原因"), validators=[DataRequired(_l("请填写冲正原因")), NOTE])
