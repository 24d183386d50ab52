"""Custom actions served by the rasa-sdk action server (`python -m rasa_sdk --actions actions`).

Actions are thin: read the tracker, ask one service, send the reply.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.answer import entity_values, pick_response

logger = logging.getLogger(__name__)


class ActionAnswerSupport(Action):
    """Answers any of the 27 support intents."""

    def name(self) -> Text:
        return "action_answer_support"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        values = entity_values(tracker.latest_message.get("entities") or [])
        response, template_values = pick_response(intent, values, domain.get("responses", {}))
        logger.info("answer.response intent=%s response=%s", intent, response)
        dispatcher.utter_message(response=response, **template_values)
        return []
