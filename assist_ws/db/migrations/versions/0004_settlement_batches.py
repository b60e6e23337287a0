"""Settlement in bulk: settlement batches, and the order's batch marker with a partial index
of the orders still due.

Orders that already have a financial transaction get its batch as their marker.

Revision ID: 0004
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import assist_ws.db.types


revision = '0004'
down_revision = '0001'
branch_labels = None
depends_on = None

_DUE = "settlement_batch_id IS NULL AND state IN ('Approved', 'PartialDelayed', " \
       "'PartialCanceled')"


def upgrade() -> None:
    op.create_table('settlement_batches',
    sa.Column('batch_id', sa.String(length=32), nullable=False),
    sa.Column('center', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('cutoff_at', assist_ws.db.types.UtcDateTime(), nullable=True),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('amount', assist_ws.db.types.Amount(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('settled', sa.Integer(), nullable=False),
    sa.Column('declined', sa.Integer(), nullable=False),
    sa.Column('unknown', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_until', assist_ws.db.types.UtcDateTime(), nullable=False),
    sa.Column('message', sa.String(length=256), nullable=True),
    sa.Column('created_at', assist_ws.db.types.UtcDateTime(), nullable=False),
    sa.Column('finished_at', assist_ws.db.types.UtcDateTime(), nullable=True),
    sa.Column('entries', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('batch_id', name=op.f('pk_settlement_batches'))
    )
    with op.batch_alter_table('settlement_batches', schema=None) as batch_op:
        batch_op.create_index('ix_settlement_batches_open', ['state', 'lease_until'],
                              unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settlement_batch_id', sa.String(length=32),
                                      nullable=True))
    op.create_index('ix_orders_settlement_due', 'orders', ['center', 'id'], unique=False,
                    postgresql_where=sa.text(_DUE), sqlite_where=sa.text(_DUE))

    # Orders settled (or being settled) before this revision keep their batch.
    op.execute(
        "UPDATE orders SET settlement_batch_id = ("
        " SELECT SUBSTR(MIN(COALESCE(t.batch_id, t.request_id)), 1, 32) FROM transactions t"
        " JOIN operations o ON o.id = t.operation_id"
        " WHERE o.order_id = orders.id AND t.type = 'financial')"
        " WHERE EXISTS (SELECT 1 FROM transactions t JOIN operations o"
        " ON o.id = t.operation_id WHERE o.order_id = orders.id AND t.type = 'financial')")


def downgrade() -> None:
    op.drop_index('ix_orders_settlement_due', table_name='orders')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('settlement_batch_id')
    with op.batch_alter_table('settlement_batches', schema=None) as batch_op:
        batch_op.drop_index('ix_settlement_batches_open')
    op.drop_table('settlement_batches')
