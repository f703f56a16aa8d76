"""走访 (敲门行动): visits logged by workers, and how often each care tag must be visited

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 12:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
