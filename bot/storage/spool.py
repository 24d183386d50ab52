"""A durable local spool for the conversation log, for when its database is down.

    log = DurableLog(ConversationLog(sessions, salt), spool_path=var_dir / "conversations.spool.db")
    log.record_turn(record)   # the turn's id, or None when the database failed and it was spooled
    log.health()              # {"ok": False, "spooled_count": 3, "last_error": "Operational..."}
    log.flush_spool()         # replays the spool in order; the number of records replayed
    log.keep(record)          # a copy in the spool while record_turn still waits on the database

A customer is never kept waiting on the log's database: when a write fails, the turn goes to a
local SQLite file (synchronous=FULL: on disk before record_turn returns), the failure is logged as
``storage.spooled``, and for ``retry_after_s`` later turns go straight to the spool. The next turn
after that tries the database again, replaying the spool first, so turns reach the database in
the order they happened. A replay never stores a turn twice: every record carries a uuid that the
``turns`` table keeps unique (a crash between the database's commit and the spool's delete only
means the next replay skips that record).

The spool holds records as they are stored (sender hashed, text masked), never raw personal data;
``erase_sender`` clears a sender's spooled records too. One process (the action server) records
into a spool file; ``logs flush`` and ``logs erase`` may change it beside it (SQLite locks).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from bot.storage.log import ConversationLog, PreparedTurn, TurnRecord

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order records are replayed in
    record_id TEXT NOT NULL UNIQUE,
    sender_hash TEXT NOT NULL,
    spooled_at TEXT NOT NULL,
    payload TEXT NOT NULL                 -- PreparedTurn.to_json()
)
"""


def _describe(error: BaseException) -> str:
    """The error in one line, for logs and health; engines hide parameters, so no customer text."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:300]}"


class Spool:
    """Prepared turns waiting for the database, in a local SQLite file, oldest first."""

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=10)
        connection.execute("PRAGMA synchronous = FULL")
        return connection

    def append(self, turn: PreparedTurn) -> None:
        connection = self._connect()
        try:
            with connection:  # commits (and syncs) before returning
                connection.execute(
                    "INSERT OR IGNORE INTO spool (record_id, sender_hash, spooled_at, payload) "
                    "VALUES (?, ?, ?, ?)",
                    (turn.record_id, turn.sender_hash,
                     datetime.now(timezone.utc).isoformat(), turn.to_json()),
                )
        finally:
            connection.close()

    def count(self) -> int:
        connection = self._connect()
        try:
            return connection.execute("SELECT COUNT(*) FROM spool").fetchone()[0]
        finally:
            connection.close()

    def oldest(self, limit: int = 100) -> List[Tuple[int, PreparedTurn]]:
        connection = self._connect()
        try:
            rows = connection.execute(
                "SELECT id, payload FROM spool ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        finally:
            connection.close()
        return [(row_id, PreparedTurn.from_json(payload)) for row_id, payload in rows]

    def remove(self, row_id: int) -> None:
        connection = self._connect()
        try:
            with connection:
                connection.execute("DELETE FROM spool WHERE id = ?", (row_id,))
        finally:
            connection.close()

    def erase_sender_hash(self, sender_hash: str) -> int:
        connection = self._connect()
        try:
            with connection:
                return connection.execute(
                    "DELETE FROM spool WHERE sender_hash = ?", (sender_hash,)
                ).rowcount
        finally:
            connection.close()


class DurableLog:
    """A ConversationLog that never raises into a conversation when its database fails.

    Records that cannot be stored as they are (a bad draft status, say) still raise ValueError
    from ``record_turn``: spooling them would only fail again later. What waits is counted in the
    spool file itself, so ``logs erase`` and ``logs flush`` run beside the server stay accounted.
    """

    def __init__(
        self,
        log: ConversationLog,
        spool_path: Union[str, Path],
        retry_after_s: float = 5.0,
    ) -> None:
        if not log.can_hash:
            raise ValueError("DurableLog needs a ConversationLog built with a salt")
        self.log = log
        self.spool = Spool(spool_path)
        self.retry_after_s = retry_after_s
        self._lock = threading.Lock()  # one database write or replay at a time, in order
        self._last_error: Optional[str] = None
        self._retry_at = 0.0
        pending = self.spool.count()
        if pending:
            logger.warning("storage.spool_pending count=%d path=%s", pending, self.spool.path)

    def record_turn(self, record: TurnRecord) -> Optional[int]:
        """Stores the turn; its id, or None when it was spooled for later."""
        prepared = self.log.prepare(record)
        with self._lock:
            if time.monotonic() >= self._retry_at:
                pending = self.spool.count()
                if pending:
                    self._flush_locked()
                    pending = self.spool.count()
                if not pending:
                    try:
                        turn_id = self.log.write(prepared)
                        self._last_error = None
                        return turn_id
                    except Exception as e:  # the database, whatever its failure: spool
                        self._failed(e)
            self._spool(prepared)
            return None

    def keep(self, record: TurnRecord) -> None:
        """Spools a copy of a turn whose ``record_turn`` is still waiting on the database, so that
        the reply need not wait for it. Whichever copy arrives first, the turn is stored once: a
        replay skips a record the database already has."""
        prepared = self.log.prepare(record)
        self._spool(prepared, event="storage.kept")

    def _failed(self, error: BaseException) -> None:
        self._last_error = _describe(error)
        self._retry_at = time.monotonic() + self.retry_after_s

    def _spool(self, prepared: PreparedTurn, event: str = "storage.spooled") -> None:
        try:
            self.spool.append(prepared)
        except Exception as e:
            self._last_error = f"spool failed too: {_describe(e)}"
            logger.critical(
                "storage.lost record_id=%s spool=%s error=%s",
                prepared.record_id, self.spool.path, _describe(e),
            )
            return
        logger.error(
            "%s record_id=%s error=%s", event, prepared.record_id, self._last_error
        )

    def flush_spool(self) -> int:
        """Replays spooled records into the database, oldest first, until done or a failure;
        the number replayed. Records already in the database are skipped, not duplicated."""
        with self._lock:
            return self._flush_locked()

    def _flush_locked(self) -> int:
        replayed = 0
        try:
            while True:
                batch = self.spool.oldest(100)
                if not batch:
                    break
                for row_id, prepared in batch:
                    self.log.write(prepared)
                    self.spool.remove(row_id)
                    replayed += 1
        except Exception as e:
            self._failed(e)
            logger.error("storage.flush_failed replayed=%d error=%s", replayed, self._last_error)
        left = self.spool.count()
        if replayed:
            logger.info("storage.flushed replayed=%d left=%d", replayed, left)
        if not left:
            self._last_error = None
        return replayed

    def erase_sender(self, sender_id: str) -> Dict[str, int]:
        """Deletes the sender from the database and from the spool; the number per table."""
        sender_hash = self.log.sender_hash(sender_id)
        with self._lock:
            spooled = self.spool.erase_sender_hash(sender_hash)
        counts = self.log.erase_sender_hash(sender_hash)
        counts["spool"] = spooled
        return counts

    def health(self) -> Dict[str, Any]:
        """ok: the last write reached the database and nothing waits in the spool."""
        pending = self.spool.count()
        return {
            "ok": self._last_error is None and pending == 0,
            "spooled_count": pending,
            "last_error": self._last_error,
        }
