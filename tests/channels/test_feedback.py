"""Customers rate the bot's replies (bot/channels/feedback.py, web/feedback.js), against the real
servers: in the web chat page in Debian's Chromium, and on the endpoint the page calls, with what
a careless or hostile client could send it."""

from __future__ import annotations

import json
import uuid

import pytest
import requests
import sqlalchemy as sa

from bot.settings import ROOT
from bot.storage.db import make_engine
from bot.storage.privacy import hash_sender
from tests.channels.fakes import wait_for
from tests.channels.socketio_client import PollingClient

pytestmark = pytest.mark.integration

SCREENSHOT = ROOT / "reports" / "screenshots" / "webchat_feedback.png"
TRACK_URL = "https://help.larkspur.example/articles/track-your-order"
QUESTION = "how do I track a parcel"


@pytest.fixture(scope="module")
def log(channel_servers):
    engine = make_engine(channel_servers.settings.log_url)
    yield engine
    engine.dispose()


def ratings_of(log, salt, sender):
    """The customer's feedback rows, with the turn each is about (joined as the desk joins them)."""
    with log.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(sa.text(
            "SELECT f.id, f.rating, f.comment, f.message_id, f.channel, f.source, f.turn_id, "
            "       (SELECT t.id FROM turns t WHERE t.id = f.turn_id OR t.message_id = f.message_id"
            "        ORDER BY t.id LIMIT 1) AS joined_turn "
            "FROM feedback f WHERE f.sender_hash = :h ORDER BY f.id"), {"h": hash_sender(sender, salt)})]


def message_id_of(channel_servers, sender, text):
    [event] = [e for e in channel_servers.user_turns(sender) if e.get("text") == text]
    return event["message_id"]


def rate(channel_servers, body, **kwargs):
    return requests.post(f"{channel_servers.url}/webhooks/feedback/rate", timeout=10,
                         **({"json": body} if body is not None else {}), **kwargs)


def test_a_customer_rates_an_answer_down_in_the_page_with_a_comment(browser, channel_servers, log):
    origin = channel_servers.url
    page = browser.new_page(viewport={"width": 900, "height": 760})
    requested, sent_ratings, console_errors = [], [], []
    page.on("request", lambda r: requested.append(r.url))
    page.on("request", lambda r: sent_ratings.append(json.loads(r.post_data))
            if r.url.endswith("/webhooks/feedback/rate") else None)
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{origin}/chat/")
    greeting = page.locator(".rw-message", has=page.locator(
        ".rw-response", has_text="Larkspur's support assistant"))
    greeting.wait_for(timeout=30_000)
    # Every reply of the bot gets the two buttons, the greeting too.
    greeting.get_by_role("button", name="Helpful", exact=True).wait_for(timeout=5_000)

    page.fill(".rw-new-message", QUESTION)
    page.keyboard.press("Enter")
    answer = page.locator(".rw-message", has=page.locator(f".rw-response a[href='{TRACK_URL}']"))
    answer.wait_for(timeout=30_000)
    helpful = answer.get_by_role("button", name="Helpful", exact=True)
    not_helpful = answer.get_by_role("button", name="Not helpful", exact=True)
    comment = answer.get_by_role("textbox", name="What was wrong? (optional)")
    thanks = answer.get_by_role("status")
    assert not comment.is_visible()  # only after a thumbs down

    helpful.click()  # first thoughts...
    page.wait_for_function("b => b.getAttribute('aria-pressed') === 'true'",
                           arg=helpful.element_handle(), timeout=10_000)
    assert thanks.inner_text() == "Thanks for your feedback"

    not_helpful.click()  # ...then a thumbs down, and why
    comment.wait_for(state="visible", timeout=10_000)
    comment.fill("It never says when it arrives. Write to me at ana@example.com")
    answer.get_by_role("button", name="Send").click()
    comment.wait_for(state="hidden", timeout=10_000)
    assert not_helpful.get_attribute("aria-pressed") == "true"
    assert helpful.get_attribute("aria-pressed") == "false"
    assert thanks.inner_text() == "Thanks for your feedback"

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    aside = SCREENSHOT.with_suffix(".png.tmp")
    page.screenshot(path=str(aside), type="png")
    aside.replace(SCREENSHOT)

    session_id = page.evaluate("() => JSON.parse(sessionStorage.getItem('chat_session')).session_id")
    question_id = message_id_of(channel_servers, session_id, QUESTION)
    salt = channel_servers.settings.sender_salt(create=False)
    # One row for the answer, however many clicks: the last rating, its comment masked.
    [row] = ratings_of(log, salt, session_id)
    assert row["rating"] == -1
    assert row["comment"] == "It never says when it arrives. Write to me at [email]"
    assert (row["message_id"], row["channel"], row["source"]) == (question_id, "socketio",
                                                                   "customer")
    # The rating reaches the turn the action server logged for that question.
    assert wait_for(lambda: ratings_of(log, salt, session_id)[0]["joined_turn"], timeout_s=20)
    with log.connect() as connection:
        turn = connection.execute(sa.text(
            "SELECT id, user_text FROM turns WHERE message_id = :m"), {"m": question_id}).one()
    assert turn.user_text == QUESTION
    assert row["turn_id"] in (None, turn.id)
    # The page sent the reply as the bot sent it, not the browser's rendering of it.
    answer_text = next(t for t in channel_servers.bot_texts(session_id) if TRACK_URL in t)
    assert {r["text"] for r in sent_ratings} == {answer_text}
    assert [(r["rating"], r.get("comment")) for r in sent_ratings] == [
        (1, None), (-1, None), (-1, "It never says when it arrives. Write to me at ana@example.com")]

    # After a reload the choice is still shown.
    page.reload()
    answer.wait_for(timeout=30_000)
    page.wait_for_function("b => b.getAttribute('aria-pressed') === 'true'",
                           arg=not_helpful.element_handle(), timeout=10_000)
    assert not any("Content Security Policy" in e for e in console_errors), console_errors
    assert all(url.startswith(origin) or url.startswith("data:") for url in requested)
    page.close()


@pytest.fixture
def talked(channel_servers):
    """A socket.io conversation with one answer; (session id, the answer's text)."""
    client = PollingClient(channel_servers.url)
    try:
        session_id = uuid.uuid4().hex
        client.emit("session_request", {"session_id": session_id})
        assert client.wait("session_confirm") == session_id
        client.emit("user_uttered", {"message": QUESTION, "session_id": session_id,
                                     "customData": {}})
        reply = client.wait("bot_uttered", timeout_s=30)
        assert reply and TRACK_URL in reply["text"]
        yield session_id, reply["text"]
    finally:
        client.close()


def test_a_rating_sent_as_soon_as_the_answer_arrives_is_stored(talked, channel_servers, log):
    session_id, answer = talked
    stored = rate(channel_servers, {"sender": session_id, "text": answer, "rating": 1})
    assert stored.status_code == 200, stored.text
    assert stored.json() == {"stored": True, "rating": 1, "replaced": False}
    # Acknowledged means committed: the row is there for any other connection at once.
    salt = channel_servers.settings.sender_salt(create=False)
    [row] = ratings_of(log, salt, session_id)
    assert (row["rating"], row["message_id"]) == (1, message_id_of(channel_servers, session_id,
                                                                   QUESTION))


def test_what_cannot_be_stored_is_refused_with_a_reason_and_nothing_stored(talked, channel_servers,
                                                                           log):
    session_id, answer = talked
    good = {"sender": session_id, "text": answer, "rating": -1}
    refusals = [
        (rate(channel_servers, None, data=b"{not json", headers={"Content-Type": "application/json"}),
         400, "JSON object"),
        (rate(channel_servers, None, data=json.dumps(good), headers={"Content-Type": "text/plain"}),
         415, "JSON"),
        (rate(channel_servers, {**good, "rating": 5}), 400, "rating must be 1"),
        (rate(channel_servers, {**good, "comment": "x" * 501}), 400, "at most 500"),
        (rate(channel_servers, None, data=b"{" + b" " * 70_000 + b"}",
              headers={"Content-Type": "application/json"}), 413, "at most"),
        (rate(channel_servers, {**good, "text": "Something the bot never said."}), 404, "no reply"),
        # Someone who knows the answer's words but is not in this conversation.
        (rate(channel_servers, {**good, "sender": uuid.uuid4().hex}), 404, "no reply"),
    ]
    for answered, status, says in refusals:
        assert answered.status_code == status, answered.text
        assert says in answered.json()["error"]
    assert ratings_of(log, channel_servers.settings.sender_salt(create=False), session_id) == []
