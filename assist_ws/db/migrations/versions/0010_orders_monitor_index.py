"""Orders: an index on (merchant_id, created_at, id), the key by which the merchant cabinet's
orders monitor walks a merchant's orders page by page.

Revision ID: 0010
Revises: 0009
"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_orders_merchant_created', 'orders',
                    ['merchant_id', 'created_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_orders_merchant_created', table_name='orders')
