"""calls: node and reason; call_dead_letters

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('node', sa.String(length=64), server_default='', nullable=False))
        batch_op.add_column(sa.Column('reason', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_calls_node'), ['node'], unique=False)
    op.create_table('call_dead_letters',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('call_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('call_dead_letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_dead_letters_call_id'), ['call_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('call_dead_letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_dead_letters_call_id'))
    op.drop_table('call_dead_letters')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_node'))
        batch_op.drop_column('reason')
        batch_op.drop_column('node')
