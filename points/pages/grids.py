"""Pages of the grid tree: a node's overview (the village overview for a village), its whole tree, and the admins'
pages that add, change and retire the nodes below theirs."""
import io

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..auth import policy
from ..auth.tree import add_node, change_node, managed_node, retire_node
from ..auth.tree_workbook import import_tree, importable_root, template_workbook
from ..errors import DomainError, Forbidden
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..grids.queries import ancestors, get_node, nest, subtree
from ..grids.services import ALLOWED_PARENTS, child_kind, retirement_refusal
from ..hygiene.queries import flag_holders
from ..people.queries import household_counts, renter_count
from ..uploads import drop_upload, keep_upload, kept_upload
from ..xlsx import XLSX
from .forms.grids import REFUSAL_FIELDS, ChangeNodeForm, ConfirmTreeImportForm, NodeForm, TreeImportForm

bp = Blueprint("grids", __name__, url_prefix="/grids")


@bp.get("/<id:node_id>")
@login_required
def overview(node_id: int):
    node = get_node(node_id)
    policy.require(current_user, policy.Permission.VIEW_GRIDS, node.id)
    nodes = subtree(node.id)
    children = [n for n in nodes if n.parent_id == node.id]
    counts = household_counts([node.id] + [c.id for c in children])
    summary, holders = flag_holders(node.id) if node.kind is NodeKind.VILLAGE else (None, [])
    return render_template(
        "grids/overview.html",
        node=node,
        trail=[a for a in ancestors(node.id) if policy.can(current_user, policy.Permission.VIEW_GRIDS, a.id)],
        children=children,
        counts=counts,
        renters=renter_count(node.id),
        grid_count=sum(1 for n in nodes if n.kind is NodeKind.GRID and n.id != node.id),
        summary=summary,
        holders=holders,
    )


@bp.get("/<id:node_id>/tree")
@login_required
def tree(node_id: int):
    node = get_node(node_id)
    policy.require(current_user, policy.Permission.VIEW_GRIDS, node.id)
    nodes = subtree(node.id)
    may_add, may_change = policy.tree_keeping(current_user, nodes)
    return render_template(
        "grids/tree.html", node=node, tree=nest(nodes), counts=household_counts([n.id for n in nodes]),
        may_add=may_add, may_change=may_change,
    )


@bp.get("/manage")
@login_required
def manage():
    """网格管理: the tree of the first node the admin keeps."""
    kept = policy.nodes_in_scope(current_user, policy.Permission.MANAGE_GRIDS)  # the top one first
    if not kept:
        raise Forbidden()
    return redirect(url_for("grids.tree", node_id=kept[0].id))


KIND_WORDS = {NodeKind.VILLAGE: _l("村（社区）"), NodeKind.GRID: _l("网格")}


def _back_to_tree(node: GridNode):
    """After a change, the tree it is seen in whole: a grid's village, a village's town."""
    return redirect(url_for("grids.tree", node_id=node.village_id if node.kind is NodeKind.GRID else node.parent_id))


def _refused(form, refusal: DomainError) -> None:
    db.session.rollback()
    field = getattr(form, REFUSAL_FIELDS.get(refusal.code, ""), None)
    (field.errors if field is not None else form.form_errors).append(refusal.message)


@bp.route("/<id:node_id>/new", methods=["GET", "POST"])
@login_required
def new_node(node_id: int):
    """新增下级: a village or community under a town, a grid of the next level under a village or grid."""
    parent = get_node(node_id)
    if parent.retired_at is not None or not policy.can_add_node_under(current_user, parent):
        raise Forbidden()
    form = NodeForm()
    if form.validate_on_submit():
        try:
            node = add_node(current_user, parent.id, form.name.data, form.code.data)
        except DomainError as refusal:
            _refused(form, refusal)
        else:
            flash(_("已新增 %(name)s（编码 %(code)s）", name=node.name, code=node.code))
            return _back_to_tree(node)
    kind = child_kind(parent)
    return render_template("grids/node_form.html", form=form, parent=parent, node=None,
                           kind=KIND_WORDS[kind]), 422 if form.errors else 200


def _parent_choices(node: GridNode) -> list[tuple[int, str]]:
    """Where the admin may move node: a village under a town they keep, a grid anywhere in its village that they
    keep, never inside itself."""
    inside = {n.id for n in subtree(node.id)}
    return [(n.id, "\u3000" * n.depth + n.name)
            for n in policy.nodes_in_scope(current_user, policy.Permission.MANAGE_GRIDS)
            if n.kind in ALLOWED_PARENTS[node.kind] and n.id not in inside
            and (node.kind is not NodeKind.GRID or n.village_id == node.village_id)]


@bp.route("/<id:node_id>/edit", methods=["GET", "POST"])
@login_required
def edit_node(node_id: int):
    """修改: rename, re-code, or move under another node with everything below it."""
    node = managed_node(current_user, node_id)
    form = ChangeNodeForm(obj=node)
    form.parent_id.choices = _parent_choices(node)
    if form.validate_on_submit():
        try:
            change_node(current_user, node.id, form.name.data, form.code.data, form.parent_id.data)
        except DomainError as refusal:
            _refused(form, refusal)
        else:
            flash(_("已保存 %(name)s", name=node.name))
            return _back_to_tree(node)
    return render_template("grids/node_form.html", form=form, parent=node.parent, node=node,
                           kind=KIND_WORDS[node.kind]), 422 if form.errors else 200


@bp.route("/<id:node_id>/retire", methods=["GET", "POST"])
@login_required
def retire(node_id: int):
    """撤销, after a confirmation: the node leaves every list for good."""
    node = managed_node(current_user, node_id)
    status = 200
    if request.method == "POST":
        try:
            retire_node(current_user, node.id)
        except DomainError as refusal:  # something was put in it meanwhile: the page says what
            db.session.rollback()
            status = refusal.status
        else:
            flash(_("已撤销 %(name)s", name=node.name))
            return _back_to_tree(node)
    return render_template("grids/retire.html", node=node, kind=KIND_WORDS[node.kind],
                           refusal=retirement_refusal(node)), status


@bp.route("/<id:node_id>/import", methods=["GET", "POST"])
@login_required
def import_page(node_id: int):
    """导入网格和工作人员: upload the workbook, see what it adds (nothing written) or the report of its errors."""
    root = importable_root(current_user, node_id)
    form = TreeImportForm()
    if not form.validate_on_submit():
        return render_template("grids/import.html", root=root, form=form), 422 if form.errors else 200
    data = form.file.data.read()
    report = import_tree(current_user, root, data, current_app.config["IMPORT_MAX_BYTES"], apply=False)
    db.session.rollback()
    return _tree_preview(root, form, report, data)


def _tree_preview(root: GridNode, form: TreeImportForm, report, data: bytes, notice: str = ""):
    confirm = None
    if report.ok and not report.empty:
        confirm = ConfirmTreeImportForm(formdata=None, digest=report.digest,
                                        upload=keep_upload(current_app.config["UPLOAD_FOLDER"], data))
    return render_template("grids/import.html", root=root, form=form, report=report, confirm=confirm, notice=notice,
                           kinds=NodeKind, max_listed=300), 200 if report.ok else 422


@bp.post("/<id:node_id>/import/confirm")
@login_required
def import_confirm(node_id: int):
    """Apply the previewed file in one transaction, if it still does what its preview showed; else preview again."""
    root = importable_root(current_user, node_id)
    confirm = ConfirmTreeImportForm()
    folder = current_app.config["UPLOAD_FOLDER"]
    data = kept_upload(folder, confirm.upload.data) if confirm.validate_on_submit() else None
    if data is None:
        flash(_("预览已过期，请重新上传文件"), "error")
        return redirect(url_for("grids.import_page", node_id=root.id))
    limit = current_app.config["IMPORT_MAX_BYTES"]
    report = import_tree(current_user, root, data, limit)
    form = TreeImportForm(formdata=None)
    if not report.ok or report.digest != confirm.digest.data:
        db.session.rollback()
        report = import_tree(current_user, root, data, limit, apply=False)
        db.session.rollback()
        return _tree_preview(root, form, report, data,
                             notice=_("网格或账号在预览之后有了变动，下面是按现在的情况重新生成的预览，请核对后再确认。"))
    drop_upload(folder, confirm.upload.data)
    return render_template("grids/import.html", root=root, form=form, report=report, applied=True, kinds=NodeKind,
                           max_listed=300)


@bp.get("/<id:node_id>/import/template.xlsx")
@login_required
def import_template(node_id: int):
    root = importable_root(current_user, node_id)
    return send_file(io.BytesIO(template_workbook(root)), mimetype=XLSX, as_attachment=True,
                     download_name=f"{root.name}网格导入模板.xlsx")
