"""MessageGuard: the first component of the NLU pipeline.

It cleans and caps the text of every message (see `bot.nlu.cleaning`) before the tokenizer sees it,
whatever channel the message came from. The cap is `BOT_MAX_MESSAGE_CHARS` unless the pipeline
config sets `max_chars`.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.cleaning import clean_text
from bot.settings import get_settings

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False
)
class MessageGuard(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"max_chars": None}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.max_chars = int(config.get("max_chars") or get_settings().max_message_chars)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "MessageGuard":
        return cls(config)

    def _guard(self, message: Message) -> None:
        text = message.get(TEXT)
        if text is None:
            return
        cleaned = clean_text(text, self.max_chars)
        if cleaned.truncated:
            logger.warning(
                "nlu.message_truncated original_chars=%d kept_chars=%d",
                len(text),
                len(cleaned.text),
            )
        message.set(TEXT, cleaned.text)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._guard(message)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._guard(message)
        return messages
