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
    op.create_table('visit_cadences',
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('tag', sa.Enum('low_income', 'poor', 'disabled', 'empty_nest', 'left_behind_child', name='visit_cadence_tag', native_enum=False, length=24), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('since', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['village_id'], ['grid_nodes.id'], name=op.f('fk_visit_cadences_village_id_grid_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('village_id', 'tag', name=op.f('pk_visit_cadences'))
    )
    op.create_table('visit_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('overdue', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grid_nodes.id'], name=op.f('fk_visit_reminders_grid_id_grid_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_reminders')),
    sa.UniqueConstraint('grid_id', 'day', name='uq_visit_reminders_grid_day')
    )
    op.create_table('visit_settings',
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.Column('knock_days', sa.Integer(), nullable=False),
    sa.Column('since', sa.Date(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['rule_id'], ['rules.id'], name=op.f('fk_visit_settings_rule_id_rules'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['village_id'], ['grid_nodes.id'], name=op.f('fk_visit_settings_village_id_grid_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('village_id', name=op.f('pk_visit_settings'))
    )
    op.create_table('visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('visited_on', sa.Date(), nullable=False),
    sa.Column('kind', sa.Enum('routine', 'care', 'policy', 'other', name='visit_kind', native_enum=False, length=16), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('photo_filename', sa.String(length=64), nullable=True),
    sa.Column('photo_width', sa.Integer(), nullable=True),
    sa.Column('photo_height', sa.Integer(), nullable=True),
    sa.Column('duty_id', sa.Integer(), nullable=True),
    sa.Column('unearned', sa.Enum('no_rule', 'cap', 'repeat', 'past_month', name='visit_unearned', native_enum=False, length=16), nullable=True),
    sa.Column('client_key', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['duty_id'], ['duty_records.id'], name=op.f('fk_visits_duty_id_duty_records'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['grid_id'], ['grid_nodes.id'], name=op.f('fk_visits_grid_id_grid_nodes'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_visits_household_id_households'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['village_id'], ['grid_nodes.id'], name=op.f('fk_visits_village_id_grid_nodes'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['worker_id'], ['users.id'], name=op.f('fk_visits_worker_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visits')),
    sa.UniqueConstraint('worker_id', 'client_key', name='uq_visits_worker_client_key')
    )
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.create_index('ix_visits_household_day', ['household_id', 'visited_on'], unique=False)
        batch_op.create_index('ix_visits_village_day', ['village_id', 'visited_on'], unique=False)
        batch_op.create_index('ix_visits_worker_day', ['worker_id', 'visited_on'], unique=False)


def downgrade():
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index('ix_visits_worker_day')
        batch_op.drop_index('ix_visits_village_day')
        batch_op.drop_index('ix_visits_household_day')

    op.drop_table('visits')
    op.drop_table('visit_settings')
    op.drop_table('visit_reminders')
    op.drop_table('visit_cadences')
