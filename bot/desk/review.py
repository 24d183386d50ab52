"""Reviewing the bot's replies: the turns that match the desk's filters, and one turn in full.

An outcome means here what ``logs stats`` counts (bot/storage/figures.py, whose definitions this uses), so a number on the
dashboard and the rows behind it agree:

- **refused**: the turn was not answered, or the channel sent an apology in its place (a
  ``channel`` line of the transcript with a kind in ``APOLOGY_KINDS`` for its message);
- **handed over**: the turn passed the customer to a person, or its intent is one of
  ``HANDOFF_INTENTS``;
- **answered**: answered and not handed over;
- **draft rejected**: a draft for the turn was rejected by the checks (the reply may still have
  answered: the bot then quoted the passage instead).

A turn may carry more than one (refused and handed over, answered and draft rejected). Ratings
come from ``feedback``: +1 or -1, tied to the turn by its id or by the channel's message id.

Functions take a SQLAlchemy ``Session``; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlencode

from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.orm import Session

from bot.storage.figures import ABOUT_TURN, ANSWERED, HANDED_OVER
from bot.storage.models import (
    ApprovedAnswer,
    Conversation,
    Draft,
    Feedback,
    TranscriptLine,
    Turn,
)

PAGE_SIZE = 50
MAX_PAGE = 100_000  # far beyond any log; keeps the OFFSET a number the database can take
MAX_FILTER_CHARS = 100  # the intent column's width; a channel's is less
REPLY_PREVIEW_CHARS = 160
CONTEXT_BEFORE = 6  # transcript lines shown before the reviewed message
CONTEXT_AFTER = 10  # the message, the replies to it and what followed
MAX_CONVERSATION_TURNS = 200

THUMBS_UP, THUMBS_DOWN = 1, -1
OUTCOMES = {"answered": "answered", "refused": "refused", "handed_over": "handed over",
            "draft_rejected": "draft rejected"}
RATINGS = {"down": "thumbs down", "up": "thumbs up", "any": "any rating", "none": "unrated"}
FILTER_NAMES = ("channel", "from", "to", "intent", "outcome", "rating", "page")


class FilterError(ValueError):
    """The filters cannot be used as given; ``messages`` says why, one sentence each."""

    def __init__(self, messages: List[str]) -> None:
        super().__init__(" ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class Filters:
    channel: str = ""
    date_from: Optional[date] = None
    date_to: Optional[date] = None  # inclusive: the whole day
    intent: str = ""
    outcome: str = ""  # a key of OUTCOMES, or "" for all
    rating: str = ""  # a key of RATINGS, or "" for all
    page: int = 1

    def query(self, page: Optional[int] = None) -> str:
        """The URL query of these filters (empty ones left out), for links to other pages."""
        values = {"channel": self.channel, "intent": self.intent, "outcome": self.outcome,
                  "rating": self.rating,
                  "from": self.date_from.isoformat() if self.date_from else "",
                  "to": self.date_to.isoformat() if self.date_to else ""}
        number = self.page if page is None else page
        values["page"] = str(number) if number > 1 else ""
        return urlencode([(k, v) for k, v in values.items() if v])


def _date(text: str, name: str, problems: List[str]) -> Optional[date]:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append(f"The '{name}' date must be a date like 2026-03-02.")
        return None


def parse_filters(params: Mapping[str, str]) -> Filters:
    """The filters of the review page's query (its GET parameters); FilterError if one is bad.
    Unknown parameters are ignored; an empty one means "all"."""
    given = {name: (params.get(name) or "").strip() for name in FILTER_NAMES}
    problems: List[str] = []
    for name in ("channel", "intent"):
        if len(given[name]) > MAX_FILTER_CHARS:
            problems.append(f"The {name} is too long.")
    date_from = _date(given["from"], "from", problems)
    date_to = _date(given["to"], "to", problems)
    if date_from and date_to and date_from > date_to:
        problems.append("The 'from' date is after the 'to' date.")
    if given["outcome"] and given["outcome"] not in OUTCOMES:
        problems.append("The outcome must be one of: " + ", ".join(OUTCOMES.values()) + ".")
    if given["rating"] and given["rating"] not in RATINGS:
        problems.append("The rating must be one of: " + ", ".join(RATINGS.values()) + ".")
    page = 1
    if given["page"]:
        if given["page"].isdigit() and 1 <= int(given["page"]) <= MAX_PAGE:
            page = int(given["page"])
        else:
            problems.append(f"The page must be a number from 1 to {MAX_PAGE}.")
    if problems:
        raise FilterError(problems)
    return Filters(channel=given["channel"], date_from=date_from, date_to=date_to,
                   intent=given["intent"], outcome=given["outcome"], rating=given["rating"],
                   page=page)


# --- what a turn's outcome is, as SQL (the same reading as ConversationLog.stats) -------------

def _draft_rejected():
    return exists().where(Draft.turn_id == Turn.id, Draft.status == "rejected")


def _outcome_condition(outcome: str):
    if outcome == "answered":
        return and_(ANSWERED, not_(HANDED_OVER))
    if outcome == "refused":
        return not_(ANSWERED)
    if outcome == "handed_over":
        return HANDED_OVER
    return _draft_rejected()


def outcome_labels(replied: bool, handed_over: bool, draft_rejected: bool) -> Tuple[str, ...]:
    """The outcomes a turn is listed under, as the page names them."""
    labels = []
    if replied and not handed_over:
        labels.append(OUTCOMES["answered"])
    if not replied:
        labels.append(OUTCOMES["refused"])
    if handed_over:
        labels.append(OUTCOMES["handed_over"])
    if draft_rejected:
        labels.append(OUTCOMES["draft_rejected"])
    return tuple(labels)


def _rated(*conditions):
    return exists().where(ABOUT_TURN, *conditions)


def _rating_condition(rating: str):
    if rating == "down":
        return _rated(Feedback.rating == THUMBS_DOWN)
    if rating == "up":
        return _rated(Feedback.rating == THUMBS_UP)
    if rating == "any":
        return _rated(Feedback.rating.is_not(None))
    return not_(_rated(Feedback.rating.is_not(None)))


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def _conditions(filters: Filters) -> List[Any]:
    conditions: List[Any] = []
    if filters.channel:
        conditions.append(Conversation.channel == filters.channel)
    if filters.intent:
        conditions.append(Turn.intent == filters.intent)
    if filters.date_from:
        conditions.append(Turn.created_at >= _day_start(filters.date_from))
    if filters.date_to:
        conditions.append(Turn.created_at < _day_start(filters.date_to + timedelta(days=1)))
    if filters.outcome:
        conditions.append(_outcome_condition(filters.outcome))
    if filters.rating:
        conditions.append(_rating_condition(filters.rating))
    return conditions


# --- the list ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rating:
    value: Optional[int]
    comment: Optional[str]
    created_at: datetime

    @property
    def label(self) -> str:
        if self.value == THUMBS_UP:
            return RATINGS["up"]
        if self.value == THUMBS_DOWN:
            return RATINGS["down"]
        return "no rating" if self.value is None else f"rated {self.value}"


@dataclass(frozen=True)
class Row:
    turn_id: int
    created_at: datetime
    channel: str
    question: str
    reply: str  # shortened
    intent: Optional[str]
    outcomes: Tuple[str, ...]
    ratings: List[Rating] = field(default_factory=list)


@dataclass(frozen=True)
class Listing:
    rows: List[Row]
    total: int
    page: int
    pages: int


def shorten(text: str, limit: int = REPLY_PREVIEW_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1].rstrip() + "…"


def choices(session: Session) -> Tuple[List[str], List[str]]:
    """The channels and intents the log holds, for the filter form's lists."""
    channels = session.scalars(select(Conversation.channel).distinct()
                               .order_by(Conversation.channel)).all()
    intents = session.scalars(select(Turn.intent).where(Turn.intent.is_not(None)).distinct()
                              .order_by(Turn.intent)).all()
    return list(channels), list(intents)


def ratings_of(session: Session,
               turns: Sequence[Tuple[int, Optional[str]]]) -> Dict[int, List[Rating]]:
    """Each turn's ratings (turn id -> oldest first), for (turn id, message id) pairs."""
    by_turn: Dict[int, List[Rating]] = {turn_id: [] for turn_id, _ in turns}
    if not turns:
        return by_turn
    by_message = {message_id: turn_id for turn_id, message_id in turns if message_id}
    rows = session.execute(
        select(Feedback.turn_id, Feedback.message_id, Feedback.rating, Feedback.comment,
               Feedback.created_at)
        .where(or_(Feedback.turn_id.in_(list(by_turn)),
                   Feedback.message_id.in_(list(by_message))))
        .order_by(Feedback.created_at, Feedback.id)
    ).all()
    for turn_id, message_id, rating, comment, created_at in rows:
        target = turn_id if turn_id in by_turn else by_message.get(message_id)
        if target is not None:
            by_turn[target].append(Rating(rating, comment, created_at))
    return by_turn


def listing(session: Session, filters: Filters, page_size: int = PAGE_SIZE) -> Listing:
    """The turns that match, newest first, one page of them."""
    conditions = _conditions(filters)
    total = session.scalar(
        select(func.count(Turn.id)).join(Conversation, Conversation.id == Turn.conversation_id)
        .where(*conditions)
    ) or 0
    found = session.execute(
        select(Turn.id, Turn.created_at, Conversation.channel, Turn.user_text, Turn.bot_reply,
               Turn.intent, Turn.message_id, ANSWERED.label("replied"),
               HANDED_OVER.label("handed_over"), _draft_rejected().label("rejected"))
        .join(Conversation, Conversation.id == Turn.conversation_id)
        .where(*conditions)
        .order_by(Turn.created_at.desc(), Turn.id.desc())
        .limit(page_size).offset((filters.page - 1) * page_size)
    ).all()
    ratings = ratings_of(session, [(r.id, r.message_id) for r in found])
    rows = [
        Row(r.id, r.created_at, r.channel, r.user_text, shorten(r.bot_reply), r.intent,
            outcome_labels(bool(r.replied), bool(r.handed_over), bool(r.rejected)),
            ratings[r.id])
        for r in found
    ]
    return Listing(rows, total, filters.page, max(1, -(-total // page_size)))


# --- one turn ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContextLine:
    id: int
    role: str
    text: str
    kind: Optional[str]
    created_at: datetime
    reviewed: bool  # one of the lines of the reviewed message


@dataclass(frozen=True)
class TurnReview:
    id: int
    created_at: datetime
    channel: str
    question: str
    reply: str
    intent: Optional[str]
    confidence: Optional[float]
    latency_ms: Optional[int]
    outcomes: Tuple[str, ...]
    passages: List[Dict[str, Any]]  # rank, article_id, passage_id, score
    drafts: List[Dict[str, Any]]  # status, failed_check, generator_run, text, latency_ms
    ratings: List[Rating]
    corrections: List[Dict[str, Any]]  # id, status, created_at of approved answers from it
    context: List[ContextLine]
    conversation: List[Dict[str, Any]]  # the conversation's turns: id, seq, time, question
    bot_line_id: Optional[int]  # the one transcript line of the bot's reply, if there is one

    @property
    def top_article(self) -> Optional[str]:
        return self.passages[0]["article_id"] if self.passages else None


def _context(session: Session, conversation: Conversation,
             message_id: Optional[str]) -> List[ContextLine]:
    if not message_id:
        return []
    of_sender = select(TranscriptLine).where(TranscriptLine.channel == conversation.channel,
                                             TranscriptLine.sender_hash == conversation.sender_hash)
    anchor = session.scalar(
        select(func.min(TranscriptLine.id)).where(
            TranscriptLine.channel == conversation.channel,
            TranscriptLine.sender_hash == conversation.sender_hash,
            TranscriptLine.message_id == message_id)
    )
    if anchor is None:
        return []
    before = session.scalars(of_sender.where(TranscriptLine.id < anchor)
                             .order_by(TranscriptLine.id.desc()).limit(CONTEXT_BEFORE)).all()
    after = session.scalars(of_sender.where(TranscriptLine.id >= anchor)
                            .order_by(TranscriptLine.id).limit(CONTEXT_AFTER)).all()
    return [ContextLine(r.id, r.role, r.text, r.kind, r.created_at, r.message_id == message_id)
            for r in [*reversed(before), *after]]


def turn_review(session: Session, turn_id: int) -> Optional[TurnReview]:
    """Everything the desk shows of one turn; None if there is no such turn."""
    found = session.execute(
        select(Turn, Conversation, ANSWERED.label("replied"),
               HANDED_OVER.label("handed_over"), _draft_rejected().label("rejected"))
        .join(Conversation, Conversation.id == Turn.conversation_id)
        .where(Turn.id == turn_id)
    ).first()
    if found is None:
        return None
    turn, conversation = found.Turn, found.Conversation
    drafts = session.scalars(select(Draft).where(Draft.turn_id == turn.id).order_by(Draft.id))
    corrections = session.execute(
        select(ApprovedAnswer.id, ApprovedAnswer.status, ApprovedAnswer.created_at)
        .where(ApprovedAnswer.turn_id == turn.id).order_by(ApprovedAnswer.id)
    ).all()
    siblings = session.execute(
        select(Turn.id, Turn.seq, Turn.created_at, Turn.user_text)
        .where(Turn.conversation_id == conversation.id)
        .order_by(Turn.seq).limit(MAX_CONVERSATION_TURNS)
    ).all()
    context = _context(session, conversation, turn.message_id)
    bot_lines = [line.id for line in context if line.reviewed and line.role == "bot"]
    return TurnReview(
        id=turn.id, created_at=turn.created_at, channel=conversation.channel,
        question=turn.user_text, reply=turn.bot_reply, intent=turn.intent,
        confidence=None if turn.confidence is None else round(turn.confidence, 3),
        latency_ms=turn.latency_ms,
        outcomes=outcome_labels(bool(found.replied), bool(found.handed_over),
                                bool(found.rejected)),
        passages=[{"rank": r.rank, "article_id": r.article_id, "passage_id": r.passage_id,
                   "score": round(r.score, 3)} for r in turn.retrievals],
        drafts=[{"status": d.status, "failed_check": d.failed_check,
                 "generator_run": d.generator_run, "text": d.draft_text,
                 "latency_ms": d.latency_ms} for d in drafts],
        ratings=ratings_of(session, [(turn.id, turn.message_id)])[turn.id],
        corrections=[{"id": c.id, "status": c.status, "created_at": c.created_at}
                     for c in corrections],
        context=context,
        conversation=[{"id": s.id, "seq": s.seq, "created_at": s.created_at,
                       "question": shorten(s.user_text, 100), "current": s.id == turn.id}
                      for s in siblings],
        # Several bot lines (a reply in parts) have no one line to correct: the turn has it all.
        bot_line_id=bot_lines[0] if len(bot_lines) == 1 else None,
    )
