"""Customers' ratings (bot/channels/feedback_store.py) on a real, migrated database: which reply a
rating is about, what is refused, the row stored, and the schema of revision 0005.

SQLite always, PostgreSQL again when BOT_TEST_POSTGRES_URL is set (tests/unit/conftest.py).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.channels.feedback_store import (
    CONVERSATIONS,
    FEEDBACK,
    MAX_COMMENT_CHARS,
    TURNS,
    BadFeedback,
    FeedbackStore,
    UnknownReply,
    parse_web_rating,
)
from bot.channels.transcript import Transcript
from bot.storage import migrate
from bot.storage.models import Conversation, Feedback, Turn
from bot.storage.privacy import hash_sender
from tests.unit.storage_helpers import SALT, count, dump, turn

TRACK = ("To track your parcel, open the link in your shipping e-mail.\n"
         "More in our help centre: Tracking your order - "
         "https://help.larkspur.example/articles/track-your-order")
REFUND = "PayPal: 3–5 business days\n- Cards: 5–10 business days"


@pytest.fixture
def transcript(migrated_url):
    return Transcript(migrated_url, SALT)


@pytest.fixture
def store(engine):
    return FeedbackStore(engine, SALT)


def conversation(transcript, sender, *exchanges, channel="socketio"):
    """Writes what the customer saw: each (message_id, question, replies...) as the channels do."""
    for message_id, question, *replies in exchanges:
        transcript.write(channel, sender, "customer", question, message_id)
        for reply in replies:
            transcript.write(channel, sender, "bot", reply, message_id)


def rows(engine):
    return sorted(dump(engine, "feedback"), key=lambda r: r["id"])


# --- the schema -------------------------------------------------------------------------------


def test_the_channels_feedback_table_matches_the_model():
    """feedback_store.py writes with SQLAlchemy Core (Rasa's 1.4) what models.py maps."""
    def columns(table):
        return {c.name: c.nullable for c in table.columns}

    assert columns(FEEDBACK) == columns(Feedback.__table__)
    assert columns(TURNS).keys() <= columns(Turn.__table__).keys()
    assert columns(CONVERSATIONS).keys() <= columns(Conversation.__table__).keys()


def test_a_rating_may_name_only_a_message_but_must_name_something(engine):
    def insert(**values):
        with engine.begin() as connection:
            connection.execute(FEEDBACK.insert().values(created_at=sa.func.now(), **values))

    insert(message_id="m-1", rating=-1, source="customer")
    with pytest.raises(IntegrityError):
        insert(rating=1, source="customer")  # about nothing
    with pytest.raises(IntegrityError):
        insert(message_id="m-2", rating=1, source="robot")
    assert [(r["message_id"], r["rating"]) for r in rows(engine)] == [("m-1", -1)]


def test_going_back_to_0004_drops_only_the_ratings_it_cannot_hold(migrated_url, engine, log):
    turn_id = log.record_turn(turn("alice", "hi", "greet", 0))
    log.add_feedback(turn_id=turn_id, rating=1)
    with engine.begin() as connection:
        connection.execute(FEEDBACK.insert().values(message_id="m-1", rating=-1,
                                                    source="customer", created_at=sa.func.now()))
    engine.dispose()  # SQLite's batch mode rebuilds the table: no connection may hold it

    migrate.downgrade(migrated_url, "0004")
    assert migrate.current(migrated_url) == "0004"
    assert [(r["turn_id"], r["rating"]) for r in rows(engine)] == [(turn_id, 1)]
    migrate.upgrade(migrated_url)
    assert migrate.current(migrated_url) == "0005"


# --- which reply a rating is about ------------------------------------------------------------


def test_a_thumbs_down_with_a_comment_is_stored_masked_and_tied_to_the_turn(store, transcript, log,
                                                                            engine):
    conversation(transcript, "sess-a", ("m-1", "hello", "Hi! How can I help?"),
                 ("m-2", "how do I track a parcel", TRACK))
    turn_id = log.record_turn(turn("sess-a", "how do I track a parcel", "track_order", 1,
                                   channel="socketio", message_id="m-2"))

    stored = store.rate("socketio", "sess-a", -1, "no tracking link for me, mail ana@example.com",
                        text=TRACK)

    [row] = rows(engine)
    assert (stored.message_id, stored.turn_id, stored.replaced) == ("m-2", turn_id, False)
    assert row["id"] == stored.feedback_id
    assert row["rating"] == -1
    assert row["comment"] == "no tracking link for me, mail [email]"
    assert (row["message_id"], row["turn_id"], row["channel"], row["source"]) == (
        "m-2", turn_id, "socketio", "customer")
    assert row["sender_hash"] == hash_sender("sess-a", SALT)
    assert row["draft_id"] is None and row["edited_text"] is None


def test_a_rating_before_the_turn_is_logged_keeps_the_message_id(store, transcript, engine):
    conversation(transcript, "sess-b", ("m-1", "hello", "Hi! How can I help?"))
    stored = store.rate("socketio", "sess-b", 1, text="Hi! How can I help?")
    assert (stored.message_id, stored.turn_id) == ("m-1", None)
    assert [(r["message_id"], r["turn_id"], r["rating"], r["comment"]) for r in rows(engine)] == [
        ("m-1", None, 1, None)]


def test_rating_the_same_reply_again_replaces_the_rating(store, transcript, engine):
    conversation(transcript, "sess-c", ("m-1", "refund to paypal?", REFUND))
    first = store.rate("socketio", "sess-c", 1, text=REFUND)
    second = store.rate("socketio", "sess-c", -1, "cards take longer than that", text=REFUND)
    third = store.rate("socketio", "sess-c", -1, text=REFUND)  # the thumbs down, without words

    assert (first.replaced, second.replaced, third.replaced) == (False, True, True)
    assert first.feedback_id == second.feedback_id == third.feedback_id
    [row] = rows(engine)
    assert (row["rating"], row["comment"]) == (-1, None)


def test_the_text_as_the_page_shows_it_finds_the_newest_matching_reply(store, transcript):
    conversation(transcript, "sess-d",
                 ("m-1", "refunds?", REFUND),
                 ("m-2", "and to a card?", "Cards: 5–10 business days"),
                 ("m-3", "refunds again?", REFUND))
    # Whitespace differs: the browser folds line breaks.
    assert store.rate("socketio", "sess-d", 1, text="  PayPal: 3–5 business days  - Cards: "
                      "5–10 business days ").message_id == "m-3"
    # Markdown rendered: the "- " bullet is gone from the page's text of it.
    assert store.rate("socketio", "sess-d", 1,
                      text="PayPal: 3–5 business days\nCards: 5–10 business days").message_id == "m-3"
    assert store.rate("socketio", "sess-d", 1, text="Cards: 5–10 business days").message_id == "m-2"


def test_a_reply_that_quoted_personal_data_is_found_by_its_masked_text(store, transcript):
    said = "I've sent the invoice to ana@example.com."
    conversation(transcript, "sess-e", ("m-1", "send my invoice", said))
    assert store.rate("socketio", "sess-e", 1, text=said).message_id == "m-1"


def test_nobody_can_rate_another_customers_reply(store, transcript, engine):
    conversation(transcript, "sess-owner", ("m-1", "refunds?", REFUND))
    conversation(transcript, "U0SLACK", ("m-9", "refunds?", REFUND), channel="slack")

    with pytest.raises(UnknownReply):
        store.rate("socketio", "sess-other", -1, text=REFUND)
    # A Slack user id is no secret: the web page's channel never reaches Slack's lines.
    with pytest.raises(UnknownReply):
        store.rate("socketio", "U0SLACK", -1, text=REFUND)
    # Slack's buttons name the message: only the customer it answered can rate it.
    with pytest.raises(UnknownReply):
        store.rate("slack", "U0OTHER", -1, message_id="m-9")
    assert store.rate("slack", "U0SLACK", -1, message_id="m-9").message_id == "m-9"
    assert [(r["message_id"], r["channel"]) for r in rows(engine)] == [("m-9", "slack")]


def test_only_the_bots_own_replies_can_be_rated(store, transcript, engine):
    transcript.write("socketio", "sess-f", "customer", "where is my order", "m-1")
    transcript.write("socketio", "sess-f", "channel", "Sorry, that took too long.", "m-1",
                     kind="timeout")
    transcript.write("socketio", "sess-f", "agent", "Hi, Ana here")
    for text in ("where is my order", "Sorry, that took too long.", "Hi, Ana here",
                 "something the bot never said"):
        with pytest.raises(UnknownReply):
            store.rate("socketio", "sess-f", -1, text=text)
    with pytest.raises(UnknownReply):
        store.rate("socketio", "sess-f", -1, message_id="m-1")
    assert count(engine, "feedback") == 0


def test_erasing_a_customer_erases_their_ratings(store, transcript, log, engine):
    conversation(transcript, "sess-g", ("m-1", "refunds?", REFUND))
    conversation(transcript, "sess-h", ("m-2", "refunds?", REFUND))
    store.rate("socketio", "sess-g", -1, "wrong", text=REFUND)
    store.rate("socketio", "sess-h", 1, text=REFUND)

    counts = log.erase_sender("sess-g")

    assert counts["feedback"] == 1
    assert [r["sender_hash"] for r in rows(engine)] == [hash_sender("sess-h", SALT)]


# --- what a request must look like ------------------------------------------------------------


def test_a_well_formed_request_is_read_and_its_comment_cleaned():
    rating = parse_web_rating({"sender": "abc123", "text": "Hi!", "rating": -1,
                               "comment": "  too\x00 vague\n\tsorry  "})
    assert (rating.sender, rating.text, rating.rating, rating.comment) == (
        "abc123", "Hi!", -1, "too vague sorry")
    assert parse_web_rating({"sender": "abc123", "text": "Hi!", "rating": 1}).comment is None
    assert parse_web_rating({"sender": "a", "text": "Hi!", "rating": 1, "comment": "  "}).comment is None


@pytest.mark.parametrize("body, says", [
    ([], "JSON object"),
    ("rating=1", "JSON object"),
    ({"text": "Hi!", "rating": 1}, "sender"),
    ({"sender": "x" * 129, "text": "Hi!", "rating": 1}, "sender"),
    ({"sender": "a\nb", "text": "Hi!", "rating": 1}, "sender"),
    ({"sender": "abc", "rating": 1}, "text"),
    ({"sender": "abc", "text": "   ", "rating": 1}, "text"),
    ({"sender": "abc", "text": "x" * 20_001, "rating": 1}, "at most 20000"),
    ({"sender": "abc", "text": "Hi!"}, "rating must be 1"),
    ({"sender": "abc", "text": "Hi!", "rating": 2}, "rating must be 1"),
    ({"sender": "abc", "text": "Hi!", "rating": 0}, "rating must be 1"),
    ({"sender": "abc", "text": "Hi!", "rating": True}, "rating must be 1"),
    ({"sender": "abc", "text": "Hi!", "rating": "1"}, "rating must be 1"),
    ({"sender": "abc", "text": "Hi!", "rating": 1.0}, "rating must be 1"),
    ({"sender": "abc", "text": "Hi!", "rating": -1, "comment": ["no"]}, "comment must be text"),
    ({"sender": "abc", "text": "Hi!", "rating": -1, "comment": "x" * (MAX_COMMENT_CHARS + 1)},
     "at most 500"),
])
def test_a_bad_request_is_refused_with_a_reason(body, says):
    with pytest.raises(BadFeedback) as refused:
        parse_web_rating(body)
    assert says in str(refused.value)
    assert refused.value.status == 400
