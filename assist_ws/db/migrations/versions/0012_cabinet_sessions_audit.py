"""The merchant cabinet's server-side sessions and audit log.

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa
import assist_ws.db.types


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cabinet_sessions',
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('merchant_id', sa.BigInteger(), nullable=False),
    sa.Column('login', sa.String(length=64), nullable=False),
    sa.Column('stamp', sa.String(length=64), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('created_at', assist_ws.db.types.UtcDateTime(), nullable=False),
    sa.Column('last_seen_at', assist_ws.db.types.UtcDateTime(), nullable=False),
    sa.Column('ended_at', assist_ws.db.types.UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_cabinet_sessions'))
    )
    with op.batch_alter_table('cabinet_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_cabinet_sessions_user', ['merchant_id', 'login'],
                              unique=False)
        batch_op.create_index('ix_cabinet_sessions_last_seen', ['last_seen_at'], unique=False)

    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.BigInteger(), nullable=False),
    sa.Column('login', sa.String(length=64), nullable=False),
    sa.Column('at', assist_ws.db.types.UtcDateTime(), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('what', sa.String(length=512), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_merchant_at', ['merchant_id', 'at', 'id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_merchant_at')
    op.drop_table('audit_log')
    with op.batch_alter_table('cabinet_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_cabinet_sessions_last_seen')
        batch_op.drop_index('ix_cabinet_sessions_user')
    op.drop_table('cabinet_sessions')
