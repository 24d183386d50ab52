"""What every channel does around a bot turn: clean the text first, never leave the customer in
silence, and write down what they were shown.

Every channel runs its turns through ``run_turn``. It records the customer's message and every
reply sent through the turn's output channel in the transcript (bot/channels/transcript.py), and
an apology when the bot failed or was too slow, as the customer saw it. While a person has the
conversation (bot/handoff/), Rasa runs no action: the message still reaches the tracker and the
desk, and a customer still waiting in the queue is told their message is with the team.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import OutputChannel, UserMessage

from bot import replies
from bot.channels.transcript import get_transcript
from bot.handoff.wording import STILL_WAITING
from bot.nlu.cleaning import clean_text
from bot.settings import get_settings

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def cleaned(text: Any, channel: str) -> str:
    """The customer's text without control characters and capped (`BOT_MAX_MESSAGE_CHARS`).

    Channels call this before building the `UserMessage`, so the tracker never stores the raw text.
    """
    result = clean_text(text, get_settings().max_message_chars)
    if result.truncated:
        logger.warning(
            "%s.message_truncated sender_chars=%d kept_chars=%d",
            channel,
            len(text) if isinstance(text, str) else 0,
            len(result.text),
        )
    return result.text


class RecordingOutput(OutputChannel):
    """The turn's output channel, writing each message it sends into the transcript."""

    def __init__(self, inner: OutputChannel, channel: str, message_id: Optional[str]) -> None:
        self.inner = inner
        self.channel = channel
        self.message_id = message_id
        self.sent = 0

    def name(self) -> Text:  # type: ignore[override]  # responses may vary by channel
        return self.inner.name()

    @property
    def messages(self):  # a collecting channel's replies, for REST and WeChat
        return getattr(self.inner, "messages", [])

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        shown = message.get("text") or _describe(message)  # read first: Rasa pops the parts
        await self.inner.send_response(recipient_id, message)
        await self._record(recipient_id, shown, "bot", None)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.inner.send_text_message(recipient_id, text, **kwargs)
        await self._record(recipient_id, text, "bot", None)

    async def send_own(self, recipient_id: Text, text: Text, kind: str) -> None:
        """A message of the channel's own (an apology, a notice), recorded as such."""
        await self.inner.send_text_message(recipient_id, text)
        await self._record(recipient_id, text, "channel", kind)

    async def _record(self, recipient_id: Text, text: Text, role: str, kind: Optional[str]) -> None:
        self.sent += 1
        await get_transcript().record(self.channel, recipient_id, role, text, self.message_id, kind)


def _describe(message: Dict[Text, Any]) -> str:
    for key in ("image", "attachment", "custom", "buttons", "elements"):
        if message.get(key):
            return f"[{key}]"
    return ""


async def run_turn(on_new_message: OnNewMessage, message: UserMessage, channel: str) -> Optional[str]:
    """Runs one bot turn within `BOT_REPLY_DEADLINE_S`, recording it in the transcript.

    Returns None when the bot answered (or a person has the conversation), else the apology the
    channel should send instead (the bot failed or was too slow); the cause goes to the log. The
    apology is recorded here, as what the customer saw; the channel only sends it.
    """
    transcript = get_transcript()
    # "/greet" and the like are a widget's or a button's payload, not words the customer typed.
    payload = "payload" if (message.text or "").startswith("/") else None
    await transcript.record(channel, message.sender_id, "customer", message.text or "",
                            message.message_id, payload)
    output = RecordingOutput(message.output_channel, channel, message.message_id)
    message.output_channel = output
    deadline_s = get_settings().reply_deadline_s
    apology = None
    try:
        await asyncio.wait_for(on_new_message(message), deadline_s)
    except asyncio.TimeoutError:
        logger.error("%s.reply_timeout deadline_s=%s", channel, deadline_s)
        apology, kind = replies.TOO_SLOW, "timeout"
    except Exception:
        logger.exception("%s.processing_failed", channel)
        apology, kind = replies.SOMETHING_WRONG, "error"
    if apology is None:
        if output.sent == 0:
            status = await transcript.handoff_status(channel, message.sender_id)
            if status == "queued":
                await output.send_own(message.sender_id, STILL_WAITING, "waiting")
            elif status is None:
                logger.error("%s.no_reply", channel)
                apology, kind = replies.SOMETHING_WRONG, "no_reply"
        if apology is None:
            return None
    await transcript.record(channel, message.sender_id, "channel", apology, message.message_id,
                            kind)
    return apology


async def record_own(channel: str, sender_id: str, text: str, kind: str,
                     message_id: Optional[str] = None) -> None:
    """A channel's own reply outside a bot turn (an empty-message prompt, a welcome)."""
    await get_transcript().record(channel, sender_id, "channel", text, message_id, kind)


async def record_customer(channel: str, sender_id: str, text: str, kind: str) -> None:
    """A customer message that gets no bot turn (empty, an image on WeChat)."""
    await get_transcript().record(channel, sender_id, "customer", text or f"[{kind}]", None, kind)
