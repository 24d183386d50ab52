"""The re-ranker: MiniLM fine-tuned on our own questions, scoring the first stage's candidates.

The first stage (dense + BM25, bot/retrieval/search.py) finds the right article well but often
puts a neighbouring unit first: the card row for a PayPal question, the exchanges paragraph for
"what is your return policy". The re-ranker reorders the candidates by the cosine between the
question and each unit under a copy of MiniLM fine-tuned contrastively on the drafter's training
questions (bot/retrieval/rerank_train.py): the question pulled towards the unit that answers it,
away from the other units search returned for it.

Why not a cross-encoder (question and unit read together): we trained one from the same MiniLM on
the same 380 labelled questions, and it ranked worse than the first stage alone (gold-article
recall@1 0.668 against 0.818 on tests/answers/): from a sentence-embedding model and this little
data it did not learn to read pairs. The fine-tuned bi-encoder keeps what MiniLM knows.

On disk (models/reranker/ by default, made by `python -m bot reranker train`):
  config.json, model.safetensors, tokenizer files   the fine-tuned encoder (save_pretrained)
  manifest.json   base model, training data hash, recipe, figures; "status": "good" written
                  last, so a crashed run is never loaded

The CPU path always works; the model moves to the GPU when torch sees one. Unit vectors are
cached: after the first questions only the question itself is encoded.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

logger = logging.getLogger(__name__)

FORMAT_VERSION = 3
MAX_TOKENS = 128


class RerankerError(RuntimeError):
    """The re-ranker on disk cannot be used; the message says how to fix it."""


def read_manifest(model_dir: Path) -> Optional[dict]:
    try:
        manifest = json.loads((Path(model_dir) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return manifest if manifest.get("status") == "good" else None


def mean_pooled(model, batch):
    """L2-normalised mean of the token states (what all-MiniLM-L6-v2 was trained with)."""
    import torch

    states = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
    pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled, dim=-1)


class Reranker:
    def __init__(self, model_dir: Path, device: Optional[str] = None) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        manifest = read_manifest(model_dir)
        if manifest is None:
            raise RerankerError(f"no finished re-ranker at {model_dir}: train one with `python -m bot reranker train`")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise RerankerError(
                f"the re-ranker at {model_dir} is format {manifest.get('format_version')}, not {FORMAT_VERSION}: "
                "train it again with `python -m bot reranker train`"
            )
        self.manifest = manifest
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.model = AutoModel.from_pretrained(str(model_dir), add_pooling_layer=False).to(self.device).eval()
        self._torch = torch
        self._units: Dict[str, np.ndarray] = {}
        logger.info("kb.reranker_loaded dir=%s device=%s", model_dir, self.device)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        batch = self.tokenizer(list(texts), truncation=True, max_length=MAX_TOKENS, padding=True,
                               return_tensors="pt").to(self.device)
        with self._torch.inference_mode():
            return mean_pooled(self.model, batch).float().cpu().numpy()

    def warm(self, texts: Sequence[str], batch_size: int = 32) -> int:
        """Encodes the texts not cached yet (the action server does every unit once at start, in
        the background, so that under load only questions are encoded); returns how many."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._units]
        for i in range(0, len(missing), batch_size):
            chunk = missing[i:i + batch_size]
            self._units.update(zip(chunk, self.encode(chunk)))
        return len(missing)

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """The cosine of the question and each text under the fine-tuned model (higher is better)."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        missing: List[str] = [t for t in dict.fromkeys(texts) if t not in self._units]
        if missing:
            self._units.update(zip(missing, self.encode(missing)))
        units = np.stack([self._units[t] for t in texts])
        return units @ self.encode([question])[0]
