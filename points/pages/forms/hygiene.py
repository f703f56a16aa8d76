"""The village's 卫生评比 settings form (the checklist's rows are read from the request as they vary in number)."""
from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange

from ...hygiene.models import TIE_LABELS, UNSCORED_LABELS, TiePolicy, UnscoredPolicy
from ...hygiene.village_settings import MAX_SETTING
from . import Form

_RANGE = NumberRange(min=0, max=MAX_SETTING, message=_l("请填写 0 到 %(max)d 之间的整数"))


def _number(label):
    return IntegerField(label, validators=[InputRequired(_l("请填写数字")), _RANGE])


class SettingsForm(Form):
    full_score = IntegerField(_l("每户每周满分"), validators=[
        InputRequired(_l("请填写数字")),
        NumberRange(min=1, max=MAX_SETTING, message=_l("请填写 1 到 %(max)d 之间的整数"))])
    model_count = _number(_l("每个网格评几户示范户"))
    model_points = _number(_l("示范户每户奖励积分"))
    shame_count = _number(_l("每个网格晾晒几户（0 为不晾晒）"))
    shame_ties = SelectField(_l("晾晒名额边上并列时"),
                             choices=[SelectChoice(t.value, TIE_LABELS[t]) for t in TiePolicy],
                             coerce=TiePolicy)
    shame_max = _number(_l("并列时晾晒最多几户（不少于晾晒户数；超过时并列的都不列）"))
    penalty_rule_id = SelectField(_l("晾晒的户扣分"), coerce=int, choices=[])
    ties = SelectField(_l("示范户、流动红旗名额边上并列时"),
                       choices=[SelectChoice(t.value, TIE_LABELS[t]) for t in TiePolicy],
                       coerce=TiePolicy)
    unscored = SelectField(_l("发布时还没评分的户"),
                           choices=[SelectChoice(u.value, UNSCORED_LABELS[u]) for u in UnscoredPolicy],
                           coerce=UnscoredPolicy)
    flag_points = _number(_l("流动红旗每户奖励积分"))
