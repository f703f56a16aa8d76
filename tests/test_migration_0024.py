"""Migration 0024 makes the grid totals of a database that has period totals already: each household's overall totals
added up by the grid it is in, a household that left the register (整户迁出) only in the periods it was on the register
in (those that began on or before the day it left), on SQLite and on PostgreSQL, in a database of its own migrated to
0023 first."""
from datetime import date

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from points import create_app
from points.extensions import db
from points.ledger.models import EntrySource, PeriodTotal
from points.ledger.services import post_entry
from points.people.models import Closure

from . import factories


@pytest.fixture
def old_database(database_uri, tmp_path):
    """An empty database beside the tests' own: a file on SQLite, a database named after theirs on PostgreSQL."""
    if not database_uri.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'at-0023.db'}"
        return
    url = make_url(database_uri)
    name = f"{url.database}_0024"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _totals(household_id: int, resident_id: int, rows: list[tuple[str, str, int, int]]) -> list[dict]:
    return [dict(period=period, household_id=household_id, resident_id=resident_id, category=category, total=total,
                 entries=entries) for period, category, total, entries in rows]


def test_the_backfill_adds_up_each_household_s_totals_by_its_grid(old_database, tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": old_database,
                      "RATELIMIT_ENABLED": False, "UPLOAD_FOLDER": str(tmp_path / "uploads")})
    with app.app_context():
        try:
            upgrade(revision="0023")
            village = factories.gen_village()
            first, second = village.grids[:2]
            a, b, c = factories.gen_household(first), factories.gen_household(first), factories.gen_household(first)
            d = factories.gen_household(first)
            d.closed_on, d.closure = date(2026, 11, 10), Closure.MOVED_OUT  # a Tuesday: in the week of 9 November
            db.session.commit()
            # Written as the ledger of 0023 wrote them: there were no grid totals to keep.
            db.session.execute(insert(PeriodTotal), [
                *_totals(a.id, 0, [("M2026-11", "", 30, 2), ("M2026-11", "hygiene", 30, 2), ("ALL", "", 30, 2)]),
                *_totals(a.id, a.head.id, [("M2026-11", "", 10, 1)]),  # a resident's: not a household's total
                *_totals(b.id, 0, [("M2026-11", "", -5, 1), ("ALL", "", 15, 3)]),
                *_totals(c.id, 0, [("M2026-10", "", 0, 2), ("ALL", "", 0, 2)]),  # points given and taken back
                # Left on 10 November: in the grid's figures of November, of the week of the 9th, of the quarter and
                # the year; not of December, of the week of the 16th, nor of all time.
                *_totals(d.id, 0, [("M2026-11", "", 7, 1), ("M2026-12", "", 4, 1), ("W2026-46", "", 7, 1),
                                   ("W2026-47", "", 4, 1), ("Q2026-4", "", 11, 2), ("Y2026", "", 11, 2),
                                   ("ALL", "", 11, 2), ("ALL", "hygiene", 11, 2)]),
            ])
            db.session.execute(text("UPDATE households SET grid_id = :grid WHERE id = :id"),
                               {"grid": second.id, "id": c.id})  # moved: its totals go to the grid it is in now
            db.session.commit()

            upgrade()

            rows = db.session.execute(text("SELECT period, grid_id, category, total, active FROM grid_period_totals"))
            assert sorted(tuple(row) for row in rows) == sorted([
                ("ALL", first.id, "", 45, 2), ("ALL", second.id, "", 0, 1), ("M2026-10", second.id, "", 0, 1),
                ("M2026-11", first.id, "", 32, 3), ("M2026-11", first.id, "hygiene", 30, 1),
                ("W2026-46", first.id, "", 7, 1), ("Q2026-4", first.id, "", 11, 1), ("Y2026", first.id, "", 11, 1)])
            # The ledger keeps them from there.
            post_entry(b.id, 10, EntrySource.MANUAL, "after", occurred_on=date(2026, 11, 20))
            db.session.commit()
            assert db.session.execute(text(
                "SELECT total, active FROM grid_period_totals WHERE period = 'M2026-11' AND category = ''"
            )).all() == [(42, 3)]
        finally:
            db.session.remove()
            db.engine.dispose()
