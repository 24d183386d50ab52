"""The composition root of the action server: builds the heavy services once, lazily.

Actions ask here for what they need; nothing is loaded at import time. The answer action asks for
the retriever when the action server's worker starts, so the first customer does not wait.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Dict, Optional

from bot.settings import Settings, get_settings

if TYPE_CHECKING:
    from bot.answer import Answer

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_retriever = None
_embedder = None


def get_embedder(settings: Optional[Settings] = None):
    global _embedder
    with _lock:
        if _embedder is None:
            from bot.retrieval.embedder import Embedder

            _embedder = Embedder((settings or get_settings()).embedding_model)
        return _embedder


def get_retriever(settings: Optional[Settings] = None):
    """The knowledge-base retriever; raises ManifestError (with the fix) if the index is unusable."""
    global _retriever
    settings = settings or get_settings()
    embedder = get_embedder(settings)
    with _lock:
        if _retriever is None:
            from bot.retrieval.index import load_index
            from bot.retrieval.search import Retriever

            kb = load_index(settings.kb_dir, settings.embedding_model, embedder.dim, settings.articles_dir)
            _retriever = Retriever(kb, embedder, settings.kb_search_mode, settings.kb_threshold)
            logger.info(
                "kb.loaded passages=%d index=%s device=%s mode=%s threshold=%.2f",
                len(kb.passages), kb.manifest["index_type"], kb.device,
                settings.kb_search_mode, settings.kb_threshold,
            )
        return _retriever



def answer(question: str, entities: Optional[Dict[str, str]] = None) -> "Answer":
    """Blocking: searches the knowledge base and builds the reply (the action runs it in a thread)."""
    from bot.answer import extractive_answer

    settings = get_settings()
    retriever = get_retriever(settings)
    result = retriever.search(question, k=settings.kb_top_k)
    return extractive_answer(
        result, retriever.embed_query(question), retriever.embedder.encode, entities or {}
    )
