"""The Flask extensions, created unbound here and bound to an app in create_app()."""
import enum
import functools

from flask import has_request_context, request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import Enum, MetaData
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase

# Named constraints so that migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def conflict_insert(dialect: str):
    """The insert() of dialect ("postgresql" or "sqlite", the two the app runs on): the one with ON CONFLICT."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


@functools.cache
def insert_unless_taken(model, dialect: str):
    """INSERT … ON CONFLICT DO NOTHING RETURNING the row, as an object of model: nothing when one of its unique keys
    is taken (a twin transaction writing the same key is waited for, and its row is there to read when the insert
    returns). Built once per model and dialect."""
    return conflict_insert(dialect)(model).on_conflict_do_nothing().returning(model)


def add_unless_twin(row, twin):
    """Add row under a savepoint and flush it; None then. When one of its unique keys was taken a moment ago by a twin
    (the same request sent twice: the same Idempotency-Key from the same account, racing this one), the savepoint is
    undone and twin() returns what that request made. Re-raises when twin() finds nothing."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        found = twin()
        if found is None:
            raise
        return found
    return None


def value_enum(enum_class: type[enum.Enum], name: str, length: int = 24) -> Enum:
    """An enum column storing the members' values ('town'), checked by the app rather than a database type."""
    return Enum(enum_class, name=name, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address)


def select_locale() -> str:
    """?lang= (remembered in a cookie) first, then the browser's Accept-Language, then zh_CN."""
    from flask import current_app

    if not has_request_context():  # the command line speaks the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    languages = current_app.config["LANGUAGES"]
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]
