"""The 晾晒 list's own rule: its tie rule and the most households it lists (issue 21).

Revision ID: 0016
Revises: 0015
"""
from alembic import op
import sqlalchemy as sa

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("hygiene_settings") as batch_op:
        batch_op.add_column(sa.Column("shame_ties", sa.Enum("all", "none", name="tie_policy", native_enum=False,
                                                            length=8), nullable=False, server_default="all"))
        batch_op.add_column(sa.Column("shame_max", sa.Integer(), nullable=False, server_default="0"))
    # A village keeps the tie rule it had, and its list may grow by ties to twice its count, as the page will say.
    op.execute("UPDATE hygiene_settings SET shame_ties = ties, shame_max = shame_count * 2")
    with op.batch_alter_table("hygiene_settings") as batch_op:
        batch_op.alter_column("shame_ties", server_default=None)
        batch_op.alter_column("shame_max", server_default=None)
        batch_op.create_check_constraint(op.f("ck_hygiene_settings_shame_max_at_least_count"),
                                         "shame_max >= shame_count")


def downgrade():
    with op.batch_alter_table("hygiene_settings") as batch_op:
        batch_op.drop_constraint(op.f("ck_hygiene_settings_shame_max_at_least_count"), type_="check")
        batch_op.drop_column("shame_max")
        batch_op.drop_column("shame_ties")
