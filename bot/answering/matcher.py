"""The approved-answer matcher: MiniLM fine-tuned to tell a rewording from a look-alike.

An approved answer (approved.py) must reach a customer who asks the same thing in other words,
and never one who asks something close with another answer ("refund to a card" next to "refund
to PayPal"). Under the knowledge base's MiniLM the look-alikes are closer to the approved question
than the rewordings are (reports/corrections.md), so a copy of MiniLM is fine-tuned on our own
groups of a question, its rewordings and its look-alikes (bot/answering/matcher_train.py), and
its threshold is chosen on a separate dev set when it is trained.

On disk (models/matcher/ by default, made by `python -m bot matcher train`, `make matcher`):
  config.json, model.safetensors, tokenizer files   the fine-tuned encoder
  manifest.json   base model, data hash, recipe, the threshold chosen on dev and its figures;
                  "status": "good" written last, so a crashed run is never loaded

    matcher = Matcher(settings.matcher_dir)
    vectors = matcher.encode(["is gift wrap free", "do you wrap presents for free"])
    matcher.threshold                      # the cosine a customer question needs
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MAX_TOKENS = 64  # questions are short; longer messages are cut


class MatcherError(RuntimeError):
    """The matcher on disk cannot be used; the message says how to fix it."""


class Matcher:
    def __init__(self, model_dir: Path, device: Optional[str] = None) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        from bot.retrieval.rerank import read_manifest

        manifest = read_manifest(model_dir)
        if manifest is None:
            raise MatcherError(f"no finished matcher at {model_dir}: train one with "
                               "`python -m bot matcher train`")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise MatcherError(f"the matcher at {model_dir} is format "
                               f"{manifest.get('format_version')}, not {FORMAT_VERSION}: train it "
                               "again with `python -m bot matcher train`")
        self.manifest = manifest
        self.threshold = float(manifest["threshold"])
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.model = AutoModel.from_pretrained(str(model_dir), add_pooling_layer=False).to(
            self.device).eval()
        self._torch = torch
        logger.info("matcher.loaded dir=%s device=%s threshold=%.2f", model_dir, self.device,
                    self.threshold)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length rows, one per text (ApprovedAnswers' `embed`)."""
        from bot.retrieval.rerank import mean_pooled

        batch = self.tokenizer(list(texts), truncation=True, max_length=MAX_TOKENS, padding=True,
                               return_tensors="pt").to(self.device)
        with self._torch.inference_mode():
            return mean_pooled(self.model, batch).float().cpu().numpy()
