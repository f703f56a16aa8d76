"""The command line: flask --app points demo | create-user | import-households."""
import click
from flask import Flask, current_app
from flask_migrate import upgrade
from sqlalchemy import select

from .auth import services as auth_services
from .auth.models import Role
from .errors import DomainError
from .extensions import db
from .grids.models import GridNode
from .grids.queries import village_by_code
from .people.imports import import_households


def register_commands(app: Flask) -> None:
    app.cli.add_command(demo_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(import_households_command)


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
    click.echo(f"演示账号（密码均为 {DEMO_PASSWORD}）：admin cunwei leader1 leader2 leader3 worker1 clerk organizer villager1…villager5")


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
def import_households_command(file, village_code):
    """Import households and residents from an .xlsx or .csv file: all rows or none."""
    try:
        village = village_by_code(village_code)
    except DomainError as refusal:
        raise click.ClickException(refusal.message) from refusal
    with open(file, "rb") as handle:
        report = import_households(village, handle.read(), current_app.config["IMPORT_MAX_BYTES"])
    if not report.ok:
        db.session.rollback()
        for error in report.errors:
            where = f"第 {error.row} 行" if error.row else "文件"
            column = f"【{error.column}】" if error.column else ""
            click.echo(f"{where}{column}：{error.message}", err=True)
        raise click.ClickException(f"共 {len(report.errors)} 处错误，未导入任何数据")
    db.session.commit()
    click.echo(f"已导入 {report.households} 户、{report.residents} 人")
