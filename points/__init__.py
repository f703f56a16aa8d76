"""村务积分: the points system of Chinese villages (积分制). create_app() builds the Flask app."""
import os
import secrets
import sqlite3
import time

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from . import assets, unit_of_work
from .config import Config, database_url
from .errors import register_error_handlers
from .extensions import babel, csrf, db, limiter, login_manager, migrate, select_locale
from .limits import IdConverter


class _JSONProvider(DefaultJSONProvider):
    """Flask's JSON, but a body nested deeper than the decoder's recursion allows ("[" * 1000) is bad JSON, answered
    400 like any other, rather than a RecursionError and a 500."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError as error:
            raise ValueError("JSON nested too deeply") from error


class _App(Flask):
    json_provider_class = _JSONProvider


def create_app(config: dict | None = None) -> Flask:
    """The app, configured from the environment (Config) and then from config, e.g. a test's."""
    app = _App(__name__, template_folder="../templates", static_folder="../static", instance_relative_config=True)
    app.config.from_object(Config)
    if config:
        app.config.update(config)
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret_key(app.instance_path)
    if app.config["PROXY_FIX_X_FOR"]:
        hops = app.config["PROXY_FIX_X_FOR"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    if not app.config["UPLOAD_FOLDER"]:
        app.config["UPLOAD_FOLDER"] = os.path.join(app.instance_path, "uploads")
    app.config.setdefault(
        "SQLALCHEMY_DATABASE_URI", database_url(app.config.get("DATABASE_URL"), app.instance_path)
    )

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") and sqlite3.sqlite_version_info < (3, 35):
        # Check-ins and redemptions take their count and stock with UPDATE … RETURNING, which SQLite has from 3.35.
        raise RuntimeError(f"SQLite 3.35 or later is needed; this Python has {sqlite3.sqlite_version}")

    app.url_map.converters["id"] = IdConverter  # before any route uses <id:…>
    assets.init_app(app)  # first, so that compressing runs after every other after_request hook
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "migrations")))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="../translations")
    limiter.init_app(app)
    _init_login(app)

    from . import models  # noqa: F401  every model registered on the metadata
    from .api import init_api
    from .cli import register_commands
    from .pages.home import register_template_helpers
    _register_pages(app)
    init_api(app)
    register_error_handlers(app)
    unit_of_work.init_app(app)
    register_template_helpers(app)
    register_commands(app)
    return app


def _register_pages(app: Flask) -> None:
    """The HTML door: one blueprint a domain."""
    from .pages.audit import bp as audit_bp
    from .pages.auth import bp as auth_bp
    from .pages.bars import bp as bars_bp
    from .pages.claims import bp as claims_bp
    from .pages.dashboards import bp as dashboards_bp
    from .pages.events import bp as events_bp
    from .pages.expiry import bp as expiry_bp
    from .pages.grids import bp as grids_bp
    from .pages.home import bp as web_bp
    from .pages.hygiene import bp as hygiene_bp
    from .pages.leaderboards import bp as leaderboards_bp
    from .pages.ledger import bp as ledger_bp
    from .pages.messages import bp as messages_bp
    from .pages.people import bp as people_bp
    from .pages.publicity import bp as publicity_bp
    from .pages.reports import bp as reports_bp
    from .pages.rules import bp as rules_bp
    from .pages.shop import bp as shop_bp
    from .pages.statements import bp as statements_bp
    from .pages.visits import bp as visits_bp
    from .pages.wishes import bp as wishes_bp

    for blueprint in (web_bp, auth_bp, grids_bp, people_bp, rules_bp, ledger_bp, claims_bp, hygiene_bp,
                      events_bp, audit_bp, shop_bp, leaderboards_bp, dashboards_bp, messages_bp, reports_bp, wishes_bp,
                      visits_bp, statements_bp, publicity_bp, expiry_bp, bars_bp):
        app.register_blueprint(blueprint)


def _instance_secret_key(instance_path: str) -> str:
    """A random key made on first start and kept in instance/secret_key (readable by the owner only), so that a
    server run without SECRET_KEY is never signed with a key anyone knows."""
    path = os.path.join(instance_path, "secret_key")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another worker may have created the file a moment ago and not yet written it.
        for _ in range(50):
            with open(path) as handle:
                key = handle.read().strip()
            if key:
                return key
            time.sleep(0.1)
        raise RuntimeError(f"{path} is empty: delete it, or set SECRET_KEY") from None
    key = secrets.token_hex(32)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key)
    return key


def _init_login(app: Flask) -> None:
    from .auth.services import load_session_user

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_session_user)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """SQLite: write-ahead log for readers beside a writer, foreign keys enforced, a wait on a locked database."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


@event.listens_for(Engine, "savepoint")
def _sqlite_savepoint_inside_a_transaction(connection, name) -> None:
    """SQLite: Python's sqlite3 opens a transaction only before a write statement, so a SAVEPOINT sent before any
    write (begin_nested, to catch a twin request's unique key) would be the transaction itself, and its RELEASE would
    commit at once, beyond the rollback of a refusal later in the request. The write transaction is opened first:
    nothing was read in it yet, so taking the write lock now waits (busy_timeout) rather than fails."""
    dbapi_connection = connection.connection.dbapi_connection
    if type(dbapi_connection).__module__.startswith("sqlite3") and not dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
