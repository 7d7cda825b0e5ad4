"""contact begin key: a retried "begin contact" request returns the contact it began

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 19:25:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('begin_key', sa.String(length=160), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_contact_begin_key'), ['begin_key'])


def downgrade() -> None:
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_contact_begin_key'), type_='unique')
        batch_op.drop_column('begin_key')
