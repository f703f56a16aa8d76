"""Per-grid period totals, kept by the ledger beside the households' own

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-09 10:20:00

"""
from datetime import date

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('grid_period_totals',
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=24), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('active', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grid_nodes.id'], name=op.f('fk_grid_period_totals_grid_id_grid_nodes'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('period', 'grid_id', 'category', name=op.f('pk_grid_period_totals'))
    )
    _backfill()


# The households' overall totals (resident 0) so far, added up by the grid each household is in now, counting a
# household only in the periods it is on the register in (people.queries.on_register: not closed, or closed on or after
# the period's first day; all time has no first day, so there only households not closed): what the ledger keeps from
# here on. A statement per period, on SQLite and PostgreSQL alike; the periods are few (a few hundred), each read
# through the period totals' key.
_BACKFILL = (
    "INSERT INTO grid_period_totals (period, grid_id, category, total, active)"
    " SELECT p.period, h.grid_id, p.category, sum(p.total), count(*)"
    " FROM period_totals p JOIN households h ON h.id = p.household_id"
    " WHERE p.period = :period AND p.resident_id = 0 AND {on_register}"
    " GROUP BY p.period, h.grid_id, p.category"
)
# Every period that has a total, read off the key's index a period at a time (a loose index scan).
_PERIODS = (
    "WITH RECURSIVE p(period) AS (SELECT min(period) FROM period_totals UNION ALL "
    "SELECT (SELECT min(period) FROM period_totals WHERE period > p.period) FROM p WHERE p.period IS NOT NULL) "
    "SELECT period FROM p WHERE period IS NOT NULL"
)


def _backfill():
    connection = op.get_bind()
    periods = list(connection.execute(sa.text(_PERIODS)).scalars())
    dated = [{"period": period, "first": _first_day(period)} for period in periods if period != "ALL"]
    if dated:
        connection.execute(sa.text(_BACKFILL.format(on_register="(h.closed_on IS NULL OR h.closed_on >= :first)"))
                           .bindparams(sa.bindparam("first", type_=sa.Date())), dated)
    if "ALL" in periods:
        connection.execute(sa.text(_BACKFILL.format(on_register="h.closed_on IS NULL")), {"period": "ALL"})


def _first_day(key):
    """The first day of a period key: 'W2026-47' (an ISO week), 'M2026-11', 'Q2026-4' or 'Y2026'."""
    year, _dash, number = key[1:].partition("-")
    if key[0] == "W":
        return date.fromisocalendar(int(year), int(number), 1)
    if key[0] == "M":
        return date(int(year), int(number), 1)
    if key[0] == "Q":
        return date(int(year), 3 * int(number) - 2, 1)
    return date(int(year), 1, 1)


def downgrade():
    op.drop_table('grid_period_totals')
