"""The socket.io channel with what a browser could send it, well-formed or not (the widget's own
path is covered in a real browser by test_webchat_browser.py)."""

from __future__ import annotations

import uuid

import pytest

from bot import replies
from tests.channels.fakes import wait_for
from tests.channels.socketio_client import PollingClient

pytestmark = pytest.mark.integration


@pytest.fixture
def client(channel_servers):
    client = PollingClient(channel_servers.url)
    yield client
    client.close()


def start_session(client: PollingClient) -> str:
    session_id = uuid.uuid4().hex
    client.emit("session_request", {"session_id": session_id})
    assert client.wait("session_confirm") == session_id
    return session_id


def test_nul_control_characters_and_a_huge_message_never_reach_the_tracker(client, channel_servers):
    session_id = start_session(client)
    text = "where is\x00 my order\x1b #123456 " + "thanks " * 50_000  # 350,000 characters
    client.emit("user_uttered", {"message": text, "session_id": session_id, "customData": {}})
    reply = client.wait("bot_uttered", timeout_s=30)
    assert reply and reply.get("text")
    # Rasa sends the reply before it saves the tracker.
    assert wait_for(lambda: channel_servers.turn_finished(session_id))
    turns = channel_servers.user_turns(session_id)
    assert len(turns) == 1 and turns[0]["input_channel"] == "socketio"
    stored = turns[0]["text"]
    assert stored.startswith("where is my order #123456 thanks")
    assert "\x00" not in stored and "\x1b" not in stored and len(stored) <= 2000


def test_a_message_that_is_not_text_gets_a_prompt_and_no_turn(client, channel_servers):
    session_id = start_session(client)
    client.emit("user_uttered", {"message": {"text": "hi"}, "session_id": session_id})
    assert client.wait("bot_uttered") == {"text": replies.EMPTY_MESSAGE}
    assert channel_servers.user_turns(session_id) == []


def test_metadata_that_is_not_an_object_is_left_out(client, channel_servers):
    session_id = start_session(client)
    client.emit("user_uttered", {"message": "hello", "session_id": session_id, "customData": "{not json"})
    assert client.wait("bot_uttered", timeout_s=30)
    assert wait_for(lambda: channel_servers.turn_finished(session_id))
    assert [t["text"] for t in channel_servers.user_turns(session_id)] == ["hello"]


def test_an_oversized_session_id_is_replaced_by_a_fresh_one(client, channel_servers):
    client.emit("session_request", {"session_id": "x" * 100_000})
    confirmed = client.wait("session_confirm")
    assert isinstance(confirmed, str) and 0 < len(confirmed) <= 128
