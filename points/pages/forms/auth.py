"""Forms of the login and account pages (Flask-WTF: every POST carries a CSRF token)."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional

from ...limits import MAX_ID
from . import Form


class LoginForm(Form):
    username = StringField(_l("用户名或手机号"), validators=[DataRequired(_l("请输入用户名或手机号"))])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请输入密码"))])
    remember = BooleanField(_l("在这台手机上保持登录"), default=True)


class PasswordForm(Form):
    current = PasswordField(_l("当前密码"), validators=[DataRequired(_l("请输入当前密码"))])
    new = PasswordField(_l("新密码"), validators=[DataRequired(_l("请输入新密码")),
                                                  Length(min=8, message=_l("密码至少需要 8 位"))])


class NewUserForm(Form):
    username = StringField(_l("用户名"), validators=[DataRequired(_l("请输入用户名")), Length(max=64)])
    display_name = StringField(_l("显示名称"), validators=[Optional(), Length(max=64)])
    password = PasswordField(_l("初始密码"), validators=[DataRequired(_l("请输入密码")),
                                                         Length(min=8, message=_l("密码至少需要 8 位"))])
    role = SelectField(_l("角色"), choices=[], validators=[Optional()])
    node_id = SelectField(_l("负责范围"), coerce=int, choices=[], validators=[Optional()])
    resident_id = IntegerField(
        _l("绑定村民（编号）"),
        validators=[Optional(), NumberRange(1, MAX_ID, _l("找不到该村民，或不在您的管理范围内"))]
    )


class AssignRoleForm(Form):
    role = SelectField(_l("角色"), choices=[])
    node_id = SelectField(_l("负责范围"), coerce=int, choices=[])


class ResetPasswordForm(Form):
    password = PasswordField(_l("新密码"), validators=[DataRequired(_l("请输入密码")),
                                                       Length(min=8, message=_l("密码至少需要 8 位"))])


class ConfirmForm(Form):
    """A button that only needs a CSRF token."""


class ActivateForm(Form):
    password = PasswordField(_l("设置密码（至少 8 位）"), validators=[
        DataRequired(_l("请输入密码")), Length(min=8, message=_l("密码至少需要 8 位"))])
    again = PasswordField(_l("再输入一次"), validators=[
        DataRequired(_l("请再输入一次密码")), EqualTo("password", _l("两次输入的密码不一样"))])


class OpenAccountsForm(Form):
    node_id = SelectField(_l("为哪里的村民开通"), coerce=int, choices=[])
    min_age = IntegerField(_l("只开通年满几岁的（可不填）"), validators=[
        Optional(), NumberRange(0, 120, _l("年龄应在 0 到 120 之间"))])
