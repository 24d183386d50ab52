"""OrderDetailsExtractor: order numbers and e-mail addresses, found by rule after DIET.

Customers write an order number as ``#482913``, ``482 913`` or ``482-913``; the bot's forms and
the shop need the six digits. DIET learns these shapes from examples but may miss one or take
part of a phone number. The formats are fixed (knowledge/FACTS.md), so one parser decides:
bot/orders/details.py, the same one the form's validation uses. This component replaces DIET's
``order_number`` and ``email`` entities with the parser's, each with its normalised value and its
place in the text as written. Other entities (invoice numbers, amounts) stay DIET's.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.orders.details import found_entities

OWNED = ("order_number", "email")


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class OrderDetailsExtractor(GraphComponent):
    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "OrderDetailsExtractor":
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data  # the annotations in data/nlu are the training truth

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if text is None:
                continue
            kept = [e for e in message.get(ENTITIES, []) if e.get("entity") not in OWNED]
            found = found_entities(text, extractor="OrderDetailsExtractor")
            message.set(ENTITIES, sorted(kept + found, key=lambda e: e["start"]),
                        add_to_output=True)
        return messages
