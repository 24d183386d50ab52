"""`python -m bot logs ...`: what an operator types and what they see."""

from __future__ import annotations

import argparse
import csv
import json

import pytest
import sqlalchemy as sa

from bot.settings import Settings
from bot.storage import logs_cli
from bot.storage.db import session_factory
from bot.storage.log import ConversationLog, RetrievalRecord
from bot.storage.logs_cli import add_logs_commands
from tests.unit.storage_helpers import SALT, count, dump, load_dataset, turn


def bot(*argv: str) -> int:
    """Runs `python -m bot logs ...` as bot/cli.py would, with this parser."""
    parser = argparse.ArgumentParser(prog="python -m bot")
    add_logs_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["logs", *argv])
    return args.func(args)


@pytest.mark.parametrize("command", ["tail", "export", "stats", "erase", "flush", "migrate"])
def test_every_command_has_help_with_an_example(command, capsys):
    with pytest.raises(SystemExit):
        bot(command, "--help")
    out = capsys.readouterr().out
    assert "Example: python -m bot logs " + command in out
    assert "--db-url" in out


def test_migrate_then_tail(db_url, engines, capsys):
    assert bot("migrate", "--db-url", db_url) == 0
    assert "revision 0005" in capsys.readouterr().out
    log = ConversationLog(session_factory(engines(db_url)), salt=SALT)
    log.record_turn(turn("alice", "where is my order #482913", "track_order", 0,
                         confidence=0.91, bot_reply="Let me help with order #482913.",
                         latency_ms=120,
                         retrievals=[RetrievalRecord("track-order", "p1", 0.8, 1),
                                     RetrievalRecord("track-order", "p2", 0.7, 2),
                                     RetrievalRecord("delivery-times", "p1", 0.6, 3)]))
    log.record_turn(turn("alice", "my card is 4111 1111 1111 1111", "payment_issue", 1,
                         answered=False, bot_reply="I couldn't find that."))

    assert bot("tail", "-n", "5", "--db-url", db_url) == 0
    out = capsys.readouterr().out
    assert "track_order 0.91  120 ms  articles track-order, delivery-times  draft -" in out
    assert "customer: where is my order #482913" in out
    assert "customer: my card is [card]" in out
    assert "no-answer" in out


def test_reading_a_log_that_does_not_exist_says_how_to_create_it(tmp_path, capsys):
    assert bot("tail", "--db-url", f"sqlite:///{tmp_path / 'none.db'}") == 1
    assert "no conversation log at" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


def test_export_to_a_file(log, migrated_url, tmp_path, capsys):
    load_dataset(log)
    out = tmp_path / "november.csv"
    assert bot("export", "--since", "2026-11-01T09:00Z", "--format", "csv", "--out", str(out),
               "--db-url", migrated_url) == 0
    assert "8 turns exported" in capsys.readouterr().err
    with out.open(newline="") as f:
        assert len(list(csv.DictReader(f))) == 8

    assert bot("export", "--since", "2026-11-01", "--format", "jsonl",
               "--db-url", migrated_url) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 8 and json.loads(lines[0])["channel"] == "socketio"


def test_stats_as_a_table_and_as_json(log, migrated_url, capsys):
    load_dataset(log)
    assert bot("stats", "--since", "2026-11-01T09:00:00+00:00", "--json",
               "--db-url", migrated_url) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["turns"], stats["containment"], stats["latency_ms"]["p95"]) == (8, 0.25, 700)

    assert bot("stats", "--db-url", migrated_url) == 0
    out = capsys.readouterr().out
    assert "9 turns in 4 conversations" in out
    assert "channel socketio" in out and "intent nlu_fallback" in out


def test_erase_removes_the_sender_from_the_log_the_spool_and_the_tracker(
    log, engine, migrated_url, tmp_path, capsys
):
    from bot.storage.spool import Spool

    tracker = tmp_path / "tracker.db"
    tracker_engine = sa.create_engine(f"sqlite:///{tracker}")
    with tracker_engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), data TEXT)")
        connection.exec_driver_sql(
            "INSERT INTO events (sender_id, data) "
            "VALUES ('alice', '{}'), ('alice', '{}'), ('bob', '{}')")
    log.record_turn(turn("alice", "hi", "greet", 0))
    log.record_turn(turn("bob", "hi", "greet", 0))
    spool = tmp_path / "spool.db"
    Spool(spool).append(log.prepare(turn("alice", "still here?", "greet", 1)))

    assert bot("erase", "--sender", "alice", "--salt", SALT,
               "--tracker-url", f"sqlite:///{tracker}",
               "--spool", str(spool), "--db-url", migrated_url) == 0
    out = capsys.readouterr().out
    assert "turns                         1 rows deleted" in out
    assert "events (tracker store)        2 rows deleted" in out
    assert "spool                         1 rows deleted" in out
    assert count(engine, "turns") == 1
    with tracker_engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT sender_id FROM events").scalars().all() == ["bob"]
    tracker_engine.dispose()


def test_erase_without_the_salt_refuses(migrated_url, tmp_path, monkeypatch, capsys):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path)})  # no BOT_LOG_SALT, no file
    monkeypatch.setattr(logs_cli, "get_settings", lambda: settings)
    assert bot("erase", "--sender", "alice", "--db-url", migrated_url) == 1
    assert "BOT_LOG_SALT is not set" in capsys.readouterr().err
    assert not (tmp_path / "log_salt").exists()  # a new salt would find nothing to erase


def test_the_defaults_are_the_bots_settings(
    log, engine, migrated_url, tmp_path, monkeypatch, capsys
):
    # What the action server writes (BOT_LOG_URL, the salt, the spool, Rasa's tracker) is what
    # `logs erase --sender` finds with no other option.
    tracker = tmp_path / "tracker.db"
    tracker_engine = sa.create_engine(f"sqlite:///{tracker}")
    with tracker_engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT)")
        connection.exec_driver_sql("INSERT INTO events (sender_id) VALUES ('alice'), ('bob')")
    tracker_engine.dispose()
    settings = Settings.from_env({
        "BOT_VAR_DIR": str(tmp_path), "BOT_LOG_URL": migrated_url, "BOT_LOG_SALT": SALT,
        "BOT_TRACKER_URL": f"sqlite:///{tracker}",
    })
    monkeypatch.setattr(logs_cli, "get_settings", lambda: settings)
    log.record_turn(turn("alice", "hi", "greet", 0))

    assert bot("erase", "--sender", "alice") == 0
    out = capsys.readouterr().out
    assert "turns                         1 rows deleted" in out
    assert "events (tracker store)        1 rows deleted" in out
    assert count(engine, "turns") == 0


def test_flush_replays_the_spool(log, engine, migrated_url, tmp_path, capsys):
    from bot.storage.spool import Spool

    spool = Spool(tmp_path / "spool.db")
    for minute in range(3):
        spool.append(log.prepare(turn("gina", f"message {minute}", "greet", minute)))
    assert bot("flush", "--spool", str(spool.path), "--db-url", migrated_url) == 0
    assert "3 spooled turns replayed" in capsys.readouterr().out
    assert count(engine, "turns") == 3 and spool.count() == 0
    assert [r["seq"] for r in sorted(dump(engine, "turns"), key=lambda r: r["id"])] == [1, 2, 3]
