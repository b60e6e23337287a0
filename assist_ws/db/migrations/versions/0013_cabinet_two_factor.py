"""The merchant cabinet's two-factor sign-in: each user's TOTP secret (encrypted) and its
recovery codes (hashed).

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa
import assist_ws.db.types


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cabinet_two_factor',
    sa.Column('merchant_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('login', sa.String(length=64), nullable=False),
    sa.Column('secret', sa.String(length=256), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', assist_ws.db.types.UtcDateTime(), nullable=False),
    sa.Column('last_step', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('merchant_id', 'login', name=op.f('pk_cabinet_two_factor'))
    )
    op.create_table('cabinet_recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.BigInteger(), nullable=False),
    sa.Column('login', sa.String(length=64), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('used_at', assist_ws.db.types.UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cabinet_recovery_codes'))
    )
    with op.batch_alter_table('cabinet_recovery_codes', schema=None) as batch_op:
        batch_op.create_index('ix_cabinet_recovery_codes_user', ['merchant_id', 'login'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cabinet_recovery_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_cabinet_recovery_codes_user')
    op.drop_table('cabinet_recovery_codes')
    op.drop_table('cabinet_two_factor')
