"""Handing the conversation to a person: the one function every path to a person goes through.

The customer asked ("human"), said yes to the bot's offer, was not understood several times in a
row, or failed the identity check too often (actions/orders.py). ``hand_over`` queues the
conversation in the inbox (bot/handoff/, the agent desk by default) with the bot's one-line
summary for the agent, tells the customer their place and wait (or the hours), and pauses the
conversation: Rasa runs no action until the desk hands it back (bot/channels/desk_bridge.py),
while the customer's messages still reach the tracker and the desk.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Iterable, List, Mapping, Optional, Text, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SlotSet

from bot import services
from bot.handoff.hours import HANDOFF_FAILED, customer_notice
from bot.handoff.inbox import HandoffRequest
from bot.settings import get_settings
from bot.storage.privacy import mask_pii

logger = logging.getLogger(__name__)

# The replies that say the bot did not understand (domain.yml).
MISS_RESPONSES = {"utter_default", "utter_ask_rephrase_or_handoff"}
# Intents that say nothing about what the customer wants.
NOT_A_TOPIC = {"affirm", "deny", "contact_human_agent", "greet", "goodbye", "thank_you",
               "nlu_fallback", "bot_challenge", None}
REASON_WORDS = {"asked": "asked for a person", "offer": "accepted the offer of a person",
                "fallbacks": "not understood several times", "lockout": "identity check locked"}


def misses_in_a_row(events: Iterable[Mapping[Text, Any]]) -> int:
    """How many of the customer's messages before the current one the bot did not understand,
    counting back from the latest (a reply from MISS_RESPONSES marks a message as missed)."""
    turns: List[bool] = []
    for event in events:
        if event.get("event") == "user":
            turns.append(False)
        elif event.get("event") == "bot" and turns:
            if (event.get("metadata") or {}).get("utter_action") in MISS_RESPONSES:
                turns[-1] = True
    count = 0
    for missed in reversed(turns[:-1]):  # the last one is the message being answered now
        if not missed:
            break
        count += 1
    return count


def summary(tracker: Tracker, reason: str) -> Tuple[str, Dict[str, Any]]:
    """The bot's one line for the agent: why, what the customer last asked and what the bot
    answered to it, their order; and the same as data. Text is masked like the log's."""
    turns: List[Tuple[Optional[str], str, List[str]]] = []  # (intent, customer text, bot texts)
    for event in tracker.events:
        if event.get("event") == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            turns.append((intent, event.get("text") or "", []))
        elif event.get("event") == "bot" and event.get("text") and turns:
            turns[-1][2].append(event["text"])
    asked = [t for t in turns[:-1] if t[0] not in NOT_A_TOPIC and not t[1].startswith("/")]
    if reason == "fallbacks":  # what the bot could not place is the point
        asked = turns[-1:]
    parts = [REASON_WORDS[reason]]
    if asked:
        intent, text, answers = asked[-1]
        parts.append(f"last question ({intent or 'unclear'}): {_short(mask_pii(text), 80)}")
        if answers:
            parts.append(f"bot answered: {_short(mask_pii(answers[0].splitlines()[0]), 90)}")
    number = tracker.get_slot("order_number")
    if number:
        verified = "verified" if tracker.get_slot("order_verified") else "not verified"
        parts.append(f"order {number} ({verified})")
    details = {
        "intents": [t[0] for t in turns[-5:]],
        "order_number": number,
        "order_verified": bool(tracker.get_slot("order_verified")),
        "messages": len(turns),
    }
    return " · ".join(parts), details


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


async def hand_over(tracker: Tracker, reason: str, lead: str = "") -> Tuple[str, List[Dict]]:
    """Queues the conversation for a person. Returns the reply (``lead`` first, then the queue
    or the hours) and the events: the conversation is paused only when the inbox took it;
    otherwise the customer is given the e-mail address and the bot goes on answering."""
    settings = get_settings()
    line, details = summary(tracker, reason)
    request = HandoffRequest(
        channel=tracker.get_latest_input_channel() or "unknown",
        sender_id=tracker.sender_id, reason=reason, summary=line, details=details,
    )
    events: List[Dict] = [SlotSet("handoff_offered", False)]
    try:
        ticket = await asyncio.wait_for(
            asyncio.to_thread(services.get_handoff_inbox().open, request),
            settings.action_deadline_s,
        )
    except Exception as e:
        logger.error("handoff.failed reason=%s error=%s", reason, type(e).__name__)
        return _joined(lead, HANDOFF_FAILED), events
    logger.info("handoff.queued reason=%s handoff_id=%d position=%d open=%s", reason,
                ticket.handoff_id, ticket.position, ticket.open_now)
    # Paused, Rasa predicts nothing more, so it would not log the bot listening either: without
    # that, the first message after the hand-back matches no rule.
    return _joined(lead, customer_notice(ticket)), events + [ConversationPaused(),
                                                            ActionExecuted("action_listen")]


def _joined(lead: str, text: str) -> str:
    return f"{lead} {text}" if lead else text
