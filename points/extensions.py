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
from flask_sqlalchemy.session import Session as SignallingSession
from flask_wtf import CSRFProtect
from sqlalchemy import Enum, MetaData, bindparam, event, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

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


def connection():
    """The session's connection in its transaction (begun if none has), as db.session.connection() gives it, kept for
    the transaction: asking the session again before each statement on a hot path cost more than the statement's own
    Python. A savepoint runs on the same connection; a commit or rollback ends the transaction, and the next asks
    again."""
    session = db.session()
    transaction = session.get_transaction()
    held = session.info.get(_CONNECTION)
    if held is not None and transaction is not None and held[0] is transaction:
        return held[1]
    found = session.connection()
    session.info[_CONNECTION] = (session.get_transaction(), found)
    return found


_CONNECTION = "connection_of_transaction"


def add_unless_taken(model, values: dict):
    """INSERT … ON CONFLICT DO NOTHING RETURNING the row: the row as a persistent object of model, or None when one of
    its unique keys is taken (a twin transaction writing the same key is waited for, and its row is there to read
    when the insert returns). The table's statement, not the entity's: the ORM's bulk insert costs more than the
    statement on the hot paths that use this (a check-in, a redemption)."""
    db.session.flush()  # the table's statement: what the session holds unwritten goes first
    row = connection().execute(_insert_unless_taken(model.__table__, db.engine.dialect.name),
                                         values).first()
    if row is None:
        return None
    return inserted(attach(model, row._mapping))


def inserted(row):
    """row, just inserted by a table's statement and made the session's object: inserted under a savepoint, it leaves
    the session if the savepoint is rolled back, as the ORM's own inserts do (its id may be taken again)."""
    savepoint = db.session().get_nested_transaction()
    if savepoint is not None:
        db.session.info.setdefault(_INSERTED, []).append((savepoint, row))
    return row


_INSERTED = "inserted_in_savepoints"


def within(transaction, ended: set) -> bool:
    """Whether a session's transaction, or one it is nested in, is one of ended."""
    while transaction is not None:
        if transaction in ended:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(SignallingSession, "after_soft_rollback")
def _forget_undone_inserts(session, transaction) -> None:
    inserted = session.info.get(_INSERTED)
    if inserted and transaction.parent is not None:
        session.info[_INSERTED] = [(savepoint, row) for savepoint, row in inserted
                                   if not within(savepoint, {transaction})]
        for savepoint, row in inserted:
            if within(savepoint, {transaction}) and row in session:
                session.expunge(row)


@event.listens_for(SignallingSession, "after_transaction_end")
def _end_inserts(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_INSERTED, None)


@functools.cache
def _insert_unless_taken(table, dialect: str):
    return conflict_insert(dialect)(table).on_conflict_do_nothing().returning(*table.columns)


def attach(model, row, refresh: bool = False):
    """The persistent object of model for a row (column name → value) a table's statement read or wrote, as the
    session's loading of the row would make it: the one the session holds already (its attributes not loaded set from
    the row, or all of them when refresh, as populate_existing does), or a new one added to the session. For the hot
    paths, where the ORM's loading of a row cost more than the statement."""
    keys = _attribute_keys(model)
    mapper = model.__mapper__
    identity = db.session.identity_key(model, tuple(row[column.name] for column in mapper.primary_key))
    held = db.session.identity_map.get(identity)
    if held is None:
        # As the ORM's loading does: the values straight into the new object's dict, then made its committed state.
        target = mapper.class_manager.new_instance()
        vars(target).update((keys[name], value) for name, value in row.items())
        make_transient_to_detached(target)
        db.session.add(target)
        return target
    unloaded = inspect(held).unloaded
    for name, value in row.items():
        if refresh or keys[name] in unloaded:
            set_committed_value(held, keys[name], value)
    return held


def fetch(model, id_: int):
    """session.get() for the hot paths: the object the session holds, or the row read by the table's statement and
    attached (None when there is none). Only for a model whose relationships load lazily: a joined one would be
    missing."""
    held = _held(model, id_)
    if held is not None:
        return held
    row = connection().execute(_by_id(model.__table__), {"id": id_}).first()
    return None if row is None else attach(model, row._mapping)


def fetch_all(model, ids) -> dict:
    """fetch() of several: id → object, those the session holds and the rest read by one statement (an id without a
    row is left out)."""
    found = {id_: held for id_ in ids if (held := _held(model, id_)) is not None}
    missing = [id_ for id_ in ids if id_ not in found]
    if missing:
        found.update((row.id, attach(model, row._mapping))
                     for row in connection().execute(_by_ids(model.__table__), {"ids": missing}))
    return found


def _held(model, id_: int):
    """The object of model with id_ the session holds as it is in this transaction (not expired), or None."""
    held = db.session.identity_map.get(db.session.identity_key(model, id_))
    return held if held is not None and not inspect(held).expired else None


@functools.cache
def _by_id(table):
    return select(table).where(table.c.id == bindparam("id"))


@functools.cache
def _by_ids(table):
    return select(table).where(table.c.id.in_(bindparam("ids", expanding=True)))


@functools.cache
def _attribute_keys(model) -> dict[str, str]:
    """model's attribute key of each of its table's columns."""
    mapper = model.__mapper__
    return {column.name: mapper.get_property_by_column(column).key for column in model.__table__.columns}


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
