"""The handoffs table as the desk sees it: the open queue, the recently ended, and what agents do.

Every change is one conditional UPDATE (``WHERE status = 'queued'``...), so two agents clicking
Claim at the same moment cannot both get the conversation: the second finds no row to change.
Functions take a SQLAlchemy ``Session`` whose transaction the caller owns, and the time ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Optional

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.handoff.inbox import OPEN_STATUSES
from bot.storage.models import Agent, AgentMessage, Handoff

ENDED_STATUSES = ("handed_back", "closed")
MAX_OPEN = 500  # a queue longer than this is an outage, not a list to read
RECENT_ENDED = 10


@dataclass(frozen=True)
class HandoffView:
    """One handoff with the names of the agents involved (plain values, for pages and JSON)."""

    id: int
    channel: str
    sender_id: str
    sender_hash: str
    reason: str
    summary: str
    details: Dict[str, Any]
    status: str
    queued_at: datetime
    claimed_at: Optional[datetime]
    claimed_by: Optional[int]
    claimed_by_name: Optional[str]
    first_reply_at: Optional[datetime]
    ended_at: Optional[datetime]
    ended_by_name: Optional[str]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class ClaimResult:
    ok: bool
    message: str


def _names(session: Session, ids: set) -> Dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    rows = session.execute(select(Agent.id, Agent.display_name).where(Agent.id.in_(ids)))
    return dict(rows.all())


def _views(session: Session, handoffs: List[Handoff]) -> List[HandoffView]:
    names = _names(session, {h.claimed_by for h in handoffs} | {h.ended_by for h in handoffs})
    return [
        HandoffView(
            h.id, h.channel, h.sender_id, h.sender_hash, h.reason, h.summary or "",
            h.details if isinstance(h.details, dict) else {}, h.status, h.queued_at,
            h.claimed_at, h.claimed_by, names.get(h.claimed_by), h.first_reply_at, h.ended_at,
            names.get(h.ended_by),
        )
        for h in handoffs
    ]


def open_handoffs(session: Session) -> List[HandoffView]:
    """Queued and claimed conversations, the longest waiting first."""
    rows = session.scalars(
        select(Handoff).where(Handoff.status.in_(OPEN_STATUSES))
        .order_by(Handoff.queued_at, Handoff.id).limit(MAX_OPEN)
    ).all()
    return _views(session, list(rows))


def recently_ended(session: Session, limit: int = RECENT_ENDED) -> List[HandoffView]:
    rows = session.scalars(
        select(Handoff).where(Handoff.status.in_(ENDED_STATUSES))
        .order_by(Handoff.ended_at.desc().nulls_last(), Handoff.id.desc()).limit(limit)
    ).all()
    return _views(session, list(rows))


def get_handoff(session: Session, handoff_id: int) -> Optional[HandoffView]:
    handoff = session.get(Handoff, handoff_id, populate_existing=True)
    return _views(session, [handoff])[0] if handoff is not None else None


def may_act(handoff: HandoffView, agent_id: int, is_admin: bool) -> bool:
    """Only the agent who claimed a conversation (or an admin) speaks in it or ends it."""
    return handoff.is_open and (is_admin or handoff.claimed_by == agent_id)


def claim(session: Session, handoff_id: int, agent_id: int, now: datetime) -> ClaimResult:
    """Takes a queued conversation for ``agent_id``; refused when someone else has it."""
    changed = session.execute(
        update(Handoff).where(Handoff.id == handoff_id, Handoff.status == "queued")
        .values(status="claimed", claimed_by=agent_id, claimed_at=now)
    ).rowcount
    if changed:
        return ClaimResult(True, "You have this conversation now.")
    handoff = get_handoff(session, handoff_id)
    if handoff is None:
        return ClaimResult(False, "This conversation is no longer in the queue.")
    if not handoff.is_open:
        return ClaimResult(False, "This conversation has ended.")
    if handoff.claimed_by == agent_id:
        return ClaimResult(True, "You already have this conversation.")
    return ClaimResult(False, f"{handoff.claimed_by_name or 'Another agent'} already has this "
                              f"conversation.")


def end(session: Session, handoff_id: int, status: str, agent_id: int, now: datetime) -> bool:
    """Hands back or closes an open conversation; False when it had already ended."""
    if status not in ENDED_STATUSES:
        raise ValueError(f"not an ending status: {status!r}")
    return bool(session.execute(
        update(Handoff).where(Handoff.id == handoff_id, Handoff.status.in_(OPEN_STATUSES))
        .values(status=status, ended_at=now, ended_by=agent_id)
    ).rowcount)


def suggestion_use(sent_text: str, suggested_text: Optional[str]) -> str:
    """as_is: the suggestion went out unchanged; edited: changed first; own: there was none."""
    suggested = (suggested_text or "").strip()
    if not suggested:
        return "own"
    return "as_is" if sent_text.strip() == suggested else "edited"


def record_reply(session: Session, handoff_id: int, agent_id: int, *, sent_text: str,
                 suggested_text: Optional[str], suggested_sources: List[Dict[str, Any]],
                 question: Optional[str], used: str, delivered: bool,
                 now: datetime) -> AgentMessage:
    """Stores what the agent sent beside what the desk suggested; the first delivered reply
    sets the handoff's ``first_reply_at`` (the time to first answer)."""
    message = AgentMessage(
        handoff_id=handoff_id, agent_id=agent_id, question=question,
        suggested_text=suggested_text or None, suggested_sources=suggested_sources,
        sent_text=sent_text, used=used, delivered=delivered, created_at=now,
    )
    session.add(message)
    if delivered:
        session.execute(
            update(Handoff).where(Handoff.id == handoff_id, Handoff.first_reply_at.is_(None))
            .values(first_reply_at=now)
        )
    session.flush()
    return message
