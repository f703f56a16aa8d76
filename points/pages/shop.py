"""Pages of the 积分超市: the /shop entry, a shop's catalog for its villagers, the products page with restocks, stock
counts and their history, the clerk's counter (read a household card, fill the basket, 确认兑换), the receipt with
its void form, the day's and month's report with its .xlsx export, and a villager's own redemptions."""
import io
import re
import uuid
from datetime import date

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..auth import policy
from ..errors import DomainError, Forbidden, NotFound, error_response
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..ledger.queries import balance_of
from ..ledger.standing import standing_of
from ..media import clean_photo, store_photo
from ..people.cards import CARD_PREFIX
from ..people.models import Household
from ..periods import month_bounds
from ..shop import queries, reports, services
from ..shop.models import CHANGE_LABELS, Product, Redemption, Shop
from ..shop.queries import (
    balance_after,
    first_shop_of_village,
    first_shop_run_by,
    household_redemptions,
    product_movements,
    shop_products,
)
from ..shop.workbook import report_workbook
from ..timeutil import local_today
from ..xlsx import XLSX
from . import confirm, refused
from .forms import refusal_message
from .forms.shop import CountForm, NewProductForm, ProductForm, RestockForm, VoidForm

bp = Blueprint("shop", __name__)
RUN_SHOP = policy.Permission.RUN_SHOP
PHOTO_ERRORS = {"photo_too_large", "not_an_image"}
QUANTITY = re.compile(r"[0-9]{1,6}")
PRODUCT_FIELD = re.compile(r"qty-([0-9]{1,9})")


def _status(refusal: DomainError) -> int:
    """A refusal shown on its form: 409 and the like as they are, a plain 400 as 422 (the form was understood)."""
    return 422 if refusal.status == 400 else refusal.status


def _undo(refusal: DomainError) -> None:
    """After a refusal, nothing written stays; a Forbidden or NotFound goes on to its error page."""
    db.session.rollback()
    if refusal.status in (403, 404):
        raise refusal


def _text(value: str | None, limit: int) -> str:
    return (value or "").replace("\x00", "").strip()[:limit]


def _run_shop(shop_id: int) -> Shop:
    shop = services.shop_of(shop_id)
    policy.require(current_user, RUN_SHOP, shop.village_id)
    return shop


def _product(product_id: int) -> Product:
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound()
    policy.require(current_user, RUN_SHOP, product.shop.village_id)
    return product


# ---------------------------------------------------------------------------------------------------- entry, catalog


@bp.get("/shop")
@login_required
def entry():
    """超市: a clerk to the counter of their (first) shop, a villager to their village's shop."""
    if policy.holds(current_user, RUN_SHOP):
        shop = first_shop_run_by(current_user)
        if shop is not None:
            return redirect(url_for("shop.counter", shop_id=shop.id))
    household_id = policy.own_household_id(current_user)
    if household_id is not None:
        shop = first_shop_of_village(db.session.get(Household, household_id).village_id)
        if shop is not None:
            return redirect(url_for("shop.catalog", shop_id=shop.id))
    return render_template("shop/none.html", villages=_villages_without_shop())


def _villages_without_shop() -> list[GridNode]:
    """The villages where the user may open a shop and none is open yet (a town admin's first few)."""
    villages = policy.nodes_in_scope(current_user, policy.Permission.MANAGE_SHOP, NodeKind.VILLAGE)
    return [v for v in villages if first_shop_of_village(v.id) is None][:50]


@bp.post("/villages/<id:village_id>/shop")
@login_required
def open_shop(village_id: int):
    """开设积分超市: the village's shop, by name; its clerks then add the products."""
    village = policy.visible_village(current_user, village_id)
    policy.require(current_user, policy.Permission.MANAGE_SHOP, village.id)  # a 403, not a message on the page
    try:
        shop = services.create_shop(current_user, village, _text(request.form.get("name"), 100))
    except DomainError as refusal:
        refused(refusal)
        return redirect(url_for("shop.entry"))
    flash(_("已开设%(name)s，请添加商品", name=shop.name))
    return redirect(url_for("shop.products", shop_id=shop.id))


@bp.get("/shops/<id:shop_id>")
@login_required
def catalog(shop_id: int):
    """The products on offer and in stock; for a villager of the village, what their balance can buy."""
    shop = services.shop_of(shop_id)
    policy.visible_village(current_user, shop.village_id)
    household_id = policy.own_household_id(current_user)
    household = db.session.get(Household, household_id) if household_id is not None else None
    if household is not None and household.village_id != shop.village_id:
        household = None
    products = [p for p in shop_products(shop.id, active_only=True) if p.stock > 0]
    return render_template("shop/catalog.html", shop=shop, products=products, household=household,
                           balance=balance_of(household.id) if household else None,
                           runner=policy.can(current_user, RUN_SHOP, shop.village_id))


@bp.get("/products/<id:product_id>/photo")
@login_required
def photo(product_id: int):
    """A product's picture, for whoever may see the shop's village (its villagers and staff)."""
    product = db.session.get(Product, product_id)
    if product is None or product.photo is None:
        raise NotFound()
    policy.visible_village(current_user, product.shop.village_id)
    response = send_file(f"{current_app.config['UPLOAD_FOLDER']}/{product.photo}", mimetype="image/jpeg", max_age=0)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


# ---------------------------------------------------------------------------------------------------- products


def _cleaned_photo(upload) -> bytes | None:
    """The uploaded picture, checked and re-encoded (nothing stored yet). Raises DomainError (photo)."""
    if upload is None or not getattr(upload, "filename", None):
        return None
    return clean_photo(upload.read(), current_app.config["PHOTO_MAX_BYTES"])


def _store_photo(product: Product, jpeg: bytes | None) -> None:
    if jpeg is not None:
        services.set_photo(current_user, product, store_photo(current_app.config["UPLOAD_FOLDER"], jpeg).filename)


def _terms(form: ProductForm) -> services.ProductTerms:
    return services.ProductTerms(form.name.data, form.unit.data, form.price.data, bool(form.active.data))


def _refuse_on(form: ProductForm, refusal: DomainError) -> str | None:
    """Put a photo's refusal under the photo field; any other is the page's error."""
    if refusal.code in PHOTO_ERRORS:
        form.photo.errors = [*form.photo.errors, refusal.message]
        return None
    return refusal_message(refusal, form)


@bp.route("/shops/<id:shop_id>/products", methods=["GET", "POST"])
@login_required
def products(shop_id: int):
    """商品管理: the shop's products with price, unit, stock and whether on offer, and the new-product form."""
    shop = _run_shop(shop_id)
    form = NewProductForm()
    error, status = None, 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                jpeg = _cleaned_photo(form.photo.data)
                product = services.create_product(current_user, shop, _terms(form), stock=form.stock.data,
                                                  client_key=form.client_key())
                _store_photo(product, jpeg)
            except DomainError as refusal:
                _undo(refusal)
                error, status = _refuse_on(form, refusal), _status(refusal)
            else:
                flash(_("已添加商品：%(name)s", name=product.name))
                return redirect(url_for("shop.products", shop_id=shop.id))
        else:
            status = 422
    return render_template("shop/products.html", shop=shop, products=shop_products(shop.id), form=form,
                           error=error), status


def _product_page(product: Product, edit: ProductForm | None = None, restock: RestockForm | None = None,
                  count: CountForm | None = None, error: str | None = None, status: int = 200):
    if edit is None:
        edit = ProductForm(formdata=None, data={"name": product.name, "unit": product.unit, "price": product.price,
                                                "active": product.active})
    return render_template("shop/product.html", product=product, shop=product.shop, edit=edit,
                           restock=restock or RestockForm(formdata=None, prefix="restock"),
                           count=count or CountForm(formdata=None, prefix="count"),
                           movements=product_movements(product.id), labels=CHANGE_LABELS, error=error), status


@bp.route("/products/<id:product_id>", methods=["GET", "POST"])
@login_required
def product(product_id: int):
    """A product: its edit form (name, unit, price, on offer, picture), restock and stock-count forms, and every
    movement of its stock with who, when and why."""
    product = _product(product_id)
    if request.method == "GET":
        return _product_page(product)
    form = ProductForm()
    if not form.validate_on_submit():
        return _product_page(product, edit=form, status=422)
    try:
        jpeg = _cleaned_photo(form.photo.data)
        services.update_product(current_user, product, _terms(form))
        _store_photo(product, jpeg)
    except DomainError as refusal:
        _undo(refusal)
        return _product_page(product, edit=form, error=_refuse_on(form, refusal), status=_status(refusal))
    flash(_("已保存：%(name)s", name=product.name))
    return redirect(url_for("shop.product", product_id=product.id))


@bp.post("/products/<id:product_id>/restock")
@login_required
def restock(product_id: int):
    """进货."""
    product = _product(product_id)
    form = RestockForm(prefix="restock")
    if not form.validate_on_submit():
        return _product_page(product, restock=form, status=422)
    try:
        services.restock(current_user, product, form.quantity.data, form.reason.data or "",
                         client_key=form.client_key())
    except DomainError as refusal:
        _undo(refusal)
        return _product_page(product, restock=form, error=refusal_message(refusal, form), status=_status(refusal))
    flash(_("已进货 %(n)d%(unit)s，现有库存 %(stock)d", n=form.quantity.data, unit=product.unit, stock=product.stock))
    return redirect(url_for("shop.product", product_id=product.id))


@bp.post("/products/<id:product_id>/count")
@login_required
def count(product_id: int):
    """盘点调整: the shelf holds what was counted."""
    product = _product(product_id)
    form = CountForm(prefix="count")
    if not form.validate_on_submit():
        return _product_page(product, count=form, status=422)
    try:
        moved = services.correct_stock(current_user, product, form.counted.data, form.reason.data,
                                       client_key=form.client_key())
    except DomainError as refusal:
        _undo(refusal)
        return _product_page(product, count=form, error=refusal_message(refusal, form), status=_status(refusal))
    if moved is None:
        flash(_("盘点数量与账面库存一致，没有调整"))
    else:
        flash(_("库存已调整为 %(stock)d", stock=product.stock))
    return redirect(url_for("shop.product", product_id=product.id))


# ---------------------------------------------------------------------------------------------------- the counter


def _counter_page(shop: Shop, household: Household | None = None, card: str = "", quantities: dict | None = None,
                  error: str | None = None, status: int = 200):
    """Step 1 (no household: read a card or a 户号) or step 2 (the household, its 可用积分 and 待公示积分, a bar in
    force, this month's redemptions here, and the basket under a fresh idempotency key)."""
    context = {"shop": shop, "household": household, "card": card, "error": error}
    if household is not None:
        today, standing = local_today(), standing_of(household)
        context.update(
            standing=standing, balance=standing.available, products=shop_products(shop.id, active_only=True),
            month=reports.redemptions_of(shop, today.replace(day=1), today, household_id=household.id),
            quantities=quantities or {}, key=uuid.uuid4().hex)
    return render_template("shop/counter.html", **context), status


@bp.route("/shops/<id:shop_id>/counter", methods=["GET", "POST"])
@login_required
def counter(shop_id: int):
    """兑换台: a USB scanner types the card's text and Enter into the focused field (or the camera reads it), or
    the clerk types a 户号. A card shows the basket at once (its text stays out of the URL); a 户号 redirects to
    ?household=<id>."""
    shop = _run_shop(shop_id)
    if request.method == "POST":
        card = _text(request.form.get("card"), 200)
        number = _text(request.form.get("number"), 20)
        if card and not card.startswith(f"{CARD_PREFIX}-"):  # the one field takes a card or a typed 户号
            card, number = "", card[:20]
        if not card and not number:
            return _counter_page(shop, error=_("请扫户卡，或输入户号"), status=422)
        try:
            household, _shown = services.customer(current_user, shop, card=card or None,
                                                  number=None if card else number)
        except DomainError as refusal:
            _undo(refusal)
            return _counter_page(shop, error=refusal.message, status=_status(refusal))
        if not card:
            return redirect(url_for("shop.counter", shop_id=shop.id, household=household.id))
        return _counter_page(shop, household, card=card)
    household_id = request.args.get("household", type=int)
    if household_id is None:
        return _counter_page(shop)
    household, _shown = services.customer(current_user, shop, household_id=household_id)
    return _counter_page(shop, household)


def _basket(form) -> tuple[list[tuple[int, int]], dict[int, str]]:
    """The basket's (product id, quantity) lines from the fields qty-<product id>, and what was typed (to show
    again after a refusal). Raises DomainError("basket_quantity")."""
    lines, typed = [], {}
    for name, value in form.items():
        field = PRODUCT_FIELD.fullmatch(name)
        if field is None:
            continue
        value = _text(value, 10)
        product_id = int(field.group(1))
        typed[product_id] = value
        if value in ("", "0"):
            continue
        if not QUANTITY.fullmatch(value):
            raise DomainError("basket_quantity", limit=services.MAX_QUANTITY)
        lines.append((product_id, int(value)))
    return lines, typed


@bp.post("/shops/<id:shop_id>/redeem")
@login_required
def redeem(shop_id: int):
    """确认兑换: the card (checked again) or the household, the basket and its key. The same key again shows the
    first receipt; a refusal shows the basket again with the reason, nothing written. A post not marked confirmed
    (by static/counter.js, which shows the total as the basket fills) is asked about first, with the total."""
    shop = _run_shop(shop_id)
    card = _text(request.form.get("card"), 200)
    household_id = None if card else request.form.get("household_id", type=int)
    key = _text(request.form.get("key"), 100) or None
    typed = {}
    try:
        lines, typed = _basket(request.form)
        done = services.redeem(current_user, shop, lines, card=card or None, household_id=household_id,
                               client_key=key)
    except DomainError as refusal:
        _undo(refusal)
        try:
            household, _shown = services.customer(current_user, shop, card=card or None, household_id=household_id)
        except DomainError as again:  # the card itself was refused: back to step 1
            _undo(again)
            return _counter_page(shop, error=again.message, status=_status(again))
        message = refusal.message
        if refusal.code == "idempotency_key_reused":  # this page's basket was confirmed before, with other numbers
            message = _("这个兑换页面已经提交过一次（数量不同）。请核对下面的商品和数量，再确认兑换。")
        return _counter_page(shop, household, card=card, quantities=typed, error=message, status=_status(refusal))
    # The page's script shows the total live; without it, the basket is confirmed here. The dry run's receipt number
    # is rolled back with it: on PostgreSQL the next receipt skips it, as after a refusal (receipts are not a series).
    if not done.already and not confirm.confirmed():
        return _confirm_basket(done)
    if done.already:
        flash(_("这一单已经兑换过了（没有重复扣分），下面是它的小票"))
    else:
        flash(_("兑换成功"))
    return redirect(url_for("shop.receipt", redemption_id=done.redemption.id))


def _confirm_basket(done: services.Redeemed):
    """The basket's total and the balance after it, asked about before it is redeemed (confirm.ask rolls back)."""
    redemption, after = done.redemption, done.balance_after
    what = _("户号 %(number)s 兑换 %(n)d 件，共 %(total)d 分", number=redemption.household.number,
             n=sum(line.quantity for line in redemption.lines), total=redemption.total)
    lines = [_("%(name)s × %(quantity)d%(unit)s：%(points)d 分", name=line.name, quantity=line.quantity,
               unit=line.unit, points=line.price * line.quantity) for line in redemption.lines]
    balance = _("余额 %(before)d 分 → 兑换后 %(after)d 分", before=after + redemption.total, after=after)
    return confirm.ask(_("确认兑换"), what, button=_("确认兑换，扣 %(total)d 分", total=redemption.total),
                       back=url_for("shop.counter", shop_id=redemption.shop_id, household=redemption.household_id),
                       details=[*lines, balance])


# ---------------------------------------------------------------------------------------------------- receipts


def _receipt_page(redemption: Redemption, form: VoidForm | None = None, error: str | None = None, status: int = 200):
    voidable = redemption.voided_at is None and services.may_void(current_user, redemption)
    return render_template("shop/receipt.html", redemption=redemption, balance_after=balance_after(redemption),
                           form=form or VoidForm(formdata=None), voidable=voidable,
                           runner=policy.can(current_user, RUN_SHOP, redemption.shop.village_id),
                           own_household=policy.own_household_id(current_user), error=error), status


@bp.get("/redemptions/<id:redemption_id>")
@login_required
def receipt(redemption_id: int):
    """The receipt (兑换单): for the screen, an 80 mm receipt printer or A4."""
    return _receipt_page(queries.visible_redemption(current_user, redemption_id))


@bp.post("/redemptions/<id:redemption_id>/void")
@login_required
def void(redemption_id: int):
    """作废: the clerk the same day, the village admin any day; a reason is required."""
    redemption = queries.visible_redemption(current_user, redemption_id)
    if redemption.voided_at is None and not services.may_void(current_user, redemption):
        raise Forbidden()
    form = VoidForm()
    if not form.validate_on_submit():
        return _receipt_page(redemption, form=form, status=422)
    ask = redemption.voided_at is None and not confirm.confirmed()  # voided since: the reload shows it, no question
    if ask:
        what = _("作废户号 %(number)s 的这张兑换单：退回 %(points)d 分，商品放回库存",
                 number=redemption.household.number,
                 points=redemption.total)
        lines = [_("%(name)s × %(quantity)d", name=line.name, quantity=line.quantity) for line in redemption.lines]
        back = url_for("shop.receipt", redemption_id=redemption.id)
    try:
        services.void(current_user, redemption, form.reason.data)
    except DomainError as refusal:
        _undo(refusal)
        return _receipt_page(redemption, form=form, error=refusal.message, status=_status(refusal))
    if ask:  # the service found nothing against it: now the clerk says yes
        return confirm.ask(_("确认作废兑换单"), what, button=_("确认作废，退回 %(points)d 分", points=redemption.total),
                           back=back, details=[*lines, _("作废原因：%(reason)s", reason=form.reason.data.strip())])
    flash(_("已作废，积分和库存已退回"))
    return redirect(url_for("shop.receipt", redemption_id=redemption.id))


@bp.get("/my/redemptions")
@login_required
def my_redemptions():
    """A villager's household's redemptions, newest first, each linking to its receipt."""
    household_id = policy.own_household_id(current_user)
    if household_id is None:
        return redirect(url_for("shop.entry"))
    household = db.session.get(Household, household_id)
    return render_template("shop/mine.html", household=household, redemptions=household_redemptions(household_id),
                           balance=balance_of(household_id), shop=first_shop_of_village(household.village_id))


# ---------------------------------------------------------------------------------------------------- reports


def _period() -> tuple[date, date, str, str] | str:
    """(first day, last day, "day" | "month", the value as written) from ?day=YYYY-MM-DD or ?month=YYYY-MM (today
    when neither); a message when the one given is not a date."""
    month, day = request.args.get("month"), request.args.get("day")
    try:
        if month:
            if not re.fullmatch(r"(20[0-9]{2})-([0-9]{2})", month):
                raise ValueError(month)
            first, last = month_bounds(date(int(month[:4]), int(month[5:]), 1))
            return first, last, "month", month
        if day:
            if not re.fullmatch(r"20[0-9]{2}-[0-9]{2}-[0-9]{2}", day):
                raise ValueError(day)
            chosen = date.fromisoformat(day)
            return chosen, chosen, "day", day
    except ValueError:
        if month:
            return _("月份格式应为 2026-11 这样的年份和月份")
        return _("日期格式应为 2026-11-23 这样的年、月、日")
    today = local_today()
    return today, today, "day", today.isoformat()


@bp.get("/shops/<id:shop_id>/report")
@login_required
def report(shop_id: int):
    """日报 / 月报: redemptions, points taken, voided, top products, stock left and low-stock warnings, and the
    redemptions of the period."""
    shop = _run_shop(shop_id)
    period = _period()
    if isinstance(period, str):
        return error_response("bad_request", period, 400)
    first, last, kind, value = period
    summary = reports.report(current_user, shop, first, last)
    return render_template("shop/report.html", shop=shop, report=summary, kind=kind, value=value,
                           redemptions=reports.redemptions_of(shop, first, last),
                           today=local_today())


@bp.get("/shops/<id:shop_id>/report.xlsx")
@login_required
def report_xlsx(shop_id: int):
    shop = _run_shop(shop_id)
    period = _period()
    if isinstance(period, str):
        return error_response("bad_request", period, 400)
    first, last, kind, value = period
    summary = reports.report(current_user, shop, first, last)
    data = report_workbook(summary, reports.redemptions_of(shop, first, last, limit=10_000))
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True,
                     download_name=_("积分超市报表-%(shop)s-%(period)s.xlsx", shop=shop.name, period=value))
