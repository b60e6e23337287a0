"""Result notifications: the outbox (``notifications``) and its delivery journal
(``notification_attempts``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 21:03:33.725345
"""
from alembic import op
import sqlalchemy as sa
import assist_ws.db.types


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notification_id', sa.String(length=32), nullable=False),
    sa.Column('merchant_id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('bill_number', sa.String(length=16), nullable=False),
    sa.Column('order_number', sa.String(length=128), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.Column('operation_number', sa.SmallInteger(), nullable=True),
    sa.Column('operation_type', sa.SmallInteger(), nullable=False),
    sa.Column('order_state', sa.String(length=16), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('replays', sa.Integer(), nullable=False),
    sa.Column('created_at', assist_ws.db.types.UtcDateTime(), nullable=False),
    sa.Column('queued_at', assist_ws.db.types.UtcDateTime(), nullable=False),
    sa.Column('next_attempt_at', assist_ws.db.types.UtcDateTime(), nullable=True),
    sa.Column('delivered_at', assist_ws.db.types.UtcDateTime(), nullable=True),
    sa.Column('claimed_until', assist_ws.db.types.UtcDateTime(), nullable=True),
    sa.Column('claim_token', sa.String(length=16), nullable=True),
    sa.Column('last_error', sa.String(length=256), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.merchant_id'], name=op.f('fk_notifications_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_notifications_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('notification_id', name=op.f('uq_notifications_notification_id')),
    sa.UniqueConstraint('order_id', 'sequence', name='uq_notifications_order_sequence')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_bill_number', ['bill_number'], unique=False)
        batch_op.create_index('ix_notifications_due', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_notifications_merchant_created', ['merchant_id', 'created_at'], unique=False)

    op.create_table('notification_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('started_at', assist_ws.db.types.UtcDateTime(), nullable=False),
    sa.Column('url', sa.String(length=512), nullable=False),
    sa.Column('verdict', sa.String(length=12), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('http_status', sa.SmallInteger(), nullable=True),
    sa.Column('reply_excerpt', sa.String(length=512), nullable=True),
    sa.Column('error', sa.String(length=256), nullable=True),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], name=op.f('fk_notification_attempts_notification_id_notifications'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_attempts'))
    )
    with op.batch_alter_table('notification_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_notification_attempts_notification', ['notification_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('notification_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_attempts_notification')

    op.drop_table('notification_attempts')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_merchant_created')
        batch_op.drop_index('ix_notifications_due')
        batch_op.drop_index('ix_notifications_bill_number')

    op.drop_table('notifications')
