"""channel identity reachability: an identity that opted out (carrier STOP) or that the provider
refuses (not a valid or not a mobile number), since when and why

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('channel_identity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reachability', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('reachability_reason', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('reachability_since', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('channel_identity', schema=None) as batch_op:
        batch_op.drop_column('reachability_since')
        batch_op.drop_column('reachability_reason')
        batch_op.drop_column('reachability')
