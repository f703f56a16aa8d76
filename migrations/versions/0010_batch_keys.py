"""the request of a batch (批量加分) under its idempotency key

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 03:36:18.253395

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    # Batches posted before keep only their entries' keys: a resubmission of one is still told by those.
    op.create_table(
        "batch_keys",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_batch_keys")),
    )


def downgrade():
    op.drop_table("batch_keys")
