"""logging out ends the login on the server: its session and remember-me cookies open nothing more

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 04:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ended_logins",
        sa.Column("login_id", sa.String(length=32), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("login_id", name=op.f("pk_ended_logins")),
    )
    op.create_index(op.f("ix_ended_logins_ended_at"), "ended_logins", ["ended_at"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_ended_logins_ended_at"), table_name="ended_logins")
    op.drop_table("ended_logins")
