"""民情诉求 (随手拍): reports, their steps and photos, and each village's categories and deadlines

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 12:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
