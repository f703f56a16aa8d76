"""Forms of 民情诉求: a report, the staff's steps, the reporter's 回访, and the village's settings."""
from flask_babel import lazy_gettext as _l
from flask_wtf.file import MultipleFileField
from wtforms import HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from . import Form


class ReportForm(Form):
    household_number = StringField(_l("替哪一户反映（户号）"),
                                   validators=[Optional(), Length(max=20, message=_l("户号不能超过 20 个字"))])
    village = HiddenField()  # the village a staff member of several villages reports in (代报)
    category = SelectField(_l("什么问题"), choices=[], validators=[DataRequired(_l("请选择问题类别"))])
    text = TextAreaField(_l("说明"), validators=[Optional(), Length(max=500, message=_l("内容不能超过 500 个字"))])
    place = StringField(_l("在哪里"), validators=[Optional(), Length(max=100, message=_l("地点不能超过 100 个字"))])
    photos = MultipleFileField(_l("照片（最多 3 张）"))
    key = HiddenField(validators=[DataRequired(), Length(max=40)])


class ReasonForm(Form):
    reason = StringField(_l("理由"), validators=[DataRequired(_l("请填写理由")),
                                               Length(max=200, message=_l("理由不能超过 200 个字"))])


class StepForm(Form):
    note = TextAreaField(_l("处置情况"), validators=[Optional(), Length(max=200, message=_l("说明不能超过 200 个字"))])
    photos = MultipleFileField(_l("照片（最多 3 张）"))


class FeedbackForm(Form):
    satisfied = RadioField(_l("您对处理结果满意吗"),
                           choices=[SelectChoice("yes", _l("满意")), SelectChoice("no", _l("不满意"))],
                           validators=[InputRequired(_l("请选择满意或不满意"))])
    reason = StringField(_l("不满意的原因"),
                         validators=[Optional(), Length(max=200, message=_l("原因不能超过 200 个字"))])


class SettingsForm(Form):
    accept_hours = IntegerField(_l("受理时限（小时）"), validators=[
        InputRequired(_l("请填写受理时限")), NumberRange(1, 720, _l("受理时限应在 1 到 720 小时之间"))])
    finish_days = IntegerField(_l("办结时限（天）"), validators=[
        InputRequired(_l("请填写办结时限")), NumberRange(1, 90, _l("办结时限应在 1 到 90 天之间"))])
    reward_rule_id = SelectField(_l("受理后反映人户得分（宣传监督细则）"), coerce=int, choices=[])
    duty_rule_id = SelectField(_l("按时办结的网格员得分（网格员履职细则）"), coerce=int, choices=[])
    new_category = StringField(_l("新增类别"), validators=[
        Optional(), Length(max=20, message=_l("类别名称不能超过 20 个字"))])
