"""Where a handed-over conversation goes: one small interface, and the built-in desk queue.

    inbox = services.get_handoff_inbox()
    ticket = inbox.open(HandoffRequest("socketio", sender_id, "asked", "track_order; order 100004"))
    inbox.is_handed_over("socketio", sender_id)   # True until an agent hands it back or closes it

A team with an inbox of its own (Chatwoot's agent-bot API, a CRM) implements ``Inbox`` and
names it in ``BOT_HANDOFF_INBOX``; the bot pauses the conversation either way, and the inbox is
told what the customer writes and answers through the channel (bot/channels/desk_bridge.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.handoff.hours import Ticket, ticket_for
from bot.storage.db import WRITE
from bot.storage.models import HANDOFF_REASONS, Handoff
from bot.storage.privacy import hash_sender

OPEN_STATUSES = ("queued", "claimed")


@dataclass(frozen=True)
class HandoffRequest:
    channel: str
    sender_id: str
    reason: str  # one of HANDOFF_REASONS
    summary: str = ""  # the bot's one line for the agent: intent, order, what it tried
    details: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.reason not in HANDOFF_REASONS:
            raise ValueError(f"unknown handoff reason {self.reason!r}")


class Inbox(Protocol):
    def open(self, request: HandoffRequest) -> Ticket:
        """Queues the conversation for a person (once: a second request joins the first)."""

    def is_handed_over(self, channel: str, sender_id: str) -> bool:
        """Whether a person has the conversation (queued or claimed)."""


class DeskInbox:
    """The built-in inbox: the ``handoffs`` table, which the agent desk (bot/desk/) works from."""

    def __init__(self, sessions: "sessionmaker[Session]", salt: str, *,
                 minutes_per_customer: float = 3.0, always_open: bool = False) -> None:
        self.sessions = sessions
        self.salt = salt
        self.minutes_per_customer = minutes_per_customer
        self.always_open = always_open

    def open(self, request: HandoffRequest, now: Optional[datetime] = None) -> Ticket:
        now = now or datetime.now(timezone.utc)
        sender_hash = hash_sender(request.sender_id, self.salt)
        with self.sessions() as session, session.begin():
            session.connection(execution_options=WRITE)
            handoff = self._open_one(session, request.channel, sender_hash)
            if handoff is None:
                handoff = Handoff(
                    channel=request.channel, sender_id=request.sender_id,
                    sender_hash=sender_hash, reason=request.reason,
                    summary=request.summary[:1000], details=request.details, status="queued",
                    queued_at=now,
                )
                session.add(handoff)
                session.flush()
            position = 1
            if handoff.status == "queued":
                position = session.scalar(
                    select(func.count()).select_from(Handoff).where(
                        Handoff.status == "queued", Handoff.id <= handoff.id)
                ) or 1
            return ticket_for(handoff.id, position, now, self.minutes_per_customer,
                              self.always_open)

    def is_handed_over(self, channel: str, sender_id: str) -> bool:
        with self.sessions() as session:
            return self._open_one(session, channel, hash_sender(sender_id, self.salt)) is not None

    @staticmethod
    def _open_one(session: Session, channel: str, sender_hash: str) -> Optional[Handoff]:
        return session.scalars(
            select(Handoff).where(
                Handoff.sender_hash == sender_hash, Handoff.channel == channel,
                Handoff.status.in_(OPEN_STATUSES),
            ).order_by(Handoff.id.desc()).limit(1)
        ).first()
