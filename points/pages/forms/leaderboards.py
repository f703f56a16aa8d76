"""The village's 红黑榜 settings form."""
from flask_babel import lazy_gettext as _l
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange

from ...leaderboards.services import MAX_COUNT
from . import Form


class BoardSettingsForm(Form):
    red_count = IntegerField(_l("红榜列几户"), validators=[
        InputRequired(_l("请填写数字")),
        NumberRange(min=1, max=MAX_COUNT, message=_l("请填写 1 到 %(max)d 之间的整数"))])
    black_count = IntegerField(_l("黑榜列几户（0 为不设黑榜）"), validators=[
        InputRequired(_l("请填写数字")),
        NumberRange(min=0, max=MAX_COUNT, message=_l("请填写 0 到 %(max)d 之间的整数"))])
