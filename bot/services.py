"""The composition root of the action server: builds the heavy services once, lazily.

Actions ask here for what they need; nothing is loaded at import time. The answer action asks for
the retriever when the action server's worker starts, so the first customer does not wait.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Optional, Sequence

from bot.settings import Settings, get_settings

if TYPE_CHECKING:
    from bot.answer import Answer
    from bot.generation.prompt import Turn

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_retriever = None
_embedder = None
_conversation_log = None
_log_lock = threading.Lock()
_drafter = False  # not looked for yet (None: looked for, there is none)


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



def get_drafter(settings: Optional[Settings] = None):
    """The reply drafter, or None when drafting is off or no fine-tuned run exists yet."""
    global _drafter
    settings = settings or get_settings()
    embedder = get_embedder(settings)
    with _lock:
        if _drafter is False:
            from bot.generation.drafter import Drafter
            from bot.generation.runs import latest_good
            from bot.generation.runtimes import open_runtime

            choice = settings.generator
            if choice == "off":
                source = None
            elif choice == "auto":
                source = latest_good(settings.models_dir)
                if source is None:
                    logger.warning(
                        "generator.none: no fine-tuned run under %s; replies are extractive "
                        "(make generator trains one)", settings.models_dir / "generator" / "runs"
                    )
            else:
                source = choice
            if source is None:
                _drafter = None
            else:
                runtime = open_runtime(str(source), settings.generator_runtime)
                _drafter = Drafter(
                    runtime, run=Path(str(source)).name, embed=embedder.encode,
                    threshold=settings.draft_support_threshold,
                    max_new_tokens=settings.draft_max_new_tokens,
                    # The gate decides whether a refusal stands; untrusted refusals are replaced by
                    # the extractive reply anyway, and decoding again would only cost time
                    # (reports/generator.md: p95 2.88 s gated against 1.85 s plain greedy).
                    refusal_min_prob=settings.draft_refusal_min_prob if settings.draft_trust_refusal else 0.0,
                )
                logger.info("generator.loaded run=%s runtime=%s", source, runtime.name)
        return _drafter


def answer(
    question: str,
    entities: Optional[Dict[str, str]] = None,
    customer_text: Optional[str] = None,
    history: Sequence["Turn"] = (),
) -> "Answer":
    """Blocking: searches the knowledge base and builds the reply (the action runs it in a thread).

    `question` is what is searched (the intent hint and the message); the drafter reads the
    customer's own words (`customer_text`) and the recent turns. A draft that passes its checks
    is the reply; otherwise the extractive answer is, and the draft's fate is in `answer.draft`.
    """
    from bot.answer import NO_ANSWER, Answer, extractive_answer

    settings = get_settings()
    retriever = get_retriever(settings)
    result = retriever.search(question, k=settings.kb_top_k)
    vector = retriever.embed_query(question)
    extractive = extractive_answer(result, vector, retriever.embedder.encode, entities or {})
    drafter = get_drafter(settings) if result.answerable else None
    if drafter is None:
        return extractive
    drafted = drafter.draft(
        customer_text or question, result.hits[: settings.draft_passages],
        retriever.embed_query(customer_text) if customer_text else vector,
        history, deadline_s=settings.draft_deadline_s,
    )
    extractive.draft = drafted.outcome
    if drafted.refused:
        if settings.draft_trust_refusal:
            return Answer(NO_ANSWER, "no_answer", True, extractive.sources, drafted.outcome)
        drafted.outcome.status, drafted.outcome.failed_check = "rejected", "refusal not trusted"
        return extractive
    if drafted.reply is None:
        return extractive
    return Answer(drafted.reply, "drafted", False, extractive.sources, drafted.outcome)


def get_conversation_log(settings: Optional[Settings] = None):
    """The conversation log's writer (bot/storage/writer.py), opened once per process.

    Actions call this on the event loop: it has a lock of its own, never held while a model
    loads, and once open it takes no lock at all.
    """
    global _conversation_log
    if _conversation_log is None:
        with _log_lock:
            if _conversation_log is None:
                from bot.storage.writer import open_writer

                _conversation_log = open_writer(settings or get_settings())
    return _conversation_log
