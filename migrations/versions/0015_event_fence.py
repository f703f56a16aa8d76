"""an event's place on the map, and a village's fence: how near it a villager's own check-in must be made

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 04:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("events") as batch_op:
        batch_op.add_column(sa.Column("latitude", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("longitude", sa.Double(), nullable=True))
    op.create_table(
        "event_settings",
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("fence_meters", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["village_id"], ["grid_nodes.id"], name=op.f("fk_event_settings_village_id_grid_nodes"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("village_id", name=op.f("pk_event_settings")),
    )


def downgrade():
    op.drop_table("event_settings")
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_column("longitude")
        batch_op.drop_column("latitude")
