"""Custom actions served by the rasa-sdk action server (`python -m rasa_sdk --actions actions`).

Actions are thin: read the tracker, ask one service, send the reply, return events.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import services
from bot.answer import (
    SEARCH_FAILED,
    SUPPORT_INTENTS,
    Answer,
    entity_values,
    search_query,
)
from bot.settings import get_settings

logger = logging.getLogger(__name__)


def _rebuilt_in_worker() -> "ActionAnswerSupport":
    services.get_retriever()
    return ActionAnswerSupport()


class ActionAnswerSupport(Action):
    """Answers the support intents from the knowledge base, or says honestly that it can't."""

    def __reduce__(self):
        # rasa-sdk's Sanic server hands its actions to the worker process by pickling them. The
        # worker rebuilds this one through _rebuilt_in_worker, which loads the knowledge base
        # first: /health answers only once customers can be answered, and a missing or mismatched
        # index stops the server at start-up with the command that fixes it. (The main process
        # must not load torch: that fixes the multiprocessing start method and Sanic refuses to
        # start.)
        return (_rebuilt_in_worker, ())

    def name(self) -> Text:
        return "action_answer_support"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "contact_human_agent":
            dispatcher.utter_message(response="utter_handoff")
            return [SlotSet("handoff_offered", False)]

        text = tracker.latest_message.get("text") or ""
        raw_entities = tracker.latest_message.get("entities") or []
        entities = entity_values(raw_entities)
        question = search_query(intent, text, raw_entities)
        deadline = get_settings().action_deadline_s
        try:
            answer = await asyncio.wait_for(
                asyncio.to_thread(services.answer, question, entities), deadline
            )
        except asyncio.TimeoutError:
            logger.error("answer.search_timeout deadline_s=%s", deadline)
            answer = Answer(SEARCH_FAILED, "search_failed", offers_handoff=True)
        except Exception:
            logger.exception("answer.search_failed")
            answer = Answer(SEARCH_FAILED, "search_failed", offers_handoff=True)

        logger.info(
            "answer.sent intent=%s kind=%s sources=%s",
            intent, answer.kind, [s["article_id"] for s in answer.sources[:3]],
        )
        if answer.kind == "no_answer" and intent not in SUPPORT_INTENTS:
            # NLU was unsure and the articles hold nothing either: say what we can help with.
            dispatcher.utter_message(response="utter_ask_rephrase_or_handoff")
        else:
            dispatcher.utter_message(text=answer.text)
        return [SlotSet("handoff_offered", answer.offers_handoff)]
