"""A person's replies reach Slack and WeChat customers through their own channel, exactly once.

The customer asks for a person on the real Rasa server; the conversation is paused and queued.
Then the desk's own client (bot/handoff/bridge.py) sends the agent's reply through the Rasa
server's desk bridge, as the desk does, and the fake Slack / WeChat API must receive it once. The
transcript (the conversation log's `transcript` table) holds everything the customer saw.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from bot.handoff.bridge import BridgeError, DeskBridge
from bot.handoff.hours import BACK_WITH_BOT, STILL_WAITING
from bot.storage.db import make_engine
from tests.channels.fakes import wait_for
from tests.channels.test_slack import dm_event, post
from tests.channels.test_wechat import WeChatServer, message_xml, openid

pytestmark = pytest.mark.integration


def bridge(servers) -> DeskBridge:
    return DeskBridge(servers.settings.rasa_url, servers.settings.desk_key())


def call(servers, method: str, *args):
    async def go():
        client = bridge(servers)
        try:
            return await getattr(client, method)(*args)
        finally:
            await client.close()
    return asyncio.run(go())


def transcript(servers, channel: str):
    engine = make_engine(servers.settings.log_url)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT role, text, kind FROM transcript WHERE channel = :c ORDER BY id"), {"c": channel})
        return [tuple(r) for r in rows]


def handed_over(servers, sender: str) -> bool:
    """Waits until Rasa paused the conversation (a slow turn may still be running)."""
    return wait_for(lambda: any(e.get("event") == "pause" for e in servers.events(sender)),
                    timeout_s=30)


def bot_events_after_pause(servers, sender: str):
    events = servers.events(sender)
    paused = max(i for i, e in enumerate(events) if e.get("event") == "pause")
    return [e for e in events[paused:] if e.get("event") == "bot"]


def test_slack_an_agents_reply_is_posted_once_and_the_bot_stays_quiet(channel_servers):
    user, slack = "UHUMAN01", channel_servers.slack
    post(channel_servers, dm_event(user, "I want to talk to a person"))
    assert wait_for(lambda: any("queue" in p["text"] for p in slack.posts_to(f"D{user}")))

    call(channel_servers, "send", "slack", user, "Hi, this is Ana from Larkspur. <b>How</b> can I help?")
    texts = [p["text"] for p in slack.posts_to(f"D{user}")]
    assert texts.count("Hi, this is Ana from Larkspur. &lt;b&gt;How&lt;/b&gt; can I help?") == 1

    # The customer writes while waiting: the tracker has it, the bot answers nothing itself.
    post(channel_servers, dm_event(user, "my parcel is late"))
    assert wait_for(lambda: any(p["text"] == STILL_WAITING for p in slack.posts_to(f"D{user}")))
    assert "my parcel is late" in [e.get("text") for e in channel_servers.user_turns(user)]
    assert bot_events_after_pause(channel_servers, user) == []

    lines = transcript(channel_servers, "slack")
    assert ("customer", "I want to talk to a person", None) in lines
    assert ("agent", "Hi, this is Ana from Larkspur. <b>How</b> can I help?", None) in lines
    assert ("customer", "my parcel is late", None) in lines
    assert ("channel", STILL_WAITING, "waiting") in lines


def test_wechat_an_agents_reply_goes_through_the_customer_service_api_once(channel_servers):
    wechat, user = WeChatServer(channel_servers), openid()
    wechat.post(message_xml(user, Content="can I speak to a human"))
    assert handed_over(channel_servers, user)
    assert "queue" in channel_servers.bot_texts(user)[-1]

    call(channel_servers, "send", "wechat", user, "Hello from the Larkspur team")
    assert channel_servers.wechat.sent_to(user) == ["Hello from the Larkspur team"]


def test_after_the_hand_back_the_bot_answers_again(channel_servers):
    wechat, user = WeChatServer(channel_servers), openid()
    wechat.post(message_xml(user, Content="human please"))
    assert handed_over(channel_servers, user)
    call(channel_servers, "resume", "wechat", user, BACK_WITH_BOT)
    assert channel_servers.wechat.sent_to(user) == [BACK_WITH_BOT]
    # The desk marks the handoff handed back after the bridge said yes; here we do it by hand.
    engine = make_engine(channel_servers.settings.log_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE handoffs SET status = 'handed_back' WHERE channel = 'wechat'"))
    wechat.post(message_xml(user, Content="how do I track a parcel"))
    assert wait_for(lambda: "track-your-order" in channel_servers.bot_texts(user)[-1], timeout_s=30)


def test_the_bridge_refuses_a_wrong_key_and_a_conversation_nobody_has(channel_servers):
    async def wrong_key():
        client = DeskBridge(channel_servers.settings.rasa_url, "not-the-key")
        try:
            await client.send("slack", "UNOBODY", "hello")
        finally:
            await client.close()

    with pytest.raises(BridgeError, match="unauthorized"):
        asyncio.run(wrong_key())
    with pytest.raises(BridgeError, match="no person has this conversation"):
        call(channel_servers, "send", "slack", "UNOBODY", "hello")
    assert channel_servers.slack.posts_to("DUNOBODY") == []
