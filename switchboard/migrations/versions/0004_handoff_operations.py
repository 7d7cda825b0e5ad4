"""handoff operation categories: callback requests, agents' notes, pickups and releases

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 19:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

CATEGORIES = [
    ("callback_request", "Callback requested",
     "No agent could take the chat: the customer left a message to be called back"),
    ("agent_note", "Agent note", "An agent's internal note on the contact (never sent)"),
    ("agent_pickup", "Agent took the chat", "An agent took the conversation from the queue"),
    ("agent_release", "Agent released the chat",
     "The agent returned, closed, transferred or lost the conversation (detail says which)"),
]


def _table():
    return sa.table("operation_category", sa.column("code"), sa.column("name"),
                    sa.column("description"))


def upgrade() -> None:
    op.bulk_insert(_table(), [{"code": c, "name": n, "description": d}
                              for c, n, d in CATEGORIES])


def downgrade() -> None:
    op.execute(_table().delete().where(sa.column("code").in_([c for c, _, _ in CATEGORIES])))
