"""Live-chat hours, what the customer is told, the desk's queue, and when the bot gives up."""

from __future__ import annotations

from datetime import datetime

import pytest

from actions.handoff import misses_in_a_row
from bot.handoff import hours
from bot.handoff.inbox import DeskInbox, HandoffRequest
from bot.storage import migrate
from bot.storage.db import make_engine, session_factory
from bot.storage.models import TranscriptLine
from bot.channels.transcript import TRANSCRIPT


def eastern(*args) -> datetime:
    return datetime(*args, tzinfo=hours.EASTERN)


@pytest.mark.parametrize("when, open_", [
    (eastern(2026, 12, 1, 8, 0), True),      # Tuesday, opening minute
    (eastern(2026, 12, 1, 19, 59), True),
    (eastern(2026, 12, 1, 20, 0), False),    # closing time
    (eastern(2026, 12, 5, 9, 59), False),    # Saturday opens at 10
    (eastern(2026, 12, 5, 10, 0), True),
    (eastern(2026, 12, 6, 16, 0), False),    # Sunday closes at 4 pm
    (eastern(2026, 11, 26, 12, 0), False),   # Thanksgiving 2026
    (eastern(2026, 12, 25, 12, 0), False),   # Christmas
])
def test_live_chat_hours_follow_the_facts(when, open_):
    assert hours.is_open(when) is open_


def test_outside_the_hours_the_customer_learns_when_and_how_a_person_answers():
    friday_night = eastern(2026, 12, 4, 21, 30)
    ticket = hours.ticket_for(7, 1, friday_night, 3.0)
    assert not ticket.open_now and ticket.opens_at == eastern(2026, 12, 5, 10, 0)
    notice = hours.customer_notice(ticket, friday_night)
    assert "opens tomorrow at 10 am ET" in notice
    assert "Leave your message here" in notice and "support@larkspur.example" in notice


def test_in_the_hours_the_customer_learns_their_place_and_wait():
    tuesday = eastern(2026, 12, 1, 11, 0)
    assert "You're next in the queue; the expected wait is about 3 minutes" in (
        hours.customer_notice(hours.ticket_for(1, 1, tuesday, 3.0), tuesday))
    assert "You're number 3 in the queue; the expected wait is about 9 minutes" in (
        hours.customer_notice(hours.ticket_for(1, 3, tuesday, 3.0), tuesday))


@pytest.fixture()
def inbox(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    migrate.upgrade(url)
    return DeskInbox(session_factory(make_engine(url)), "salt", always_open=True)


def test_the_queue_counts_places_and_one_customer_is_queued_once(inbox):
    first = inbox.open(HandoffRequest("socketio", "s-1", "asked", "asked for a person"))
    second = inbox.open(HandoffRequest("slack", "U2", "fallbacks"))
    again = inbox.open(HandoffRequest("socketio", "s-1", "offer"))
    assert (first.position, second.position) == (1, 2)
    assert again.handoff_id == first.handoff_id and again.position == 1
    assert inbox.is_handed_over("socketio", "s-1") and not inbox.is_handed_over("rest", "s-1")


def test_an_unknown_reason_is_refused():
    with pytest.raises(ValueError):
        HandoffRequest("rest", "x", "bored")


def _turn(text, miss=False):
    bot = {"event": "bot", "text": "…", "metadata": {"utter_action": "utter_default"} if miss else {}}
    return [{"event": "user", "text": text}, bot]


def test_misses_in_a_row_count_back_from_the_previous_message():
    current = [{"event": "user", "text": "now"}]
    assert misses_in_a_row(current) == 0
    assert misses_in_a_row(_turn("a", miss=True) + current) == 1
    assert misses_in_a_row(_turn("a", True) + _turn("b", True) + current) == 2
    assert misses_in_a_row(_turn("a", True) + _turn("b") + current) == 0


def test_the_channels_transcript_table_matches_the_model():
    """bot/channels/transcript.py writes with SQLAlchemy Core (Rasa's 1.4) what models.py maps."""
    model = {c.name: (type(c.type).__name__, c.nullable) for c in TranscriptLine.__table__.columns}
    core = {c.name: (type(c.type).__name__, c.nullable) for c in TRANSCRIPT.columns}
    assert core.keys() == model.keys()
    assert {k: v[1] for k, v in core.items()} == {k: v[1] for k, v in model.items()}


def test_the_channels_transcript_writes_in_order_masked_and_never_blocks(tmp_path):
    import asyncio

    from bot.channels.transcript import Transcript
    from bot.storage.privacy import hash_sender

    url = f"sqlite:///{tmp_path / 'log.db'}"
    migrate.upgrade(url)
    transcript = Transcript(url, "salt")

    async def talk():
        await transcript.record("socketio", "s-9", "customer", "mail me: ana@example.com", "m1")
        await transcript.record("socketio", "s-9", "bot", "Sure.", "m1")
        await transcript.record("socketio", "s-9", "channel", "", "m1")  # nothing to record
        await transcript.record("socketio", "s-9", "agent", "Hi, Ana here")

    asyncio.run(talk())
    assert transcript.flush()
    with make_engine(url).connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT sender_hash, role, text, message_id FROM transcript ORDER BY id").all()
    assert [r[1:] for r in rows] == [("customer", "mail me: [email]", "m1"), ("bot", "Sure.", "m1"),
                                     ("agent", "Hi, Ana here", None)]
    assert {r[0] for r in rows} == {hash_sender("s-9", "salt")}


def test_the_summary_names_the_last_question_and_the_bots_answer():
    from rasa_sdk import Tracker

    from actions.handoff import summary

    def user(text, intent):
        return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}

    events = [user("/greet", "greet"), {"event": "bot", "text": "Hi, I'm Larkspur's assistant."},
              user("how long do refunds to ana@example.com take", "track_refund"),
              {"event": "bot", "text": "I couldn't find that in our help centre."},
              user("human please", "contact_human_agent")]
    tracker = Tracker("s", {"order_number": "100003", "order_verified": True}, events[-1]["parse_data"],
                      events, False, None, {}, "action_listen")
    line, details = summary(tracker, "asked")
    assert line == ("asked for a person · last question (track_refund): how long do refunds to "
                    "[email] take · bot answered: I couldn't find that in our help centre. · "
                    "order 100003 (verified)")
    assert details["intents"] == ["greet", "track_refund", "contact_human_agent"]
