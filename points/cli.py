"""The command line: flask --app points init-town | import-grids | demo | create-user | import-households | backup |
verify | sweep | expire."""
import os
from collections.abc import Callable, Iterable

import click
from flask import Flask, current_app
from flask_migrate import upgrade
from sqlalchemy import select

from .auth import register
from .auth import services as auth_services
from .auth.models import Role
from .auth.tree_workbook import import_tree
from .backup import BackupError, back_up
from .errors import DomainError
from .events.queries import AttendanceMismatch, attendance_mismatches, event_count
from .extensions import db
from .grids.models import GridNode, NodeKind
from .grids.queries import village_by_code
from .grids.services import create_town
from .ledger.lifecycle import run_expiry
from .ledger.models import ExpiryMode, LedgerSettings
from .ledger.queries import (
    BalanceMismatch,
    DutyMismatch,
    GridTotalMismatch,
    TotalMismatch,
    balance_mismatches,
    duty_mismatches,
    grid_total_mismatches,
    ledger_size,
    total_mismatches,
)
from .messages.expiry import warn_households
from .reports.sweep import sweep_reports
from .shop.queries import StockMismatch, product_count, stock_mismatches
from .timeutil import local_today, utcnow
from .visits.sweep import sweep_visits


def register_commands(app: Flask) -> None:
    app.cli.add_command(init_town_command)
    app.cli.add_command(import_grids_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(import_households_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(verify_command)
    app.cli.add_command(sweep_command)
    app.cli.add_command(expire_command)


@click.command("init-town")
@click.argument("name")
@click.option("--code", required=True, help="The town's code, e.g. qingxi: letters, digits, - and _.")
@click.option("--admin", "admin_username", required=True, help="The username of the town's first admin.")
@click.option("--password-file", type=click.File(encoding="utf-8"),
              help="Read the admin's password from the first line of this file (- for stdin) instead of asking.")
def init_town_command(name, code, admin_username, password_file):
    """Start a real deployment: on an empty database, create the town (镇/街道) and its first town admin."""
    try:
        town = create_town(name, code)  # refused before the password is asked for, on a database that has a town
        password = password_file.readline().rstrip("\r\n") if password_file else \
            click.prompt("镇管理员的密码", hide_input=True, confirmation_prompt=True)
        admin = auth_services.create_user(admin_username, password)
        auth_services.assign_role(None, admin, Role.TOWN_ADMIN, town)
    except DomainError as refusal:
        db.session.rollback()
        raise click.ClickException(refusal.message) from refusal
    db.session.commit()
    click.echo(f"已创建 {town.name}（编码 {town.code}）和镇管理员 {admin.username}：用这个账号登录，再建村和网格")


@click.command("import-grids")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--town", "town_code", required=True, help="The town's code, as given to init-town.")
@click.option("--preview", is_flag=True, help="Print what the file would add, and write nothing.")
def import_grids_command(file, town_code, preview):
    """Import villages, grids and their staff (村管理员, 网格长, 网格员) from the tree workbook, all rows or none;
    new staff accounts get activation slips, printed from 网格管理."""
    town = db.session.scalar(select(GridNode).where(GridNode.code == town_code, GridNode.kind == NodeKind.TOWN))
    if town is None:
        raise click.ClickException(f"找不到编码为 {town_code} 的镇（街道）")
    with open(file, "rb") as handle:
        report = import_tree(None, town, handle.read(), current_app.config["IMPORT_MAX_BYTES"], apply=not preview)
    if not report.ok:
        db.session.rollback()
        _echo_errors(report.errors)
    summary = (f"新增 {report.count(NodeKind.VILLAGE)} 个村（社区）、{report.count(NodeKind.GRID)} 个网格，"
               f"开通 {len(report.accounts)} 个账号，分配 {report.roles} 项职务；已有 {report.kept} 个网格不变")
    if preview:
        db.session.rollback()
        click.echo(f"预览：{summary}；未写入")
        return
    db.session.commit()
    click.echo(f"已导入：{summary}")
    if report.accounts:
        click.echo(f"新账号的激活单：用镇管理员登录，在 网格管理 › {town.name} 打印")


def _echo_errors(errors) -> None:
    """The report of a refused file, row by row; exits with an error."""
    for error in errors:
        where = f"第 {error.row} 行" if error.row else "文件"
        column = f"【{error.column}】" if error.column else ""
        click.echo(f"{where}{column}：{error.message}", err=True)
    raise click.ClickException(f"共 {len(errors)} 处错误，未导入任何数据")


@click.command("demo")
def demo_command():
    """Create or upgrade the database and load the demo village 瑶前村 (safe to run again)."""
    from .demo import DEMO_PASSWORD, load_demo

    upgrade()
    try:
        summary = load_demo()
    except DomainError as refusal:
        db.session.rollback()
        raise click.ClickException(refusal.message) from refusal
    db.session.commit()
    click.echo(summary)
    click.echo(f"演示账号（密码均为 {DEMO_PASSWORD}）："
               "admin cunwei leader1 leader2 leader3 worker1 clerk organizer villager1…villager5")


@click.command("create-user")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), help="A role to grant, e.g. town_admin.")
@click.option("--node", "node_code", help="The code of the town, village or grid the role holds in.")
@click.option("--name", "display_name", default="", help="The name shown in the app.")
def create_user_command(username, password, role, node_code, display_name):
    """Create an account, optionally with a role on a node (the first admin of a deployment)."""
    try:
        user = auth_services.create_user(username, password, display_name)
        if role:
            node = db.session.scalar(select(GridNode).where(GridNode.code == (node_code or "")))
            if node is None:
                raise DomainError("unknown_node", node_code=node_code)
            auth_services.assign_role(None, user, Role(role), node)
    except DomainError as refusal:
        db.session.rollback()
        raise click.ClickException(refusal.message) from refusal
    db.session.commit()
    click.echo(f"已创建账号 {user.username}")


@click.command("import-households")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--village", "village_code", required=True, help="The village code, e.g. yaoqian.")
@click.option("--preview", is_flag=True, help="Print what the file would add and change, and write nothing.")
def import_households_command(file, village_code, preview):
    """Import households and residents from an .xlsx or .csv file, all rows or none: new households are added and
    those on the register (by 户号) are updated to what the file says."""
    with open(file, "rb") as handle:
        data = handle.read()
    try:  # no such village, or the register changed under the import (closed_since_preview)
        village = village_by_code(village_code)
        report = register.import_households(None, village, data, current_app.config["IMPORT_MAX_BYTES"],
                                            apply=not preview)
    except DomainError as refusal:
        db.session.rollback()
        raise click.ClickException(refusal.message) from refusal
    if not report.ok:
        db.session.rollback()
        _echo_errors(report.errors)
    for change in report.changes:
        before = f"{change.before} → " if change.before else ""
        click.echo(f"户号 {change.number} {change.name}【{change.column}】{before}{change.after or '（空）'}")
    if report.unmentioned:
        click.echo(f"文件中没有的户（未作改动）：{len(report.unmentioned)} 户")
    if report.absent:
        click.echo(f"文件中没有的成员（未作改动）：{len(report.absent)} 人")
    summary = f"新增 {report.households} 户、{report.residents} 人，变更 {len(report.changes)} 处"
    if preview:
        db.session.rollback()
        click.echo(f"预览：{summary}；未写入")
    else:
        db.session.commit()
        click.echo(f"已导入：{summary}")


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False))
def backup_command(dest):
    """Copy the database (SQLite online, PostgreSQL by pg_dump) and archive the uploads into DEST, named by UTC time."""
    try:
        written = back_up(db.engine.url, current_app.config["UPLOAD_FOLDER"], dest, utcnow())
    except BackupError as refusal:
        raise click.ClickException(str(refusal)) from refusal
    for path in written:
        click.echo(f"已写入 {path}（{os.path.getsize(path):,} 字节）")


VERIFY_EXAMPLES = 5  # mismatches shown of each kind; the count says how many there are


@click.command("verify")
def verify_command():
    """Check that every balance, period total and stock is the sum of the entries or movements it caches, and every
    grid total the sum of the period totals of its households on the register in the period; exit 1 with a report
    (ids only, no personal data) when one is not."""
    failed = [
        _report("户余额与积分明细不符", balance_mismatches(), _balance_line),
        _report("期间合计与积分明细不符", total_mismatches(), _total_line),
        _report("网格合计与各户期间合计不符", grid_total_mismatches(), _grid_total_line),
        _report("商品库存与出入库记录不符", stock_mismatches(), _stock_line),
        _report("活动人数与签到记录或人数上限不符", attendance_mismatches(), _attendance_line),
        _report("网格员履职积分与履职记录不符", duty_mismatches(), _duty_line),
    ]
    if any(failed):
        click.echo("核对未通过")
        raise SystemExit(1)
    size = ledger_size()
    click.echo(f"核对通过：{size.balances} 户余额、{size.totals} 条期间合计与 {size.entries} 条积分明细一致，"
               f"{size.grid_totals} 条网格合计与各户期间合计一致，"
               f"{product_count()} 种商品库存与出入库记录一致，{event_count()} 场活动的人数与签到记录一致且未超上限")


def _report(title: str, mismatches: Iterable, describe: Callable[..., str]) -> int:
    """Print how many mismatches there are and the first few; return how many."""
    count = 0
    for count, mismatch in enumerate(mismatches, 1):
        if count == 1:
            click.echo(f"{title}：")
        if count <= VERIFY_EXAMPLES:
            click.echo(f"  {describe(mismatch)}")
    if count:
        click.echo(f"  共 {count} 处")
    return count


def _duty_line(mismatch: DutyMismatch) -> str:
    duty = "没有履职记录" if mismatch.duty_amount is None else f"履职记录 {mismatch.duty_amount} 分"
    return f"积分明细 #{mismatch.entry_id}：{mismatch.entry_amount} 分，{duty}"


def _attendance_line(mismatch: AttendanceMismatch) -> str:
    capacity = "不限" if mismatch.capacity is None else mismatch.capacity
    return f"活动 #{mismatch.event_id}：记为 {mismatch.attendees} 人，签到记录 {mismatch.rows} 条，上限 {capacity}"


def _balance_line(mismatch: BalanceMismatch) -> str:
    balance = "无余额记录" if mismatch.balance is None else f"余额 {mismatch.balance}"
    entries = "没有明细" if mismatch.entries_sum is None else f"明细合计 {mismatch.entries_sum}"
    return f"户 id {mismatch.household_id}：{balance}，{entries}"


def _total_line(mismatch: TotalMismatch) -> str:
    key = (f"户 id {mismatch.household_id}，{mismatch.period}，居民 id {mismatch.resident_id}，"
           f"类别 {mismatch.category or '(全部)'}")
    if mismatch.stored is None:
        return f"{key}：缺少这一行，应为 {_figures(mismatch.expected)}"
    if mismatch.expected is None:
        return f"{key}：没有明细对应这一行（{_figures(mismatch.stored)}）"
    return f"{key}：存为 {_figures(mismatch.stored)}，应为 {_figures(mismatch.expected)}"


def _grid_total_line(mismatch: GridTotalMismatch) -> str:
    key = f"网格 id {mismatch.grid_id}，{mismatch.period}，类别 {mismatch.category or '(全部)'}"
    if mismatch.stored is None:
        return f"{key}：缺少这一行，应为 {_grid_figures(mismatch.expected)}"
    if mismatch.expected is None:
        return f"{key}：没有户的期间合计对应这一行（{_grid_figures(mismatch.stored)}）"
    return f"{key}：存为 {_grid_figures(mismatch.stored)}，应为 {_grid_figures(mismatch.expected)}"


def _grid_figures(figures: tuple[int, int]) -> str:
    total, active = figures
    return f"合计 {total}、{active} 户"


def _figures(figures: tuple[int, int, int, int]) -> str:
    total, entries, deducted, hours = figures
    return f"合计 {total}、{entries} 条、扣分 {deducted}、{hours} 小时"


def _stock_line(mismatch: StockMismatch) -> str:
    return f"商品 id {mismatch.product_id}：库存 {mismatch.stock}，出入库合计 {mismatch.movements_sum}"


@click.command("sweep")
def sweep_command():
    """For cron, every few minutes: a 民情诉求 not accepted or not finished in time moves one level up the grid tree,
    whose staff are told; the staff of a grid with overdue 走访 are told, once a day. Safe to run twice, and at any
    time: each step is taken once per deadline or day."""
    now = utcnow()
    reports, visits = sweep_reports(now), sweep_visits(now)
    db.session.commit()
    click.echo(f"民情诉求：{reports['escalated']} 条超期升级；走访：{visits['overdue']} 户超期，"
               f"今天新提醒 {visits['grids']} 个网格（{visits['told']} 人）")


@click.command("expire")
def expire_command():
    """For cron, once a day (any time: 5 0 * * * is usual): clear the points of each village whose 清零 is due, once
    per period (a period cleared already, by the page or an earlier run, is skipped), each village in a transaction
    of its own; then tell the villagers of each household losing points to a clearing within a month, once per
    period. Safe to run twice, or twice at once."""
    today = local_today()
    village_ids = list(db.session.scalars(select(LedgerSettings.village_id).where(
        LedgerSettings.expiry != ExpiryMode.NONE).order_by(LedgerSettings.village_id)))
    db.session.rollback()
    for village_id in village_ids:
        village = db.session.get(GridNode, village_id)
        try:
            run, made = run_expiry(None, village, today)
        except DomainError:  # not due yet
            db.session.rollback()
            continue
        db.session.commit()
        if made:
            click.echo(f"{village.name}：清零 {run.households} 户，共 {run.points} 分")
    told = 0
    for village_id in village_ids:
        told += warn_households(db.session.get(GridNode, village_id), today)
        db.session.commit()
    click.echo(f"清零提醒：今天新提醒 {told} 人")
