"""The form of a new 志愿活动 (times are local, from datetime-local inputs)."""
from flask_babel import lazy_gettext as _l
from wtforms import DateTimeLocalField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..forms import Form
from .models import MODE_LABELS, CheckinMode

_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


class EventForm(Form):
    title = StringField(_l("活动名称"), validators=[DataRequired(_l("请填写活动名称")), Length(max=60)])
    place = StringField(_l("地点"), validators=[DataRequired(_l("请填写活动地点")), Length(max=100)])
    starts = DateTimeLocalField(_l("开始时间"), format=_FORMATS,
                                validators=[InputRequired(_l("请填写开始时间"))])
    ends = DateTimeLocalField(_l("结束时间"), format=_FORMATS, validators=[InputRequired(_l("请填写结束时间"))])
    rule_id = SelectField(_l("积分细则"), coerce=int, choices=[])
    mode = SelectField(_l("签到方式"), choices=[SelectChoice(m.value, MODE_LABELS[m]) for m in CheckinMode],
                       coerce=CheckinMode, default=CheckinMode.IN.value)
    capacity = IntegerField(_l("人数上限（不限请留空）"), validators=[
        Optional(), NumberRange(min=1, max=100_000, message=_l("人数上限应为 1 到 100000 之间的整数"))])
    grid_id = SelectField(_l("范围"), coerce=int, choices=[])
