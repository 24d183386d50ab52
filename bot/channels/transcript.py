"""The transcript: every message a customer sent or was shown, written by the channels themselves.

The actions log each turn (actions/turn_log.py), but a customer also reads things no action
says: the channel's own prompts ("type something"), WeChat's welcome, the time-out apology sent
instead of a late reply, and the agents' replies while a person has the conversation, when no
action runs at all. The channels run in the Rasa server, on SQLAlchemy 1.4, so this module writes
the conversation log's ``transcript`` table with SQLAlchemy Core (the same columns as
``bot.storage.models.TranscriptLine``; tests/handoff/test_hours_and_inbox.py checks they agree).

    transcript = get_transcript()
    await transcript.record("socketio", sender_id, "customer", text, message_id=...)
    await transcript.handoff_status("socketio", sender_id)   # "queued", "claimed" or None

A customer never waits on the transcript: ``record`` queues the line and returns, and one writer
thread commits the lines in the order they came. When the database is down (a locked SQLite file,
a PostgreSQL restart) the writer tries each line again every second for ``RETRY_FOR_S``; a line it
still cannot write is logged as ``transcript.not_recorded`` and dropped (the tracker store keeps
the messages; the turns have their own spool). ``handoff_status`` waits at most ``STATUS_WAIT_S``.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Optional, Tuple

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, create_engine
from sqlalchemy import event, select
from sqlalchemy.engine import make_url

from bot.settings import get_settings
from bot.storage.privacy import hash_sender, mask_pii

logger = logging.getLogger(__name__)

RETRY_FOR_S = 300.0  # how long a line is tried again while the database is down
STATUS_WAIT_S = 1.0  # a customer's turn waits this long at most to learn whether a person has it
MAX_WAITING_LINES = 10_000

_metadata = MetaData()
TRANSCRIPT = Table(
    "transcript", _metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(64), nullable=False),
    Column("sender_hash", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("message_id", String(64)),
    Column("kind", String(32)),
    Column("created_at", DateTime, nullable=False),
)
HANDOFFS = Table(
    "handoffs", _metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(64)),
    Column("sender_hash", String(64)),
    Column("status", String(16)),
)


def _engine(url: str):
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        # The same URL in both environments: psycopg2 in Rasa's, psycopg (3) in the actions'.
        try:
            import psycopg2  # noqa: F401

            parsed = parsed.set(drivername="postgresql+psycopg2")
        except ImportError:
            parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed, hide_parameters=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout = 5000")
            cursor.close()
    return engine


Line = Tuple[str, str, str, str, Optional[str], Optional[str], datetime]


class Transcript:
    def __init__(self, url: str, salt: str, mask: bool = True) -> None:
        self.url = url
        self.salt = salt
        self.mask = mask
        self._engine = None
        self._lines: "queue.Queue[Line]" = queue.Queue(MAX_WAITING_LINES)
        self._writer: Optional[threading.Thread] = None
        self._writer_lock = threading.Lock()
        self._reader = ThreadPoolExecutor(max_workers=2, thread_name_prefix="transcript-read")

    @property
    def engine(self):
        if self._engine is None:
            self._engine = _engine(self.url)
        return self._engine

    def write(self, channel: str, sender_id: str, role: str, text: str,
              message_id: Optional[str] = None, kind: Optional[str] = None,
              at: Optional[datetime] = None) -> None:
        """Blocking: one line, committed."""
        at = at or datetime.now(timezone.utc)
        with self.engine.begin() as connection:
            connection.execute(TRANSCRIPT.insert().values(
                channel=channel[:64], sender_hash=hash_sender(sender_id, self.salt),
                role=role, text=mask_pii(text) if self.mask else text,
                message_id=(message_id or None) and message_id[:64], kind=kind,
                created_at=at.astimezone(timezone.utc).replace(tzinfo=None),
            ))

    def status(self, channel: str, sender_id: str) -> Optional[str]:
        """Blocking: "queued" or "claimed" while a person has the conversation, else None."""
        with self.engine.connect() as connection:
            return connection.execute(
                select(HANDOFFS.c.status).where(
                    HANDOFFS.c.sender_hash == hash_sender(sender_id, self.salt),
                    HANDOFFS.c.channel == channel,
                    HANDOFFS.c.status.in_(("queued", "claimed")),
                ).order_by(HANDOFFS.c.id.desc()).limit(1)
            ).scalar()

    async def record(self, channel: str, sender_id: str, role: str, text: str,
                     message_id: Optional[str] = None, kind: Optional[str] = None) -> None:
        """Queues the line for the writer thread; returns at once."""
        if not text:
            return
        self._start_writer()
        line = (channel, sender_id, role, text, message_id, kind, datetime.now(timezone.utc))
        try:
            self._lines.put_nowait(line)
        except queue.Full:
            logger.error("transcript.not_recorded channel=%s role=%s error=queue_full",
                         channel, role)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Blocking: waits until every queued line is written (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        while self._lines.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._lines.unfinished_tasks

    async def handoff_status(self, channel: str, sender_id: str) -> Optional[str]:
        """None also when the table cannot be read in time: the bot then answers as usual."""
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._reader, self.status, channel, sender_id),
                STATUS_WAIT_S)
        except Exception as e:
            logger.error("transcript.status_unknown channel=%s error=%s", channel, type(e).__name__)
            return None

    def _start_writer(self) -> None:
        if self._writer is None:
            with self._writer_lock:
                if self._writer is None:
                    self._writer = threading.Thread(target=self._write_forever,
                                                    name="transcript-writer", daemon=True)
                    self._writer.start()

    def _write_forever(self) -> None:
        while True:
            line = self._lines.get()
            try:
                self._write_with_retries(line)
            finally:
                self._lines.task_done()

    def _write_with_retries(self, line: Line) -> None:
        channel, sender_id, role, text, message_id, kind, at = line
        give_up = time.monotonic() + RETRY_FOR_S
        while True:
            try:
                self.write(channel, sender_id, role, text, message_id, kind, at)
                return
            except Exception as e:
                if time.monotonic() > give_up:
                    logger.error("transcript.not_recorded channel=%s role=%s error=%s",
                                 channel, role, type(e).__name__)
                    return
                logger.warning("transcript.retrying error=%s", type(e).__name__)
                time.sleep(1.0)


_transcript: Optional[Transcript] = None


def get_transcript() -> Transcript:
    """The process's transcript writer, on the conversation log's database."""
    global _transcript
    if _transcript is None:
        settings = get_settings()
        _transcript = Transcript(settings.log_url, settings.sender_salt(), settings.log_mask_pii)
    return _transcript
