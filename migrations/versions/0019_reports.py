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
    op.create_table('report_categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=20), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('retired_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['village_id'], ['grid_nodes.id'], name=op.f('fk_report_categories_village_id_grid_nodes'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_categories')),
    sa.UniqueConstraint('village_id', 'name', name='uq_report_categories_village_name')
    )
    with op.batch_alter_table('report_categories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_categories_village_id'), ['village_id'], unique=False)

    op.create_table('report_settings',
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('accept_hours', sa.Integer(), nullable=False),
    sa.Column('finish_days', sa.Integer(), nullable=False),
    sa.Column('reward_rule_id', sa.Integer(), nullable=True),
    sa.Column('duty_rule_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('accept_hours > 0', name=op.f('ck_report_settings_accept_hours_positive')),
    sa.CheckConstraint('finish_days > 0', name=op.f('ck_report_settings_finish_days_positive')),
    sa.ForeignKeyConstraint(['duty_rule_id'], ['rules.id'], name=op.f('fk_report_settings_duty_rule_id_rules'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reward_rule_id'], ['rules.id'], name=op.f('fk_report_settings_reward_rule_id_rules'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['village_id'], ['grid_nodes.id'], name=op.f('fk_report_settings_village_id_grid_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('village_id', name=op.f('pk_report_settings'))
    )
    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('place', sa.String(length=100), nullable=False),
    sa.Column('status', sa.Enum('submitted', 'accepted', 'finished', 'closed', 'rejected', 'voided', name='report_status', native_enum=False, length=16), nullable=False),
    sa.Column('handler_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('landed_at', sa.DateTime(), nullable=False),
    sa.Column('accepted_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('deadline_at', sa.DateTime(), nullable=True),
    sa.Column('escalations', sa.Integer(), nullable=False),
    sa.Column('feedback', sa.Enum('satisfied', 'unsatisfied', name='report_feedback', native_enum=False, length=16), nullable=True),
    sa.Column('reward_entry_id', sa.Integer(), nullable=True),
    sa.Column('client_key', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['category_id'], ['report_categories.id'], name=op.f('fk_reports_category_id_report_categories'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['grid_id'], ['grid_nodes.id'], name=op.f('fk_reports_grid_id_grid_nodes'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['handler_id'], ['users.id'], name=op.f('fk_reports_handler_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_reports_household_id_households'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['node_id'], ['grid_nodes.id'], name=op.f('fk_reports_node_id_grid_nodes'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reward_entry_id'], ['ledger_entries.id'], name=op.f('fk_reports_reward_entry_id_ledger_entries'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_reports_submitted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['village_id'], ['grid_nodes.id'], name=op.f('fk_reports_village_id_grid_nodes'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports')),
    sa.UniqueConstraint('submitted_by_id', 'client_key', name='uq_reports_submitter_client_key')
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index('ix_reports_grid_status', ['grid_id', 'status'], unique=False)
        batch_op.create_index('ix_reports_household', ['household_id', 'created_at'], unique=False)
        batch_op.create_index('ix_reports_status_deadline', ['status', 'deadline_at'], unique=False)

    op.create_table('report_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_report_photos_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_photos')),
    sa.UniqueConstraint('report_id', 'position', name='uq_report_photos_report_position')
    )
    op.create_table('report_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('submitted', 'accepted', 'progress', 'finished', 'feedback', 'escalated', 'rejected', 'voided', name='report_step_kind', native_enum=False, length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('client_key', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_report_steps_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_report_steps_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_steps')),
    sa.UniqueConstraint('actor_id', 'client_key', name='uq_report_steps_actor_client_key')
    )
    with op.batch_alter_table('report_steps', schema=None) as batch_op:
        batch_op.create_index('ix_report_steps_report', ['report_id', 'created_at'], unique=False)

    op.create_table('report_step_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['step_id'], ['report_steps.id'], name=op.f('fk_report_step_photos_step_id_report_steps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_step_photos')),
    sa.UniqueConstraint('step_id', 'position', name='uq_report_step_photos_step_position')
    )
    # ### end Alembic commands ###



def downgrade():
    op.drop_table('report_step_photos')
    with op.batch_alter_table('report_steps', schema=None) as batch_op:
        batch_op.drop_index('ix_report_steps_report')

    op.drop_table('report_steps')
    op.drop_table('report_photos')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_status_deadline')
        batch_op.drop_index('ix_reports_household')
        batch_op.drop_index('ix_reports_grid_status')

    op.drop_table('reports')
    op.drop_table('report_settings')
    with op.batch_alter_table('report_categories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_categories_village_id'))

    op.drop_table('report_categories')
