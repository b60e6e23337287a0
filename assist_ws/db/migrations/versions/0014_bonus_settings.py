"""The bonus program's settings: the merchant's accrual rate (points per 100 units of the
card part of a payment, 0 for none) and whether a processing center runs the program.

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa

import assist_ws.db.types


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accrual_rate', assist_ws.db.types.Amount(7, 2),
                                      nullable=False, server_default='0'))
    with op.batch_alter_table('processing_centers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bonus_program', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('processing_centers', schema=None) as batch_op:
        batch_op.drop_column('bonus_program')
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_column('accrual_rate')
