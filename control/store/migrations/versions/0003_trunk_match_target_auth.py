"""trunks: inbound match list, outbound target, digest user name, registration

A trunk's one `host` becomes its only match entry and its target (same port), so existing
trunks accept and send exactly as before.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

trunks = sa.table(
    'trunks',
    sa.column('name', sa.String), sa.column('host', sa.String), sa.column('port', sa.Integer),
    sa.column('matches', sa.JSON), sa.column('target_host', sa.String), sa.column('target_port', sa.Integer),
)


def upgrade() -> None:
    with op.batch_alter_table('trunks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('matches', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('target_host', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('target_port', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('username', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('register', sa.Boolean(), server_default=sa.false(), nullable=False))
    bind = op.get_bind()
    for name, host, port in bind.execute(sa.select(trunks.c.name, trunks.c.host, trunks.c.port)).all():
        bind.execute(trunks.update().where(trunks.c.name == name)
                     .values(matches=[host], target_host=host, target_port=port))
    with op.batch_alter_table('trunks', schema=None) as batch_op:
        batch_op.alter_column('matches', existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column('target_host', existing_type=sa.String(length=255), nullable=False)
        batch_op.alter_column('target_port', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('host')
        batch_op.drop_column('port')


def downgrade() -> None:
    # One host per trunk again: the first match entry (a bare address) and the target's port.
    with op.batch_alter_table('trunks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('host', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('port', sa.Integer(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(trunks.c.name, trunks.c.matches, trunks.c.target_port)).all()
    for name, matches, port in rows:
        bind.execute(trunks.update().where(trunks.c.name == name)
                     .values(host=matches[0].split('/')[0], port=port))
    with op.batch_alter_table('trunks', schema=None) as batch_op:
        batch_op.alter_column('host', existing_type=sa.String(length=255), nullable=False)
        batch_op.alter_column('port', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('register')
        batch_op.drop_column('username')
        batch_op.drop_column('target_port')
        batch_op.drop_column('target_host')
        batch_op.drop_column('matches')
