"""The conversation log (bot/storage/): migrations, what record_turn stores, erase, tail, export,
stats.

Every test runs on a temporary SQLite file, and again on PostgreSQL when BOT_TEST_POSTGRES_URL
is set (postgresql://user:password@host:5432/db, psycopg installed); each PostgreSQL test gets
a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.settings import ROOT
from bot.storage import migrate
from bot.storage.db import make_engine, normalize_url, session_factory
from bot.storage.log import (
    ConversationLog,
    DraftRecord,
    OrderActionRecord,
    RetrievalRecord,
    erase_tracker_events,
    percentile,
)
from bot.storage.models import AgentMessage, Base, Conversation, Handoff, TranscriptLine
from bot.storage.privacy import hash_sender
from tests.unit.storage_helpers import LOG_TABLES, SALT, T0, count, dump, load_dataset, turn

# --- engine and migrations --------------------------------------------------------------------


def test_sqlite_gets_wal_foreign_keys_and_busy_timeout(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as connection:
            def pragma(name):
                return connection.exec_driver_sql(f"PRAGMA {name}").scalar()

            assert pragma("journal_mode") == "wal"
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 5000
    finally:
        engine.dispose()


def test_postgres_urls_mean_psycopg():
    assert normalize_url("postgresql://u:p@db:5432/larkspur").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg2://u@db/x").drivername == "postgresql+psycopg2"
    assert normalize_url("sqlite:///var/x.db").drivername == "sqlite"


def test_importing_the_storage_modules_loads_no_driver_and_no_alembic():
    code = (
        "import sys, bot.storage.db, bot.storage.log, bot.storage.spool, bot.storage.migrate, "
        "bot.storage.logs_cli; print(sorted(m for m in ('alembic', 'psycopg', 'psycopg2') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_migrations_go_up_and_down_and_agree_with_the_models(db_url, engines):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    assert migrate.current(db_url) is None
    migrate.upgrade(db_url)
    assert migrate.current(db_url) == migrate.head()
    engine = engines(db_url)
    with engine.connect() as connection:
        assert LOG_TABLES <= set(sa.inspect(connection).get_table_names())
        context = MigrationContext.configure(
            connection, opts={"version_table": migrate.VERSION_TABLE, "compare_type": True}
        )
        assert compare_metadata(context, Base.metadata) == []

    migrate.downgrade(db_url, "base")
    assert migrate.current(db_url) is None
    with engine.connect() as connection:
        assert not LOG_TABLES & set(sa.inspect(connection).get_table_names())

    migrate.upgrade(db_url)  # and up again on the same database
    assert migrate.current(db_url) == migrate.head()


# --- record_turn ------------------------------------------------------------------------------


def test_record_turn_writes_conversation_turn_retrievals_and_draft(log, migrated_url, engines):
    turn_id = log.record_turn(turn(
        "alice", "where is my order #482913? mail me at alice@example.com", "track_order", 0,
        confidence=0.93,
        entities=[{"entity": "order_number", "value": "482913"},
                  {"entity": "email", "value": "alice@example.com"}],
        bot_reply="Let me help with order #482913.",
        latency_ms=120,
        retrievals=[RetrievalRecord("track-order", "track-order#1", 0.71, 1),
                    RetrievalRecord("shipping", "shipping#3", 0.52, 2)],
        draft=DraftRecord("smollm2-run-3", "ab" * 32, "Your order #482913 is on its way.", "sent",
                          latency_ms=800, prompt_tokens=412, new_tokens=23),
    ))

    # Committed: a connection of its own sees every row.
    other = engines(migrated_url)
    [conversation] = dump(other, "conversations")
    [stored] = dump(other, "turns")
    assert conversation["channel"] == "rest"
    assert conversation["sender_hash"] == hash_sender("alice", SALT)
    assert stored["id"] == turn_id and stored["seq"] == 1
    assert stored["intent"] == "track_order" and stored["confidence"] == pytest.approx(0.93)
    assert stored["user_text"] == "where is my order #482913? mail me at [email]"
    entities = stored["entities"]
    entities = json.loads(entities) if isinstance(entities, str) else entities
    assert entities == [{"entity": "order_number", "value": "482913"},
                        {"entity": "email", "value": "[email]"}]
    retrievals = sorted(dump(other, "retrievals"), key=lambda r: r["rank"])
    assert [(r["turn_id"], r["article_id"], r["rank"]) for r in retrievals] == [
        (turn_id, "track-order", 1), (turn_id, "shipping", 2)]
    [draft] = dump(other, "drafts")
    assert (draft["turn_id"], draft["status"], draft["new_tokens"]) == (turn_id, "sent", 23)
    assert "alice" not in json.dumps([conversation, stored], default=str)


def test_turns_are_numbered_in_order_within_a_conversation(log, engine):
    for minute, text in enumerate(["hi", "where is my order", "thanks"]):
        log.record_turn(turn("alice", text, "greet", minute))
    log.record_turn(turn("alice", "hello from the widget", "greet", 3, channel="socketio"))
    log.record_turn(turn("bob", "hi", "greet", 3))
    log.record_turn(turn("alice", "back after lunch", "greet", 2 + 61))  # past the 60-minute gap

    rows = sorted(dump(engine, "turns"), key=lambda r: r["id"])
    conversations = [r["conversation_id"] for r in rows]
    assert [r["seq"] for r in rows] == [1, 2, 3, 1, 1, 1]
    assert conversations[0] == conversations[1] == conversations[2]
    assert len(set(conversations)) == 4  # alice/rest, alice/socketio, bob, alice/rest again
    with session_factory(engine)() as session:
        first = session.get(Conversation, conversations[0])
        assert (first.started_at, first.last_active_at) == (T0, T0 + timedelta(minutes=2))


def test_a_failing_turn_leaves_nothing_behind(log, engine):
    """One transaction: a retrieval breaks a constraint, so not even the conversation stays."""
    with pytest.raises(IntegrityError):
        log.record_turn(turn(
            "alice", "where is my refund", "track_refund", 0,
            retrievals=[RetrievalRecord("refunds", "refunds#1", 0.8, 1),
                        RetrievalRecord("refunds", "refunds#2", 0.7, 1)],  # the same rank twice
        ))
    assert {table: count(engine, table) for table in LOG_TABLES} == dict.fromkeys(LOG_TABLES, 0)


def test_the_same_record_twice_is_stored_once(log, engine):
    record = turn("alice", "hi", "greet", 0)
    assert log.record_turn(record) == log.record_turn(record)
    assert count(engine, "turns") == 1


def test_concurrent_turns_of_one_sender_get_distinct_consecutive_seq(log, engine):
    log.record_turn(turn("alice", "hi", "greet", 0))
    errors = []

    def write(i):
        try:
            log.record_turn(turn("alice", f"message {i}", "track_order", 1))
        except Exception as e:  # pragma: no cover - shown by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r["seq"] for r in dump(engine, "turns")) == list(range(1, 10))


def test_bad_records_are_refused_before_the_database(log, engine):
    with pytest.raises(ValueError, match="draft status"):
        log.record_turn(turn("alice", "hi", "greet", 0,
                             draft=DraftRecord("run", "h", "text", "maybe")))
    with pytest.raises(ValueError, match="salt"):
        ConversationLog(session_factory(engine), salt="")
    with pytest.raises(RuntimeError, match="salt"):
        ConversationLog(session_factory(engine), salt=None).record_turn(turn("a", "hi", "greet", 0))
    assert count(engine, "turns") == 0


def test_masking_can_be_turned_off_but_senders_are_always_hashed(engine):
    log = ConversationLog(session_factory(engine), salt=SALT, mask=False)
    log.record_turn(turn("alice", "mail me at alice@example.com", "greet", 0))
    [stored] = dump(engine, "turns")
    assert stored["user_text"] == "mail me at alice@example.com"
    assert dump(engine, "conversations")[0]["sender_hash"] == hash_sender("alice", SALT)


# --- erase ------------------------------------------------------------------------------------


def test_erase_leaves_nothing_of_the_sender_in_any_table(log, engine, migrated_url):
    events = sa.Table(
        "events", sa.MetaData(),  # stands for Rasa's tracker store, which keeps raw sender ids
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sender_id", sa.String(255), index=True),
        sa.Column("type_name", sa.String(255)),
        sa.Column("data", sa.Text),
    )
    events.create(engine)
    marker = "parcel to Alder Street"
    for sender, text in (("alice-7731", f"my {marker}"), ("bob-1184", "my parcel to Birch Road")):
        first = log.record_turn(turn(
            sender, text, "track_order", 0,
            retrievals=[RetrievalRecord("track-order", "track-order#1", 0.7, 1)],
            draft=DraftRecord("run-1", "c" * 64, f"About your {text}", "rejected", "unsupported"),
            order_actions=[OrderActionRecord("482913", "track", "done", latency_ms=40)],
        ))
        second = log.record_turn(turn(sender, "thanks", "thank_you", 1))
        log.add_feedback(turn_id=first, rating=1)
        with engine.connect() as connection:
            draft_id = connection.execute(
                sa.text("SELECT id FROM drafts WHERE turn_id = :t"), {"t": first}).scalar_one()
        log.add_feedback(draft_id=draft_id, rating=-1, edited_text=f"Corrected: your {text}")
        log.add_feedback(turn_id=second, rating=1)
        # What the desk keeps of a hand-over: the transcript, the handoff, an agent's reply.
        with Session(engine) as session, session.begin():
            session.add(TranscriptLine(channel="rest", sender_hash=hash_sender(sender, SALT),
                                       role="customer", text=text))
            handoff = Handoff(channel="rest", sender_id=sender, sender_hash=hash_sender(sender, SALT),
                              reason="asked", summary=f"asked for a person: {text}")
            session.add(handoff)
            session.flush()
            session.add(AgentMessage(handoff_id=handoff.id, sent_text=f"About your {text}",
                                     used="own"))
        with engine.begin() as connection:
            connection.execute(events.insert(), [
                {"sender_id": sender, "type_name": "user", "data": json.dumps({"text": text})},
                {"sender_id": sender, "type_name": "bot", "data": "{}"},
            ])

    counts = log.erase_sender("alice-7731")
    counts["events"] = erase_tracker_events(migrated_url, "alice-7731")

    assert counts == {"feedback": 3, "drafts": 1, "retrievals": 1, "turns": 2, "conversations": 1,
                      "order_actions": 1, "events": 2, "transcript": 1, "handoffs": 1,
                      "agent_messages": 1}
    alice_hash = hash_sender("alice-7731", SALT)
    for table in LOG_TABLES | {"events"}:
        text = json.dumps(dump(engine, table), default=str)
        for trace in ("alice-7731", alice_hash, "Alder Street"):
            assert trace not in text, f"{trace!r} is still in {table}"
    # Bob is untouched.
    assert {t: count(engine, t) for t in LOG_TABLES | {"events"}} == {
        "conversations": 1, "turns": 2, "retrievals": 1, "drafts": 1, "feedback": 3,
        "order_actions": 1, "events": 2, "transcript": 1, "handoffs": 1, "agent_messages": 1}


def test_erasing_an_unknown_sender_or_a_tracker_without_events_deletes_nothing(log, migrated_url):
    assert log.erase_sender("nobody") == dict.fromkeys(
        ["order_actions", "feedback", "drafts", "retrievals", "turns", "conversations",
         "transcript", "agent_messages", "handoffs"], 0)
    assert erase_tracker_events(migrated_url, "nobody") == 0  # no events table there


# --- tail, export, stats on a known dataset ---------------------------------------------------


def test_stats_on_a_known_dataset(log):
    load_dataset(log)

    everything = log.stats()
    assert everything["turns"] == 9 and everything["conversations"] == 4
    # contained: alice's first, carol's hello, dave's: 3 of 9
    assert everything["containment"] == pytest.approx(3 / 9, abs=1e-4)
    # alice and bob were handed off; carol and dave were not
    assert everything["conversation_containment"] == 0.5
    # nlu_fallback, out_of_scope
    assert everything["fallback_rate"] == pytest.approx(2 / 9, abs=1e-4)
    assert everything["refusal_rate"] == pytest.approx(3 / 9, abs=1e-4)
    # sorted: 100 200 250 300 400 500 600 700 5000 -> 5th and 9th
    assert everything["latency_ms"] == {"p50": 400, "p95": 5000}

    window = log.stats(since=T0)
    assert window["since"] == "2026-11-01T09:00:00.000Z"
    assert (window["turns"], window["conversations"]) == (8, 3)
    assert window["containment"] == 0.25
    assert window["conversation_containment"] == pytest.approx(1 / 3, abs=1e-4)
    assert window["fallback_rate"] == 0.25
    assert window["refusal_rate"] == 0.375
    assert window["latency_ms"] == {"p50": 300, "p95": 700}

    web, rest = window["by_channel"]["socketio"], window["by_channel"]["rest"]
    assert (web["turns"], web["containment"], web["conversation_containment"]) == (2, 0.5, 0.0)
    assert web["latency_ms"] == {"p50": 100, "p95": 200}
    assert (rest["turns"], rest["conversations"]) == (6, 2)
    assert rest["containment"] == pytest.approx(1 / 6, abs=1e-4)
    assert rest["conversation_containment"] == 0.5
    assert rest["fallback_rate"] == pytest.approx(2 / 6, abs=1e-4)
    assert rest["refusal_rate"] == 0.5
    assert rest["latency_ms"] == {"p50": 400, "p95": 700}

    intents = window["by_intent"]
    assert set(intents) == {"track_order", "contact_human_agent", "get_refund", "nlu_fallback",
                            "affirm", "out_of_scope", "greet"}
    assert (intents["track_order"]["turns"], intents["track_order"]["containment"],
            intents["track_order"]["refusal_rate"]) == (2, 0.5, 0.5)
    assert intents["contact_human_agent"]["containment"] == 0.0
    assert intents["get_refund"]["containment"] == 0.0  # its draft fell back
    assert intents["nlu_fallback"]["fallback_rate"] == 1.0
    assert intents["greet"]["containment"] == 1.0
    assert "conversation_containment" not in intents["greet"]


def test_stats_of_an_empty_log_say_there_is_nothing(log):
    stats = log.stats()
    assert stats["turns"] == 0
    assert stats["containment"] is None and stats["latency_ms"] == {"p50": None, "p95": None}
    assert stats["by_channel"] == {} and stats["by_intent"] == {}


def test_percentile_is_nearest_rank():
    values = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
    assert (percentile(values, 50), percentile(values, 95)) == (500, 1000)
    assert percentile([42], 95) == 42 and percentile([], 50) is None


def test_tail_shows_the_last_turns_oldest_first(log):
    load_dataset(log)
    rows = log.tail(3)
    assert [r["user_text"] for r in rows] == [
        "what's the weather", "=HYPERLINK(\"http://x\") order status", "hello"]
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert rows[0]["answered"] is False and rows[-1]["created_at"] == "2026-11-01T09:07:00.000Z"
    assert log.tail(0) == []


def test_export_csv_and_jsonl_since_a_time(log):
    records = load_dataset(log)
    expected_ids = [r.record_id for r in records[1:]]  # dave's turn is before T0

    out = io.StringIO()
    assert log.export(T0, fmt="csv", out=out) == 8
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["record_id"] for r in rows] == expected_ids
    assert rows[0]["channel"] == "socketio" and rows[0]["intent"] == "track_order"
    assert json.loads(rows[0]["retrievals"])[0]["article_id"] == "track-order"
    assert rows[6]["user_text"].startswith("'=HYPERLINK")  # a spreadsheet shows it, never runs it
    assert all(r["sender_hash"] != "alice" and len(r["sender_hash"]) == 64 for r in rows)

    out = io.StringIO()
    assert log.export(T0, fmt="jsonl", out=out) == 8
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["record_id"] for line in lines] == expected_ids
    assert lines[6]["user_text"].startswith("=HYPERLINK")  # JSON Lines is exact
    assert lines[2]["drafts"][0]["status"] == "fallback"

    empty = io.StringIO()
    assert log.export(T0 + timedelta(days=1), fmt="csv", out=empty) == 0
    assert empty.getvalue().startswith("turn_id,record_id,created_at")
    with pytest.raises(ValueError):
        log.export(T0, fmt="xml", out=io.StringIO())


def test_a_turn_the_customer_saw_an_apology_for_is_not_counted_as_answered(log, engine):
    """The action logged its reply, but the channel timed out and sent its apology instead."""
    log.record_turn(turn("erin", "where is my refund", "track_refund", 0, message_id="m-late"))
    log.record_turn(turn("erin", "thanks", "thank_you", 1, message_id="m-fine"))
    assert log.stats()["containment"] == 1.0
    with Session(engine) as session, session.begin():
        session.add(TranscriptLine(channel="rest", sender_hash=hash_sender("erin", SALT),
                                   role="channel", kind="timeout", text="Sorry, slow",
                                   message_id="m-late"))
    assert log.stats()["containment"] == 0.5


def test_hand_over_figures_wait_and_handle_time(log, engine):
    from datetime import timedelta

    with Session(engine) as session, session.begin():
        for i, (reply_after, ended_after, status) in enumerate(
                [(30, 120, "handed_back"), (90, 600, "closed"), (None, None, "queued")]):
            session.add(Handoff(
                channel="socketio", sender_id=f"s{i}", sender_hash=f"h{i}", reason="asked",
                status=status, queued_at=T0,
                first_reply_at=None if reply_after is None else T0 + timedelta(seconds=reply_after),
                ended_at=None if ended_after is None else T0 + timedelta(seconds=ended_after)))
    figures = log.stats()["handoffs"]
    assert figures["count"] == 3 and figures["waiting_now"] == 1
    assert figures["by_reason"] == {"asked": 3}
    assert figures["first_reply_wait_s"] == {"p50": 30, "p95": 90}  # nearest rank
    assert figures["handle_time_s"] == {"p50": 120, "p95": 600}
