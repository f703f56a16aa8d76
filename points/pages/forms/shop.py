"""The forms of the 积分超市: a product (new and edit), a restock, a stock count, and a void with its reason."""
import uuid

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from ...shop.services import MAX_PRICE, MAX_REASON, MAX_STOCK
from . import Form


class ProductForm(Form):
    name = StringField(_l("商品名称"), validators=[DataRequired(_l("请填写商品名称")), Length(max=60)])
    unit = StringField(_l("单位（如 瓶、袋、块）"), validators=[DataRequired(_l("请填写单位")), Length(max=10)])
    price = IntegerField(_l("兑换积分（每件）"), validators=[
        InputRequired(_l("请填写兑换积分")),
        NumberRange(min=1, max=MAX_PRICE, message=_l("兑换积分应为 1 到 %(max)d 之间的整数"))])
    active = BooleanField(_l("上架（可兑换）"), default=True)
    photo = FileField(_l("商品图片（可不传）"))


def _fresh_key() -> str:
    return uuid.uuid4().hex


class KeyedForm(Form):
    """A form that moves stock carries a key made when the page is shown: sent twice (a double tap, the browser's
    resend), it moves the stock once."""

    key = HiddenField(default=_fresh_key, validators=[Length(max=32)])

    def client_key(self) -> str | None:
        return f"web:{self.key.data}" if self.key.data else None


class NewProductForm(ProductForm, KeyedForm):
    stock = IntegerField(_l("首批库存"), default=0, validators=[
        InputRequired(_l("请填写首批库存（没有就填 0）")),
        NumberRange(min=0, max=MAX_STOCK, message=_l("库存应为 0 到 %(max)d 之间的整数"))])


class RestockForm(KeyedForm):
    """进货."""

    quantity = IntegerField(_l("进货数量"), validators=[
        InputRequired(_l("请填写进货数量")),
        NumberRange(min=1, max=MAX_STOCK, message=_l("进货数量应为 1 到 %(max)d 之间的整数"))])
    reason = StringField(_l("说明（如 镇里送来、采购）"), validators=[Length(max=MAX_REASON)])


class CountForm(KeyedForm):
    """盘点调整: what is on the shelf."""

    counted = IntegerField(_l("实际数量"), validators=[
        InputRequired(_l("请填写盘点的实际数量")),
        NumberRange(min=0, max=MAX_STOCK, message=_l("实际数量应为 0 到 %(max)d 之间的整数"))])
    reason = StringField(_l("调整原因"), validators=[DataRequired(_l("请填写调整原因")), Length(max=MAX_REASON)])


class VoidForm(Form):
    reason = StringField(_l("作废理由"), validators=[DataRequired(_l("请填写作废理由")), Length(max=MAX_REASON)])
