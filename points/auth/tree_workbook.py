"""网格树导入: the villages and grids below a node, and their staff, from one workbook, all rows or none, with a
row-by-row report in Chinese, like the 花名册's import.

A row is a node. Its 上级编码 names its parent: a node already in the tree or another row of the file, in any order.
Its 层级 may say what it is (村, 社区, 网格, 微网格 …) and must then agree with where it hangs. Staff are written
"姓名 手机号", several to a cell. Each phone number is an account, the number being its username: a new one is opened
without a password, to be activated from a printed slip, and every account gets its column's role on the row's node.
A row whose code is already in the tree with the same name and parent stays as it is (its staff are still added), so
importing the same file again adds nothing. An import never removes a node or a role.
"""
import hashlib
import io
import json
import re
from dataclasses import dataclass, field

import openpyxl
from flask_babel import gettext as _
from sqlalchemy import insert, select, update

from ..audit.services import Change, record, record_all
from ..errors import DomainError, Forbidden, NotFound
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..grids.queries import subtree_ids
from ..grids.services import CODE, NAME_LIMIT, create_node
from ..people.privacy import mask_phone
from ..people.services import PHONE_RE
from ..timeutil import utcnow
from ..uploads import RowError, read_columns
from . import policy
from .models import NO_PASSWORD, Role, RoleAssignment, User

COLUMNS = ("上级编码", "编码", "名称", "层级", "村管理员", "网格长", "网格员")
REQUIRED = ("上级编码", "编码", "名称")
STAFF_COLUMNS = {"村管理员": Role.VILLAGE_ADMIN, "网格长": Role.GRID_LEADER, "网格员": Role.GRID_WORKER}
KIND_WORDS = {NodeKind.VILLAGE: "村（社区）", NodeKind.GRID: "网格"}
_SEPARATORS = re.compile(r"[、,;\n]+")  # cells are NFKC-normalized: ， and ； arrive as , and ;
_PHONE = re.compile(r"\+?(?:86)?\s*(1\d{2}[\s-]?\d{4}[\s-]?\d{4})")


@dataclass(frozen=True)
class NewNode:
    row: int
    code: str
    name: str
    parent: str  # the parent's name
    kind: NodeKind


@dataclass(frozen=True)
class NewAccount:
    name: str
    phone: str  # masked: the preview is shown on a screen

    @property
    def label(self) -> str:
        return f"{self.name}（{mask_phone(self.phone)}）"


@dataclass
class TreeReport:
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    nodes: list[NewNode] = field(default_factory=list)
    kept: int = 0  # rows already in the tree as they are
    accounts: list[NewAccount] = field(default_factory=list)
    roles: int = 0  # role assignments to add, on new nodes and on kept ones
    digest: str = ""  # of what applying the file would do: a confirmation applies what its preview showed

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def empty(self) -> bool:
        return not (self.nodes or self.accounts or self.roles)

    def count(self, kind: NodeKind) -> int:
        return sum(1 for n in self.nodes if n.kind is kind)


@dataclass
class _Row:
    row: int
    code: str
    name: str
    parent_code: str
    level: NodeKind | None
    staff: list[tuple[Role, str, str]]  # (role, name, phone)
    node: GridNode | None = None  # when the tree has it already
    kind: NodeKind | None = None  # once placed


def importable_root(actor: User | None, node_id: int) -> GridNode:
    """A node below which the actor may import a tree with its staff: one where they add nodes and manage accounts.
    Raises NotFound, Forbidden."""
    node = db.session.get(GridNode, node_id)
    if node is None or node.retired_at is not None:
        raise NotFound()
    if actor is not None and not (policy.can_add_node_under(actor, node)
                                  and policy.can(actor, policy.Permission.MANAGE_USERS, node.id)):
        raise Forbidden()
    return node


def import_tree(actor: User | None, root: GridNode, data: bytes, max_bytes: int, apply: bool = True) -> TreeReport:
    """Check every row of the file against the tree below root. With apply, and no error, write all of it: the nodes,
    the accounts and their roles. Flushes, never commits. actor None is the command line."""
    report = TreeReport()
    read = read_columns(data, max_bytes, COLUMNS, REQUIRED, report.errors)
    if read is None:
        return report
    position, table = read
    report.rows = len(table)
    rows = _read_rows(table, position, report.errors)
    _place(root, rows, report.errors)
    accounts, assignments = _staff(actor, rows, report.errors)
    if report.errors:
        report.errors.sort(key=lambda e: (e.row, COLUMNS.index(e.column) if e.column in COLUMNS else -1))
        return report
    new_rows = [r for r in rows.values() if r.node is None]
    parent_names = {r.code: r.name for r in rows.values()} | {n.code: n.name for n in _nodes_by_code(
        {r.parent_code for r in new_rows}).values()}
    report.nodes = [NewNode(r.row, r.code, r.name, parent_names[r.parent_code], r.kind) for r in new_rows]
    report.kept = len(rows) - len(new_rows)
    report.accounts = [NewAccount(name, phone) for phone, name in accounts.items()]
    report.roles = len(assignments)
    report.digest = hashlib.sha256(json.dumps(
        [[(n.code, n.name, n.parent, n.kind.value) for n in report.nodes], sorted(accounts.items()),
         sorted((phone, role.value, code) for phone, role, code in assignments)], ensure_ascii=False
    ).encode()).hexdigest()
    if apply and not report.empty:
        _write(actor, root, rows, new_rows, accounts, assignments)
    return report


def _read_rows(table, position, errors) -> dict[str, _Row]:
    """The rows by code, each checked on its own; a code given twice is reported at its second row."""
    rows: dict[str, _Row] = {}
    for number, cells in table:
        def cell(column: str) -> str:
            index = position.get(column)
            return cells[index] if index is not None and index < len(cells) else ""

        before = len(errors)
        code, name, parent_code = cell("编码"), cell("名称"), cell("上级编码")
        for column, value in (("上级编码", parent_code), ("编码", code)):
            if not value:
                errors.append(RowError(number, column, _("必填")))
            elif not CODE.fullmatch(value):
                errors.append(RowError(number, column, DomainError("invalid_node_code", node_code=value).message))
        if not name:
            errors.append(RowError(number, "名称", _("必填")))
        elif len(name) > NAME_LIMIT:
            errors.append(RowError(number, "名称", _("名称不能超过 %(limit)d 个字", limit=NAME_LIMIT)))
        if code and code in rows:
            errors.append(RowError(number, "编码", _("编码 %(code)s 与第 %(row)d 行重复",
                                                     code=code, row=rows[code].row)))
        level = _level(cell("层级"))
        if level is False:
            errors.append(RowError(number, "层级", _("层级只能填 村、社区 或 网格（一级网格、微网格……），也可以不填")))
        staff = []
        for column, role in STAFF_COLUMNS.items():
            for entry in filter(None, (e.strip() for e in _SEPARATORS.split(cell(column)))):
                person = _person(entry)
                if person is None:
                    errors.append(RowError(number, column, _("“%(entry)s”请写成 姓名 手机号，如 王建国 13812345678",
                                                             entry=entry)))
                else:
                    staff.append((role, *person))
        if len(errors) == before:
            rows[code] = _Row(number, code, name, parent_code, level or None, staff)
    return rows


def _level(text: str) -> NodeKind | None | bool:
    """What 层级 says: a village or community, a grid of any level, nothing (None), or something else (False)."""
    if not text:
        return None
    if "网格" in text:
        return NodeKind.GRID
    if text.endswith(("村", "社区", "村(社区)", "居委会", "村委会")):
        return NodeKind.VILLAGE
    return False


def _person(entry: str) -> tuple[str, str] | None:
    """(name, mobile number) from "王建国 13812345678", "王建国(138-1234-5678)" …; None when either is missing."""
    found = _PHONE.search(entry)
    if found is None:
        return None
    phone = re.sub(r"[\s-]", "", found.group(1))
    name = (entry[:found.start()] + entry[found.end():]).strip(" ()[]:")
    if not name or len(name) > User.display_name.type.length or re.search(r"\d", name) or not PHONE_RE.match(phone):
        return None
    return name, phone


def _nodes_by_code(codes: set[str]) -> dict[str, GridNode]:
    codes = list(codes)
    return {n.code: n for i in range(0, len(codes), 500)
            for n in db.session.scalars(select(GridNode).where(GridNode.code.in_(codes[i:i + 500])))}


def _place(root: GridNode, rows: dict[str, _Row], errors: list[RowError]) -> None:
    """Match each row with the tree: a node the tree has (same name and parent) or a new one under a parent that is in
    the tree below root or in the file; give each its kind. Rows that cannot be placed are reported and dropped."""
    known = _nodes_by_code(set(rows) | {r.parent_code for r in rows.values()})
    inside = set(db.session.scalars(subtree_ids(root.id)))
    dropped = _match_known(rows, known, inside, errors)

    def kind_of(row: _Row, path: tuple[str, ...]) -> NodeKind | None:
        if row.kind is not None or row.code in dropped:
            return row.kind
        if row.code in path:
            errors.append(RowError(row.row, "上级编码", _("上级编码形成了循环：%(codes)s",
                                                          codes=" → ".join(path[path.index(row.code):] + (row.code,)))))
            dropped.add(row.code)
            return None
        parent_kind = None
        if row.parent_code in rows:
            parent_kind = kind_of(rows[row.parent_code], path + (row.code,))
            if parent_kind is None:  # the parent's row is wrong, and says so
                dropped.add(row.code)
                return None
        elif (parent := known.get(row.parent_code)) is None or parent.id not in inside:
            errors.append(RowError(row.row, "上级编码", _("找不到上级编码 %(code)s："
                                                          "它应是%(root)s或其下已有的网格，或本文件中的一行",
                                                          code=row.parent_code, root=root.name)))
        elif parent.retired_at is not None:
            errors.append(RowError(row.row, "上级编码", DomainError("parent_retired", node=parent.name).message))
        else:
            parent_kind = parent.kind
        if parent_kind is None:
            dropped.add(row.code)
            return None
        kind = NodeKind.VILLAGE if parent_kind is NodeKind.TOWN else NodeKind.GRID
        if row.level is not None and row.level is not kind:
            errors.append(RowError(row.row, "层级", _("上级是%(parent)s，这一行只能是%(kind)s",
                                                      parent=_kind_word(parent_kind), kind=KIND_WORDS[kind])))
            dropped.add(row.code)
            return None
        row.kind = kind
        return kind

    for row in list(rows.values()):
        kind_of(row, ())
    for code in dropped:
        rows.pop(code, None)


def _match_known(rows: dict[str, _Row], known: dict[str, GridNode], inside: set[int],
                 errors: list[RowError]) -> set[str]:
    """Each row whose code the tree has is that node (its kind the node's) if it is the very node: in use below root,
    with the same name and parent. Returns the codes of the rows that are not, reported in errors."""
    dropped: set[str] = set()
    for row in rows.values():
        node = known.get(row.code)
        if node is None:
            continue
        parent = db.session.get(GridNode, node.parent_id) if node.parent_id else None
        if node.id not in inside:
            errors.append(RowError(row.row, "编码", DomainError("code_taken", node_code=row.code).message))
        elif node.retired_at is not None:
            errors.append(RowError(row.row, "编码", _("编码 %(code)s 属于已撤销的“%(name)s”，请换一个编码",
                                                        code=row.code, name=node.name)))
        elif node.name != row.name or parent is None or parent.code != row.parent_code:
            errors.append(RowError(row.row, "编码", _(
                "编码 %(code)s 已是“%(name)s”（上级 %(parent)s）的编码；改名或移动请到网格管理页面办理",
                code=row.code, name=node.name, parent=parent.code if parent else "—")))
        else:
            row.node, row.kind = node, node.kind
            continue
        dropped.add(row.code)
    return dropped


def _kind_word(kind: NodeKind) -> str:
    return _("镇（街道）") if kind is NodeKind.TOWN else KIND_WORDS[kind]


def _staff(actor: User | None, rows: dict[str, _Row],
           errors: list[RowError]) -> tuple[dict[str, str], set[tuple[str, Role, str]]]:
    """The accounts to open (phone → name) and the role assignments to add (phone, role, node code), checked against
    each other and against the accounts and roles there are. An account that exists gets a role only from an admin
    who manages it (policy.user_filter: never their own, nor one with a role beyond their scope), and is named only
    to them."""
    names: dict[str, tuple[str, int, str]] = {}  # phone → (name, first row, its column)
    wanted: set[tuple[str, Role, str]] = set()
    for row in rows.values():
        for role, name, phone in row.staff:
            column = next(c for c, r in STAFF_COLUMNS.items() if r is role)
            if policy.ROLE_NODE_KINDS[role] is not row.kind:
                errors.append(RowError(row.row, column, _("%(column)s只能填在%(kind)s的一行",
                                                          column=column,
                                                          kind=KIND_WORDS[policy.ROLE_NODE_KINDS[role]])))
                continue
            first = names.setdefault(phone, (name, row.row, column))
            if first[0] != name:
                errors.append(RowError(row.row, column, _("手机号 %(phone)s 在第 %(row)d 行是%(first)s，这里是%(name)s",
                                                          phone=phone, row=first[1], first=first[0], name=name)))
                continue
            wanted.add((phone, role, row.code))
    users = {}
    phones = list(names)
    for i in range(0, len(phones), 500):
        users.update({u.username: u for u in
                      db.session.scalars(select(User).where(User.username.in_(phones[i:i + 500])))})
    managed = set()
    if users and actor is not None:
        managed = set(db.session.scalars(select(User.id).where(User.id.in_([u.id for u in users.values()]),
                                                               policy.user_filter(actor))))
    for phone, (name, row, column) in names.items():  # in the file's order
        user = users.get(phone)
        if user is None:
            continue
        if actor is not None and user.id not in managed:
            errors.append(RowError(row, column, _("手机号 %(phone)s 已是一个您管理范围以外的账号，"
                                                  "不能在这里给它分配职务；"
                                                  "请找镇管理员办理", phone=phone)))
        elif user.display_name != name:
            errors.append(RowError(row, column, _("手机号 %(phone)s 已是%(name)s的账号", phone=phone,
                                                  name=user.display_name)))
        elif not user.active:
            errors.append(RowError(row, column, _("%(name)s（%(phone)s）的账号已停用", name=name, phone=phone)))
    held = set()
    kept_ids = {r.node.id: r.code for r in rows.values() if r.node is not None}
    if users and kept_ids:
        by_id = {u.id: u.username for u in users.values()}
        held = {(by_id[user_id], role, kept_ids[node_id]) for user_id, role, node_id in db.session.execute(
            select(RoleAssignment.user_id, RoleAssignment.role, RoleAssignment.node_id)
            .where(RoleAssignment.user_id.in_(list(by_id)), RoleAssignment.node_id.in_(list(kept_ids))))}
    return {p: n for p, (n, _row, _column) in names.items() if p not in users}, wanted - held


def _write(actor: User | None, root: GridNode, rows: dict[str, _Row], new_rows: list[_Row],
           accounts: dict[str, str], assignments: set[tuple[str, Role, str]]) -> None:
    """Nodes parents first, then the accounts, then the roles; each audited."""
    nodes = {r.code: r.node for r in rows.values() if r.node is not None} | _nodes_by_code(
        {r.parent_code for r in new_rows} - set(rows))
    pending = sorted(new_rows, key=lambda r: r.row)
    while pending:
        ready = [r for r in pending if r.parent_code in nodes]
        for row in ready:
            nodes[row.code] = create_node(row.name, row.code, row.kind, nodes[row.parent_code])
        pending = [r for r in pending if r.code not in nodes]
    existing = [phone for phone in {phone for phone, _role, _code in assignments} if phone not in accounts]
    if existing:  # as assign_role does: a slip printed before a role was granted sets no password after it
        db.session.execute(update(User).where(User.username.in_(existing))
                           .values(slip_version=User.slip_version + 1).execution_options(synchronize_session=False))
    ordered = sorted(assignments, key=lambda a: (nodes[a[2]].depth, a[2], a[1].value, a[0]))
    first_node = {}  # each account's first role's node; accounts are opened in that order, as their slips print
    for phone, _role, code in ordered:
        first_node.setdefault(phone, nodes[code].id)
    now = utcnow()
    if accounts:
        db.session.execute(insert(User), [
            dict(username=phone, display_name=accounts[phone], password_hash=NO_PASSWORD, active=True,
                 session_version=1, slip_version=0, created_at=now) for phone in first_node if phone in accounts])
    phones = list(first_node)
    users = {}
    for i in range(0, len(phones), 500):
        users.update(db.session.execute(
            select(User.username, User.id).where(User.username.in_(phones[i:i + 500]))).all())
    if ordered:
        db.session.execute(insert(RoleAssignment), [
            dict(user_id=users[phone], role=role, node_id=nodes[code].id, created_at=now)
            for phone, role, code in ordered])
    record_all(actor, [Change("node.created", "grid_node", nodes[r.code].id, nodes[r.code].id, None,
                              {"name": r.name, "code": r.code, "parent": nodes[r.parent_code].name}) for r in new_rows]
               + [Change("account.created", "user", users[phone], first_node[phone], None,
                         {"username": phone, "resident": None}) for phone in accounts]
               + [Change("role.assigned", "user", users[phone], nodes[code].id, None,
                         {"username": phone, "role": role.value, "node": nodes[code].name})
                  for phone, role, code in ordered])
    record(actor, "grids.imported", "grid_node", root.id, root.id,
           after={"nodes": len(new_rows), "accounts": len(accounts), "roles": len(assignments)})


def template_workbook(root: GridNode) -> bytes:
    """The import template: the header over no rows (an example left in it would be imported), and a sheet that
    explains each column with an example below root."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "网格和工作人员"
    header = [f"{c}*" if c in REQUIRED else c for c in COLUMNS]
    sheet.append(header)
    for column, width in zip("ABCDEFG", (12, 12, 16, 10, 24, 24, 40)):
        sheet.column_dimensions[column].width = width
        sheet.column_dimensions[column].number_format = "@"  # text: Excel keeps phone numbers and codes as typed
    village_example = root.kind is NodeKind.TOWN
    notes = workbook.create_sheet("填写说明")
    notes.append(["列", "说明"])
    for row in (
        ("上级编码", _("必填。%(root)s的编码是 %(code)s；也可以是已有网格的编码，或本表中另一行的编码（行的先后不限）",
                     root=root.name, code=root.code)),
        ("编码", _("必填，全镇不重复：字母、数字、- 或 _，如 hq-01、hq-01-03。"
                   "已有的编码（名称和上级都相同）这一行只补充工作人员")),
        ("名称", _("必填，如 第一网格、3号微网格")),
        ("层级", _("可不填，按上级自动确定：镇下面是村（社区），村下面是网格，网格下面是下一级网格（微网格）")),
        ("村管理员", _("只填在村（社区）一行：姓名 手机号，多人用顿号分隔")),
        ("网格长", _("只填在网格一行：姓名 手机号")),
        ("网格员", _("只填在网格一行：姓名 手机号，多人用顿号分隔，如 王建国 13812345678、李红 13900001111")),
    ):
        notes.append(list(row))
    notes.append([])
    notes.append(["账号", _("每个手机号是一个账号，用户名就是手机号。"
                            "新账号没有密码：导入后打印激活单，本人扫码设置密码。"
                          "同一人在多行出现，只开一个账号。导入只新增网格和职务，不会撤销或删除任何东西")])
    notes.append(["示例", _("请在“网格和工作人员”表中填写，不要填在这里")])
    notes.append(header)
    if village_example:
        notes.append([root.code, "qx-dongcun", "东村", "村", "张立新 13800000001", "", ""])
        parent = "qx-dongcun"
    else:
        parent = root.code
    notes.append([parent, "qx-dc-01", "第一网格", "网格", "", "李四海 13800000002", "王建国 13800000003"])
    notes.append(["qx-dc-01", "qx-dc-01-1", "1号微网格", "微网格", "", "", "赵小红 13800000004"])
    notes.column_dimensions["A"].width = 12
    notes.column_dimensions["B"].width = 80
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
