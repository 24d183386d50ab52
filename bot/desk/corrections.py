"""Corrections: the team writes the right answer to a question, and the bot gives it from then on.

A correction starts from a bot reply in a transcript, a logged turn under review, or nothing:
the customer's question, cleaned into a canonical form by the agent, the right answer, and the
article it comes from or "the help centre has no article on this". It is stored approved in
``approved_answers``; the action server picks it up within seconds (bot/answering/approved.py).
An admin can withdraw one. The "no article" ones are the list of articles to write.

Functions take a SQLAlchemy ``Session``; the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.models import Agent, ApprovedAnswer, TranscriptLine, Turn

MAX_QUESTION_CHARS = 500
MAX_ANSWER_CHARS = 2000


class CorrectionError(ValueError):
    """The correction cannot be stored as given; the message says why, for the agent."""


@dataclass(frozen=True)
class Draft:
    """What the correction form starts from."""

    question: str = ""
    answer: str = ""
    article_id: Optional[str] = None
    turn_id: Optional[int] = None
    original_reply: Optional[str] = None


@dataclass(frozen=True)
class CorrectionView:
    id: int
    question: str
    answer: str
    article_id: Optional[str]
    kb_missing: bool
    status: str
    created_by: str
    created_at: datetime
    original_reply: Optional[str]


@lru_cache(maxsize=4)
def articles(directory: Path) -> Tuple[Tuple[str, str], ...]:
    """(id, title) of the help centre's articles, for the form's list."""
    from bot.retrieval.articles import load_articles

    return tuple(sorted((a.id, a.title) for a in load_articles(directory)))


def draft_from_line(session: Session, line_id: int) -> Draft:
    """The form for the bot reply ``line_id`` of a transcript: its question and its answer."""
    line = session.get(TranscriptLine, line_id)
    if line is None or line.role != "bot":
        return Draft()
    question = session.scalars(
        select(TranscriptLine.text).where(
            TranscriptLine.message_id == line.message_id, TranscriptLine.role == "customer",
            TranscriptLine.sender_hash == line.sender_hash,
        ).limit(1)
    ).first() if line.message_id else None
    turn = session.scalars(
        select(Turn).where(Turn.message_id == line.message_id).order_by(Turn.id.desc()).limit(1)
    ).first() if line.message_id else None
    article = turn.retrievals[0].article_id if turn is not None and turn.retrievals else None
    return Draft(question or "", line.text, article, turn.id if turn else None, line.text)


def draft_from_turn(session: Session, turn_id: int) -> Draft:
    """The form for a logged turn that has no transcript line (a reply reviewed from the log):
    the customer's question, the bot's reply, and the article its search put first."""
    turn = session.get(Turn, turn_id)
    if turn is None:
        return Draft()
    article = turn.retrievals[0].article_id if turn.retrievals else None
    return Draft(turn.user_text, turn.bot_reply, article, turn.id, turn.bot_reply or None)


def approve(session: Session, *, question: str, answer: str, article_id: Optional[str],
            kb_missing: bool, agent_id: int, now: datetime, known_articles: List[str],
            turn_id: Optional[int] = None, original_reply: Optional[str] = None) -> int:
    question, answer = " ".join(question.split()), answer.strip()
    if not 3 <= len(question) <= MAX_QUESTION_CHARS:
        raise CorrectionError(f"The question needs 3 to {MAX_QUESTION_CHARS} characters.")
    if not 1 <= len(answer) <= MAX_ANSWER_CHARS:
        raise CorrectionError(f"The answer needs 1 to {MAX_ANSWER_CHARS} characters.")
    if kb_missing:
        article_id = None
    elif not article_id:
        raise CorrectionError("Pick the article the answer comes from, or mark that the help "
                              "centre has no article on this.")
    elif article_id not in known_articles:
        raise CorrectionError("There is no such article.")
    if turn_id is not None and session.get(Turn, turn_id) is None:
        turn_id = None
    row = ApprovedAnswer(question=question, answer=answer, article_id=article_id,
                         kb_missing=kb_missing, status="approved", turn_id=turn_id,
                         original_reply=original_reply, created_by=agent_id, created_at=now)
    session.add(row)
    session.flush()
    return row.id


def withdraw(session: Session, correction_id: int, agent_id: int, now: datetime) -> bool:
    row = session.get(ApprovedAnswer, correction_id)
    if row is None or row.status != "approved":
        return False
    row.status, row.withdrawn_by, row.withdrawn_at = "withdrawn", agent_id, now
    return True


def listing(session: Session) -> List[CorrectionView]:
    names: Dict[int, str] = dict(session.execute(select(Agent.id, Agent.display_name)).all())
    rows = session.scalars(select(ApprovedAnswer).order_by(ApprovedAnswer.id.desc())).all()
    return [CorrectionView(r.id, r.question, r.answer, r.article_id, r.kb_missing, r.status,
                           names.get(r.created_by, "someone"), r.created_at, r.original_reply)
            for r in rows]
