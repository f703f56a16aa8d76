"""The benchmarks' PostgreSQL database: dropped and made afresh before a run, dropped after it."""
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def reset_postgres(url: str, create: bool) -> None:
    """Drop the PostgreSQL database named in url, and create it empty when create."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        if create:
            connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
