"""Processing centers: ``settled_through``, the latest cut-off whose due payments were all
settled (empty until the worker's next settlement round), from which the settlement lag
is measured.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa
import assist_ws.db.types


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('processing_centers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settled_through',
                                      assist_ws.db.types.UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('processing_centers', schema=None) as batch_op:
        batch_op.drop_column('settled_through')
