"""Merchants: the customer fields the payment pages ask for (``customer_fields``), those that
must be filled in (``customer_required``), and whether the buyer may change those the shop
sent (``customer_editable``); none asked and read-only for every merchant, existing ones
included.

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('customer_fields', sa.JSON(), nullable=False,
                                      server_default='[]'))
        batch_op.add_column(sa.Column('customer_required', sa.JSON(), nullable=False,
                                      server_default='[]'))
        batch_op.add_column(sa.Column('customer_editable', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_column('customer_editable')
        batch_op.drop_column('customer_required')
        batch_op.drop_column('customer_fields')
