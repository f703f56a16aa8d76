"""Forms of claims (积分申报), their review, and appeals (申诉)."""
from typing import IO

from flask_babel import lazy_gettext as _l
from flask_wtf.file import MultipleFileField
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from . import Form


class ClaimForm(Form):
    rule_id = SelectField(_l("申报哪一项"), coerce=int, choices=[], validators=[DataRequired(_l("请选择申报项目"))])
    quantity = IntegerField(_l("次数（按小时计的项目填小时数）"), default=1,
                            validators=[InputRequired(_l("请填写次数或小时数"))])
    occurred_on = DateField(_l("哪一天"), validators=[InputRequired(_l("请填写日期"))])
    note = TextAreaField(_l("说明"), validators=[Optional(), Length(max=200, message=_l("说明不能超过 200 个字"))])
    photos = MultipleFileField(_l("照片（最多 3 张）"))
    key = HiddenField(validators=[DataRequired(), Length(max=40)])


class RejectForm(Form):
    reason = StringField(_l("驳回理由"), validators=[DataRequired(_l("请填写理由")),
                                                 Length(max=200, message=_l("理由不能超过 200 个字"))])


class AppealForm(Form):
    reason = TextAreaField(_l("申诉理由"), validators=[DataRequired(_l("请填写理由")),
                                                   Length(max=500, message=_l("理由不能超过 500 个字"))])
    key = HiddenField(validators=[DataRequired(), Length(max=40)])


class DecisionForm(Form):
    decision = SelectField(_l("处理结果"), choices=[SelectChoice("uphold", _l("维持扣分")),
                                                SelectChoice("reverse", _l("撤销扣分（退回积分）"))])
    note = StringField(_l("处理说明"), validators=[Optional(), Length(max=200, message=_l("说明不能超过 200 个字"))])


def fields_before_files(stream: IO[bytes], boundary: bytes, limit: int = 65536) -> MultiDict:
    """The text fields a multipart body sends before its first file, reading no more than limit bytes of it.

    A body too large to be read still says, in its first few hundred bytes, what the claim was: browsers send a
    form's fields in its order, and the photos come last. Whatever cannot be read (a broken body, a dropped
    connection, a field larger than limit) ends the fields there."""
    decoder = MultipartDecoder(boundary, max_form_memory_size=limit)
    fields, name, value, read = MultiDict(), None, bytearray(), 0
    try:
        while read < limit:
            chunk = stream.read(min(8192, limit - read))
            read += len(chunk)
            decoder.receive_data(chunk or None)
            event = decoder.next_event()
            while not isinstance(event, NeedData):
                if isinstance(event, (File, Epilogue)):  # the first file, or the end of the body
                    return fields
                if isinstance(event, Field):
                    name, value = event.name, bytearray()
                elif isinstance(event, Data) and name is not None:
                    value += event.data
                    if not event.more_data:
                        fields.add(name, value.decode("utf-8", "replace"))
                event = decoder.next_event()
            if not chunk:
                break
    except (OSError, ValueError, HTTPException):  # a field over limit, a body cut short
        pass
    return fields
