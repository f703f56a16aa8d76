"""公示 objections, expiry of points, redemption bars

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 16:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ledger_settings',
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('objection_days', sa.Integer(), nullable=False),
    sa.Column('spend_after_publicity', sa.Boolean(), nullable=False),
    sa.Column('expiry', sa.Enum('none', 'reset', 'rolling', name='expiry_mode', native_enum=False, length=8), nullable=False),
    sa.Column('reset_on', sa.Date(), nullable=True),
    sa.Column('carry_percent', sa.Integer(), nullable=False),
    sa.Column('carry_cap', sa.Integer(), nullable=True),
    sa.Column('expiry_months', sa.Integer(), nullable=False),
    sa.Column('expiry_from', sa.Date(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('carry_percent BETWEEN 0 AND 100 AND (carry_cap IS NULL OR carry_cap >= 0)', name=op.f('ck_ledger_settings_carry_in_range')),
    sa.CheckConstraint('expiry_months BETWEEN 1 AND 120', name=op.f('ck_ledger_settings_expiry_months_in_range')),
    sa.CheckConstraint('objection_days BETWEEN 0 AND 28', name=op.f('ck_ledger_settings_objection_days_in_range')),
    sa.ForeignKeyConstraint(['village_id'], ['grid_nodes.id'], name=op.f('fk_ledger_settings_village_id_grid_nodes'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('village_id', name=op.f('pk_ledger_settings'))
    )
    op.create_table('expiry_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('cutoff', sa.Date(), nullable=False),
    sa.Column('households', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('undone_at', sa.DateTime(), nullable=True),
    sa.Column('undone_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_expiry_runs_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['undone_by_id'], ['users.id'], name=op.f('fk_expiry_runs_undone_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['village_id'], ['grid_nodes.id'], name=op.f('fk_expiry_runs_village_id_grid_nodes'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_expiry_runs')),
    sa.UniqueConstraint('village_id', 'period', name='uq_expiry_runs_village_period')
    )
    op.create_table('objections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('objector_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('status', sa.Enum('pending', 'accepted', 'dismissed', name='objection_status', native_enum=False, length=16), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decision_note', sa.String(length=200), nullable=False),
    sa.Column('client_key', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_objections_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_objections_household_id_households'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['objector_id'], ['users.id'], name=op.f('fk_objections_objector_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['village_id'], ['grid_nodes.id'], name=op.f('fk_objections_village_id_grid_nodes'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_objections')),
    sa.UniqueConstraint('objector_id', 'client_key', name='uq_objections_objector_client_key')
    )
    with op.batch_alter_table('objections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_objections_household_id'), ['household_id'], unique=False)
        batch_op.create_index('ix_objections_village_status', ['village_id', 'status'], unique=False)

    op.create_table('redemption_bars',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('appeal', sa.String(length=500), nullable=False),
    sa.Column('appealed_at', sa.DateTime(), nullable=True),
    sa.Column('lifted_at', sa.DateTime(), nullable=True),
    sa.Column('lifted_by_id', sa.Integer(), nullable=True),
    sa.Column('lift_note', sa.String(length=200), nullable=False),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_redemption_bars_bar_ends_after_start')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_redemption_bars_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_redemption_bars_household_id_households'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['lifted_by_id'], ['users.id'], name=op.f('fk_redemption_bars_lifted_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemption_bars'))
    )
    with op.batch_alter_table('redemption_bars', schema=None) as batch_op:
        batch_op.create_index('ix_redemption_bars_household', ['household_id', 'starts_on'], unique=False)

    with op.batch_alter_table('household_balances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bar_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_household_balances_bar_id_redemption_bars'), 'redemption_bars', ['bar_id'], ['id'], ondelete='RESTRICT')



def downgrade():
    with op.batch_alter_table('household_balances', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_household_balances_bar_id_redemption_bars'), type_='foreignkey')
        batch_op.drop_column('bar_id')

    with op.batch_alter_table('redemption_bars', schema=None) as batch_op:
        batch_op.drop_index('ix_redemption_bars_household')

    op.drop_table('redemption_bars')
    with op.batch_alter_table('objections', schema=None) as batch_op:
        batch_op.drop_index('ix_objections_village_status')
        batch_op.drop_index(batch_op.f('ix_objections_household_id'))

    op.drop_table('objections')
    op.drop_table('expiry_runs')
    op.drop_table('ledger_settings')
