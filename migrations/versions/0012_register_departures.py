"""households leave the register (整户迁出) and residents their household (迁出, 死亡, 婚嫁迁出), keeping their history

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 02:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("households") as batch_op:
        batch_op.add_column(sa.Column("closed_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("closure", sa.Enum("moved_out", "renter_left", "other", name="household_closure",
                                                         native_enum=False, length=16), nullable=True))
    with op.batch_alter_table("residents") as batch_op:
        batch_op.add_column(sa.Column("left_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("departure", sa.Enum("moved_out", "deceased", "married_out", "other",
                                                           name="resident_departure", native_enum=False, length=16),
                                      nullable=True))


def downgrade():
    with op.batch_alter_table("residents") as batch_op:
        batch_op.drop_column("departure")
        batch_op.drop_column("left_on")
    with op.batch_alter_table("households") as batch_op:
        batch_op.drop_column("closure")
        batch_op.drop_column("closed_on")
