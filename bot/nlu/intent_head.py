"""EmbeddingIntentClassifier: the intent from the (fine-tuned) MiniLM sentence embedding.

A multinomial logistic regression over the dense sentence feature that MiniLMFeaturizer puts on
each message. With the encoder fine-tuned on our intents (bot/nlu/encoder_train.py), messages of
one intent lie close together whatever their wording, and a linear head is all that is left to
learn; it trains in seconds. DIET then only extracts entities (reports/nlu_pipelines.md has the
comparison that chose this).

The model (weights, intercepts, intent names) is stored as JSON in Rasa's model storage.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional, Text, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

FILE = "intent_head.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class EmbeddingIntentClassifier(GraphComponent, IntentClassifier):
    @classmethod
    def required_components(cls) -> List[Type]:
        return [DenseFeaturizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # C: the inverse of the L2 penalty. Weak, since the fine-tuned embeddings already separate
        # the intents; the fallback threshold is chosen for the probabilities it gives
        # (bot/evaluation/compare_pipelines.py, on a dev split of the training data).
        return {"C": 30.0, "max_iter": 3000}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn"]

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 weights: Optional[np.ndarray] = None, bias: Optional[np.ndarray] = None,
                 intents: Optional[List[str]] = None) -> None:
        self.component_config = config
        self._model_storage = model_storage
        self._resource = resource
        self.weights, self.bias, self.intents = weights, bias, intents or []

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "EmbeddingIntentClassifier":
        return cls(config, model_storage, resource)

    @staticmethod
    def _sentence(message: Message) -> Optional[np.ndarray]:
        _, sentence = message.get_dense_features(TEXT)
        return None if sentence is None else sentence.features[0]

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.linear_model import LogisticRegression

        rows = [(self._sentence(m), m.get("intent")) for m in training_data.intent_examples]
        rows = [(x, y) for x, y in rows if x is not None]
        if len({y for _, y in rows}) < 2:
            logger.warning("intent_head: fewer than two intents with sentence features; not trained")
            return self._resource
        x = np.stack([r[0] for r in rows])
        y = [r[1] for r in rows]
        model = LogisticRegression(C=float(self.component_config["C"]),
                                   max_iter=int(self.component_config["max_iter"]))
        model.fit(x, y)
        self.weights, self.bias, self.intents = model.coef_, model.intercept_, list(model.classes_)
        self.persist()
        return self._resource

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        logits = x @ self.weights.T + self.bias
        logits -= logits.max(-1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(-1, keepdims=True)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            x = self._sentence(message) if self.weights is not None else None
            if x is None:
                message.set("intent", {"name": None, "confidence": 0.0}, add_to_output=True)
                message.set("intent_ranking", [], add_to_output=True)
                continue
            p = self.probabilities(x[None, :])[0]
            order = np.argsort(-p)[:LABEL_RANKING_LENGTH]
            ranking = [{"name": self.intents[i], "confidence": float(p[i])} for i in order]
            message.set("intent", ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as model_dir:
            (model_dir / FILE).write_text(json.dumps({
                "intents": self.intents, "weights": self.weights.tolist(), "bias": self.bias.tolist()}))

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "EmbeddingIntentClassifier":
        try:
            with model_storage.read_from(resource) as model_dir:
                data = json.loads((model_dir / FILE).read_text())
        except (ValueError, FileNotFoundError):
            logger.warning("intent_head: no trained head in the model; intents will be empty")
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, np.array(data["weights"]), np.array(data["bias"]),
                   data["intents"])
