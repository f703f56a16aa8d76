"""leaderboards: penalties and volunteer hours in the period totals, and each village's 红黑榜 settings

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 23:45:00.000000

"""
from collections import defaultdict
from datetime import date, datetime

from alembic import op
import sqlalchemy as sa


HOUSEHOLDS_AT_A_TIME = 2000  # the backfill's households per round: its memory stays small in a county's database

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('board_settings',
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('red_count', sa.Integer(), nullable=False),
    sa.Column('black_count', sa.Integer(), nullable=False),
    sa.CheckConstraint('red_count BETWEEN 1 AND 50 AND black_count BETWEEN 0 AND 50', name=op.f('ck_board_settings_counts_in_range')),
    sa.ForeignKeyConstraint(['village_id'], ['grid_nodes.id'], name=op.f('fk_board_settings_village_id_grid_nodes'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('village_id', name=op.f('pk_board_settings'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hours', sa.Integer(), nullable=False, server_default='0'))

    with op.batch_alter_table('period_totals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deducted', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('hours', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index('ix_period_totals_deducted', ['period', 'category', 'resident_id', 'deducted', 'household_id'], unique=False, sqlite_where=sa.text('deducted > 0'), postgresql_where=sa.text('deducted > 0'))
        batch_op.create_index('ix_period_totals_residents', ['period', 'category', 'total', 'resident_id'], unique=False, sqlite_where=sa.text('resident_id > 0'), postgresql_where=sa.text('resident_id > 0'))
    _backfill(op.get_bind())


def _backfill(connection):
    """Volunteer hours on the entries posted so far, then the penalties and hours of every period total, as the
    ledger would have counted them: set-based where SQL can say it, and the period totals a range of households at a
    time, from the few entries that carry a penalty or hours."""
    # A per-hour award's amount was its points times its hours (an attendance under one too).
    connection.execute(sa.text(
        "UPDATE ledger_entries SET hours = amount / (SELECT v.points FROM rule_versions v"
        " WHERE v.id = ledger_entries.rule_version_id) WHERE reverses_id IS NULL AND rule_version_id IN"
        " (SELECT id FROM rule_versions WHERE unit = 'hour' AND points > 0)"))
    # An attendance under a per-event award: the time at the event.
    rows = [dict(id=entry_id, hours=_hours_at_event(mode, *map(_time, times)))
            for entry_id, mode, *times in connection.execute(sa.text(
                "SELECT a.entry_id, e.mode, e.starts_at, e.ends_at, a.checked_in_at, a.checked_out_at"
                " FROM attendances a JOIN events e ON e.id = a.event_id JOIN ledger_entries l ON l.id = a.entry_id"
                " JOIN rule_versions v ON v.id = l.rule_version_id WHERE v.unit != 'hour' AND v.points > 0"))]
    if rows:
        connection.execute(sa.text("UPDATE ledger_entries SET hours = :hours WHERE id = :id"), rows)
    # A reversal takes its entry's hours back.
    connection.execute(sa.text(
        "UPDATE ledger_entries SET hours = -(SELECT o.hours FROM ledger_entries o"
        " WHERE o.id = ledger_entries.reverses_id) WHERE reverses_id IS NOT NULL"))

    entries = sa.text(
        "SELECT e.household_id, e.resident_id, e.category, e.occurred_on, e.amount, e.reverses_id, e.hours, o.amount"
        " FROM ledger_entries e LEFT JOIN ledger_entries o ON o.id = e.reverses_id"
        " WHERE e.household_id BETWEEN :low AND :high AND e.source != 'redemption'"
        " AND (o.id IS NULL OR o.source != 'redemption')"
        " AND (e.hours != 0 OR (e.reverses_id IS NULL AND e.amount < 0) OR o.amount < 0)")
    update = sa.text("UPDATE period_totals SET deducted = :deducted, hours = :hours WHERE period = :period"
                     " AND household_id = :household_id AND resident_id = :resident_id AND category = :category")
    highest = connection.execute(sa.text("SELECT max(household_id) FROM ledger_entries")).scalar() or 0
    for low in range(0, highest + 1, HOUSEHOLDS_AT_A_TIME):
        sums = defaultdict(lambda: [0, 0])
        for household_id, resident_id, category, day, amount, reverses_id, hours, original in connection.execute(
                entries, dict(low=low, high=low + HOUSEHOLDS_AT_A_TIME - 1)):
            # A penalty takes points; its reversal gives them back; a reversed award is no penalty.
            deducted = -amount if (original if reverses_id is not None else amount) < 0 else 0
            day = date.fromisoformat(day) if isinstance(day, str) else day
            for period in _period_keys(day):
                for key in {(0, ""), (0, category or ""), (resident_id or 0, ""), (resident_id or 0, category or "")}:
                    total = sums[(period, household_id, *key)]
                    total[0] += deducted
                    total[1] += hours
        rows = [dict(period=k[0], household_id=k[1], resident_id=k[2], category=k[3], deducted=v[0], hours=v[1])
                for k, v in sums.items() if any(v)]
        if rows:
            connection.execute(update, rows)


def _time(value):
    """A time as the driver gives it: a datetime on PostgreSQL, text on SQLite."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _hours_at_event(mode, starts, ends, checked_in, checked_out):
    """events.services.hours_of as it stood when this migration was written."""
    if mode == "in":
        span = ends - starts
    elif checked_out is None:
        return 1
    else:
        span = checked_out - max(checked_in, starts)
    return min(max(int(span.total_seconds() // 3600), 1), 24)


def _period_keys(day):
    iso_year, week, _ = day.isocalendar()
    return [f"W{iso_year}-{week:02d}", f"M{day.year}-{day.month:02d}", f"Q{day.year}-{(day.month - 1) // 3 + 1}",
            f"Y{day.year}", "ALL"]


def downgrade():
    # Plain DROP COLUMN (SQLite 3.35 and later, PostgreSQL): a batch copy of ledger_entries, which other tables refer
    # to, cannot drop the old table while SQLite checks foreign keys.
    op.drop_index('ix_period_totals_residents', table_name='period_totals')
    op.drop_index('ix_period_totals_deducted', table_name='period_totals')
    op.drop_column('period_totals', 'hours')
    op.drop_column('period_totals', 'deducted')
    op.drop_column('ledger_entries', 'hours')
    op.drop_table('board_settings')
