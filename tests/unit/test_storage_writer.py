"""TurnWriter: a turn is committed (or safe in the spool) when `record` returns, and a slow or
failing database never holds a reply past the log's deadline."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time

from bot.settings import Settings
from bot.storage import migrate
from bot.storage.db import session_factory
from bot.storage.log import ConversationLog, DraftRecord, RetrievalRecord
from bot.storage.spool import DurableLog
from bot.storage.writer import TurnWriter, open_writer
from tests.unit.storage_helpers import SALT, count, dump, turn


def writer(engines, url, spool_path, deadline_s=1.0, **engine_kwargs):
    log = ConversationLog(session_factory(engines(url, **engine_kwargs)), salt=SALT)
    return TurnWriter(DurableLog(log, spool_path, retry_after_s=0), deadline_s)


def test_a_turn_is_committed_with_its_retrievals_and_draft_when_record_returns(
    migrated_url, engine, engines, tmp_path
):
    log = writer(engines, migrated_url, tmp_path / "spool.db")
    record = turn(
        "alice", "how long does a refund to PayPal take", "get_refund", 0,
        bot_reply="3–5 business days.",
        retrievals=[RetrievalRecord("refund-times", "refund-times#2", 0.71, 1),
                    RetrievalRecord("return-policy", "return-policy#1", 0.52, 2)],
        draft=DraftRecord("run-7", "a" * 64, "About 3–5 business days.", "sent", latency_ms=900,
                          prompt_tokens=410, new_tokens=12),
    )
    turn_id = asyncio.run(log.record(record))
    # Read through another connection: committed, not just flushed in the writer's session.
    assert [t["id"] for t in dump(engine, "turns")] == [turn_id]
    assert [(r["article_id"], r["rank"]) for r in dump(engine, "retrievals")] == [
        ("refund-times", 1), ("return-policy", 2)]
    (draft,) = dump(engine, "drafts")
    assert (draft["generator_run"], draft["status"], draft["new_tokens"]) == ("run-7", "sent", 12)


def test_a_hung_database_holds_the_reply_no_longer_than_the_deadline_and_loses_nothing(
    tmp_path, engines, caplog
):
    path = tmp_path / "conversations.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    log = writer(engines, url, tmp_path / "spool.db", deadline_s=0.3, busy_timeout_ms=1500)
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    first, second = turn("bob", "hi", "greet", 0), turn("bob", "where is it", "track_order", 1)

    async def two_turns():
        started = time.perf_counter()
        results = [await log.record(first), await log.record(second)]
        return results, time.perf_counter() - started

    with caplog.at_level(logging.ERROR):
        results, seconds = asyncio.run(two_turns())
    assert results == [None, None] and seconds < 1.2  # two deadlines, not two busy timeouts
    assert "storage.slow_write" in caplog.text
    assert log.log.spool.count() == 2  # both kept while their writes still wait
    locker.execute("ROLLBACK")
    locker.close()

    async def replay():
        return await log.flush()

    time.sleep(2)  # the waiting writes give up (busy timeout) or get through
    asyncio.run(replay())
    assert asyncio.run(log.health()) == {"ok": True, "spooled_count": 0, "last_error": None}
    stored = sorted(dump(engines(url), "turns"), key=lambda r: r["seq"])
    assert [r["record_id"] for r in stored] == [first.record_id, second.record_id]


def test_a_record_that_can_never_be_stored_is_dropped_with_an_error_not_raised(
    migrated_url, engine, engines, tmp_path, caplog
):
    log = writer(engines, migrated_url, tmp_path / "spool.db")
    bad = turn("carol", "hi", "greet", 0, draft=DraftRecord("r", "h", "t", "maybe"))
    with caplog.at_level(logging.ERROR):
        assert asyncio.run(log.record(bad)) is None
    assert "storage.bad_record" in caplog.text
    assert count(engine, "turns") == 0 and log.log.spool.count() == 0


def test_open_writer_follows_the_settings(tmp_path, migrated_url, engine):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path), "BOT_LOG_URL": migrated_url,
                                  "BOT_LOG_MASK_PII": "false", "BOT_LOG_DEADLINE_S": "2.5"})
    log = open_writer(settings)
    asyncio.run(log.record(turn("dan", "mail me at dan@example.com", "get_invoice", 0)))
    assert log.deadline_s == 2.5
    assert log.log.spool.path == tmp_path / "conversations.spool.db"
    assert dump(engine, "turns")[0]["user_text"] == "mail me at dan@example.com"
    assert (tmp_path / "log_salt").exists()  # the key senders are hashed with, made once
