"""feedback from customers: a rating of a bot reply, tied to the customer's message by message_id

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ABOUT_A_TURN_OR_A_DRAFT = "turn_id IS NOT NULL OR draft_id IS NOT NULL"
# A customer rates a reply the moment they read it, often before the action server's turn
# reaches `turns`: the rating then holds only the customer message's id.
ABOUT_SOMETHING = ABOUT_A_TURN_OR_A_DRAFT + " OR message_id IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('channel', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('sender_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('comment', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=True))
        batch_op.drop_constraint(op.f('ck_feedback_about_something'), type_='check')
        batch_op.create_check_constraint(op.f('ck_feedback_about_something'), ABOUT_SOMETHING)
        batch_op.create_check_constraint(op.f('ck_feedback_source_known'),
                                         "source IN ('customer', 'agent')")
        batch_op.create_index('ix_feedback_message_id', ['message_id'], unique=False)



def downgrade() -> None:
    # The old schema cannot hold a rating that names only a message: those rows go.
    op.execute(sa.text("DELETE FROM feedback WHERE turn_id IS NULL AND draft_id IS NULL"))
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_message_id')
        batch_op.drop_constraint(op.f('ck_feedback_source_known'), type_='check')
        batch_op.drop_constraint(op.f('ck_feedback_about_something'), type_='check')
        batch_op.create_check_constraint(op.f('ck_feedback_about_something'),
                                         ABOUT_A_TURN_OR_A_DRAFT)
        batch_op.drop_column('source')
        batch_op.drop_column('comment')
        batch_op.drop_column('sender_hash')
        batch_op.drop_column('channel')
        batch_op.drop_column('message_id')
