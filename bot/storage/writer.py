"""Writing the conversation log from the action server's event loop, within the reply's deadline.

    writer = open_writer(get_settings())   # once per process (bot/services.py)
    await writer.record(turn)               # committed, or safe in the spool, when it returns
    writer.health()                         # {"ok": ..., "spooled_count": ..., "last_error": ...}
    await writer.flush()                    # replays the spool (the action server, every few s)

An action awaits ``record`` before it returns its reply, so a reply never reaches the customer
before its turn is stored. The database work runs in one thread of its own, in the order the
turns came: a slow or hung database then holds up only the log, never the knowledge-base search,
which runs in the default pool. If the write has not finished after ``deadline_s``, a copy of
the turn goes to the local spool (DurableLog.keep) and the reply goes out; the write finishes
in the background and a replay skips whichever copy comes second. A database that fails instead
of hanging spools at once (DurableLog.record_turn). Only a record that could never be stored (a
bad draft status, an intent name too long) is dropped, with an error in the log.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import TYPE_CHECKING, Any, Dict, Optional

from bot.storage.db import make_engine, safe_url, session_factory
from bot.storage.log import ConversationLog, TurnRecord
from bot.storage.spool import DurableLog

if TYPE_CHECKING:
    from bot.settings import Settings

logger = logging.getLogger(__name__)

SPOOL_FILE = "conversations.spool.db"


class TurnWriter:
    """Records turns from async code: in the log's own thread, never longer than ``deadline_s``."""

    def __init__(self, log: DurableLog, deadline_s: float) -> None:
        self.log = log
        self.deadline_s = deadline_s
        self._thread = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="conversation-log"
        )

    async def record(self, record: TurnRecord) -> Optional[int]:
        """Stores the turn; its id, or None when it went to the spool or could not be stored.
        Never raises: a conversation must not fail because of its log."""
        write = asyncio.wrap_future(self._thread.submit(self.log.record_turn, record))
        try:
            return await asyncio.wait_for(asyncio.shield(write), self.deadline_s)
        except asyncio.TimeoutError:
            logger.error(
                "storage.slow_write deadline_s=%s record_id=%s", self.deadline_s, record.record_id
            )
            write.add_done_callback(_report_late_failure)
        except ValueError as e:
            logger.error("storage.bad_record record_id=%s error=%s", record.record_id, e)
            return None
        except Exception:
            logger.exception("storage.write_failed record_id=%s", record.record_id)
            return None
        try:
            await asyncio.to_thread(self.log.keep, record)
        except Exception:
            logger.exception("storage.keep_failed record_id=%s", record.record_id)
        return None

    async def flush(self) -> int:
        """Replays the spool in the log's thread, after any write already waiting there."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self.log.flush_spool)

    async def health(self) -> Dict[str, Any]:
        return await asyncio.to_thread(self.log.health)


def _report_late_failure(write: "asyncio.Future[Optional[int]]") -> None:
    """A write that failed after its turn's reply had gone (the turn was kept in the spool)."""
    if not write.cancelled() and write.exception() is not None:
        logger.error("storage.late_write_failed error=%r", write.exception())


def open_writer(settings: "Settings") -> TurnWriter:
    """The writer for the log at ``settings.log_url``, with its spool under ``settings.var_dir``.
    Connects to nothing yet; the schema is brought up to date by the action server's start."""
    engine = make_engine(settings.log_url)
    log = ConversationLog(
        session_factory(engine), salt=settings.sender_salt(), mask=settings.log_mask_pii
    )
    durable = DurableLog(log, settings.var_dir / SPOOL_FILE)
    logger.info(
        "storage.opened url=%s spool=%s mask_pii=%s deadline_s=%s",
        safe_url(settings.log_url), durable.spool.path, settings.log_mask_pii,
        settings.log_deadline_s,
    )
    return TurnWriter(durable, settings.log_deadline_s)
