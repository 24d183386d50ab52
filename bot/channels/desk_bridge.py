"""The desk bridge: how the agent desk (bot/desk/) talks to customers through the Rasa server.

    POST /webhooks/desk/send    {"channel", "sender_id", "text"}   an agent's reply, sent out
    POST /webhooks/desk/resume  {"channel", "sender_id", "note"}   the bot answers again

Both need the header ``X-Desk-Key`` with the shared desk key (``Settings.desk_key()``), compared
in constant time; the desk is their only caller (bot/handoff/bridge.py). Only a conversation that
a person has (an open row in ``handoffs``) can be written to, and only through the channel the
customer uses: the sender registered by that channel (bot/channels/outbound.py). The reply goes
into the transcript as the agent's, once, after it went out.

Hand-back un-pauses the conversation in Rasa's tracker with a ``ConversationResumed`` event,
under the conversation's lock so that no customer message is processed half-paused; the bot
answers from the next message on. Rasa's own HTTP API stays off: this bridge does only these two
things.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, ConversationResumed
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import outbound
from bot.channels.transcript import get_transcript
from bot.handoff.bridge import HEADER
from bot.settings import get_settings

logger = logging.getLogger(__name__)

MAX_AGENT_CHARS = 4000


class DeskBridge(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "desk"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "DeskBridge":
        return cls(get_settings().desk_key())  # made on first use: fails at start-up, not later

    def __init__(self, key: str) -> None:
        self.key = key

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bridge = Blueprint("desk_bridge", __name__)

        @bridge.route("/send", methods=["POST"])
        async def send(request: Request) -> HTTPResponse:
            body, refusal = self._checked(request, ("channel", "sender_id", "text"))
            if refusal:
                return refusal
            text = body["text"].strip()
            if not 0 < len(text) <= MAX_AGENT_CHARS:
                return _error(f"the text must have 1 to {MAX_AGENT_CHARS} characters", 400)
            channel, sender_id = body["channel"], body["sender_id"]
            transcript = get_transcript()
            if await transcript.handoff_status(channel, sender_id) is None:
                return _error("no person has this conversation (handed back or closed)", 409)
            sender = outbound.sender_for(channel)
            if sender is None:
                return _error(f"the customer's channel ({channel}) cannot receive messages "
                              f"from the desk", 409)
            address = await _address(request, sender_id)
            try:
                await sender(sender_id, text, address)
            except Exception as e:
                logger.error("desk.send_failed channel=%s error=%s", channel, type(e).__name__)
                return _error(f"{channel} did not take the message ({type(e).__name__})", 502)
            await transcript.record(channel, sender_id, "agent", text)
            logger.info("desk.sent channel=%s chars=%d", channel, len(text))
            return response.json({"sent": True})

        @bridge.route("/resume", methods=["POST"])
        async def resume(request: Request) -> HTTPResponse:
            body, refusal = self._checked(request, ("channel", "sender_id"))
            if refusal:
                return refusal
            channel, sender_id = body["channel"], body["sender_id"]
            agent = request.app.ctx.agent
            async with agent.lock_store.lock(sender_id):
                tracker = await agent.processor.get_tracker(sender_id)
                if tracker.is_paused():
                    # The messages written meanwhile got no turn; the bot listens from here on.
                    tracker.update(ConversationResumed())
                    tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
                    await agent.processor.save_tracker(tracker)
            note = body.get("note")
            sender = outbound.sender_for(channel)
            if isinstance(note, str) and note.strip() and sender is not None:
                try:
                    await sender(sender_id, note, await _address(request, sender_id))
                    await get_transcript().record(channel, sender_id, "channel", note,
                                                  kind="resumed")
                except Exception as e:  # the conversation is resumed all the same
                    logger.error("desk.note_failed channel=%s error=%s", channel,
                                 type(e).__name__)
            logger.info("desk.resumed channel=%s", channel)
            return response.json({"resumed": True})

        return bridge

    def _checked(self, request: Request, required: tuple):
        given = request.headers.get(HEADER) or ""
        if not hmac.compare_digest(given.encode(), self.key.encode()):
            logger.warning("desk.bad_key")
            return None, _error("unauthorized", 401)
        try:
            body = request.json
        except Exception:
            body = None
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) and body[k]
                                                 for k in required):
            return None, _error(f"the body needs the strings {', '.join(required)}", 400)
        return body, None


async def _address(request: Request, sender_id: str) -> Optional[str]:
    """Where the customer last wrote from, when the channel says (Slack's ``out_channel``)."""
    tracker = await request.app.ctx.agent.tracker_store.retrieve(sender_id)
    if tracker is None:
        return None
    metadata = (tracker.latest_message.metadata if tracker.latest_message else None) or {}
    value = metadata.get("out_channel")
    return value if isinstance(value, str) else None


def _error(message: str, status: int) -> HTTPResponse:
    return response.json({"error": message}, status=status)
