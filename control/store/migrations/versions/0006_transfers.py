"""transfers: tenants' outbound trunk and allowed country codes; calls' parent (far legs)

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Columns added, nothing rebuilt: SQLite adds a nullable column in place.
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outbound_trunk', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('allowed_countries', sa.JSON(), nullable=True))
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_calls_parent_id'), ['parent_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_parent_id'))
        batch_op.drop_column('parent_id')
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('allowed_countries')
        batch_op.drop_column('outbound_trunk')
