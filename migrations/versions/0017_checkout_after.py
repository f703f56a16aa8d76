"""a village's wait before 签退 is offered: how long after checking in (before it, a check-out is confirmed)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 06:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("event_settings") as batch_op:
        batch_op.add_column(sa.Column("checkout_after_minutes", sa.Integer(), server_default="30", nullable=False))
        batch_op.create_check_constraint(op.f("ck_event_settings_checkout_after_positive"), "checkout_after_minutes > 0")


def downgrade():
    with op.batch_alter_table("event_settings") as batch_op:
        batch_op.drop_constraint(op.f("ck_event_settings_checkout_after_positive"), type_="check")
        batch_op.drop_column("checkout_after_minutes")
