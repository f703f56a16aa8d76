"""a grid node can be retired (撤销): kept for its history, out of every list

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 01:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("grid_nodes") as batch_op:
        batch_op.add_column(sa.Column("retired_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("grid_nodes") as batch_op:
        batch_op.drop_column("retired_at")
