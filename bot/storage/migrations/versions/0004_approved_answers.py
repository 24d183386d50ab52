"""approved_answers: answers the team corrected, used before the articles

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('approved_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('article_id', sa.String(length=200), nullable=True),
    sa.Column('kb_missing', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('turn_id', sa.Integer(), nullable=True),
    sa.Column('original_reply', sa.Text(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('withdrawn_by', sa.Integer(), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("status IN ('approved', 'withdrawn')", name=op.f('ck_approved_answers_status_known')),
    sa.ForeignKeyConstraint(['created_by'], ['agents.id'], name=op.f('fk_approved_answers_created_by_agents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['turn_id'], ['turns.id'], name=op.f('fk_approved_answers_turn_id_turns'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['withdrawn_by'], ['agents.id'], name=op.f('fk_approved_answers_withdrawn_by_agents'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approved_answers'))
    )
    with op.batch_alter_table('approved_answers', schema=None) as batch_op:
        batch_op.create_index('ix_approved_answers_status', ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('approved_answers', schema=None) as batch_op:
        batch_op.drop_index('ix_approved_answers_status')

    op.drop_table('approved_answers')
