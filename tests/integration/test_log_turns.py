"""The conversation log, through both real servers (conftest.py): what a turn leaves in it, erasing
a customer, and a log database that goes away while customers talk."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest
import sqlalchemy

from bot import replies
from bot.settings import ROOT
from bot.storage.privacy import mask_pii
from tests.integration.conftest import _for_sqlalchemy2, tracker_events

pytestmark = pytest.mark.integration

APOLOGIES = {replies.SOMETHING_WRONG, replies.TOO_SLOW}  # the channel's, when the bot failed


def test_a_support_answer_is_logged_with_intent_articles_and_latency(bot):
    sender = f"log-kb-{uuid.uuid4().hex[:8]}"
    texts, elapsed = bot.say(sender, "how long does a refund to PayPal take")
    greeting, _ = bot.say(sender, "hello")

    answer_turn, greeting_turn = bot.logged_turns(sender)  # committed before the replies came
    assert answer_turn["bot_reply"] == mask_pii(texts[0])
    assert answer_turn["user_text"] == "how long does a refund to PayPal take"
    # NLU's verdict as Rasa had it (nlu_fallback when unsure: the knowledge base still answers).
    assert answer_turn["intent"] and answer_turn["confidence"] > 0 and answer_turn["answered"]
    assert 0 <= answer_turn["latency_ms"] <= elapsed * 1000
    retrievals = bot.log_query(
        "SELECT article_id, passage_id, score, rank FROM retrievals WHERE turn_id = :t "
        "ORDER BY rank", t=answer_turn["id"])
    assert [r["rank"] for r in retrievals] == list(range(1, len(retrievals) + 1))
    assert len(retrievals) == bot.settings.kb_top_k
    scores = [r["score"] for r in retrievals]
    assert scores == sorted(scores, reverse=True)
    # The article the reply links is the best passage's.
    assert f"/articles/{retrievals[0]['article_id']}" in texts[0]
    # Drafts: rows only when the generator drafted (none is trained in a fresh checkout); what a
    # draft row holds is checked with a drafted answer in tests/unit/test_action.py.

    assert greeting_turn["seq"] == answer_turn["seq"] + 1
    assert (greeting_turn["intent"], greeting_turn["bot_reply"]) == ("greet", greeting[0])
    (conversation,) = bot.log_query(
        "SELECT channel, sender_hash FROM conversations WHERE id = :c",
        c=greeting_turn["conversation_id"])
    assert conversation["channel"] == "rest" and sender not in conversation["sender_hash"]


def _everything_in(url: str) -> str:
    """Every row of every table of a database, as one text to search (a plain engine: Rasa's
    SQLite file keeps the journal mode Rasa gave it)."""
    engine = sqlalchemy.create_engine(_for_sqlalchemy2(url))
    try:
        with engine.connect() as connection:
            return "\n".join(
                str(row)
                for name in sqlalchemy.inspect(connection).get_table_names()
                for row in connection.execute(sqlalchemy.text(f'SELECT * FROM "{name}"'))
            )
    finally:
        engine.dispose()


def test_erase_leaves_nothing_of_the_sender_in_the_log_the_spool_or_rasas_tracker(bot):
    sender = f"erase-{uuid.uuid4().hex[:8]}"
    other = f"keep-{uuid.uuid4().hex[:8]}"
    for message in ["hi", "my zebra quokka lamp from order #482913 hasn't come",
                    "write to zoe.quokka@example.com", "thanks"]:
        bot.say(sender, message)
    bot.say(other, "hi")
    spool = bot.settings.var_dir / "conversations.spool.db"
    databases = {bot.log_read_url, bot.settings.tracker_url, f"sqlite:///{spool}"}
    traces = (sender, bot.sender_hash(sender), "quokka")
    before = "\n".join(_everything_in(url) for url in databases)
    assert all(trace in before for trace in traces)  # the search below can find them

    env = dict(
        os.environ, BOT_VAR_DIR=str(bot.settings.var_dir), BOT_LOG_URL=bot.log_read_url,
        BOT_TRACKER_URL=bot.settings.tracker_url,
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot", "logs", "erase", "--sender", sender],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    print(f"\n[{bot.db_kind}] logs erase --sender:\n{done.stdout}")
    assert "turns                         4 rows deleted" in done.stdout
    assert "events (tracker store)" in done.stdout

    after = "\n".join(_everything_in(url) for url in databases)
    assert [trace for trace in traces if trace in after] == []
    assert len(bot.logged_turns(other)) == 1 and tracker_events(bot.settings, other)


def test_with_the_log_database_down_customers_get_replies_and_the_turns_arrive_later(bot):
    sender = f"outage-{uuid.uuid4().hex[:8]}"
    messages = ["hi", "where is my order #556677", "thanks"]
    bot.wait_for_log_health(ok=True)
    with bot.log_database_down():
        for message in messages:
            texts, elapsed = bot.say(sender, message)
            assert texts and not APOLOGIES & set(texts)
            assert elapsed < bot.settings.log_deadline_s + 2.0
        deadline = time.monotonic() + 20
        while (health := bot.log_health())[1]["last_error"] is None:
            assert time.monotonic() < deadline, health
            time.sleep(0.25)
        status, body = health
        assert status == 503 and body["ok"] is False and body["spooled_count"] >= 1
        assert bot.logged_turns(sender) == []
    recovered_in = time.monotonic()
    bot.wait_for_log_health(ok=True)
    recovered_in = time.monotonic() - recovered_in
    rows = bot.logged_turns(sender)
    print(f"\n[{bot.db_kind}] log database down: {len(messages)} messages, {len(messages)} replies, "
          f"health {status} {body}; back up: {len(rows)} rows after {recovered_in:.1f} s")
    assert [r["user_text"] for r in rows] == messages
    assert [r["seq"] for r in rows] == [1, 2, 3]
