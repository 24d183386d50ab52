"""The conversation log's tables, in one place (SQLAlchemy 2, typed).

    conversations  one per channel and (hashed) sender, until a pause longer than the session gap
    turns          one per customer message: what they wrote, what the bot understood and replied
    retrievals     the knowledge-base passages a turn's search returned, by rank
    drafts         what the generator drafted for a turn and what became of the draft
    feedback       a rating or a corrected reply, for a turn, a draft or a customer's message
    order_actions  what a turn did on a customer's order: which order, which operation, outcome
    transcript     every message a customer sent or was shown, on any channel, as they saw it
    handoffs       a conversation handed to a person: why, queued, claimed, answered, ended
    agent_messages what an agent sent, beside what the desk suggested (the corrections' signal)
    agents, desk_sessions  the desk's people (Argon2 password hashes) and their logins
    approved_answers  answers the team corrected: used before the articles from then on

Text is stored with personal data masked (bot/storage/privacy.py) and senders only as a keyed hash.
Times are UTC. The schema is created by the Alembic migrations in bot/storage/migrations/, which
must agree with this module (tests/unit/test_storage.py checks that they do).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, List, Optional

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

DRAFT_STATUSES = ("sent", "rejected", "timeout", "fallback")
# Who wrote a transcript line: the customer, the bot (an action's reply), the channel itself (a
# prompt, a welcome, a time-out apology) or an agent from the desk.
TRANSCRIPT_ROLES = ("customer", "bot", "channel", "agent")
# asked: the customer asked for a person; offer: said yes to the bot's offer; fallbacks: the bot
# did not understand several messages in a row; lockout: too many failed identity checks.
HANDOFF_REASONS = ("asked", "offer", "fallbacks", "lockout")
HANDOFF_STATUSES = ("queued", "claimed", "handed_back", "closed")
AGENT_ROLES = ("agent", "admin")
# Who gave a rating: a customer under a bot reply, or an agent in the desk.
FEEDBACK_SOURCES = ("customer", "agent")
# What the agent did with the desk's suggested reply.
SUGGESTION_USES = ("as_is", "edited", "own")
# done: the shop did it (or showed it); refused: its rules or the identity check said no;
# failed: the order system did not answer.
ORDER_OUTCOMES = ("done", "refused", "failed")

# JSON on SQLite (text underneath), JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")

# Constraint names that Alembic can find again in later migrations.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A UTC time, stored without a zone and read back as an aware datetime on every database.

    SQLite has no time zones and PostgreSQL's would return them in the session's zone; storing
    naive UTC on both keeps comparisons and exports identical. Naive inputs are taken as UTC.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        # Finding a sender's current conversation (record_turn) and all of it (erase_sender).
        Index("ix_conversations_sender_channel_active", "sender_hash", "channel", "last_active_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    sender_hash: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256 hex of the sender id
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_active_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    turns: Mapped[List["Turn"]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", passive_deletes=True
    )


class Turn(Base):
    __tablename__ = "turns"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_turns_conversation_seq"),
        # tail, export and stats select by time
        Index("ix_turns_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The writer's id for this record: a replay of the spool never stores a turn twice.
    record_id: Mapped[str] = mapped_column(String(36), unique=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, 3... within the conversation
    user_text: Mapped[str] = mapped_column(Text)
    intent: Mapped[Optional[str]] = mapped_column(String(100))
    confidence: Mapped[Optional[float]] = mapped_column(Float)
    entities: Mapped[Any] = mapped_column(JSONType, default=list)
    bot_reply: Mapped[str] = mapped_column(Text, default="")
    # False when the reply was no answer: "I couldn't find that", an apology, a clarification.
    answered: Mapped[bool] = mapped_column(Boolean, default=True)
    # True when the bot passed the customer to a person on this turn.
    handoff: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_ms: Mapped[Optional[int]] = mapped_column(Integer)
    # Rasa's id of the customer's message: ties the turn to the transcript's lines for it.
    message_id: Mapped[Optional[str]] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="turns")
    retrievals: Mapped[List["Retrieval"]] = relationship(
        back_populates="turn", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Retrieval.rank",
    )
    drafts: Mapped[List["Draft"]] = relationship(
        back_populates="turn", cascade="all, delete-orphan", passive_deletes=True
    )
    order_actions: Mapped[List["OrderAction"]] = relationship(
        back_populates="turn", cascade="all, delete-orphan", passive_deletes=True
    )


class Retrieval(Base):
    __tablename__ = "retrievals"
    __table_args__ = (
        UniqueConstraint("turn_id", "rank", name="uq_retrievals_turn_rank"),
        Index("ix_retrievals_article_id", "article_id"),  # "how often is this article shown"
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"))
    article_id: Mapped[str] = mapped_column(String(200))
    passage_id: Mapped[str] = mapped_column(String(200))
    score: Mapped[float] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer)  # 1 = best

    turn: Mapped[Turn] = relationship(back_populates="retrievals")


class Draft(Base):
    __tablename__ = "drafts"
    __table_args__ = (
        CheckConstraint(
            "status IN ('sent', 'rejected', 'timeout', 'fallback')", name="status_known"
        ),
        Index("ix_drafts_turn_id", "turn_id"),
        Index("ix_drafts_generator_run_status", "generator_run", "status"),  # compare runs
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"))
    generator_run: Mapped[str] = mapped_column(String(200))  # which model/checkpoint drafted it
    prompt_hash: Mapped[str] = mapped_column(String(64))
    draft_text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))  # one of DRAFT_STATUSES
    failed_check: Mapped[Optional[str]] = mapped_column(String(100))  # why it was rejected
    latency_ms: Mapped[Optional[int]] = mapped_column(Integer)
    prompt_tokens: Mapped[Optional[int]] = mapped_column(Integer)
    new_tokens: Mapped[Optional[int]] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    turn: Mapped[Turn] = relationship(back_populates="drafts")


class Feedback(Base):
    """A rating or a corrected reply. A customer's rating (source 'customer', from the web chat
    page or Slack: bot/channels/feedback.py) is about the bot's reply to one of their messages:
    ``message_id`` is Rasa's id of that message, the key ``turns`` and ``transcript`` share, so a
    rating given before the turn reached ``turns`` still finds it. Ratings are +1 (helpful) or
    -1 (not helpful); one row per rated reply and sender, replaced when they rate it again."""

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint(
            "turn_id IS NOT NULL OR draft_id IS NOT NULL OR message_id IS NOT NULL",
            name="about_something",
        ),
        CheckConstraint("source IN ('customer', 'agent')", name="source_known"),
        Index("ix_feedback_turn_id", "turn_id"),
        Index("ix_feedback_draft_id", "draft_id"),
        Index("ix_feedback_message_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    turn_id: Mapped[Optional[int]] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"))
    draft_id: Mapped[Optional[int]] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"))
    rating: Mapped[Optional[int]] = mapped_column(Integer)  # +1 helpful, -1 not helpful
    edited_text: Mapped[Optional[str]] = mapped_column(Text)  # an agent's corrected reply
    # Rasa's id of the customer message whose reply is rated (turns/transcript.message_id).
    message_id: Mapped[Optional[str]] = mapped_column(String(64))
    channel: Mapped[Optional[str]] = mapped_column(String(64))
    sender_hash: Mapped[Optional[str]] = mapped_column(String(64))  # who rated; `logs erase`
    comment: Mapped[Optional[str]] = mapped_column(Text)  # the customer's words, masked
    source: Mapped[Optional[str]] = mapped_column(String(16))  # one of FEEDBACK_SOURCES
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OrderAction(Base):
    """One call a turn made to the shop's order system (bot/orders/). The order number is kept:
    it is how a support team finds what the bot did; the e-mail that proved it never is."""

    __tablename__ = "order_actions"
    __table_args__ = (
        CheckConstraint("outcome IN ('done', 'refused', 'failed')", name="outcome_known"),
        Index("ix_order_actions_turn_id", "turn_id"),
        Index("ix_order_actions_order_number", "order_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"))
    order_number: Mapped[Optional[str]] = mapped_column(String(16))
    operation: Mapped[str] = mapped_column(String(32))  # verify, track, cancel, return ...
    outcome: Mapped[str] = mapped_column(String(16))  # one of ORDER_OUTCOMES
    reason: Mapped[Optional[str]] = mapped_column(String(100))  # why refused or failed
    latency_ms: Mapped[Optional[int]] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    turn: Mapped[Turn] = relationship(back_populates="order_actions")


class TranscriptLine(Base):
    """One message as the customer saw it. Written by the Rasa server's channels (which run on
    SQLAlchemy 1.4: bot/channels/transcript.py writes this table with the same columns), so it
    holds what no action sees: the channel's own prompts, the time-out apologies, the agents'
    replies, and the customer's messages while a person has the conversation."""

    __tablename__ = "transcript"
    __table_args__ = (
        CheckConstraint(
            "role IN ('customer', 'bot', 'channel', 'agent')", name="role_known"
        ),
        Index("ix_transcript_sender_hash_id", "sender_hash", "id"),
        Index("ix_transcript_message_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    sender_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # one of TRANSCRIPT_ROLES
    text: Mapped[str] = mapped_column(Text)  # masked like the turns' text
    # The customer's message this line is (role customer) or answers (the others); None for an
    # agent's message or a welcome.
    message_id: Mapped[Optional[str]] = mapped_column(String(64))
    kind: Mapped[Optional[str]] = mapped_column(String(32))  # e.g. timeout, empty, welcome
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (CheckConstraint("role IN ('agent', 'admin')", name="role_known"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))  # Argon2id, with its parameters
    role: Mapped[str] = mapped_column(String(16), default="agent")  # one of AGENT_ROLES
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)  # in a row
    locked_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())


class DeskSession(Base):
    """A login. The cookie carries a random token; only its SHA-256 is stored."""

    __tablename__ = "desk_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    agent: Mapped[Agent] = relationship()


class Handoff(Base):
    """A conversation handed to a person, from the bot's handing over to the hand-back or close."""

    __tablename__ = "handoffs"
    __table_args__ = (
        CheckConstraint(
            "reason IN ('asked', 'offer', 'fallbacks', 'lockout')", name="reason_known"
        ),
        CheckConstraint(
            "status IN ('queued', 'claimed', 'handed_back', 'closed')", name="status_known"
        ),
        Index("ix_handoffs_status_queued_at", "status", "queued_at"),
        Index("ix_handoffs_sender_hash", "sender_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    # The channel's own id for the customer (a socket.io session, a Slack user, a WeChat openid):
    # an agent's reply must reach them. Erased with the rest by `logs erase`.
    sender_id: Mapped[str] = mapped_column(String(255))
    sender_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(16))  # one of HANDOFF_REASONS
    # The bot's one-line account: intent, verified order, what it tried.
    summary: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[Any] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # HANDOFF_STATUSES
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    claimed_by: Mapped[Optional[int]] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    first_reply_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    ended_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    ended_by: Mapped[Optional[int]] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))

    agent: Mapped[Optional[Agent]] = relationship(foreign_keys=[claimed_by])
    messages: Mapped[List["AgentMessage"]] = relationship(
        back_populates="handoff", cascade="all, delete-orphan", passive_deletes=True,
        order_by="AgentMessage.id",
    )


class AgentMessage(Base):
    """What an agent sent a customer, and what the desk had suggested for that question."""

    __tablename__ = "agent_messages"
    __table_args__ = (
        CheckConstraint("used IN ('as_is', 'edited', 'own')", name="used_known"),
        Index("ix_agent_messages_handoff_id", "handoff_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"))
    agent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    question: Mapped[Optional[str]] = mapped_column(Text)  # the customer message it answers
    suggested_text: Mapped[Optional[str]] = mapped_column(Text)
    suggested_sources: Mapped[Any] = mapped_column(JSONType, default=list)
    sent_text: Mapped[str] = mapped_column(Text)
    used: Mapped[str] = mapped_column(String(16))  # one of SUGGESTION_USES
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    handoff: Mapped[Handoff] = relationship(back_populates="messages")


class ApprovedAnswer(Base):
    """An answer the team wrote for a question (a correction): the bot gives it to questions
    that mean the same (bot/answering/approved.py) before it searches the articles."""

    __tablename__ = "approved_answers"
    __table_args__ = (
        CheckConstraint("status IN ('approved', 'withdrawn')", name="status_known"),
        Index("ix_approved_answers_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question: Mapped[str] = mapped_column(Text)  # the canonical form the agent gave
    answer: Mapped[str] = mapped_column(Text)
    # The article it comes from, or None with kb_missing: "the help centre has no article on this"
    article_id: Mapped[Optional[str]] = mapped_column(String(200))
    kb_missing: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="approved")
    # Where it came from: the bot's reply that was corrected, if any.
    turn_id: Mapped[Optional[int]] = mapped_column(ForeignKey("turns.id", ondelete="SET NULL"))
    original_reply: Mapped[Optional[str]] = mapped_column(Text)
    created_by: Mapped[Optional[int]] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    withdrawn_by: Mapped[Optional[int]] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    withdrawn_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
