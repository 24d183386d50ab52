"""MiniLMFeaturizer: dense sentence and token features from all-MiniLM-L6-v2 for DIET.

Sentence feature: the normalised mean-pooled embedding (what sentence-transformers returns).
Sequence features: for each Rasa token, the mean of the MiniLM wordpiece states inside its span,
so the rows line up with the sparse features of the other featurizers.
The model runs in NumPy (`bot.nlu.encoder`), loaded once per process: from `model_dir` (our
fine-tuned copy, bot/nlu/encoder_train.py; relative paths are from the project root), or from the
packaged wheel when `model_dir` is empty. The fine-tuned copy's data hash and training time are
part of the component's fingerprint, so Rasa recomputes the features when the encoder is
retrained. The Rasa model does not carry the encoder: `make train` retrains Rasa whenever the
encoder changes, and so must anyone who retrains the encoder by hand.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.encoder import MiniLMEncoder, pool_to_spans

logger = logging.getLogger(__name__)

_ENCODERS: Dict[Tuple[str, int], MiniLMEncoder] = {}


def _model_dir(config: Dict[Text, Any]) -> Optional[Path]:
    """The configured encoder directory, or None for the packaged all-MiniLM-L6-v2."""
    from bot.settings import ROOT

    name = str(config.get("model_dir") or "")
    if not name:
        return None
    path = Path(name) if Path(name).is_absolute() else Path(ROOT) / name
    if not (path / "manifest.json").exists():
        raise FileNotFoundError(f"MiniLMFeaturizer: no fine-tuned encoder in {path}: run `make train`")
    return path


def _encoder(config: Dict[Text, Any]) -> MiniLMEncoder:
    model_dir = _model_dir(config)
    key = (str(model_dir or ""), int(config.get("max_tokens", 128)))
    if key not in _ENCODERS:
        _ENCODERS[key] = MiniLMEncoder(model_dir, max_tokens=key[1])
        logger.info("nlu.minilm_loaded dim=%d from=%s", _ENCODERS[key].dim, key[0] or "package")
    return _ENCODERS[key]


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False
)
class MiniLMFeaturizer(DenseFeaturizer, GraphComponent):
    @classmethod
    def required_components(cls) -> List[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "max_tokens": 128, "batch_size": 64, "model_dir": ""}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["tokenizers", "safetensors"]

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "MiniLMFeaturizer":
        return cls(execution_context.node_name, config)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "MiniLMFeaturizer":
        """Loads the encoder with the Rasa model, so the first customer does not wait for it."""
        _encoder(config)
        return cls.create(config, model_storage, resource, execution_context)

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[str]:
        """The fine-tuned encoder's data hash and training time: new weights mean new features."""
        model_dir = _model_dir(config)
        if model_dir is None:
            return None
        manifest = json.loads((model_dir / "manifest.json").read_text())
        return f"{manifest['data']['hash']}:{manifest['trained_at']}"

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if int(config.get("max_tokens", 128)) < 8:
            raise ValueError("MiniLMFeaturizer: max_tokens must be at least 8")

    def _featurize(self, messages: List[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT) and m.get(TOKENS_NAMES[TEXT])]
        if not todo:
            return
        encoder = _encoder(self._config)
        encoded = encoder.encode([m.get(TEXT) for m in todo], int(self._config["batch_size"]))
        for message, enc in zip(todo, encoded):
            spans = [(t.start, t.end) for t in message.get(TOKENS_NAMES[TEXT])]
            self.add_features_to_message(
                sequence=pool_to_spans(enc, spans),
                sentence=enc.sentence[np.newaxis, :],
                attribute=TEXT,
                message=message,
            )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages
