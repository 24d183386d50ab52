"""order_actions: what each turn did on a customer's order

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC = sa.DateTime()  # naive UTC (models.UTCDateTime)


def upgrade() -> None:
    op.create_table(
        "order_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("turn_id", sa.Integer(), nullable=False),
        sa.Column("order_number", sa.String(length=16), nullable=True),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.CheckConstraint(
            "outcome IN ('done', 'refused', 'failed')", name=op.f("ck_order_actions_outcome_known")
        ),
        sa.ForeignKeyConstraint(
            ["turn_id"], ["turns.id"], name=op.f("fk_order_actions_turn_id_turns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_actions")),
    )
    op.create_index("ix_order_actions_turn_id", "order_actions", ["turn_id"])
    op.create_index("ix_order_actions_order_number", "order_actions", ["order_number"])


def downgrade() -> None:
    op.drop_index("ix_order_actions_order_number", table_name="order_actions")
    op.drop_index("ix_order_actions_turn_id", table_name="order_actions")
    op.drop_table("order_actions")
