"""The conversation log: every customer turn, what the bot understood, found, drafted and replied.

    log = ConversationLog(session_factory("sqlite:///var/conversations.db"), salt=SECRET)
    log.record_turn(TurnRecord(
        channel="rest", sender_id="me", user_text="where is my order", intent="track_order",
        confidence=0.93, bot_reply="...", latency_ms=120,
        retrievals=[RetrievalRecord("a12", "a12#2", 0.71, 1)],
    ))

Senders are stored only as a keyed hash (privacy.hash_sender) and text with e-mails, phones and
card numbers masked (privacy.mask_pii), so the log can be read and exported without exposing
customers. ``erase_sender`` removes everything of one sender, for a deletion request.

A conversation is one channel and sender until a pause longer than ``session_gap`` (60 minutes,
as Rasa's ``session_expiration_time`` in domain.yml); ``seq`` numbers its turns in the order they
were stored.

The figures (``stats``: containment, refusal and fallback rates, latency, hand-overs; overall,
per channel, per intent and per day) and what each one counts are in bot/storage/figures.py.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import sys
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Sequence

from sqlalchemy import Select, delete, func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.storage.db import WRITE, normalize_url
from bot.storage.models import (
    DRAFT_STATUSES,
    ORDER_OUTCOMES,
    AgentMessage,
    Conversation,
    Draft,
    Feedback,
    Handoff,
    OrderAction,
    Retrieval,
    TranscriptLine,
    Turn,
    utcnow,
)
from bot.storage.privacy import hash_sender, mask_pii

logger = logging.getLogger(__name__)

HANDOFF_INTENTS = frozenset({"contact_human_agent"})
FALLBACK_INTENTS = frozenset({"nlu_fallback", "out_of_scope"})
DEFAULT_SESSION_GAP = timedelta(minutes=60)
NO_INTENT = "(none)"


@dataclass
class RetrievalRecord:
    """One passage the knowledge-base search returned for the turn."""

    article_id: str
    passage_id: str
    score: float
    rank: int  # 1 = best


@dataclass
class DraftRecord:
    """What the generator drafted for the turn, and what became of it."""

    generator_run: str
    prompt_hash: str
    draft_text: str
    status: str  # sent, rejected, timeout or fallback
    failed_check: Optional[str] = None
    latency_ms: Optional[int] = None
    prompt_tokens: Optional[int] = None
    new_tokens: Optional[int] = None


@dataclass
class OrderActionRecord:
    """One call the turn made to the shop's order system, and how it ended."""

    order_number: Optional[str]
    operation: str  # verify, track, cancel, change_address, return, refund, invoice ...
    outcome: str  # done, refused or failed
    reason: Optional[str] = None
    latency_ms: Optional[int] = None


@dataclass
class TurnRecord:
    """One customer message and the bot's reply, as the action server knows them."""

    channel: str
    sender_id: str  # raw; only its keyed hash is stored
    user_text: str
    intent: Optional[str] = None
    confidence: Optional[float] = None
    entities: List[Dict[str, Any]] = field(default_factory=list)
    bot_reply: str = ""
    latency_ms: Optional[int] = None
    retrievals: List[RetrievalRecord] = field(default_factory=list)
    draft: Optional[DraftRecord] = None
    # False when the reply was no answer ("I couldn't find that", an apology). A hand-off the
    # customer asked for is an answer.
    answered: bool = True
    handoff: bool = False  # the bot passed the customer to a person on this turn
    order_actions: List[OrderActionRecord] = field(default_factory=list)
    message_id: Optional[str] = None  # Rasa's id of the message: the transcript's lines for it
    record_id: str = field(default_factory=lambda: str(uuid.uuid4()))  # makes replays idempotent
    created_at: datetime = field(default_factory=utcnow)


@dataclass
class PreparedTurn:
    """A TurnRecord as it is stored: sender hashed, text masked, checked. What the spool holds."""

    record_id: str
    channel: str
    sender_hash: str
    user_text: str
    intent: Optional[str]
    confidence: Optional[float]
    entities: List[Dict[str, Any]]
    bot_reply: str
    answered: bool
    handoff: bool
    latency_ms: Optional[int]
    created_at: datetime
    retrievals: List[RetrievalRecord]
    draft: Optional[DraftRecord]
    order_actions: List[OrderActionRecord] = field(default_factory=list)
    message_id: Optional[str] = None

    def to_json(self) -> str:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "PreparedTurn":
        data = json.loads(text)
        data["created_at"] = datetime.fromisoformat(data["created_at"])
        data["retrievals"] = [RetrievalRecord(**r) for r in data["retrievals"]]
        data["draft"] = DraftRecord(**data["draft"]) if data["draft"] else None
        # A spool written before order actions existed has none.
        data["order_actions"] = [OrderActionRecord(**a) for a in data.get("order_actions", [])]
        return cls(**data)


def _check_length(name: str, value: Optional[str], limit: int) -> None:
    if value is not None and len(value) > limit:
        raise ValueError(f"{name} is longer than {limit} characters: {value[:40]!r}...")


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    """``fn`` applied to every string inside a JSON value (entities: lists of dicts)."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    return value


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _iso(value: Optional[datetime]) -> Optional[str]:
    if value is None:
        return None
    return _as_utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def percentile(values: Sequence[float], p: float) -> Optional[float]:
    """Nearest-rank percentile: the smallest value that at least p % of ``values`` do not exceed."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


class ConversationLog:
    """Writes turns to the conversation log and reads them back (tail, export, stats).

    ``salt`` keys the sender hash; keep it secret and never change it, or a sender's old rows can
    no longer be found for erasure. A log built with ``salt=None`` can read, erase by sender hash
    and write already prepared turns (replaying the spool), but not hash a sender id.
    """

    def __init__(
        self,
        session_factory: "sessionmaker[Session]",
        salt: Optional[str],
        mask: bool = True,
        session_gap: timedelta = DEFAULT_SESSION_GAP,
    ) -> None:
        if salt is not None and not salt:
            raise ValueError("the conversation log needs a non-empty salt to hash senders")
        self._sessions = session_factory
        self._salt = salt
        self.mask = mask
        self.session_gap = session_gap

    @property
    def can_hash(self) -> bool:
        return self._salt is not None

    def sender_hash(self, sender_id: str) -> str:
        if self._salt is None:
            raise RuntimeError("this ConversationLog has no salt: it cannot hash senders")
        return hash_sender(sender_id, self._salt)

    # --- writing ------------------------------------------------------------------------------

    def prepare(self, record: TurnRecord) -> PreparedTurn:
        """Hashes the sender, masks the text and checks the record. Raises ValueError on bad data:
        a record that cannot be stored now could not be stored later either."""
        if not record.channel:
            raise ValueError("a turn needs a channel")
        _check_length("channel", record.channel, 64)
        _check_length("intent", record.intent, 100)
        for r in record.retrievals:
            _check_length("article_id", r.article_id, 200)
            _check_length("passage_id", r.passage_id, 200)
        draft = record.draft
        if draft is not None:
            if draft.status not in DRAFT_STATUSES:
                raise ValueError(
                    f"draft status must be one of {DRAFT_STATUSES}, not {draft.status!r}"
                )
            _check_length("generator_run", draft.generator_run, 200)
            _check_length("prompt_hash", draft.prompt_hash, 64)
            _check_length("failed_check", draft.failed_check, 100)
        for action in record.order_actions:
            if action.outcome not in ORDER_OUTCOMES:
                raise ValueError(f"order action outcome must be one of {ORDER_OUTCOMES}")
            _check_length("order_number", action.order_number, 16)
            _check_length("operation", action.operation, 32)
            _check_length("reason", action.reason, 100)
        try:
            entities = json.loads(json.dumps(record.entities or []))
        except (TypeError, ValueError) as e:
            raise ValueError(f"entities must be JSON: {e}") from None

        def mask(text: str) -> str:
            text = text.replace("\x00", "")  # PostgreSQL text cannot hold NUL
            return mask_pii(text) if self.mask else text

        if draft is not None:
            draft = DraftRecord(**{**asdict(draft), "draft_text": mask(draft.draft_text or "")})
        return PreparedTurn(
            record_id=record.record_id,
            channel=record.channel,
            sender_hash=self.sender_hash(record.sender_id),
            user_text=mask(record.user_text or ""),
            intent=record.intent,
            confidence=None if record.confidence is None else float(record.confidence),
            entities=_map_strings(entities, mask),
            bot_reply=mask(record.bot_reply or ""),
            answered=bool(record.answered),
            handoff=bool(record.handoff),
            latency_ms=None if record.latency_ms is None else int(record.latency_ms),
            message_id=(record.message_id or None) and str(record.message_id)[:64],
            created_at=_as_utc(record.created_at),
            retrievals=[RetrievalRecord(**asdict(r)) for r in record.retrievals],
            draft=draft,
            order_actions=[OrderActionRecord(**asdict(a)) for a in record.order_actions],
        )

    def record_turn(self, record: TurnRecord) -> int:
        """Stores the turn, its conversation, retrievals and draft in one transaction; returns the
        turn's id once committed. The same ``record_id`` twice stores it once."""
        return self.write(self.prepare(record))

    def write(self, turn: PreparedTurn) -> int:
        """Stores a prepared turn in one transaction (idempotent by ``record_id``); its id."""
        try:
            with self._sessions() as session, session.begin():
                session.connection(execution_options=WRITE)
                existing = session.scalar(select(Turn.id).where(Turn.record_id == turn.record_id))
                if existing is not None:
                    logger.info("storage.duplicate_record record_id=%s", turn.record_id)
                    return existing
                conversation = self._conversation_for(session, turn)
                seq = 1
                if conversation.id is not None:
                    last = session.scalar(
                        select(func.max(Turn.seq)).where(Turn.conversation_id == conversation.id)
                    )
                    seq = (last or 0) + 1
                row = Turn(
                    record_id=turn.record_id,
                    conversation=conversation,
                    seq=seq,
                    user_text=turn.user_text,
                    intent=turn.intent,
                    confidence=turn.confidence,
                    entities=turn.entities,
                    bot_reply=turn.bot_reply,
                    answered=turn.answered,
                    handoff=turn.handoff,
                    latency_ms=turn.latency_ms,
                    message_id=turn.message_id,
                    created_at=turn.created_at,
                    retrievals=[Retrieval(**asdict(r)) for r in turn.retrievals],
                    drafts=[Draft(**asdict(turn.draft), created_at=turn.created_at)]
                    if turn.draft is not None
                    else [],
                    order_actions=[
                        OrderAction(**asdict(a), created_at=turn.created_at)
                        for a in turn.order_actions
                    ],
                )
                session.add(row)
                session.flush()
                return row.id
        except IntegrityError:
            # Someone stored the same record between our check and our insert (a replay racing
            # the live write): that is success. Anything else is a real error.
            with self._sessions() as session:
                existing = session.scalar(select(Turn.id).where(Turn.record_id == turn.record_id))
            if existing is not None:
                return existing
            raise

    def _conversation_for(self, session: Session, turn: PreparedTurn) -> Conversation:
        conversation = session.scalars(
            select(Conversation)
            .where(Conversation.sender_hash == turn.sender_hash)
            .where(Conversation.channel == turn.channel)
            .order_by(Conversation.last_active_at.desc(), Conversation.id.desc())
            .limit(1)
            .with_for_update()  # PostgreSQL: one writer per conversation; SQLite: BEGIN IMMEDIATE
        ).first()
        if conversation is None or turn.created_at - conversation.last_active_at > self.session_gap:
            conversation = Conversation(
                channel=turn.channel,
                sender_hash=turn.sender_hash,
                started_at=turn.created_at,
                last_active_at=turn.created_at,
            )
            session.add(conversation)
            return conversation
        conversation.last_active_at = max(conversation.last_active_at, turn.created_at)
        conversation.started_at = min(conversation.started_at, turn.created_at)
        return conversation

    def add_feedback(
        self,
        *,
        turn_id: Optional[int] = None,
        draft_id: Optional[int] = None,
        rating: Optional[int] = None,
        edited_text: Optional[str] = None,
    ) -> int:
        """Stores a rating or an agent's corrected reply for a turn or a draft; its id."""
        if turn_id is None and draft_id is None:
            raise ValueError("feedback is about a turn or a draft: give turn_id or draft_id")
        if edited_text is not None and self.mask:
            edited_text = mask_pii(edited_text)
        with self._sessions() as session, session.begin():
            session.connection(execution_options=WRITE)
            row = Feedback(
                turn_id=turn_id, draft_id=draft_id, rating=rating, edited_text=edited_text
            )
            session.add(row)
            session.flush()
            return row.id

    # --- erasing ------------------------------------------------------------------------------

    def erase_sender(self, sender_id: str) -> Dict[str, int]:
        """Deletes every row of one sender, in one transaction; the number deleted per table."""
        return self.erase_sender_hash(self.sender_hash(sender_id))

    def erase_sender_hash(self, sender_hash: str) -> Dict[str, int]:
        conversation_ids = select(Conversation.id).where(Conversation.sender_hash == sender_hash)
        turn_ids = select(Turn.id).where(Turn.conversation_id.in_(conversation_ids))
        draft_ids = select(Draft.id).where(Draft.turn_id.in_(turn_ids))
        counts: Dict[str, int] = {}
        with self._sessions() as session, session.begin():
            session.connection(execution_options=WRITE)
            for table, statement in (
                ("order_actions", delete(OrderAction).where(OrderAction.turn_id.in_(turn_ids))),
                # A customer's own ratings name them by hash, whether or not a turn is linked.
                ("feedback", delete(Feedback).where(
                    Feedback.turn_id.in_(turn_ids) | Feedback.draft_id.in_(draft_ids)
                    | (Feedback.sender_hash == sender_hash))),
                ("drafts", delete(Draft).where(Draft.turn_id.in_(turn_ids))),
                ("retrievals", delete(Retrieval).where(Retrieval.turn_id.in_(turn_ids))),
                ("turns", delete(Turn).where(Turn.conversation_id.in_(conversation_ids))),
                ("conversations", delete(Conversation).where(
                    Conversation.sender_hash == sender_hash)),
                ("transcript", delete(TranscriptLine).where(
                    TranscriptLine.sender_hash == sender_hash)),
                ("agent_messages", delete(AgentMessage).where(AgentMessage.handoff_id.in_(
                    select(Handoff.id).where(Handoff.sender_hash == sender_hash)))),
                ("handoffs", delete(Handoff).where(Handoff.sender_hash == sender_hash)),
            ):
                counts[table] = session.execute(
                    statement, execution_options={"synchronize_session": False}
                ).rowcount
        logger.info("storage.erased sender=%s... rows=%s", sender_hash[:8], counts)
        return counts

    # --- reading ------------------------------------------------------------------------------

    @staticmethod
    def _turns(since: Optional[datetime] = None) -> Select[Any]:
        statement = select(Turn, Conversation.channel, Conversation.sender_hash).join(
            Conversation, Turn.conversation_id == Conversation.id
        )
        if since is not None:
            statement = statement.where(Turn.created_at >= _as_utc(since))
        return statement

    def _rows(self, session: Session, chunk: Sequence[Any]) -> List[Dict[str, Any]]:
        """Turn rows as plain dicts, with their retrievals and drafts (two queries per chunk)."""
        ids = [turn.id for turn, _, _ in chunk]
        retrievals: Dict[int, List[Dict[str, Any]]] = {i: [] for i in ids}
        for r in session.scalars(
            select(Retrieval)
            .where(Retrieval.turn_id.in_(ids))
            .order_by(Retrieval.turn_id, Retrieval.rank)
        ):
            retrievals[r.turn_id].append(
                {"rank": r.rank, "article_id": r.article_id, "passage_id": r.passage_id,
                 "score": r.score}
            )
        drafts: Dict[int, List[Dict[str, Any]]] = {i: [] for i in ids}
        for d in session.scalars(select(Draft).where(Draft.turn_id.in_(ids)).order_by(Draft.id)):
            drafts[d.turn_id].append(
                {"id": d.id, "generator_run": d.generator_run, "prompt_hash": d.prompt_hash,
                 "status": d.status, "failed_check": d.failed_check, "latency_ms": d.latency_ms,
                 "prompt_tokens": d.prompt_tokens, "new_tokens": d.new_tokens,
                 "draft_text": d.draft_text}
            )
        return [
            {
                "turn_id": turn.id,
                "record_id": turn.record_id,
                "created_at": _iso(turn.created_at),
                "channel": channel,
                "conversation_id": turn.conversation_id,
                "sender_hash": sender_hash,
                "seq": turn.seq,
                "intent": turn.intent,
                "confidence": turn.confidence,
                "entities": turn.entities,
                "user_text": turn.user_text,
                "bot_reply": turn.bot_reply,
                "answered": turn.answered,
                "handoff": turn.handoff,
                "latency_ms": turn.latency_ms,
                "retrievals": retrievals[turn.id],
                "drafts": drafts[turn.id],
            }
            for turn, channel, sender_hash in chunk
        ]

    def tail(self, n: int = 20) -> List[Dict[str, Any]]:
        """The last ``n`` turns stored, oldest first."""
        with self._sessions() as session:
            statement = self._turns().order_by(Turn.id.desc()).limit(max(0, n))
            chunk = list(reversed(session.execute(statement).all()))
            return self._rows(session, chunk)

    def iter_turns(
        self, since: Optional[datetime] = None, batch: int = 500
    ) -> Iterator[Dict[str, Any]]:
        """Every turn from ``since`` on, in time order, streamed in batches."""
        with self._sessions() as session:
            statement = (
                self._turns(since)
                .order_by(Turn.created_at, Turn.id)
                .execution_options(yield_per=batch)
            )
            for chunk in session.execute(statement).partitions():
                yield from self._rows(session, chunk)

    def export(
        self, since: Optional[datetime], fmt: str = "csv", out: Optional[IO[str]] = None
    ) -> int:
        """Writes turns from ``since`` on to ``out`` as CSV or JSON Lines; the number written.

        Both formats carry the same fields; in CSV the lists (entities, retrievals, drafts) are
        JSON text, and a cell starting with = + - or @ gets a leading ' so a spreadsheet shows it
        instead of running it as a formula. JSON Lines is exact.
        """
        out = out if out is not None else sys.stdout
        if fmt not in ("csv", "jsonl"):
            raise ValueError(f"export format must be csv or jsonl, not {fmt!r}")
        count = 0
        writer = None
        for row in self.iter_turns(since):
            if fmt == "jsonl":
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                if writer is None:
                    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
                    writer.writeheader()
                writer.writerow({k: _csv_cell(v) for k, v in row.items()})
            count += 1
        if fmt == "csv" and writer is None:  # header even when there is nothing to export
            csv.writer(out, lineterminator="\n").writerow(EXPORT_FIELDS)
        return count

    def stats(self, since: Optional[datetime] = None,
              until: Optional[datetime] = None) -> Dict[str, Any]:
        """Figures over the turns from ``since`` to ``until`` (all when None); see figures.py."""
        from bot.storage import figures  # it reads this module's definitions

        with self._sessions() as session:
            return figures.stats(session, since, until)

    def period_report(self, first_day: date, last_day: date, until: Optional[datetime] = None,
                      embed: Optional[Callable[[Sequence[str]], Any]] = None) -> Dict[str, Any]:
        """Each UTC day from ``first_day`` to ``last_day``, their totals, the top intents and the
        unanswered questions grouped by meaning with ``embed`` (report.py): the dashboard's data."""
        from bot.storage.report import period_report

        return period_report(self._sessions, first_day, last_day, until, embed)


# The channel's replies that stand in for a bot turn the customer never got.
APOLOGY_KINDS = ("timeout", "error", "no_reply")

EXPORT_FIELDS = [
    "turn_id", "record_id", "created_at", "channel", "conversation_id", "sender_hash", "seq",
    "intent", "confidence", "entities", "user_text", "bot_reply", "answered", "handoff",
    "latency_ms", "retrievals", "drafts",
]


def _csv_cell(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def erase_tracker_events(tracker_url: str, sender_id: str) -> int:
    """Deletes one sender's rows from Rasa's tracker store (table ``events``, raw ``sender_id``).

    Uses a plain engine: the tracker database belongs to Rasa, and its SQLite journal mode is
    not ours to change. Returns 0 when there is no ``events`` table (or no SQLite file: opening
    one would create it).
    """
    from pathlib import Path

    from sqlalchemy import column, create_engine, table

    url = normalize_url(tracker_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        if not Path(url.database).exists():
            return 0
    engine = create_engine(url, hide_parameters=True)
    try:
        if not inspect(engine).has_table("events"):
            return 0
        events = table("events", column("sender_id"))
        with engine.begin() as connection:
            deleted = connection.execute(
                delete(events).where(events.c.sender_id == sender_id)
            ).rowcount
        logger.info("storage.tracker_erased rows=%d", deleted)
        return deleted
    finally:
        engine.dispose()


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or time as aware UTC ('2026-11-01', '2026-11-01T09:00', '...Z')."""
    return _as_utc(datetime.fromisoformat(text.strip().replace("z", "Z")))
