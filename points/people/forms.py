"""The import form."""
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField

from ..forms import Form


class ImportForm(Form):
    village_id = SelectField(_l("导入到"), coerce=int, choices=[])
    file = FileField(_l("选择文件（.xlsx 或 .csv）"), validators=[FileRequired(_l("请选择要导入的文件"))])
