"""Forms of 微心愿: posting one, saying it is done, lighting it with a photo, withdrawing it."""
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from . import Form


class WishForm(Form):
    number = StringField(_l("户号"), validators=[DataRequired(_l("请填写户号")),
                                               Length(max=20, message=_l("户号不能超过 20 个字"))])
    title = StringField(_l("心愿（会公开在心愿墙上，不写姓名和住址）"),
                        validators=[DataRequired(_l("请填写心愿")), Length(max=40, message=_l("心愿不能超过 40 个字"))])
    detail = TextAreaField(_l("情况说明（只有工作人员能看到）"),
                           validators=[Optional(), Length(max=300, message=_l("情况说明不能超过 300 个字"))])
    rule_id = SelectField(_l("认领人完成后记哪一项积分"), coerce=int, choices=[],
                          validators=[DataRequired(_l("请选择积分细则"))])
    key = HiddenField(validators=[DataRequired(), Length(max=40)])


class FulfilForm(Form):
    note = StringField(_l("说明（可不填）"),
                       validators=[Optional(), Length(max=200, message=_l("说明不能超过 200 个字"))])


class LightForm(Form):
    photo = FileField(_l("完成的照片"))


class WithdrawForm(Form):
    reason = StringField(_l("撤下的理由"), validators=[DataRequired(_l("请填写理由")),
                                                 Length(max=200, message=_l("理由不能超过 200 个字"))])
