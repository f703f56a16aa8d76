"""Forms of the grid tree: a new node, and a node renamed, re-coded or moved."""
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import InputRequired, Length

from ...grids.services import NAME_LIMIT
from . import Form


class NodeForm(Form):
    name = StringField(_l("名称"), validators=[
        InputRequired(_l("请填写名称")), Length(max=NAME_LIMIT, message=_l("名称不能超过 %(max)d 个字"))])
    code = StringField(_l("编码（字母、数字、- 或 _，全镇不重复）"), validators=[
        InputRequired(_l("请填写编码")), Length(max=32, message=_l("编码不能超过 %(max)d 个字符"))])


class ChangeNodeForm(NodeForm):
    parent_id = SelectField(_l("上级"), coerce=int)


class TreeImportForm(Form):
    file = FileField(_l("选择文件（.xlsx 或 .csv）"), validators=[FileRequired(_l("请选择要导入的文件"))])


class ConfirmTreeImportForm(Form):
    """Applies the file of a preview, as long as it would still do what the preview showed."""

    upload = HiddenField(validators=[InputRequired()])
    digest = HiddenField(validators=[InputRequired()])


# The field a refusal of the tree's services is shown under.
REFUSAL_FIELDS = {
    "node_name_required": "name", "node_name_too_long": "name", "invalid_node_code": "code", "code_taken": "code",
    "invalid_parent": "parent_id", "node_under_itself": "parent_id", "grid_leaves_village": "parent_id",
    "parent_retired": "parent_id",
}
