"""What the conversation log keeps of a turn, read from the tracker Rasa sent with the action call.

Every reply the bot sends comes from an action on this server (actions.py), and each of those
actions awaits ``log_turn`` before it returns its reply: the turn is committed to the log's
database, or safe in its local spool, before Rasa has anything to send (bot/storage/writer.py).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Text

from rasa_sdk import Tracker

from bot import services
from bot.storage.log import DraftRecord, OrderActionRecord, RetrievalRecord, TurnRecord

if TYPE_CHECKING:
    from bot.answer import DraftOutcome

logger = logging.getLogger(__name__)

UNKNOWN_CHANNEL = "unknown"  # a message Rasa got without a channel (rasa test, the HTTP API)


def response_text(domain: Mapping[Text, Any], name: Text) -> Text:
    """The text of one of the domain's responses, as the log stores it.

    Rasa renders a response itself and could pick among variations; ours have one each
    (tests/unit/test_action.py checks), so this is the text the customer read. Without the domain
    in the action call (Rasa's selective domain) the log says which response it was.
    """
    variations = (domain.get("responses") or {}).get(name) or []
    if not variations or not variations[0].get("text"):
        return f"[{name}]"
    return variations[0]["text"]


def _latest_user_event(tracker: Tracker) -> Dict[Text, Any]:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event
    return {}


def _entities(entities: Iterable[Mapping[Text, Any]]) -> List[Dict[Text, Any]]:
    """What NLU found, without its bookkeeping (extractor, processors)."""
    keep = ("entity", "value", "start", "end")
    return [{k: e[k] for k in keep if k in e} for e in entities]


def _draft(draft: "Optional[DraftOutcome]") -> Optional[DraftRecord]:
    if draft is None:
        return None
    return DraftRecord(
        generator_run=draft.run,
        prompt_hash=draft.prompt_hash,
        draft_text=draft.text,
        status=draft.status,
        failed_check=draft.failed_check,
        latency_ms=draft.latency_ms,
        prompt_tokens=draft.prompt_tokens,
        new_tokens=draft.new_tokens,
    )


def turn_record(
    tracker: Tracker,
    reply: Text,
    *,
    answered: bool = True,
    handoff: bool = False,
    sources: Iterable[Mapping[Text, Any]] = (),
    draft: "Optional[DraftOutcome]" = None,
    order_actions: Iterable[OrderActionRecord] = (),
) -> TurnRecord:
    """The turn the tracker's latest message and ``reply`` make. Latency runs from when Rasa
    recorded the message (after NLU) to now, when the reply is ready."""
    message = tracker.latest_message or {}
    intent = message.get("intent") or {}
    received = _latest_user_event(tracker).get("timestamp")
    return TurnRecord(
        channel=tracker.get_latest_input_channel() or UNKNOWN_CHANNEL,
        sender_id=tracker.sender_id,
        user_text=message.get("text") or "",
        intent=intent.get("name"),
        confidence=intent.get("confidence"),
        entities=_entities(message.get("entities") or []),
        bot_reply=reply,
        latency_ms=None if received is None else max(0, round((time.time() - received) * 1000)),
        retrievals=[
            RetrievalRecord(s["article_id"], s["passage_id"], float(s["score"]), int(s["rank"]))
            for s in sources
        ],
        draft=_draft(draft),
        order_actions=list(order_actions),
        message_id=message.get("message_id"),
        answered=answered,
        handoff=handoff,
    )


async def log_turn(tracker: Tracker, reply: Text, **details: Any) -> None:
    """Records the turn (see ``turn_record`` for ``details``) within the log's deadline. Never
    raises: the customer gets the reply whatever becomes of the log, and the cause is logged."""
    try:
        record = turn_record(tracker, reply, **details)
        await services.get_conversation_log().record(record)
    except Exception:
        logger.exception("storage.turn_not_logged")
