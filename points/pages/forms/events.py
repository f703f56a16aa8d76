"""The forms of 志愿活动: one event, and a monthly series (times are local, from datetime-local and time inputs)."""

from flask_babel import lazy_gettext as _l
from wtforms import DateTimeLocalField, FloatField, IntegerField, MonthField, SelectField, StringField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from ...events.models import MODE_LABELS, CheckinMode
from ...periods import next_month
from ...timeutil import local_today
from . import Form

_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
NTH_LABELS = {1: _l("第 1 个"), 2: _l("第 2 个"), 3: _l("第 3 个"), 4: _l("第 4 个"), -1: _l("最后一个")}
WEEKDAY_LABELS = [_l("星期一"), _l("星期二"), _l("星期三"), _l("星期四"), _l("星期五"), _l("星期六"), _l("星期日")]


def _id_or_none(value) -> int | None:
    """A choice's id; the empty first choice ("请选择…") is None."""
    return None if value in ("", None) else int(value)


def _next_month():
    return next_month(local_today())


class EventTermsForm(Form):
    """What an event and a series both say, besides when. The view fills the rule and grid choices."""

    title = StringField(_l("活动名称"), validators=[DataRequired(_l("请填写活动名称")), Length(max=60)])
    place = StringField(_l("地点"), validators=[DataRequired(_l("请填写活动地点")), Length(max=100)])
    # No default: the organizer picks the rule the attendees are paid under (the view puts "请选择…" first).
    rule_id = SelectField(_l("积分细则"), coerce=_id_or_none, choices=[],
                          validators=[InputRequired(_l("请选择本活动按哪条积分细则记分"))])
    mode = SelectField(_l("签到方式"), choices=[SelectChoice(m.value, MODE_LABELS[m]) for m in CheckinMode],
                       coerce=CheckinMode, default=CheckinMode.IN.value)
    capacity = IntegerField(_l("人数上限（不限请留空）"), validators=[
        Optional(), NumberRange(min=1, max=100_000, message=_l("人数上限应为 1 到 100000 之间的整数"))])
    grid_id = SelectField(_l("范围"), coerce=int, choices=[])


class EventForm(EventTermsForm):
    starts = DateTimeLocalField(_l("开始时间"), format=_FORMATS,
                                validators=[InputRequired(_l("请填写开始时间"))])
    ends = DateTimeLocalField(_l("结束时间"), format=_FORMATS, validators=[InputRequired(_l("请填写结束时间"))])
    # The event's place on the map, filled by the organizer's phone (static/location.js); hidden fields.
    latitude = FloatField(validators=[Optional(), NumberRange(-90, 90)])
    longitude = FloatField(validators=[Optional(), NumberRange(-180, 180)])


class FenceForm(Form):
    fence = IntegerField(_l("签到须在活动地点多少米之内（不限请留空）"), validators=[
        Optional(), NumberRange(min=10, max=100_000, message=_l("应为 10 到 100000 之间的整数"))])


class CheckoutAfterForm(Form):
    minutes = IntegerField(_l("签到后多少分钟可以签退"), validators=[
        InputRequired(_l("请填写分钟数")), NumberRange(min=1, max=720, message=_l("应为 1 到 720 之间的整数"))])


class SeriesForm(EventTermsForm):
    """每月重复的活动 (环境整治日): the nth weekday of every month, from a first month to a last."""

    nth = SelectField(_l("每月第几个"), coerce=int, default=1,
                      choices=[SelectChoice(n, label) for n, label in NTH_LABELS.items()])
    weekday = SelectField(_l("星期几"), coerce=int, default=5,
                          choices=[SelectChoice(day, label) for day, label in enumerate(WEEKDAY_LABELS)])
    start_time = TimeField(_l("开始时刻"), validators=[InputRequired(_l("请填写开始时刻"))])
    end_time = TimeField(_l("结束时刻"), validators=[InputRequired(_l("请填写结束时刻"))])
    first_month = MonthField(_l("从哪个月开始"), validators=[InputRequired(_l("请选择开始月份"))],
                             default=_next_month)
    last_month = MonthField(_l("到哪个月为止"), validators=[InputRequired(_l("请选择结束月份"))])

    def validate_end_time(self, field):
        if self.start_time.data is not None and field.data is not None and field.data <= self.start_time.data:
            raise ValidationError(_l("结束时刻必须晚于开始时刻（活动在同一天内）"))

    def validate_last_month(self, field):
        if self.first_month.data is not None and field.data is not None and field.data < self.first_month.data:
            raise ValidationError(_l("结束月份不能早于开始月份"))
