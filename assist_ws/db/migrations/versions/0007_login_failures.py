"""Failed logins counted per client, merchant and login (``login_failures``) instead of on
the user row: the user's ``failed_logins`` and ``locked_until`` go.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import assist_ws.db.types


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('merchant_id', sa.BigInteger(), nullable=False),
    sa.Column('login', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('first_failure_at', assist_ws.db.types.UtcDateTime(), nullable=False),
    sa.Column('last_failure_at', assist_ws.db.types.UtcDateTime(), nullable=False),
    sa.Column('refused_until', assist_ws.db.types.UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures')),
    sa.UniqueConstraint('client', 'merchant_id', 'login', name='uq_login_failures_key')
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index('ix_login_failures_last', ['last_failure_at'], unique=False)

    with op.batch_alter_table('merchant_users', schema=None) as batch_op:
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')


def downgrade() -> None:
    with op.batch_alter_table('merchant_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('locked_until', assist_ws.db.types.UtcDateTime(),
                                      nullable=True))

    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failures_last')

    op.drop_table('login_failures')
