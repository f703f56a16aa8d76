"""Households indexed by grid and the day they left: a town's 网格 board counts those on the register per grid from
the index alone

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-09 12:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_index('ix_households_grid')
        batch_op.create_index('ix_households_grid', ['grid_id', 'closed_on'], unique=False)


def downgrade():
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_index('ix_households_grid')
        batch_op.create_index('ix_households_grid', ['grid_id'], unique=False)
