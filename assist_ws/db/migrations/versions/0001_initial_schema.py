"""Initial schema: processing centers, merchants and users, rates, orders, operations,
transactions.

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 20:45:05.783431
"""
from alembic import op
import sqlalchemy as sa
import assist_ws.db.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('currency_rates',
    sa.Column('source', sa.String(length=3), nullable=False),
    sa.Column('target', sa.String(length=3), nullable=False),
    sa.Column('rate', assist_ws.db.types.Amount(24, 10), nullable=False),
    sa.Column('updated_at', assist_ws.db.types.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source', 'target', name=op.f('pk_currency_rates'))
    )
    op.create_table('merchants',
    sa.Column('merchant_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('base_currency', sa.String(length=3), nullable=False),
    sa.Column('currencies', sa.JSON(), nullable=False),
    sa.Column('test_mode', sa.Boolean(), nullable=False),
    sa.Column('timeout_minutes', sa.Integer(), nullable=False),
    sa.Column('url_return', sa.String(length=256), nullable=True),
    sa.Column('url_return_ok', sa.String(length=256), nullable=True),
    sa.Column('url_return_no', sa.String(length=256), nullable=True),
    sa.Column('secret_word', sa.String(length=128), nullable=True),
    sa.Column('check_order_code', sa.Boolean(), nullable=False),
    sa.Column('two_stage', sa.Boolean(), nullable=False),
    sa.Column('payment_means', sa.JSON(), nullable=False),
    sa.Column('processing', sa.JSON(), nullable=False),
    sa.Column('bonus_program', sa.Boolean(), nullable=False),
    sa.Column('notify_url', sa.String(length=512), nullable=True),
    sa.Column('notify_protocol', sa.String(length=8), nullable=False),
    sa.Column('notify_results', sa.JSON(), nullable=False),
    sa.Column('notify_only_success', sa.Boolean(), nullable=False),
    sa.Column('notify_expected_reply', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('merchant_id', name=op.f('pk_merchants'))
    )
    op.create_table('processing_centers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('url', sa.String(length=512), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('partial_reversal', sa.Boolean(), nullable=False),
    sa.Column('hold_days', sa.Integer(), nullable=False),
    sa.Column('cutoff', sa.String(length=5), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processing_centers')),
    sa.UniqueConstraint('name', name=op.f('uq_processing_centers_name'))
    )
    op.create_table('merchant_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.BigInteger(), nullable=False),
    sa.Column('login', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('rights', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', assist_ws.db.types.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.merchant_id'], name=op.f('fk_merchant_users_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merchant_users')),
    sa.UniqueConstraint('merchant_id', 'login', name='uq_merchant_users_login')
    )
    op.create_table('orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bill_number', sa.String(length=16), nullable=False),
    sa.Column('merchant_id', sa.BigInteger(), nullable=False),
    sa.Column('order_number', sa.String(length=128), nullable=False),
    sa.Column('amount', assist_ws.db.types.Amount(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('delay', sa.Boolean(), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('lastname', sa.String(length=70), nullable=True),
    sa.Column('firstname', sa.String(length=70), nullable=True),
    sa.Column('middlename', sa.String(length=70), nullable=True),
    sa.Column('email', sa.String(length=128), nullable=True),
    sa.Column('address', sa.String(length=256), nullable=True),
    sa.Column('home_phone', sa.String(length=64), nullable=True),
    sa.Column('work_phone', sa.String(length=20), nullable=True),
    sa.Column('mobile_phone', sa.String(length=20), nullable=True),
    sa.Column('fax', sa.String(length=20), nullable=True),
    sa.Column('country', sa.String(length=3), nullable=True),
    sa.Column('region', sa.String(length=3), nullable=True),
    sa.Column('city', sa.String(length=70), nullable=True),
    sa.Column('zip', sa.String(length=25), nullable=True),
    sa.Column('client_ip', sa.String(length=45), nullable=True),
    sa.Column('url_return', sa.String(length=256), nullable=True),
    sa.Column('url_return_ok', sa.String(length=256), nullable=True),
    sa.Column('url_return_no', sa.String(length=256), nullable=True),
    sa.Column('max_points', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('payment_means', sa.JSON(), nullable=False),
    sa.Column('test_mode', sa.Boolean(), nullable=False),
    sa.Column('center', sa.String(length=64), nullable=True),
    sa.Column('hold_expires_at', assist_ws.db.types.UtcDateTime(), nullable=True),
    sa.Column('state_reason', sa.String(length=256), nullable=True),
    sa.Column('created_at', assist_ws.db.types.UtcDateTime(), nullable=False),
    sa.Column('updated_at', assist_ws.db.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.merchant_id'], name=op.f('fk_orders_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('bill_number', name=op.f('uq_orders_bill_number'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_merchant_order_number', ['merchant_id', 'order_number'], unique=False)
        batch_op.create_index('ix_orders_state_created', ['state', 'created_at'], unique=False)

    op.create_table('operations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.SmallInteger(), nullable=False),
    sa.Column('type', sa.SmallInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('amount', assist_ws.db.types.Amount(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('rate', assist_ws.db.types.Amount(24, 10), nullable=True),
    sa.Column('means', sa.String(length=8), nullable=False),
    sa.Column('means_type', sa.String(length=16), nullable=True),
    sa.Column('means_number', sa.String(length=24), nullable=True),
    sa.Column('card_fingerprint', sa.String(length=64), nullable=True),
    sa.Column('cardholder', sa.String(length=64), nullable=True),
    sa.Column('card_expiry', sa.String(length=7), nullable=True),
    sa.Column('response_code', sa.String(length=8), nullable=True),
    sa.Column('approval_code', sa.String(length=16), nullable=True),
    sa.Column('message', sa.String(length=256), nullable=True),
    sa.Column('processing_name', sa.String(length=64), nullable=True),
    sa.Column('client_ip', sa.String(length=45), nullable=True),
    sa.Column('external_id', sa.String(length=100), nullable=True),
    sa.Column('cancel_reason', sa.SmallInteger(), nullable=True),
    sa.Column('points', sa.Integer(), nullable=True),
    sa.Column('auto_deposit', sa.Boolean(), nullable=False),
    sa.Column('created_at', assist_ws.db.types.UtcDateTime(), nullable=False),
    sa.Column('finished_at', assist_ws.db.types.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_operations_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operations')),
    sa.UniqueConstraint('order_id', 'external_id', name='uq_operations_external_id'),
    sa.UniqueConstraint('order_id', 'number', name='uq_operations_order_number')
    )
    with op.batch_alter_table('operations', schema=None) as batch_op:
        batch_op.create_index('ix_operations_created', ['created_at'], unique=False)

    op.create_table('transactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('operation_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=24), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('center', sa.String(length=64), nullable=False),
    sa.Column('amount', assist_ws.db.types.Amount(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('points', sa.Integer(), nullable=True),
    sa.Column('authorization_request_id', sa.String(length=64), nullable=True),
    sa.Column('batch_id', sa.String(length=64), nullable=True),
    sa.Column('processing_reference', sa.String(length=64), nullable=True),
    sa.Column('response_code', sa.String(length=8), nullable=True),
    sa.Column('message', sa.String(length=256), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', assist_ws.db.types.UtcDateTime(), nullable=True),
    sa.Column('created_at', assist_ws.db.types.UtcDateTime(), nullable=False),
    sa.Column('sent_at', assist_ws.db.types.UtcDateTime(), nullable=True),
    sa.Column('finished_at', assist_ws.db.types.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['operation_id'], ['operations.id'], name=op.f('fk_transactions_operation_id_operations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transactions')),
    sa.UniqueConstraint('request_id', name=op.f('uq_transactions_request_id'))
    )
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.create_index('ix_transactions_open', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_transactions_operation', ['operation_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_transactions_operation')
        batch_op.drop_index('ix_transactions_open')

    op.drop_table('transactions')
    with op.batch_alter_table('operations', schema=None) as batch_op:
        batch_op.drop_index('ix_operations_created')

    op.drop_table('operations')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_state_created')
        batch_op.drop_index('ix_orders_merchant_order_number')

    op.drop_table('orders')
    op.drop_table('merchant_users')
    op.drop_table('processing_centers')
    op.drop_table('merchants')
    op.drop_table('currency_rates')
