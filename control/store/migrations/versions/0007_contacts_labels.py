"""contacts, their phones and labels; album names

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('albums',
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'number')
    )
    op.create_table('contacts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('first_name', sa.String(length=255), nullable=False),
    sa.Column('last_name', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('exp', sa.Date(), nullable=True),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('city', sa.String(length=255), nullable=False),
    sa.Column('state', sa.String(length=255), nullable=False),
    sa.Column('zip', sa.String(length=255), nullable=False),
    sa.Column('field_a', sa.String(length=255), nullable=False),
    sa.Column('field_b', sa.String(length=255), nullable=False),
    sa.Column('field_c', sa.String(length=255), nullable=False),
    sa.Column('field_d', sa.String(length=255), nullable=False),
    sa.Column('field_e', sa.String(length=255), nullable=False),
    sa.Column('field_f', sa.String(length=255), nullable=False),
    sa.Column('field_g', sa.String(length=255), nullable=False),
    sa.Column('field_h', sa.String(length=255), nullable=False),
    sa.Column('field_i', sa.String(length=255), nullable=False),
    sa.Column('field_j', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('labels',
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('number >= 1', name='ck_labels_number'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'number')
    )
    op.create_table('contact_labels',
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('label_number', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'label_number'], ['labels.tenant_id', 'labels.number'], name='fk_contact_labels_label', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('contact_id', 'label_number')
    )
    with op.batch_alter_table('contact_labels', schema=None) as batch_op:
        batch_op.create_index('ix_contact_labels_label', ['tenant_id', 'label_number'], unique=False)
    op.create_table('contact_phones',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('type', sa.String(length=1), nullable=False),
    sa.CheckConstraint("type IN ('H', 'M')", name='ck_contact_phones_type'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'phone', name='uq_contact_phones_tenant_phone')
    )
    with op.batch_alter_table('contact_phones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_phones_contact_id'), ['contact_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('contact_phones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_phones_contact_id'))

    op.drop_table('contact_phones')
    with op.batch_alter_table('contact_labels', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_labels_label')
    op.drop_table('contact_labels')
    op.drop_table('labels')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_tenant_id'))

    op.drop_table('contacts')
    op.drop_table('albums')
