"""Helpers of the conversation-log tests: a turn at a fixed time, row counts and dumps, and a
small known dataset. The databases themselves are fixtures in conftest.py."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from bot.storage.log import DraftRecord, RetrievalRecord, TurnRecord

SALT = "test-salt-not-secret"
LOG_TABLES = {"conversations", "turns", "retrievals", "drafts", "feedback", "order_actions",
              "transcript", "handoffs", "agent_messages"}
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
POSTGRES_URL = os.environ.get("BOT_TEST_POSTGRES_URL")


def turn(sender, text, intent, minutes, channel="rest", **kwargs):
    """A turn at T0 + minutes."""
    return TurnRecord(
        channel=channel, sender_id=sender, user_text=text, intent=intent,
        created_at=T0 + timedelta(minutes=minutes), **kwargs,
    )


def count(engine, table):
    with engine.connect() as connection:
        return connection.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


def dump(engine, table):
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(sa.text(f"SELECT * FROM {table}"))]



def load_dataset(log):
    """Nine turns in four conversations; the figures the tests expect are worked out in comments."""
    fallback_draft = DraftRecord("run-1", "d" * 64, "...", "fallback")
    records = [
        # dave, the day before T0: outside `since=T0`
        turn("dave", "where is order #100200", "track_order", -24 * 60, latency_ms=5000),
        # alice on the web widget: answered, then asks for a person (a hand-off by intent)
        turn("alice", "where is my order #482913", "track_order", 0, channel="socketio",
             latency_ms=100, retrievals=[RetrievalRecord("track-order", "track-order#1", 0.81, 1)]),
        turn("alice", "let me talk to a human", "contact_human_agent", 1, channel="socketio",
             latency_ms=200),
        # bob on REST: the draft fell back, then the classifier was unsure, then "yes" = hand-off
        turn("bob", "i want my money back", "get_refund", 2, latency_ms=300, draft=fallback_draft),
        turn("bob", "blorp the flux", "nlu_fallback", 3, latency_ms=400, answered=False),
        turn("bob", "yes", "affirm", 4, latency_ms=250, handoff=True),
        # carol on REST: out of scope, a question the articles cannot answer, then hello
        turn("carol", "what's the weather", "out_of_scope", 5, latency_ms=500, answered=False),
        turn("carol", "=HYPERLINK(\"http://x\") order status", "track_order", 6, latency_ms=600,
             answered=False),
        turn("carol", "hello", "greet", 7, latency_ms=700),
    ]
    for record in records:
        log.record_turn(record)
    return records
