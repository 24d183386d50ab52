"""Slack, as Slack's Events API talks to the real Rasa server: signed requests in, replies out to a
fake Slack Web API on localhost (`fakes.FakeSlack`)."""

from __future__ import annotations

import itertools
import json
import time
from typing import Dict, Optional
from urllib.parse import urlencode

import pytest
import requests
import sqlalchemy as sa
from slack_sdk.signature import SignatureVerifier

from bot.storage.db import make_engine
from bot.storage.privacy import hash_sender
from tests.channels.fakes import wait_for

pytestmark = pytest.mark.integration

BOT_USER = "UBOTLARKSPUR"
_ids = itertools.count(1)


def dm_event(sender: str, text: str, **event_fields) -> Dict:
    """A direct message from `sender` to the app, as the Events API delivers it."""
    number = next(_ids)
    channel = f"D{sender}"
    return {
        "token": "legacy-verification-token",
        "team_id": "T0LARKSPUR",
        "api_app_id": "A0LARKSPUR",
        "type": "event_callback",
        "event_id": f"Ev0{number:08d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": "T0LARKSPUR", "user_id": BOT_USER, "is_bot": True}],
        "event": {
            "type": "message",
            "channel": channel,
            "channel_type": "im",
            "user": sender,
            "text": text,
            "ts": f"{time.time():.6f}",
            **event_fields,
        },
    }


def post(
    servers,
    payload: Dict,
    *,
    secret: Optional[str] = None,
    timestamp: Optional[int] = None,
    headers: Optional[Dict[str, str]] = None,
    form: bool = False,
) -> requests.Response:
    """POSTs `payload` signed exactly as Slack signs: v0=HMAC-SHA256(secret, "v0:ts:body"); as
    JSON like the Events API, or with `form` as an interactive request (`payload=<json>`)."""
    body = urlencode({"payload": json.dumps(payload)}) if form else json.dumps(payload)
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signer = SignatureVerifier(secret or servers.secrets["SLACK_SIGNING_SECRET"])
    return requests.post(
        f"{servers.url}/webhooks/slack/webhook",
        data=body.encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded" if form else "application/json",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signer.generate_signature(timestamp=ts, body=body),
            **(headers or {}),
        },
        timeout=10,
    )


def reply_posted(servers, user: str) -> list:
    """Waits for the user's turn to finish; returns what was posted to their DM channel."""
    assert wait_for(lambda: servers.turn_finished(user), timeout_s=30), servers.events(user)
    return servers.slack.posts_to(f"D{user}")


def test_a_message_gets_exactly_one_reply_in_the_same_conversation(channel_servers):
    user = "UTRACK01"
    answer = post(channel_servers, dm_event(user, "how do I track a parcel"))
    assert answer.status_code == 200, answer.text
    posts = reply_posted(channel_servers, user)
    assert len(posts) == 1
    assert "https://help.larkspur.example/articles/track-your-order" in posts[0]["text"]
    turns = channel_servers.user_turns(user)
    assert [t["text"] for t in turns] == ["how do I track a parcel"]
    assert turns[0]["input_channel"] == "slack"


@pytest.mark.parametrize("reason", ["http_timeout", "http_error", "too_many_requests"])
def test_a_retried_event_gets_no_second_reply_whatever_the_reason(channel_servers, reason):
    user = f"URETRY{next(_ids):04d}"
    event = dm_event(user, "how do I return an item")
    assert post(channel_servers, event).status_code == 200
    for number in (1, 2, 3):
        retry = post(
            channel_servers,
            event,
            headers={"X-Slack-Retry-Num": str(number), "X-Slack-Retry-Reason": reason},
        )
        assert retry.status_code == 200
        assert retry.headers.get("X-Slack-No-Retry") == "1"
    assert len(reply_posted(channel_servers, user)) == 1
    # A second turn would show up as a second user event within a second or two.
    assert not wait_for(lambda: len(channel_servers.user_turns(user)) > 1, timeout_s=3)
    assert len(channel_servers.slack.posts_to(f"D{user}")) == 1


def test_a_retry_of_an_event_that_never_arrived_is_answered(channel_servers):
    # The first delivery failed before it reached the bot: the retry is the customer's only copy.
    user = "UFIRSTLOST"
    event = dm_event(user, "hello")
    retry = post(
        channel_servers, event, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
    )
    assert retry.status_code == 200
    assert len(reply_posted(channel_servers, user)) == 1


def test_a_bad_signature_is_refused(channel_servers):
    user = "UFORGED01"
    answer = post(channel_servers, dm_event(user, "where is my order #123456"), secret="not-the-secret")
    assert answer.status_code == 400
    assert channel_servers.user_turns(user) == []
    assert channel_servers.slack.posts_to(f"D{user}") == []


def test_a_timestamp_older_than_five_minutes_is_refused(channel_servers):
    # Correctly signed, but replayed six minutes later.
    user = "UREPLAY01"
    answer = post(
        channel_servers, dm_event(user, "where is my order #123456"), timestamp=int(time.time()) - 360
    )
    assert answer.status_code == 400
    assert channel_servers.user_turns(user) == []


def test_url_verification_answers_the_challenge(channel_servers):
    challenge = {
        "token": "legacy-verification-token",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    answer = post(channel_servers, challenge)
    assert answer.status_code == 200
    assert answer.json() == {"challenge": challenge["challenge"]}
    assert post(channel_servers, challenge, secret="not-the-secret").status_code == 400


@pytest.mark.parametrize(
    "fields",
    [
        {"bot_id": "B0LARKSPUR", "subtype": "bot_message"},  # the bot's own post, echoed back
        {"user": BOT_USER},  # posted as the bot user
        {"subtype": "channel_join"},  # "<@U...> has joined the channel"
    ],
    ids=["bot_id", "bot_user", "join"],
)
def test_messages_that_are_not_a_person_writing_are_ignored(channel_servers, fields):
    user = f"UQUIET{next(_ids):04d}"
    answer = post(channel_servers, dm_event(user, "Your order #123456 is on its way.", **fields))
    assert answer.status_code == 200
    # Then the person writes: that one is answered, and it is the only turn and the only reply.
    assert post(channel_servers, dm_event(user, "thanks")).status_code == 200
    posts = reply_posted(channel_servers, user)
    assert len(posts) == 1
    assert [t["text"] for t in channel_servers.user_turns(user)] == ["thanks"]
    assert channel_servers.user_turns(BOT_USER) == []


def test_control_characters_are_removed_and_long_text_capped_before_storage(channel_servers):
    user = "UNOISY01"
    text = "where is\x00 my order #123456\x07 " + "please " * 1000
    assert post(channel_servers, dm_event(user, text)).status_code == 200
    assert len(reply_posted(channel_servers, user)) == 1
    stored = channel_servers.user_turns(user)[0]["text"]
    assert stored.startswith("where is my order #123456 please")
    assert "\x00" not in stored and "\x07" not in stored
    assert len(stored) <= 2000


# --- rating an answer with its buttons ---------------------------------------------------------


def click(user: str, posted: Dict, action_id: str) -> Dict:
    """What Slack sends when `user` presses the button `action_id` under the message `posted`."""
    [buttons] = [b for b in posted["blocks"] if b["type"] == "actions"]
    [button] = [e for e in buttons["elements"] if e["action_id"] == action_id]
    channel = posted["channel"]
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "ana", "team_id": "T0LARKSPUR"},
        "api_app_id": "A0LARKSPUR",
        "team": {"id": "T0LARKSPUR", "domain": "larkspur"},
        "container": {"type": "message", "message_ts": posted["ts"], "channel_id": channel},
        "trigger_id": "1.2.3",
        "channel": {"id": channel, "name": "directmessage"},
        "message": {"type": "message", "user": BOT_USER, "ts": posted["ts"],
                    "text": posted["text"], "blocks": posted["blocks"]},
        "response_url": "https://hooks.slack.invalid/actions/T0LARKSPUR/1/x",
        "actions": [{"type": "button", "action_id": action_id, "block_id": buttons["block_id"],
                     "value": button["value"], "text": button["text"],
                     "action_ts": f"{time.time():.6f}"}],
    }


def ratings_of(servers, user: str) -> list:
    engine = make_engine(servers.settings.log_url)
    try:
        with engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(sa.text(
                "SELECT rating, comment, message_id, channel, source FROM feedback "
                "WHERE sender_hash = :h ORDER BY id"),
                {"h": hash_sender(user, servers.settings.sender_salt(create=False))})]
    finally:
        engine.dispose()


def test_an_answer_rated_with_its_buttons_is_stored_and_thanked_not_answered(channel_servers):
    user = "URATE0001"
    assert post(channel_servers, dm_event(user, "how do I track a parcel")).status_code == 200
    [answer] = reply_posted(channel_servers, user)
    section, buttons = answer["blocks"]
    assert "https://help.larkspur.example/articles/track-your-order" in section["text"]["text"]
    assert [(b["action_id"], b["text"]["text"]) for b in buttons["elements"]] == [
        ("feedback_up", ":+1: Helpful"), ("feedback_down", ":-1: Not helpful")]
    [question] = channel_servers.user_turns(user)

    started = time.monotonic()
    answered = post(channel_servers, click(user, answer, "feedback_down"), form=True)
    assert answered.status_code == 200, answered.text
    assert time.monotonic() - started < 3  # Slack's limit
    # Stored when acknowledged.
    assert ratings_of(channel_servers, user) == [{"rating": -1, "comment": None, "channel": "slack",
                                                 "message_id": question["message_id"],
                                                 "source": "customer"}]
    # The buttons make way for a thank-you under the same answer.
    assert wait_for(lambda: channel_servers.slack.updates, timeout_s=10)
    [update] = [u for u in channel_servers.slack.updates if u["ts"] == answer["ts"]]
    assert update["channel"] == f"D{user}"
    assert [b["type"] for b in update["blocks"]] == ["section", "context"]
    assert update["blocks"][1]["elements"][0]["text"] == ":-1: Thanks for your feedback"

    # Changing one's mind replaces the rating.
    assert post(channel_servers, click(user, answer, "feedback_up"), form=True).status_code == 200
    assert [r["rating"] for r in ratings_of(channel_servers, user)] == [1]
    # The clicks were never messages to the bot: one turn, one post.
    assert not wait_for(lambda: len(channel_servers.user_turns(user)) > 1, timeout_s=2)
    assert len(channel_servers.slack.posts_to(f"D{user}")) == 1


def test_only_the_customer_answered_can_rate_and_only_with_slacks_signature(channel_servers):
    user = "URATE0002"
    assert post(channel_servers, dm_event(user, "how do I return an item")).status_code == 200
    [answer] = reply_posted(channel_servers, user)

    forged = post(channel_servers, click(user, answer, "feedback_down"), form=True,
                  secret="not-the-secret")
    assert forged.status_code == 400
    # Someone else pressing the buttons (the answer was in a shared channel).
    other = post(channel_servers, click("UOTHER0002", answer, "feedback_down"), form=True)
    assert other.status_code == 200
    assert ratings_of(channel_servers, user) == [] and ratings_of(channel_servers, "UOTHER0002") == []
    assert len(channel_servers.user_turns(user)) == 1
