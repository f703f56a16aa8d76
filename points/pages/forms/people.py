"""The import form, and the forms that keep the register: a household, a resident, and who left when."""
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, HiddenField, IntegerField, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from ...people.models import KIND_LABELS, CareTag, Closure, Departure, HouseholdKind
from ...people.services import CARE_TAG_LABELS, CLOSURE_LABELS, DEPARTURE_LABELS
from . import Form


def _choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(member.value, label) for member, label in labels.items()]


class ImportForm(Form):
    village_id = SelectField(_l("导入到"), coerce=int, choices=[])
    file = FileField(_l("选择文件（.xlsx 或 .csv）"), validators=[FileRequired(_l("请选择要导入的文件"))])


class ConfirmImportForm(Form):
    """Applies the file of a preview, as long as it would still do what the preview showed."""

    village_id = IntegerField(validators=[InputRequired()])
    upload = HiddenField(validators=[InputRequired()])
    digest = HiddenField(validators=[InputRequired()])


class HouseholdForm(Form):
    address = StringField(_l("门牌地址"), validators=[
        InputRequired(_l("请填写门牌地址")), Length(max=200, message=_l("地址不能超过 %(max)d 个字"))])
    kind = RadioField(_l("户籍类型（决定适用哪本积分细则）"), choices=_choices(KIND_LABELS), coerce=HouseholdKind)
    care_tags = SelectMultipleField(_l("关爱标签（只有工作人员看得到）"), choices=_choices(CARE_TAG_LABELS),
                                    coerce=CareTag,
                                    widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())


class EditHouseholdForm(HouseholdForm):
    head_id = SelectField(_l("户主"), coerce=int, choices=[])


class NewHouseholdForm(HouseholdForm):
    grid_id = SelectField(_l("所属网格"), coerce=int, choices=[])
    head_name = StringField(_l("户主姓名"), validators=[InputRequired(_l("请填写户主姓名")), Length(max=50)])
    head_phone = StringField(_l("户主手机号（可不填）"))
    head_id_number = StringField(_l("户主身份证号（可不填）"))


class ResidentForm(Form):
    name = StringField(_l("姓名"), validators=[InputRequired(_l("请填写姓名")), Length(max=50)])
    relation = StringField(_l("与户主关系（配偶、子女、父母……）"), validators=[
        InputRequired(_l("请填写与户主关系")), Length(max=20)])
    phone = StringField(_l("手机号（可不填）"))
    id_number = StringField(_l("身份证号（可不填）"))


class ClosureForm(Form):
    reason = RadioField(_l("原因"), choices=_choices(CLOSURE_LABELS), coerce=Closure, default=Closure.MOVED_OUT)
    day = DateField(_l("哪一天"), validators=[InputRequired(_l("请填写日期"))])


class DepartureForm(Form):
    reason = RadioField(_l("原因"), choices=_choices(DEPARTURE_LABELS), coerce=Departure, default=Departure.MOVED_OUT)
    day = DateField(_l("哪一天"), validators=[InputRequired(_l("请填写日期"))])


# The field a refusal of the register's services is shown under.
REFUSAL_FIELDS = {
    "missing_address": "address", "address_too_long": "address", "head_not_member": "head_id",
    "invalid_grid": "grid_id",
    "missing_name": "name", "name_too_long": "name", "relation_invalid": "relation", "invalid_phone": "phone",
    "invalid_id_number": "id_number", "id_number_taken": "id_number", "day_in_future": "day", "invalid_day": "day",
}
