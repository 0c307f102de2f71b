"""notify: broadcasts, deliveries, do-not-call, SMS opt-outs and inbound messages; tenant sending settings

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('broadcasts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('request_id', sa.String(length=20), nullable=False),
    sa.Column('route', sa.String(length=10), nullable=False),
    sa.Column('type', sa.String(length=4), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('from_number', sa.String(length=20), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('check_dnc', sa.Boolean(), nullable=False),
    sa.Column('held', sa.Boolean(), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_broadcasts_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_broadcasts_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('do_not_call',
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'phone')
    )
    op.create_table('inbound_messages',
    sa.Column('id', sa.String(length=20), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('from_number', sa.String(length=64), nullable=False),
    sa.Column('to_number', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('webhook', sa.String(length=10), nullable=False),
    sa.Column('webhook_detail', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_messages_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_messages_webhook'), ['webhook'], unique=False)

    op.create_table('sms_opt_outs',
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'phone')
    )
    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('broadcast_id', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=4), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('next_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('node', sa.String(length=64), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['broadcast_id'], ['broadcasts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reference'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_broadcast', ['broadcast_id', 'state'], unique=False)
        batch_op.create_index('ix_deliveries_due', ['state', 'kind', 'next_at'], unique=False)

    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sms_webhook', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('calls_per_second', sa.Float(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('messages_per_second', sa.Float(), server_default='10', nullable=False))
        batch_op.add_column(sa.Column('max_calls', sa.Integer(), server_default='10', nullable=False))
        batch_op.add_column(sa.Column('send_window', sa.String(length=11), server_default='08:00-21:00', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('send_window')
        batch_op.drop_column('max_calls')
        batch_op.drop_column('messages_per_second')
        batch_op.drop_column('calls_per_second')
        batch_op.drop_column('sms_webhook')

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_due')
        batch_op.drop_index('ix_deliveries_broadcast')

    op.drop_table('deliveries')
    op.drop_table('sms_opt_outs')
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_messages_webhook'))
        batch_op.drop_index(batch_op.f('ix_inbound_messages_tenant_id'))

    op.drop_table('inbound_messages')
    op.drop_table('do_not_call')
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_broadcasts_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_broadcasts_created_at'))

    op.drop_table('broadcasts')
