"""Objection days kept per month, and rules whose penalty bars redeeming

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 16:35:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ledger_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('objection_days_since', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('objection_days_before', sa.Integer(), nullable=True))

    with op.batch_alter_table('redemption_bars', schema=None) as batch_op:
        batch_op.add_column(sa.Column('entry_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint('uq_redemption_bars_entry_id', ['entry_id'])
        batch_op.create_foreign_key(batch_op.f('fk_redemption_bars_entry_id_ledger_entries'), 'ledger_entries', ['entry_id'], ['id'], ondelete='RESTRICT')

    with op.batch_alter_table('rule_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bars_days', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.create_check_constraint(op.f('ck_rule_versions_bars_only_penalties'),
                                         'bars_days = 0 OR (bars_days BETWEEN 1 AND 730 AND points < 0)')



def downgrade():
    with op.batch_alter_table('rule_versions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_rule_versions_bars_only_penalties'), type_='check')
        batch_op.drop_column('bars_days')

    with op.batch_alter_table('redemption_bars', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_redemption_bars_entry_id_ledger_entries'), type_='foreignkey')
        batch_op.drop_constraint('uq_redemption_bars_entry_id', type_='unique')
        batch_op.drop_column('entry_id')

    with op.batch_alter_table('ledger_settings', schema=None) as batch_op:
        batch_op.drop_column('objection_days_before')
        batch_op.drop_column('objection_days_since')

