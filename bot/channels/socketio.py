"""The socket.io channel for the web chat widget, hardened like the REST channel.

Rasa's `SocketIOInput` hands whatever the browser sends to the bot: a megabyte of text, NUL
characters (which PostgreSQL refuses to store), a `message` that is not a string (its handler then
fails), a session id of any length (it becomes the conversation's id in the tracker store). And with
python-socketio 5.x (our lock has 5.18) Rasa 3.6's `session_request` handler never joins the
browser to its session's room (`enter_room` became a coroutine and Rasa does not await it), so with
`session_persistence: true` no reply ever reaches the widget. This subclass keeps the events and
reply format (what rasa-webchat speaks) and:
  - answers `session_request` itself, awaiting the room join;
  - checks on each event before Rasa's handler sees it: a dict, a string message, a session id of
    1 to 128 characters, metadata that is an object;
  - the text cleaned and capped before the `UserMessage` reaches the tracker (`guard.cleaned`);
  - an empty message gets a prompt to type something, without a bot turn;
  - a failed or too slow turn gets the same apology as on REST, pushed to the widget.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

from bot import replies
from bot.channels import outbound
from bot.channels.guard import cleaned, record_own, run_turn

logger = logging.getLogger(__name__)

MAX_SESSION_ID_CHARS = 128


def requested_session_id(data: Any) -> Optional[str]:
    """The session id a `session_request` asks to go on with; None for none or a bad one."""
    value = data.get("session_id") if isinstance(data, dict) else None
    return value if _is_session_id(value) else None


def checked_user_message(data: Any, metadata_key: str) -> Optional[Dict[str, Any]]:
    """A `user_uttered` payload Rasa's handler can take, or None when it must be dropped.

    A message that is not a string counts as empty (the customer gets a prompt); metadata that is
    not a JSON object is left out.
    """
    if not isinstance(data, dict):
        return None
    data = dict(data)
    if "session_id" in data and not _is_session_id(data["session_id"]):
        return None
    if not isinstance(data.get("message"), str):
        data["message"] = ""
    metadata = data.get(metadata_key)
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            metadata = None
    data[metadata_key] = metadata if isinstance(metadata, dict) else {}
    return data


def _is_session_id(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_SESSION_ID_CHARS
        and value.isprintable()
    )


class GuardedSocketIOInput(SocketIOInput):
    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def guarded(message: UserMessage) -> None:
            message.text = cleaned(message.text, self.name())
            output = message.output_channel  # run_turn wraps it to record the bot's replies
            if not message.text:
                await output.send_text_message(message.sender_id, replies.EMPTY_MESSAGE)
                await record_own(self.name(), message.sender_id, replies.EMPTY_MESSAGE, "empty")
                return
            apology = await run_turn(on_new_message, message, self.name())
            if apology:  # recorded by run_turn
                await output.send_text_message(message.sender_id, apology)

        blueprint = super().blueprint(guarded)
        rasa_handle_message = self.sio.handlers[self.namespace or "/"][self.user_message_evt]

        async def handle_message(sid: str, data: Any) -> None:
            payload = checked_user_message(data, self.metadata_key)
            if payload is None:
                logger.warning("socketio.bad_event sid=%s", sid)
                return
            await rasa_handle_message(sid, payload)

        # The desk's agents reach a web chat customer through the session's room.
        outbound.register(self.name(), self._desk_sender)
        # Registering again for an event replaces Rasa's handler.
        self.sio.on("session_request", self._session_request, namespace=self.namespace)
        self.sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        return blueprint

    async def _desk_sender(self, sender_id: str, text: str, address: Optional[str]) -> None:
        """An agent's message, pushed to the widget like a bot message (rooms are session ids)."""
        await SocketIOOutput(self.sio, self.bot_message_evt).send_text_message(sender_id, text)

    async def _session_request(self, sid: str, data: Any) -> None:
        """Confirms the browser's session id (a new one if it sent none or a bad one)."""
        session_id = requested_session_id(data) or uuid.uuid4().hex
        if self.session_persistence:
            await self.sio.enter_room(sid, session_id, namespace=self.namespace)
        await self.sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
