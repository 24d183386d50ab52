"""How the desk's agents reach a customer: one sender per channel that can push a message.

Channels register a sender when Rasa builds their blueprint; the desk bridge
(bot/channels/desk_bridge.py) looks it up by the conversation's channel. A sender takes the
customer's id on that channel, the text, and the channel's own address for the conversation if
it has one (Slack's channel id), and raises when the message did not go out. The REST channel
answers only inside its HTTP response, so it has none: an agent cannot push to it.
"""

from __future__ import annotations

from typing import Awaitable, Callable, Dict, Optional

Sender = Callable[[str, str, Optional[str]], Awaitable[None]]

_senders: Dict[str, Sender] = {}


def register(channel: str, sender: Sender) -> None:
    _senders[channel] = sender


def sender_for(channel: str) -> Optional[Sender]:
    return _senders.get(channel)


def channels() -> list:
    return sorted(_senders)
