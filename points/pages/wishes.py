"""Pages of 微心愿: the public 心愿墙 of a village, a wish, posting, adopting, fulfilling, lighting, withdrawing."""
import re
import uuid

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from .. import media
from ..auth import policy
from ..errors import MESSAGES, DomainError, Forbidden, NotFound
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..limits import MAX_ID
from ..people.models import Household
from ..periods import day_label
from ..rules.labels import rule_choices
from ..timeutil import local_today, utc_to_local
from ..wishes import queries, services
from ..wishes.models import WISH_STATUS_LABELS, Wish, WishStatus
from . import confirm, refused
from .forms import refusal_message
from .forms.wishes import FulfilForm, LightForm, WishForm, WithdrawForm

bp = Blueprint("wishes", __name__)
GRID_WORK = policy.Permission.GRID_WORK
KEY = re.compile("[0-9a-f]{32}")
PHOTO_TOKEN_AGE = 3600  # seconds a photo sent for confirmation waits for the 确认 button


@bp.context_processor
def _template_helpers() -> dict:
    return dict(WISH_STATUS_LABELS=WISH_STATUS_LABELS, WishStatus=WishStatus,
                local_day=lambda moment: day_label(utc_to_local(moment).date()) if moment else "")


def no_points_text(code: str) -> str:
    """Why lighting a wish earned no points, in plain words."""
    if code == "wish_not_resident":
        return str(MESSAGES[code])
    if code == "cap_exceeded":
        return _("认领人家这一项积分已到细则上限，不记积分")
    if code == "household_closed":
        return _("认领人家已迁出，不记积分")
    return _("这项细则现在不能给认领人家记分，不记积分")


def _user():
    return current_user if current_user.is_authenticated else None


def _photo_store() -> services.PhotoStore:
    return services.PhotoStore(current_app.config["UPLOAD_FOLDER"], current_app.config["PHOTO_MAX_BYTES"])


def _village(village_id: int) -> GridNode:
    village = db.session.get(GridNode, village_id)
    if village is None or village.kind is not NodeKind.VILLAGE:
        raise NotFound()
    return village


@bp.get("/villages/<id:village_id>/wishes")
def wall(village_id: int):
    """心愿墙: public, without login. Grid and wish only: no name, care tag, address or detail."""
    village = _village(village_id)
    page = queries.wall(village.id, request.args.get("page", 1, type=int), current_app.config["PER_PAGE"])
    user = _user()
    adoptable = {w.id for w in page.items if services.may_adopt(user, w)}
    return render_template("wishes/wall.html", village=village, page=page, counts=queries.wall_counts(village.id),
                           adoptable=adoptable, user=user, villager=policy.own_household_id(user) is not None,
                           member=user is not None and policy.can_see_village(user, village.id),
                           poster=user is not None and policy.holds(user, GRID_WORK))


@bp.get("/wishes")
@login_required
def start():
    """The user's village's wall."""
    village_id = services.wall_village_id(current_user)
    if village_id is None:
        return redirect(url_for("wishes.mine"))
    return redirect(url_for("wishes.wall", village_id=village_id))


@bp.get("/wishes/mine")
@login_required
def mine():
    """我认领的, and a villager's own household's wishes; for staff, the wishes of their grids (those waiting to
    be lit first)."""
    per_page = current_app.config["PER_PAGE"]
    adopted = queries.adopted_by(current_user.id, request.args.get("page", 1, type=int), per_page)
    own = policy.own_household_id(current_user)
    household = queries.in_scope(Wish.household_id == own, None, 1, per_page) if own is not None else None
    waiting = grid_wishes = None
    if policy.holds(current_user, GRID_WORK):
        scope = policy.node_filter(current_user, GRID_WORK, Wish.grid_id)
        waiting = queries.in_scope(scope, WishStatus.FULFILLED, 1, per_page)
        grid_wishes = queries.in_scope(scope, None, 1, per_page)
    return render_template("wishes/mine.html", adopted=adopted, waiting=waiting, grid_wishes=grid_wishes,
                           household=household,
                           village_id=services.wall_village_id(current_user))


def _form_village() -> GridNode:
    """The village a new wish is posted in: ?village=, or the user's; one where the user does grid work."""
    village_id = request.args.get("village", type=int) or services.wall_village_id(current_user)
    village = db.session.get(GridNode, village_id) if village_id and 1 <= village_id <= MAX_ID else None
    if village is None or village.kind is not NodeKind.VILLAGE:
        raise Forbidden()
    works_there = select(GridNode.id).where(GridNode.village_id == village.id,
                                            policy.node_filter(current_user, GRID_WORK, GridNode.id)).limit(1)
    if db.session.scalar(works_there) is None:
        raise Forbidden()
    return village


@bp.route("/wishes/new", methods=["GET", "POST"])
@login_required
def new_wish():
    village = _form_village()
    form = WishForm()
    form.rule_id.choices = rule_choices(services.wish_rules(village.id, local_today()))
    status = 200
    if form.validate_on_submit():
        try:
            household = services.household_by_number(village.id, form.number.data)
            if not policy.can(current_user, GRID_WORK, household.grid_id):
                raise DomainError("wish_household_not_yours", status=403)
            wish = services.post_wish(current_user, household.id, form.title.data, form.detail.data or "",
                                      form.rule_id.data, client_key=f"web:{form.key.data}")
        except DomainError as refusal:
            db.session.rollback()
            field = form.title if refusal.code.startswith("wish_title_") else {
                "wish_rule_invalid": form.rule_id, "wish_detail_too_long": form.detail}.get(refusal.code, form.number)
            field.errors.append(refusal_message(refusal, form))
            status = 422
        else:
            flash(_("微心愿已发布到心愿墙"))
            return redirect(url_for("wishes.wish", wish_id=wish.id))
    elif request.method == "POST":
        status = 422
    else:
        key = request.args.get("key", "")
        if not KEY.fullmatch(key):
            return redirect(url_for("wishes.new_wish", village=village.id, number=request.args.get("number") or None,
                                    key=uuid.uuid4().hex))
        form.key.data = key
        form.number.data = request.args.get("number", "")[:20]
    return render_template("wishes/new.html", form=form, village=village), status


@bp.get("/wishes/<id:wish_id>")
def wish(wish_id: int):
    """What the viewer may see of a wish, and the buttons they may use."""
    user = _user()
    wish = services.visible_wish(user, wish_id)
    staff = services.is_staff(user, wish)
    adopter = user is not None and wish.adopter_id == user.id
    own = user is not None and policy.own_household_id(user) == wish.household_id
    may_light = False
    if staff and wish.status is WishStatus.FULFILLED:
        try:
            services.check_light(user, wish)
            may_light = True
        except DomainError:
            pass
    return render_template(
        "wishes/wish.html", wish=wish, staff=staff, adopter=adopter, own=own,
        villager=policy.own_household_id(user) is not None, earned_number=_entry_number(wish),
        may_adopt=services.may_adopt(user, wish), may_light=may_light, earner=services.earner(wish),
        rule=services.rule_version(wish), care=staff and policy.can(user, policy.Permission.VIEW_CARE_TAGS,
                                                                     wish.grid_id),
        photo=services.may_see_photo(user, wish) and wish.photo is not None,
        no_points=no_points_text(wish.no_points) if wish.no_points else None,
        fulfil_form=FulfilForm(formdata=None), light_form=LightForm(formdata=None),
        withdraw_form=WithdrawForm(formdata=None),
    )


def _act(action, said: str, wish_id: int):
    """Run one move of the wish and go back to its page, flashing what happened or why not. A 403 or 404 is the
    page's answer."""
    back = url_for("wishes.wish", wish_id=wish_id)
    try:
        action()
    except (Forbidden, NotFound):
        raise
    except DomainError as refusal:
        refused(refusal)
        return redirect(back)
    flash(said)
    return redirect(back)


@bp.post("/wishes/<id:wish_id>/adopt")
@login_required
def adopt(wish_id: int):
    return _act(lambda: services.adopt_wish(current_user, wish_id),
                _("认领成功，谢谢您！完成后请点“已完成”，网格员确认后点亮"), wish_id)


@bp.post("/wishes/<id:wish_id>/give-back")
@login_required
def give_back(wish_id: int):
    return _act(lambda: services.give_back(current_user, wish_id), _("已退回，心愿重新待认领"), wish_id)


@bp.post("/wishes/<id:wish_id>/fulfil")
@login_required
def fulfil(wish_id: int):
    form = FulfilForm()
    if not form.validate_on_submit():
        services.visible_wish(current_user, wish_id)
        for errors in form.errors.values():
            flash(errors[0], "error")
        return redirect(url_for("wishes.wish", wish_id=wish_id))
    return _act(lambda: services.fulfil(current_user, wish_id, form.note.data or ""),
                _("已告诉网格员，确认后就会点亮"), wish_id)


@bp.post("/wishes/<id:wish_id>/withdraw")
@login_required
def withdraw(wish_id: int):
    form = WithdrawForm()
    if not form.validate_on_submit():
        services.visible_wish(current_user, wish_id)
        for errors in form.errors.values():
            flash(errors[0], "error")
        return redirect(url_for("wishes.wish", wish_id=wish_id))
    return _act(lambda: services.withdraw(current_user, wish_id, form.reason.data), _("已从心愿墙撤下"), wish_id)


def _tokens() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="wish-photo")


@bp.post("/wishes/<id:wish_id>/confirm")
@login_required
def confirm_wish(wish_id: int):
    """点亮: the photo is sent and kept, and the confirmation names the household that earns and its points; its
    button sends the kept photo's signed name, so the photo is not sent twice."""
    back = url_for("wishes.wish", wish_id=wish_id)
    wish = services.get_wish(wish_id)
    try:
        if confirm.confirmed():
            stored = _kept_name(wish_id, request.form.get("photo_token", ""))
            services.light(current_user, wish_id, None, _photo_store(), stored_name=stored, settle=True)
            flash(_("心愿已点亮"))
            return redirect(back)
        services.check_light(current_user, wish)
        upload = request.files.get("photo")
        data = upload.read() if upload is not None and upload.filename else b""
        if not data:
            raise DomainError("wish_photo_required")
        stored = services.keep_photo(_photo_store(), data)
        services.light(current_user, wish_id, None, _photo_store(), stored_name=stored)
    except (Forbidden, NotFound):
        raise
    except DomainError as refusal:
        refused(refusal)
        return redirect(back)
    token = _tokens().dumps([wish_id, current_user.id, stored])
    return _light_question(wish, token, back)


def _kept_name(wish_id: int, token: str) -> str:
    """Raises DomainError("wish_photo_expired")."""
    try:
        kept_wish, user_id, stored = _tokens().loads(token, max_age=PHOTO_TOKEN_AGE)
    except (BadSignature, ValueError, TypeError):
        raise DomainError("wish_photo_expired") from None
    if (kept_wish, user_id) != (wish_id, current_user.id):
        raise DomainError("wish_photo_expired")
    return stored


def _entry_number(wish: Wish) -> str | None:
    """The 户号 of the household that earned by the wish."""
    return db.session.get(Household, wish.entry.household_id).number if wish.entry is not None else None


def _light_question(wish: Wish, token: str, back: str):
    """The confirmation of lighting a wish, done but not committed: who earns what."""
    if wish.entry is not None:
        what = _("点亮“%(title)s”：认领人%(name)s家（户号 %(number)s）记 %(points)+d 分", title=wish.title,
                 name=wish.adopter.display_name, number=_entry_number(wish), points=wish.entry.amount)
        button = _("确认点亮，记 %(points)+d 分", points=wish.entry.amount)
    else:
        what = _("点亮“%(title)s”：%(why)s", title=wish.title, why=no_points_text(wish.no_points))
        button = _("确认点亮")
    details = [_("点亮后不能更改，心愿墙上会显示已点亮。")]
    db.session.rollback()
    return render_template("confirm.html", title=_("确认点亮微心愿"), what=what, details=details, warning="",
                           button=button, back=back, fields=[("photo_token", token)],
                           action=url_for("wishes.confirm_wish", wish_id=wish.id))


@bp.get("/wishes/<id:wish_id>/photo")
@login_required
def photo(wish_id: int):
    wish = services.get_wish(wish_id)
    return _private_jpeg(services.photo_path(_user(), wish, current_app.config["UPLOAD_FOLDER"]))


@bp.get("/wishes/<id:wish_id>/photo/small")
@login_required
def thumbnail(wish_id: int):
    wish = services.get_wish(wish_id)
    return _private_jpeg(media.thumbnail(services.photo_path(_user(), wish, current_app.config["UPLOAD_FOLDER"])))


def _private_jpeg(path: str):
    response = send_file(path, mimetype="image/jpeg", max_age=0)
    response.headers["Cache-Control"] = "private, max-age=86400"  # a household's home, never in a shared cache
    return response
