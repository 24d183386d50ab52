"""DurableLog: while the log's database is down, turns wait in a local spool; they arrive once,
in order."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sqlalchemy.engine import make_url

from bot.storage.db import session_factory
from bot.storage.log import ConversationLog, DraftRecord
from bot.storage.spool import DurableLog
from tests.unit.storage_helpers import SALT, count, dump, turn


def unreachable(url: str) -> str:
    """The same kind of database, somewhere it cannot be reached."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return "sqlite:////nonexistent-folder-for-the-test/conversations.db"
    return parsed.set(port=1).render_as_string(hide_password=False)  # nothing listens on port 1


def durable(engines, url, spool_path, **engine_kwargs):
    log = ConversationLog(session_factory(engines(url, **engine_kwargs)), salt=SALT)
    return DurableLog(log, spool_path, retry_after_s=0)


def stored_record_ids(engine):
    return [r["record_id"] for r in sorted(dump(engine, "turns"), key=lambda r: r["seq"])]


def test_turns_are_spooled_while_the_database_is_unreachable_and_flushed_once(
    migrated_url, engine, engines, tmp_path, caplog
):
    spool = tmp_path / "spool.db"
    down = durable(engines, unreachable(migrated_url), spool)
    records = [
        turn("alice", "where is my order #482913? I'm alice@example.com", "track_order", 0),
        turn("alice", "and my refund", "track_refund", 1),
        turn("alice", "thanks", "thank_you", 2),
    ]
    with caplog.at_level(logging.ERROR, logger="bot.storage.spool"):
        assert [down.record_turn(r) for r in records] == [None, None, None]

    health = down.health()
    assert health["ok"] is False and health["spooled_count"] == 3
    assert health["last_error"].startswith("OperationalError")
    assert sum("storage.spooled" in m for m in caplog.messages) == 3
    # What waits on disk is what would be stored: sender hashed, e-mail masked.
    raw = spool.read_bytes()
    assert b"alice@example.com" not in raw and b'"alice"' not in raw

    # The database is back (a restart with the right URL): the spool is replayed, once.
    up = durable(engines, migrated_url, spool)
    assert up.health() == {"ok": False, "spooled_count": 3, "last_error": None}
    assert up.flush_spool() == 3
    assert up.flush_spool() == 0
    assert up.health() == {"ok": True, "spooled_count": 0, "last_error": None}
    assert stored_record_ids(engine) == [r.record_id for r in records]
    assert [r["seq"] for r in sorted(dump(engine, "turns"), key=lambda r: r["seq"])] == [1, 2, 3]
    texts = [r["user_text"] for r in dump(engine, "turns")]
    assert "where is my order #482913? I'm [email]" in texts


def test_a_locked_sqlite_file_spools_and_the_next_turn_replays_in_order(tmp_path, engines):
    from bot.storage import migrate

    path = tmp_path / "conversations.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    log = durable(engines, url, tmp_path / "spool.db", busy_timeout_ms=50)

    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    first = turn("bob", "hi", "greet", 0)
    second = turn("bob", "where is my parcel", "track_order", 1)
    assert log.record_turn(first) is None and log.record_turn(second) is None
    assert log.health()["ok"] is False and "locked" in log.health()["last_error"]
    locker.execute("ROLLBACK")
    locker.close()

    third = turn("bob", "thanks", "thank_you", 2)
    assert isinstance(log.record_turn(third), int)  # replays the spool first, then writes
    assert log.health() == {"ok": True, "spooled_count": 0, "last_error": None}
    assert stored_record_ids(engines(url)) == [first.record_id, second.record_id, third.record_id]


def test_a_replay_never_duplicates_a_turn_that_already_arrived(
    migrated_url, engine, engines, tmp_path
):
    log = durable(engines, migrated_url, tmp_path / "spool.db")
    record = turn("carol", "hello", "greet", 0)
    prepared = log.log.prepare(record)
    log.log.write(prepared)  # it reached the database...
    log.spool.append(prepared)  # ...and the spool too (a crash before the spool was cleared)
    assert log.flush_spool() == 1
    assert count(engine, "turns") == 1 and log.spool.count() == 0


def test_a_record_that_can_never_be_stored_is_refused_not_spooled(migrated_url, engines, tmp_path):
    log = durable(engines, unreachable(migrated_url), tmp_path / "spool.db")
    with pytest.raises(ValueError):
        log.record_turn(turn("dave", "hi", "greet", 0, draft=DraftRecord("r", "h", "t", "maybe")))
    assert log.health()["spooled_count"] == 0


def test_erase_removes_the_sender_from_the_spool_too(migrated_url, engine, engines, tmp_path):
    spool = tmp_path / "spool.db"
    down = durable(engines, unreachable(migrated_url), spool)
    down.record_turn(turn("erin", "my number is 07700 900123", "greet", 0))
    down.record_turn(turn("frank", "hi", "greet", 0))

    up = durable(engines, migrated_url, spool)
    counts = up.erase_sender("erin")
    assert counts["spool"] == 1 and counts["turns"] == 0
    assert up.flush_spool() == 1  # only frank's turn arrives
    assert count(engine, "turns") == 1


def test_a_kept_copy_and_the_write_that_finishes_later_store_the_turn_once(
    migrated_url, engine, engines, tmp_path
):
    log = durable(engines, migrated_url, tmp_path / "spool.db")
    record = turn("gail", "where is my order #482913", "track_order", 0)
    log.keep(record)  # the reply could not wait for the database any longer...
    assert log.health() == {"ok": False, "spooled_count": 1, "last_error": None}
    log.record_turn(record)  # ...whose write then got through
    assert log.health() == {"ok": True, "spooled_count": 0, "last_error": None}
    assert stored_record_ids(engine) == [record.record_id]


def test_health_counts_what_is_in_the_spool_file_even_when_a_command_changed_it(
    migrated_url, engines, tmp_path
):
    from bot.storage.spool import Spool

    spool = tmp_path / "spool.db"
    down = durable(engines, unreachable(migrated_url), spool)
    down.record_turn(turn("hank", "hi", "greet", 0))
    down.record_turn(turn("ida", "hi", "greet", 0))
    assert down.health()["spooled_count"] == 2
    Spool(spool).erase_sender_hash(down.log.sender_hash("hank"))  # `logs erase` beside it
    assert down.health()["spooled_count"] == 1
