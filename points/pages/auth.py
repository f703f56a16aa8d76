"""Login, logout, the own account page, and account and role management for admins."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from ..auth import policy, services, slips
from ..auth.models import ROLE_LABELS, Role, RoleAssignment, User
from ..errors import DomainError, Forbidden, NotFound
from ..extensions import db, limiter
from ..grids.models import GridNode, NodeKind
from ..people.models import Household
from ..qr import inline_svg
from . import confirm, refused
from .forms import safe_next
from .forms.auth import (
    ActivateForm,
    AssignRoleForm,
    ConfirmForm,
    LoginForm,
    NewUserForm,
    OpenAccountsForm,
    PasswordForm,
    ResetPasswordForm,
)
from .home import clerk_counter

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _address_limit() -> str:
    return current_app.config["LOGIN_ADDRESS_RATE_LIMIT"]


def _address_and_username() -> str:
    """Guessing one account's password is limited per address and name, so that a village behind one NAT
    address is not locked out by one neighbour's typos."""
    return f"{get_remote_address()}|{request.form.get('username', '').strip()}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_address_and_username)
@limiter.limit(_address_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.username.data, form.password.data)
        except DomainError as refusal:
            error = refusal.message
        else:
            login_user(services.begin_login(user), remember=form.remember.data)
            # A clerk goes straight to the counter (home would send them there: one round trip less on 3G).
            target = request.args.get("next") or clerk_counter(user)
            return redirect(safe_next(target))
    status = 401 if error else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
@login_required
def logout():
    if ConfirmForm().validate_on_submit():
        services.end_login(current_user)
        logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/me", methods=["GET", "POST"])
@login_required
@limiter.limit(_login_limit, methods=["POST"], key_func=lambda: f"me|{current_user.id}")
def me():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current.data, form.new.data)
        except DomainError as refusal:
            db.session.rollback()
            form.current.errors.append(refusal.message)
        else:
            # This device stays signed in, remembered only if it was before.
            remembered = current_app.config["REMEMBER_COOKIE_NAME"] in request.cookies
            login_user(current_user._get_current_object(), remember=remembered)
            flash(_("密码已修改，其他设备上的登录已退出"))
            return redirect(url_for("auth.me"))
    household_id = policy.own_household_id(current_user)
    household = db.session.get(Household, household_id) if household_id else None
    return render_template("auth/me.html", form=form, household=household)


def _manageable_nodes() -> list[GridNode]:
    """The nodes the current admin may grant roles on. Raises Forbidden for anyone who manages no accounts."""
    nodes = policy.nodes_in_scope(current_user, policy.Permission.MANAGE_USERS)
    if not nodes:
        raise Forbidden()
    return nodes


def _role_choices(nodes: list[GridNode]) -> list[SelectChoice]:
    kinds = {n.kind for n in nodes}
    return [SelectChoice(r.value, str(ROLE_LABELS[r])) for r in Role if policy.ROLE_NODE_KINDS[r] in kinds]


def _node_choices(nodes: list[GridNode]) -> list[SelectChoice]:
    return [SelectChoice(n.id, n.name) for n in nodes]


def _managed_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    policy.require_manage_user(current_user, user)
    return user


@bp.get("/admin/users")
@login_required
def users():
    if not policy.holds(current_user, policy.Permission.MANAGE_USERS):
        raise Forbidden()
    rows = db.session.scalars(
        select(User)
        .where(policy.user_filter(current_user))
        .options(selectinload(User.assignments).selectinload(RoleAssignment.node), selectinload(User.resident))
        .order_by(User.username)
    ).all()
    return render_template("auth/users.html", users=rows)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@login_required
def new_user():
    nodes = _manageable_nodes()
    form = NewUserForm()
    form.role.choices = [SelectChoice("", _("（村民账号，不分配角色）"))] + _role_choices(nodes)
    form.node_id.choices = _node_choices(nodes)
    if request.method == "GET" and request.args.get("resident_id", "").isdigit():
        form.resident_id.data = int(request.args["resident_id"])
    if form.validate_on_submit():
        try:
            user = services.create_account(
                current_user,
                form.username.data,
                form.password.data,
                form.display_name.data or "",
                Role(form.role.data) if form.role.data else None,
                form.node_id.data if form.role.data else None,
                form.resident_id.data,
            )
        except DomainError as refusal:
            db.session.rollback()
            form.username.errors.append(refusal.message)
        else:
            flash(_("账号已创建"))
            return redirect(url_for("auth.user_detail", user_id=user.id))
    return render_template("auth/new_user.html", form=form)


@bp.route("/admin/users/<id:user_id>", methods=["GET", "POST"])
@login_required
def user_detail(user_id: int):
    nodes = _manageable_nodes()
    user = _managed_user(user_id)
    role_form = AssignRoleForm(prefix="role")
    role_form.role.choices = _role_choices(nodes)
    role_form.node_id.choices = _node_choices(nodes)
    password_form = ResetPasswordForm(prefix="pw")
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "assign" and role_form.validate_on_submit():
                node = db.session.get(GridNode, role_form.node_id.data)
                services.assign_role(current_user, user, Role(role_form.role.data), node)
                done = _("已分配角色")
            elif action == "password" and password_form.validate_on_submit():
                services.reset_password(current_user, user, password_form.password.data)
                done = _("密码已重置")
            elif action == "active" and request.form.get("active") in ("0", "1") and ConfirmForm().validate_on_submit():
                # The state asked for, not a toggle: a second tap on 确认停用 leaves the account disabled.
                services.set_active(current_user, user, request.form["active"] == "1")
                done = _("账号已启用") if user.active else _("账号已停用")
                if not user.active and not confirm.confirmed():
                    return confirm.ask(
                        _("确认停用账号"), _("停用 %(username)s（%(name)s）的账号", username=user.username,
                                           name=user.display_name),
                        button=_("确认停用"), back=url_for("auth.user_detail", user_id=user.id),
                        details=[_("停用后不能再登录，已登录的手机也会马上退出；以后可以再启用。")])
            else:
                raise DomainError("validation_error")
        except DomainError as refusal:
            refused(refusal)
        else:
            flash(done)
        return redirect(url_for("auth.user_detail", user_id=user.id))
    return render_template(
        "auth/user_detail.html", user=user, role_form=role_form, password_form=password_form, confirm=ConfirmForm()
    )


@bp.post("/admin/assignments/<id:assignment_id>/revoke")
@login_required
def revoke(assignment_id: int):
    assignment = db.session.get(RoleAssignment, assignment_id)
    if assignment is None:
        raise NotFound()
    policy.require_manage_user(current_user, assignment.user)
    if ConfirmForm().validate_on_submit():
        role = _("%(role)s · %(node)s", role=ROLE_LABELS[assignment.role], node=assignment.node.name)
        user_id, username = assignment.user_id, assignment.user.username
        services.revoke_role(current_user, assignment)
        if not confirm.confirmed():
            return confirm.ask(_("确认撤销角色"), _("撤销 %(username)s 的角色：%(role)s", username=username, role=role),
                               button=_("确认撤销"), back=url_for("auth.user_detail", user_id=user_id),
                               details=[_("撤销后，该账号不能再做这个角色的工作；需要时可以重新分配。")])
        flash(_("已撤销角色"))
    return redirect(url_for("auth.user_detail", user_id=assignment.user_id))


# ------------------------------------------------------------------------------------- villager accounts at scale


def _slip_days() -> int:
    return min(max(request.args.get("days", slips.slip_days(), type=int), 1), slips.MAX_DAYS)


@bp.route("/admin/accounts", methods=["GET", "POST"])
@login_required
def open_accounts():
    """批量开通村民账号: choose a village or grid (and an age), see how many accounts that is, then open them all and
    print their activation slips."""
    nodes = policy.nodes_in_scope(current_user, policy.Permission.MANAGE_USERS)
    nodes = [n for n in nodes if n.kind in (NodeKind.VILLAGE, NodeKind.GRID)]
    if not nodes:
        raise Forbidden()
    # The count is asked for by GET (no CSRF token in the address), the opening by POST.
    form = OpenAccountsForm(request.args, meta={"csrf": False}) if request.method == "GET" else OpenAccountsForm()
    form.node_id.choices = _node_choices(nodes)
    found = None
    if request.method == "POST" and form.validate_on_submit():
        try:
            opened = slips.open_accounts(current_user, form.node_id.data, form.min_age.data)
            db.session.commit()
        except IntegrityError:  # the same button sent twice: the other request opened them
            db.session.rollback()
            opened = 0
        flash(_("已开通 %(n)d 个村民账号，请打印激活单", n=opened))
        return redirect(url_for("auth.print_slips", node=form.node_id.data))
    if request.method == "GET" and "node_id" in request.args and form.validate():
        found = slips.candidates(current_user, form.node_id.data, form.min_age.data)
    return render_template("auth/open_accounts.html", form=form, found=found, nodes=nodes)


@bp.get("/admin/accounts/slips")
@login_required
def print_slips():
    """The activation slips of the accounts not yet activated below a node, eight to an A4 page."""
    node_id = request.args.get("node", type=int)
    if node_id is None:
        raise NotFound()
    days = _slip_days()
    return render_template("auth/slips.html", node=db.session.get(GridNode, node_id), days=days,
                           slips=slips.pending_slips(current_user, node_id, days), url=_slip_url, svg=inline_svg,
                           role_labels=ROLE_LABELS)


@bp.post("/admin/users/<id:user_id>/slip")
@login_required
def reissue_slip(user_id: int):
    """补发激活单: the old slip is void; the new one is shown for printing (on its own page, which a reload only
    shows again)."""
    if not ConfirmForm().validate_on_submit():
        raise DomainError("validation_error")
    if slips.reissue_slip(current_user, user_id, slips.slip_days(), request.form.get("slip_version", type=int)) is None:
        flash(_("已经补发过了，下面是现在有效的激活单"))  # the form sent twice: the slip printed stays good
        return redirect(url_for("auth.reissued_slip", user_id=user_id))
    if not confirm.confirmed():
        user = db.session.get(User, user_id)
        return confirm.ask(_("确认补发激活单"), _("为 %(name)s 补发激活单", name=user.display_name),
                           button=_("确认补发"), back=url_for("people.resident", resident_id=user.resident_id),
                           details=[_("补发后，手里的旧激活单马上作废，不能再用来设置密码。")])
    return redirect(url_for("auth.reissued_slip", user_id=user_id))


@bp.get("/admin/users/<id:user_id>/slip")
@login_required
def reissued_slip(user_id: int):
    slip = slips.current_slip(current_user, user_id, slips.slip_days())
    return render_template("auth/slips.html", node=None, days=slips.slip_days(), slips=[slip], url=_slip_url,
                           svg=inline_svg, reissued=True, role_labels=ROLE_LABELS)


def _slip_url(slip) -> str:
    return url_for("auth.activate", token=slip.token, _external=True)


@bp.route("/activate/<token>", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"])
def activate(token: str):
    """The page a slip's QR opens: set a password, and be logged in on this phone."""
    token = token[:500]
    try:
        user = slips.user_of_slip(token)
    except DomainError as refusal:
        return render_template("auth/activate.html", refusal=refusal.message, form=None), refusal.status
    form = ActivateForm()
    if form.validate_on_submit():
        try:
            user = slips.activate(token, form.password.data)
        except DomainError as refusal:
            form.password.errors.append(refusal.message)  # answered 422: nothing is kept
        else:
            login_user(services.begin_login(user), remember=True)
            flash(_("密码已设置，欢迎使用村务积分"))
            return redirect(url_for("web.home"))
    return render_template("auth/activate.html", form=form, user=user, refusal=None), 422 if form.errors else 200
