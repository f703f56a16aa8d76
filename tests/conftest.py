"""Test harness: one database per run, built by the migrations, emptied after each test.

SQLite in a temporary folder by default; PostgreSQL when TEST_DATABASE_URL is set (the database named there is
dropped and created afresh). `--clock 2027-01-01T00:30` runs the tests as if that were the local time in Asia/Shanghai
(the clock ticks on from there): `.ci/run` runs the tests of periods on the calendar's hard days this way.
"""
import os
import re
from datetime import datetime
from functools import partial

import pytest
import time_machine
from flask import g
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from werkzeug.security import generate_password_hash

from points import create_app
from points.auth import services as auth_services
from points.config import database_url
from points.extensions import db, limiter
from points.timeutil import LOCAL

from . import factories


def pytest_addoption(parser):
    parser.addoption("--clock", metavar="YYYY-MM-DDTHH:MM",
                     help="run as if this were the local time (Asia/Shanghai); the clock ticks on from it")


def pytest_configure(config):
    """Starts the clock before anything is collected: module-level periods (LAST_WEEK) are read from it too."""
    moment = config.getoption("clock")
    if moment:
        traveller = time_machine.travel(datetime.fromisoformat(moment).replace(tzinfo=LOCAL))
        traveller.start()
        config.add_cleanup(traveller.stop)


def pytest_report_header(config):
    moment = config.getoption("clock")
    return f"clock: {moment} Asia/Shanghai, ticking" if moment else None


def _fresh_postgres(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


@pytest.fixture(scope="session", autouse=True)
def _quick_password_hashes():
    """One round of PBKDF2 for the tests' passwords: scrypt's 0.2 s a hash protects real accounts, and in the tests it
    was most of the time (every user made, every login). Checking reads the method from the hash itself."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth_services, "generate_password_hash",
                      partial(generate_password_hash, method="pbkdf2:sha256:1"))
        yield


@pytest.fixture(scope="session")
def database_uri(tmp_path_factory) -> str:
    raw = os.environ.get("TEST_DATABASE_URL")
    if raw:
        uri = database_url(raw, "")
        _fresh_postgres(uri)
        return uri
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")


class RequestClient(FlaskClient):
    """A test client whose every request starts with an empty flask.g, as in production.

    Tests run inside one app context (so factories and requests share a database session); without this,
    what Flask-Login and Flask-Babel keep in g (the user, the locale) would leak from one request to the next.
    """

    def open(self, *args, **kwargs):
        saved = dict(vars(g))
        vars(g).clear()
        try:
            return super().open(*args, **kwargs)
        finally:
            vars(g).clear()
            vars(g).update(saved)


@pytest.fixture(scope="session")
def app(database_uri, tmp_path_factory):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": None,
            "UPLOAD_FOLDER": str(tmp_path_factory.mktemp("uploads")),
        }
    )
    app.test_client_class = RequestClient
    with app.app_context():
        event.listen(db.engine, "connect", _commit_without_flushing_to_disk)
        upgrade()
    return app


def _commit_without_flushing_to_disk(dbapi_connection, connection_record) -> None:
    """A commit need not reach the disk in the tests (it does in the app): the suite commits tens of thousands of
    times. The tests that kill a server or fork processes use connections of their own, made as the app makes them."""
    cursor = dbapi_connection.cursor()
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor.execute("PRAGMA synchronous=OFF")
    else:
        cursor.execute("SET synchronous_commit = off")
        dbapi_connection.commit()  # else the first rollback would undo the SET
    cursor.close()


@pytest.fixture(autouse=True)
def _context(app):
    """Every test runs inside an app context and leaves the database empty. The limiter is one object for every app
    of the process, and a test's own create_app() (a backup's, a server's) switches it on for all: each test starts
    with it as the tests' app has it (off)."""
    limiter.enabled = app.config["RATELIMIT_ENABLED"]
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()
        empty_database()


def empty_database() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # DELETE, children first, and the ids from 1 again: TRUNCATE makes every table's files anew, ten times
            # slower on the few rows a test leaves.
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
            connection.execute(text("SELECT setval(oid::regclass, 1, false) FROM pg_class WHERE relkind = 'S'"))
        else:
            # SQLite ignores this pragma inside a transaction, so it is set before and after one.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
            connection.commit()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def login(client):
    """login(user) signs the test client in as that user (password factories.PASSWORD)."""

    def sign_in(user, password=factories.PASSWORD):
        db.session.commit()  # the user exists for real: a view's rollback after a refusal keeps it
        client.post("/logout")
        response = client.post("/login", data={"username": user.username, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return sign_in


_VERB_AND_TABLE = re.compile(r"(SELECT) .*? FROM (\w+)|(INSERT) INTO (\w+)|(UPDATE) (\w+)|(DELETE) FROM (\w+)")


class Statements(list):
    """SQL statements as sent, in order (BEGIN and COMMIT are not among them)."""

    def summary(self) -> list[str]:
        """Each as its verb and first table: "SELECT events", "INSERT attendances", "UPDATE events"."""
        found = (_VERB_AND_TABLE.match(statement) for statement in self)
        return [" ".join(part for part in match.groups() if part) if match else statement
                for match, statement in zip(found, self)]


@pytest.fixture
def statements(app):
    """The SQL statements sent to the database while the test runs: clear() it before what the test counts."""
    sent = Statements()

    def note(connection, cursor, statement, parameters, context, executemany):
        sent.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", note)
    yield sent
    event.remove(db.engine, "before_cursor_execute", note)


@pytest.fixture
def village():
    """A town with one village of three grids (the shape of 瑶前村), committed."""
    result = factories.gen_village()
    db.session.commit()
    return result


@pytest.fixture
def villages(village):
    """The village fixture, a neighbour of two grids in its town, and a village of one grid in another town."""
    neighbour = factories.gen_village(grids=2, town=village.town)
    elsewhere = factories.gen_village(grids=1)
    db.session.commit()
    return village, neighbour, elsewhere
