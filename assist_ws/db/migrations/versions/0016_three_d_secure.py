"""3-D Secure: the result on each operation (ECI, authresult) and the buyer's trip to the ACS
(its page, the id it is given, the nonce of the return); the order's ``Disable3DS``; the
merchant's permission for it and what an unavailable ACS means.

Revision ID: 0016
Revises: 0015
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('operations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('eci', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('auth_result', sa.String(length=1), nullable=True))
        batch_op.add_column(sa.Column('acs_url', sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column('acs_request', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('acs_nonce', sa.String(length=32), nullable=True))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disable_3ds', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('allow_disable_3ds', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('threeds_unavailable', sa.String(length=16),
                                      nullable=False, server_default='decline'))


def downgrade() -> None:
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_column('threeds_unavailable')
        batch_op.drop_column('allow_disable_3ds')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('disable_3ds')
    with op.batch_alter_table('operations', schema=None) as batch_op:
        for name in ('acs_nonce', 'acs_request', 'acs_url', 'auth_result', 'eci'):
            batch_op.drop_column(name)
