"""The conversation log's figures: what counts as answered, contained and handed over, and the
figures built on that, overall, per channel, per intent (``stats``) and per UTC day (``period``).

- **containment**: the share of turns the bot resolved itself. A turn is *contained* when its
  reply answered (``answered``, and the channel sent no apology in its place), it was not a
  hand-off (``handoff`` is false and the intent is not ``contact_human_agent``) and no draft for
  it ended as ``fallback``. Greetings and thanks that were answered count as contained: the bot
  needed no person for them.
- **conversation_containment**: the share of conversations, among those with a turn in the
  slice, in which no turn was a hand-off (the usual help-desk "containment rate"; by channel and
  by day too, but not by intent, since a conversation has many). **handoff_rate** is the rest:
  the share of those conversations that were handed to a person.
- **fallback_rate**: the share of turns whose intent was ``nlu_fallback`` (the classifier was
  unsure) or ``out_of_scope``.
- **refusal_rate**: the share of turns whose reply was no answer (``answered`` false: "I couldn't
  find that", an apology after a failure, or an apology the channel sent instead of the reply).
- **latency_ms p50/p95**: nearest-rank percentiles of the turns' ``latency_ms``: the smallest
  recorded latency that at least 50 % / 95 % of turns did not exceed.
- **thumbs_up_share**: among the turns a customer rated (+1 or -1; the latest rating of a turn
  counts), the share rated +1. A rating is about a turn by the turn's id or by the customer
  message's id (a rating can arrive before the turn is stored). Agents' ratings are left out:
  they judge the reply, they did not read it as a customer.
- **drafts**: how many of the generator's drafts were sent, rejected by a check, timed out or
  fell back.

A turn belongs to the UTC day, channel and intent of its own time; drafts and ratings belong to
their turn's. A conversation that spans midnight counts on both days. Rates are ``None`` where
there is nothing to divide by.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.orm import Session

from bot.storage.log import (
    APOLOGY_KINDS,
    FALLBACK_INTENTS,
    HANDOFF_INTENTS,
    NO_INTENT,
    _as_utc,
    _iso,
    percentile,
)
from bot.storage.models import (
    DRAFT_STATUSES,
    AgentMessage,
    Conversation,
    Draft,
    Feedback,
    Handoff,
    TranscriptLine,
    Turn,
)

THUMBS_UP, THUMBS_DOWN = 1, -1
TOP_INTENTS = 10

# --- what a turn was: one definition, in SQL, for every figure and for the unanswered list -----

# The channel sent an apology instead of this turn's reply (too slow, or it failed): the customer
# was not answered, whatever the action logged (bot/channels/guard.py).
APOLOGISED = exists().where(
    TranscriptLine.message_id == Turn.message_id, TranscriptLine.role == "channel",
    TranscriptLine.kind.in_(APOLOGY_KINDS),
)
ANSWERED = and_(Turn.answered, not_(APOLOGISED))
# coalesce: a turn without an intent is simply not a hand-off by intent (NULL would spread).
HANDED_OVER = or_(Turn.handoff, func.coalesce(Turn.intent, "").in_(sorted(HANDOFF_INTENTS)))
DRAFT_FELL_BACK = exists().where(Draft.turn_id == Turn.id, Draft.status == "fallback")
CONTAINED = and_(ANSWERED, not_(HANDED_OVER), not_(DRAFT_FELL_BACK))
# A feedback row is about a turn by the turn's id, or by the customer message's id.
ABOUT_TURN = or_(Feedback.turn_id == Turn.id, Feedback.message_id == Turn.message_id)


def in_window(column: Any, since: Optional[datetime], until: Optional[datetime]) -> List[Any]:
    """Conditions for ``since <= column < until`` (either end open when None)."""
    conditions = []
    if since is not None:
        conditions.append(column >= _as_utc(since))
    if until is not None:
        conditions.append(column < _as_utc(until))
    return conditions


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def days_between(first: date, last: date) -> List[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# --- counting ------------------------------------------------------------------------------


class Figures:
    """Counts for one slice of the log (overall, one channel, one intent, one day)."""

    def __init__(self, by_conversation: bool = True) -> None:
        self.by_conversation = by_conversation
        self.turns = 0
        self.contained = 0
        self.fallbacks = 0
        self.refusals = 0
        self.latencies: List[int] = []
        self.conversations: Dict[int, bool] = {}  # id -> had a hand-off
        self.ratings: Dict[int, int] = {}  # turn id -> its latest rating
        self.drafts: Dict[str, int] = dict.fromkeys(DRAFT_STATUSES, 0)

    def add(self, conversation_id: int, intent: Optional[str], latency: Optional[int],
            answered: bool, handoff: bool, contained: bool) -> None:
        self.turns += 1
        self.contained += contained
        self.fallbacks += intent in FALLBACK_INTENTS
        self.refusals += not answered
        if latency is not None:
            self.latencies.append(latency)
        had_handoff = self.conversations.get(conversation_id, False)
        self.conversations[conversation_id] = had_handoff or handoff

    def add_rating(self, turn_id: int, rating: int) -> None:
        self.ratings[turn_id] = rating  # rows come oldest first: the latest one stays

    def add_draft(self, status: str) -> None:
        self.drafts[status] = self.drafts.get(status, 0) + 1

    def as_dict(self) -> Dict[str, Any]:
        def rate(count: int, total: int) -> Optional[float]:
            return round(count / total, 4) if total else None

        figures: Dict[str, Any] = {"turns": self.turns, "conversations": len(self.conversations)}
        figures["containment"] = rate(self.contained, self.turns)
        if self.by_conversation:
            handed_off = sum(self.conversations.values())
            figures["conversation_containment"] = rate(
                len(self.conversations) - handed_off, len(self.conversations)
            )
            figures["handoff_rate"] = rate(handed_off, len(self.conversations))
        figures["fallback_rate"] = rate(self.fallbacks, self.turns)
        figures["refusal_rate"] = rate(self.refusals, self.turns)
        figures["latency_ms"] = {
            "p50": percentile(self.latencies, 50),
            "p95": percentile(self.latencies, 95),
        }
        ups = sum(1 for r in self.ratings.values() if r == THUMBS_UP)
        figures["ratings"] = len(self.ratings)
        figures["thumbs_up_share"] = rate(ups, len(self.ratings))
        figures["drafts"] = dict(self.drafts)
        return figures


@dataclass
class Breakdown:
    """The figures of one window of the log, cut four ways."""

    overall: Figures = field(default_factory=Figures)
    by_channel: Dict[str, Figures] = field(default_factory=dict)
    by_intent: Dict[str, Figures] = field(default_factory=dict)
    by_day: Dict[date, Figures] = field(default_factory=dict)

    def slices(self, channel: str, intent: Optional[str], created_at: datetime) -> Tuple[Figures, ...]:
        return (
            self.overall,
            self.by_channel.setdefault(channel, Figures()),
            self.by_intent.setdefault(intent or NO_INTENT, Figures(by_conversation=False)),
            self.by_day.setdefault(_as_utc(created_at).date(), Figures()),
        )


def breakdown(session: Session, since: Optional[datetime] = None,
              until: Optional[datetime] = None) -> Breakdown:
    """The turns, drafts and customers' ratings from ``since`` (inclusive) to ``until``
    (exclusive), counted overall, per channel, per intent and per UTC day."""
    window = in_window(Turn.created_at, since, until)
    result = Breakdown()
    turns = (
        select(Turn.conversation_id, Conversation.channel, Turn.intent, Turn.created_at,
               Turn.latency_ms, ANSWERED.label("answered"), HANDED_OVER.label("handoff"),
               CONTAINED.label("contained"))
        .join(Conversation, Turn.conversation_id == Conversation.id)
        .where(*window)
        .execution_options(yield_per=2000)
    )
    for conversation_id, channel, intent, created_at, latency, answered, handoff, contained in (
            session.execute(turns)):
        for figures in result.slices(channel, intent, created_at):
            figures.add(conversation_id, intent, latency, bool(answered), bool(handoff),
                        bool(contained))

    drafts = (
        select(Draft.status, Conversation.channel, Turn.intent, Turn.created_at)
        .join(Turn, Draft.turn_id == Turn.id)
        .join(Conversation, Turn.conversation_id == Conversation.id)
        .where(*window)
    )
    for status, channel, intent, created_at in session.execute(drafts):
        for figures in result.slices(channel, intent, created_at):
            figures.add_draft(status)

    ratings = (
        select(Turn.id, Feedback.rating, Conversation.channel, Turn.intent, Turn.created_at)
        .join(Feedback, ABOUT_TURN)
        .join(Conversation, Turn.conversation_id == Conversation.id)
        .where(*window, Feedback.rating.in_((THUMBS_UP, THUMBS_DOWN)),
               func.coalesce(Feedback.source, "") != "agent")
        .order_by(Feedback.created_at, Feedback.id)
    )
    for turn_id, rating, channel, intent, created_at in session.execute(ratings):
        for figures in result.slices(channel, intent, created_at):
            figures.add_rating(turn_id, rating)
    return result


def handoff_figures(session: Session, since: Optional[datetime] = None,
                    until: Optional[datetime] = None) -> Dict[str, Any]:
    """Conversations passed to a person: how many, why, the wait for an agent's first reply
    and the time from queued to handed back or closed (seconds, p50/p95)."""
    statement = select(Handoff.reason, Handoff.status, Handoff.queued_at,
                       Handoff.first_reply_at, Handoff.ended_at).where(
        *in_window(Handoff.queued_at, since, until))
    reasons: Dict[str, int] = {}
    waits: List[float] = []
    handles: List[float] = []
    waiting = 0
    for reason, status, queued, first_reply, ended in session.execute(statement):
        reasons[reason] = reasons.get(reason, 0) + 1
        waiting += status == "queued"
        if first_reply is not None:
            waits.append((first_reply - queued).total_seconds())
        if ended is not None:
            handles.append((ended - queued).total_seconds())
    replies = select(func.count()).select_from(AgentMessage).where(
        AgentMessage.delivered.is_(True), *in_window(AgentMessage.created_at, since, until))
    return {
        "count": sum(reasons.values()), "by_reason": dict(sorted(reasons.items())),
        "waiting_now": waiting, "agent_replies": session.scalar(replies) or 0,
        "first_reply_wait_s": {"p50": percentile(waits, 50), "p95": percentile(waits, 95)},
        "handle_time_s": {"p50": percentile(handles, 50), "p95": percentile(handles, 95)},
    }


# --- what the callers read -----------------------------------------------------------------


def stats(session: Session, since: Optional[datetime] = None,
          until: Optional[datetime] = None) -> Dict[str, Any]:
    """Figures over the turns from ``since`` to ``until`` (all when None), overall, per channel
    and per intent, with the hand-overs of that time (`logs stats`)."""
    cut = breakdown(session, since, until)
    return {
        "since": _iso(since),
        "until": _iso(until),
        **cut.overall.as_dict(),
        "handoffs": handoff_figures(session, since, until),
        "by_channel": {k: v.as_dict() for k, v in sorted(cut.by_channel.items())},
        "by_intent": {k: v.as_dict() for k, v in sorted(cut.by_intent.items())},
    }


def top_intents(cut: Breakdown, limit: int = TOP_INTENTS) -> List[Dict[str, Any]]:
    """The most frequent intents of the window, most turns first (ties by name)."""
    total = cut.overall.turns
    ranked = sorted(cut.by_intent.items(), key=lambda item: (-item[1].turns, item[0]))[:limit]
    rows = []
    for intent, figures in ranked:
        numbers = figures.as_dict()
        rows.append({"intent": intent, "turns": figures.turns,
                     "share": round(figures.turns / total, 4) if total else None,
                     "containment": numbers["containment"],
                     "refusal_rate": numbers["refusal_rate"]})
    return rows


def period_window(first_day: date, last_day: date,
                  until: Optional[datetime] = None) -> Tuple[datetime, datetime]:
    """The times of whole UTC days ``first_day``..``last_day``, cut at ``until`` when it falls
    before the end of the last day: (since inclusive, end exclusive)."""
    since = day_start(first_day)
    end = day_start(last_day + timedelta(days=1))
    if until is not None:
        end = min(end, _as_utc(until))
    return since, end


def period(session: Session, first_day: date, last_day: date,
           until: Optional[datetime] = None) -> Dict[str, Any]:
    """The figures of the UTC days ``first_day``..``last_day`` (see ``period_window``): one row
    per day, empty days included, the totals with the hand-overs, and the top intents."""
    since, end = period_window(first_day, last_day, until)
    cut = breakdown(session, since, end)
    days = []
    for day in days_between(first_day, last_day):
        days.append({"day": day.isoformat(), **cut.by_day.get(day, Figures()).as_dict()})
    return {
        "since": _iso(since),
        "until": _iso(end),
        "first_day": first_day.isoformat(),
        "last_day": last_day.isoformat(),
        "days": days,
        "totals": {**cut.overall.as_dict(), "handoffs": handoff_figures(session, since, end)},
        "top_intents": top_intents(cut),
    }


def days_up_to(count: int, end: datetime) -> Tuple[date, date]:
    """The ``count`` UTC days up to ``end`` (exclusive): the last is the day ``end`` falls in,
    or the day before when ``end`` is a midnight. Returns (first, last)."""
    last = (_as_utc(end) - timedelta(microseconds=1)).date()
    return last - timedelta(days=max(1, count) - 1), last
