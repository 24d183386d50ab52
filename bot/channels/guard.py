"""What every channel does around a bot turn: clean the text first, and never leave the customer in silence.

The REST channel (`rest.py`) answers inside the HTTP response and has this logic inline; the
channels that answer later (socket.io, Slack, WeChat) share it from here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import UserMessage

from bot import replies
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


async def run_turn(on_new_message: OnNewMessage, message: UserMessage, channel: str) -> Optional[str]:
    """Runs one bot turn within `BOT_REPLY_DEADLINE_S`.

    Returns None when the bot answered, else the apology the channel should send instead (the
    bot failed or was too slow); the cause goes to the log.
    """
    deadline_s = get_settings().reply_deadline_s
    try:
        await asyncio.wait_for(on_new_message(message), deadline_s)
    except asyncio.TimeoutError:
        logger.error("%s.reply_timeout deadline_s=%s", channel, deadline_s)
        return replies.TOO_SLOW
    except Exception:
        logger.exception("%s.processing_failed", channel)
        return replies.SOMETHING_WRONG
    return None
