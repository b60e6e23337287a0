"""Orders: indexes for the merchant cabinet's monitor over a million orders.

* ``ix_orders_merchant_created`` (merchant_id, created_at, id) carries the order's
  currency, state and amount as well (PostgreSQL's ``INCLUDE``): the totals of a period
  are summed from the index alone, without reading the table's rows.
* ``ix_orders_merchant_number_pattern`` (merchant_id, order_number ``text_pattern_ops`` on
  PostgreSQL): an order number mask that starts with its own characters (``CAB-12%``) is a
  range of this index whatever the database's collation, which the index of exact numbers
  cannot be outside the C collation.  On SQLite it is a plain index.

Revision ID: 0015
Revises: 0014
"""
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_orders_merchant_created', table_name='orders')
    op.create_index('ix_orders_merchant_created', 'orders', ['merchant_id', 'created_at', 'id'],
                    postgresql_include=['currency', 'state', 'amount'])
    op.create_index('ix_orders_merchant_number_pattern', 'orders',
                    ['merchant_id', 'order_number'],
                    postgresql_ops={'order_number': 'text_pattern_ops'})


def downgrade() -> None:
    op.drop_index('ix_orders_merchant_number_pattern', table_name='orders')
    op.drop_index('ix_orders_merchant_created', table_name='orders')
    op.create_index('ix_orders_merchant_created', 'orders',
                    ['merchant_id', 'created_at', 'id'])
