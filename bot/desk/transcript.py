"""What the customer saw, line by line, with what the bot understood when it replied.

The ``transcript`` table holds every message of a channel and (hashed) sender; a bot line shares
its ``message_id`` with the ``Turn`` the action server logged for the customer's message, and
that turn carries the intent, the passages search returned and what the drafter did. Turns are
matched within the same channel and sender only, so a reused message id never shows another
customer's turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.desk.text import clock_time, full_time
from bot.storage.models import Conversation, TranscriptLine, Turn

MAX_LINES = 1000  # the newest lines of a very long history; older ones stay in the log


@dataclass(frozen=True)
class Line:
    id: int
    role: str  # customer, bot, channel or agent
    text: str
    kind: Optional[str]
    created_at: datetime
    # Bot lines with a logged turn: what the bot understood and what it found.
    intent: Optional[str] = None
    confidence: Optional[float] = None
    sources: List[Dict[str, Any]] = field(default_factory=list)  # article_id, score, rank
    drafts: List[Dict[str, Any]] = field(default_factory=list)  # status, failed_check

    @property
    def has_turn(self) -> bool:
        return self.intent is not None or bool(self.sources) or bool(self.drafts)

    def to_json(self) -> Dict[str, Any]:
        return {
            "id": self.id, "role": self.role, "text": self.text, "kind": self.kind,
            "time": clock_time(self.created_at), "at": full_time(self.created_at),
            "intent": self.intent, "confidence": self.confidence, "sources": self.sources,
            "drafts": self.drafts,
        }


def _turns(session: Session, channel: str, sender_hash: str,
           message_ids: List[str]) -> Dict[str, Turn]:
    if not message_ids:
        return {}
    turns = session.scalars(
        select(Turn).join(Conversation, Conversation.id == Turn.conversation_id).where(
            Turn.message_id.in_(message_ids), Conversation.channel == channel,
            Conversation.sender_hash == sender_hash,
        ).options(selectinload(Turn.retrievals), selectinload(Turn.drafts)).order_by(Turn.id)
    ).all()
    return {turn.message_id: turn for turn in turns}  # the latest, should one be logged twice


def _line(row: TranscriptLine, turn: Optional[Turn]) -> Line:
    if turn is None:
        return Line(row.id, row.role, row.text, row.kind, row.created_at)
    return Line(
        row.id, row.role, row.text, row.kind, row.created_at, intent=turn.intent,
        confidence=None if turn.confidence is None else round(turn.confidence, 3),
        sources=[{"article_id": r.article_id, "score": round(r.score, 3), "rank": r.rank}
                 for r in turn.retrievals],
        drafts=[{"status": d.status, "failed_check": d.failed_check} for d in turn.drafts],
    )


def _lines(session: Session, channel: str, sender_hash: str,
           rows: List[TranscriptLine]) -> List[Line]:
    turns = _turns(session, channel, sender_hash,
                   sorted({r.message_id for r in rows if r.role == "bot" and r.message_id}))
    return [_line(r, turns.get(r.message_id) if r.role == "bot" else None) for r in rows]


def _of(channel: str, sender_hash: str):
    return select(TranscriptLine).where(TranscriptLine.sender_hash == sender_hash,
                                        TranscriptLine.channel == channel)


def history(session: Session, channel: str, sender_hash: str,
            limit: int = MAX_LINES) -> Tuple[List[Line], bool]:
    """The conversation's newest ``limit`` lines in order, and whether older ones were left out."""
    rows = session.scalars(
        _of(channel, sender_hash).order_by(TranscriptLine.id.desc()).limit(limit + 1)
    ).all()
    truncated = len(rows) > limit
    rows = list(reversed(rows[:limit]))
    return _lines(session, channel, sender_hash, rows), truncated


def lines_after(session: Session, channel: str, sender_hash: str, after_id: int,
                limit: int = 200) -> List[Line]:
    """The lines after ``after_id``, oldest first (the live view asks again for the rest)."""
    rows = session.scalars(
        _of(channel, sender_hash).where(TranscriptLine.id > after_id)
        .order_by(TranscriptLine.id).limit(limit)
    ).all()
    return _lines(session, channel, sender_hash, list(rows))


def last_question(session: Session, channel: str,
                  sender_hash: str) -> Optional[Tuple[int, str, Optional[str]]]:
    """(line id, text, the message before it) of the customer's latest message; None if none."""
    texts = session.execute(
        select(TranscriptLine.id, TranscriptLine.text).where(
            TranscriptLine.sender_hash == sender_hash, TranscriptLine.channel == channel,
            TranscriptLine.role == "customer",
            TranscriptLine.kind.is_(None),  # not a widget's "/greet", not a WeChat image
        ).order_by(TranscriptLine.id.desc()).limit(2)
    ).all()
    if not texts:
        return None
    previous = texts[1].text if len(texts) > 1 else None
    return texts[0].id, texts[0].text, previous
