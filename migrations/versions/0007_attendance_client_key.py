"""the Idempotency-Key of a check-in on its attendance

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 20:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('attendances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_key', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('request_digest', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_attendances_recorder_client_key', ['recorded_by_id', 'client_key'])


def downgrade():
    with op.batch_alter_table('attendances', schema=None) as batch_op:
        batch_op.drop_constraint('uq_attendances_recorder_client_key', type_='unique')
        batch_op.drop_column('request_digest')
        batch_op.drop_column('client_key')
