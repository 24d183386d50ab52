"""The composition root of the action server: builds the heavy services once, lazily.

Actions ask here for what they need; nothing is loaded at import time. The answer action asks for
the retriever when the action server's worker starts, so the first customer does not wait.

The re-ranker, its "I don't know" model and the approved-answer matcher are swapped in while the
server runs when their files change (checked every RELOAD_CHECK_S at most): a first `make run`
answers with first-stage search while they train in the background (bot/launcher.py), and a
`make reranker` or `make matcher` run by hand is picked up without a restart.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

from bot.settings import Settings, get_settings

if TYPE_CHECKING:
    from bot.answer import Answer
    from bot.generation.prompt import Turn

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_retriever = None
_embedder = None
_conversation_log = None
_order_backend = None
_log_lock = threading.Lock()
_drafter = False  # not looked for yet (None: looked for, there is none)
_confidence = False  # likewise
_model_stamp = None  # the re-ranker's, confidence model's and matcher's files when they were loaded
_next_check = 0.0
RELOAD_CHECK_S = 10.0


def get_embedder(settings: Optional[Settings] = None):
    global _embedder
    with _lock:
        if _embedder is None:
            from bot.retrieval.embedder import Embedder

            threads = (settings or get_settings()).torch_threads
            if threads > 0:
                import torch

                torch.set_num_threads(threads)

            _embedder = Embedder((settings or get_settings()).embedding_model)
        return _embedder


def get_retriever(settings: Optional[Settings] = None):
    """The knowledge-base retriever; raises ManifestError (with the fix) if the index is unusable."""
    global _retriever, _model_stamp
    settings = settings or get_settings()
    embedder = get_embedder(settings)
    with _lock:
        if _retriever is None:
            from bot.retrieval.index import load_index
            from bot.retrieval.search import Retriever

            _model_stamp = model_files(settings)
            kb = load_index(settings.kb_dir, settings.embedding_model, embedder.dim, settings.articles_dir)
            reranker = _load_reranker(settings)
            _retriever = Retriever(
                kb, embedder, settings.kb_search_mode, first_stage_threshold(settings, reranker),
                reranker=reranker, rerank_top=settings.kb_rerank_top,
            )
            if _retriever.reranker is not None:
                _warm_in_background(_retriever)
            logger.info(
                "kb.loaded passages=%d index=%s device=%s mode=%s reranker=%s",
                len(kb.passages), kb.manifest["index_type"], kb.device,
                settings.kb_search_mode, "on" if _retriever.reranker else "off",
            )
        return _retriever


def _warm_in_background(retriever) -> None:
    """Every unit encoded once by the re-ranker, behind the first customers (rerank.warm)."""
    def warm():
        started = time.monotonic()
        n = retriever.reranker.warm([p.context for p in retriever.kb.passages])
        logger.info("kb.reranker_warm units=%d seconds=%.1f", n, time.monotonic() - started)

    threading.Thread(target=warm, name="reranker-warm", daemon=True).start()


def first_stage_threshold(settings: Settings, reranker) -> float:
    """The cosine below which the bot refuses without a confidence model: stricter while an
    expected re-ranker is still being trained (``kb_warmup_threshold``)."""
    if reranker is None and settings.kb_reranker == "auto":
        return max(settings.kb_threshold, settings.kb_warmup_threshold)
    return settings.kb_threshold


def _load_reranker(settings: Settings):
    """The re-ranker, or None when it is off or (with "auto") not trained yet."""
    from bot.retrieval.rerank import Reranker, read_manifest

    if settings.kb_reranker == "off":
        return None
    if settings.kb_reranker == "auto" and read_manifest(settings.reranker_dir) is None:
        logger.warning("kb.no_reranker: none under %s; candidates keep their first-stage order "
                       "(make reranker trains one)", settings.reranker_dir)
        return None
    return Reranker(settings.reranker_dir)  # a configured one that fails stops the start-up


def get_confidence(settings: Optional[Settings] = None):
    """The "I don't know" model fitted for the loaded re-ranker, or None (the cosine threshold)."""
    global _confidence
    settings = settings or get_settings()
    retriever = get_retriever(settings)
    with _lock:
        if _confidence is False:
            _confidence = _load_confidence(settings, retriever)
        return _confidence


def _load_confidence(settings: Settings, retriever):
    from bot.answering.confidence import ConfidenceModel

    path = settings.confidence_path
    if settings.kb_confidence == "off" or retriever.reranker is None or (
        settings.kb_confidence == "auto" and not path.exists()
    ):
        logger.warning("answer.no_confidence_model: refusing below cosine %.2f", settings.kb_threshold)
        return None
    confidence = ConfidenceModel.load(path, retriever.reranker.manifest["data"]["hash"])
    logger.info("answer.confidence_loaded threshold=%.2f", confidence.threshold)
    return confidence


def model_files(settings: Settings) -> tuple:
    """When the re-ranker, the confidence model and the matcher were last written (None: absent)."""
    files = (settings.reranker_dir / "manifest.json", settings.confidence_path,
             settings.matcher_dir / "manifest.json")
    return tuple(f.stat().st_mtime if f.exists() else None for f in files)


def reload_if_retrained(settings: Optional[Settings] = None) -> bool:
    """Swaps in a re-ranker, confidence model or matcher written since they were loaded; True if
    it did. A re-ranker whose confidence model is not fitted yet is left for the next check (the
    pair goes in together, or not at all)."""
    global _retriever, _confidence, _approved, _model_stamp, _next_check
    settings = settings or get_settings()
    now = time.monotonic()
    with _lock:
        if _retriever is None or now < _next_check:
            return False
        _next_check = now + RELOAD_CHECK_S
        old = _retriever
    stamp = model_files(settings)
    if stamp == _model_stamp:
        return False
    from bot.retrieval.search import Retriever

    try:
        reranker = _load_reranker(settings)
        retriever = Retriever(old.kb, old.embedder, settings.kb_search_mode,
                              first_stage_threshold(settings, reranker), reranker=reranker,
                              rerank_top=settings.kb_rerank_top)
        if retriever.reranker is not None:
            retriever.reranker.warm([p.context for p in retriever.kb.passages])
        confidence = _load_confidence(settings, retriever)
        if retriever.reranker is not None and confidence is None and settings.kb_confidence == "auto":
            raise FileNotFoundError(f"{settings.confidence_path} (fitted after the re-ranker)")
    except Exception as e:  # half-written (training still running): the next check tries again
        logger.info("models.reload_later: %s: %s", type(e).__name__, e)
        return False
    with _lock:
        _retriever, _confidence, _model_stamp = retriever, confidence, stamp
        _approved = None  # rebuilt on the next message, with the matcher if there is one now
    logger.info("models.reloaded reranker=%s confidence=%s",
                "on" if retriever.reranker else "off", "on" if confidence else "off")
    return True


_reloading = threading.Lock()


def _reload_in_background(settings: Settings) -> None:
    """reload_if_retrained in a thread of its own (loading and warming a re-ranker takes seconds:
    no customer's turn waits for it); at most one at a time, and a look at the files at most
    every RELOAD_CHECK_S."""
    if _retriever is None or time.monotonic() < _next_check or not _reloading.acquire(blocking=False):
        return

    def run():
        try:
            reload_if_retrained(settings)
        except Exception:  # the current models keep answering; the next check tries again
            logger.exception("models.reload_failed")
        finally:
            _reloading.release()

    threading.Thread(target=run, name="models-reload", daemon=True).start()


def components(settings: Optional[Settings] = None, with_drafter: bool = True,
               with_approved: bool = False):
    """What the answer policy (bot/answering/policy.py) works with (the heavy parts built once).
    The team's approved answers come first for customers (``with_approved``); the reports
    measure the help centre itself and leave them out."""
    from bot.answering.policy import Components

    settings = settings or get_settings()
    _reload_in_background(settings)
    return Components(
        retriever=get_retriever(settings), confidence=get_confidence(settings),
        drafter=get_drafter(settings) if with_drafter else None, top_k=settings.kb_top_k,
        draft_passages=settings.draft_passages, draft_deadline_s=settings.draft_deadline_s,
        trust_refusal=settings.draft_trust_refusal, followup_context=settings.followup_context,
        approved=get_approved_answers(settings) if with_approved else None,
    )


_approved = None


def get_approved_answers(settings: Optional[Settings] = None):
    """The team's approved answers (bot/answering/approved.py), read from the conversation log's
    database, matched under the fine-tuned matcher when there is one; None when
    ``BOT_APPROVED_ANSWERS=off``."""
    global _approved
    settings = settings or get_settings()
    if not settings.approved_answers:
        return None
    if _approved is not None:  # every customer message asks: no file check, no lock
        return _approved
    use_matcher = (settings.approved_matcher != "off"
                   and (settings.matcher_dir / "manifest.json").exists())
    # Built before taking the lock: get_embedder takes it too.
    embedder = None if use_matcher else get_embedder(settings)
    with _lock:
        if _approved is None:
            from bot.answering.approved import BASE_THRESHOLD, ApprovedAnswers
            from bot.answering.matcher import Matcher
            from bot.retrieval.articles import load_articles
            from bot.storage.db import make_engine, session_factory

            if use_matcher:
                matcher = Matcher(settings.matcher_dir)
                embed, threshold = matcher.encode, matcher.threshold
            else:
                if settings.approved_matcher == "auto":
                    logger.warning("approved.no_matcher: %s has no matcher (make matcher); "
                                   "matching under the knowledge base's MiniLM",
                                   settings.matcher_dir)
                embed, threshold = embedder.encode, BASE_THRESHOLD
            _approved = ApprovedAnswers(
                session_factory(make_engine(settings.log_url)), embed,
                threshold=settings.approved_threshold or threshold,
                articles={a.id: (a.title, a.url) for a in load_articles(settings.articles_dir)})
        return _approved


def get_drafter(settings: Optional[Settings] = None):
    """The reply drafter, or None when drafting is off or no fine-tuned run exists yet."""
    global _drafter
    settings = settings or get_settings()
    embedder = get_embedder(settings)
    with _lock:
        if _drafter is False:
            from bot.generation.choice import choose, use_shipped
            from bot.generation.runtimes import open_runtime

            shipped = use_shipped(settings)
            if shipped:
                logger.info("generator.shipped: %s", shipped)
            choice = choose(settings)
            source = choice.source
            if source is None and settings.generator != "off":
                logger.warning("generator.none: %s", choice.note)
            if source is None:
                _drafter = None
            else:
                runtime = open_runtime(str(source), settings.generator_runtime)
                _drafter = new_drafter(settings, runtime, Path(str(source)).name, embedder.encode)
                logger.info("generator.loaded run=%s runtime=%s: %s", source, runtime.name,
                            choice.note)
        return _drafter


def new_drafter(settings: Settings, runtime, run: str, embed):
    """A Drafter over `runtime` configured from the settings (the bot's, and `make bench-drafter`'s)."""
    from bot.generation.dataset import TRAIN_DIR, answer_vocabulary
    from bot.generation.drafter import Drafter

    return Drafter(
        runtime, run=run, embed=embed, threshold=settings.draft_support_threshold,
        max_new_tokens=settings.draft_max_new_tokens,
        # The gate decides whether a refusal stands; untrusted refusals are replaced by the
        # extractive reply anyway, and decoding again would only cost time
        # (reports/generator.md: p95 2.88 s gated against 1.85 s plain greedy).
        refusal_min_prob=settings.draft_refusal_min_prob if settings.draft_trust_refusal else 0.0,
        vocabulary=answer_vocabulary(settings.root / TRAIN_DIR, settings.articles_dir),
        max_batch=settings.draft_max_batch, max_waiting=settings.draft_max_waiting,
        batch_wait_s=settings.draft_batch_wait_ms / 1000,
    )


def answer(text: str, previous: Optional[str] = None, history: Sequence["Turn"] = ()) -> "Answer":
    """Blocking: the reply to a support question by the one answer policy (the action runs it in a
    thread). `text` is the customer's message without entity values, `previous` their previous
    message, `history` the recent turns."""
    from bot.answering.policy import respond

    return respond(components(with_approved=True), text, previous, history)


_pool: Optional[ThreadPoolExecutor] = None
_in_flight = 0  # customer turns the action server is answering right now


def answer_pool(settings: Optional[Settings] = None) -> ThreadPoolExecutor:
    """The threads that search and check for the action server (``BOT_ANSWER_THREADS``): its
    own pool, not the event loop's default one, so nothing else the server does (the log, the
    order service) waits behind searches, and no thread ever waits for the drafter."""
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor((settings or get_settings()).answer_threads,
                                           thread_name_prefix="answer")
    return _pool


async def run_blocking(fn, *args):
    """`fn(*args)` in the answer pool, awaited."""
    return await asyncio.get_running_loop().run_in_executor(answer_pool(), functools.partial(fn, *args))


async def answer_async(text: str, previous: Optional[str] = None,
                       history: Sequence["Turn"] = ()) -> "Answer":
    """answer() for the action server: the same policy, but the wait for a draft holds no thread
    (bot/answering/policy.py respond_async)."""
    from bot.answering.policy import respond_async

    global _in_flight
    _in_flight += 1  # on the event loop only: no lock
    try:
        parts = await run_blocking(functools.partial(components, with_approved=True))
        # Drafting takes the cores that searching needs: with more customers' turns than this
        # under way, every turn gets the quote at once (reports/bench_load.md).
        draft = _in_flight <= get_settings().draft_max_in_flight
        return await respond_async(parts, run_blocking, text, previous, history, draft)
    finally:
        _in_flight -= 1


def approved(text: str) -> "Optional[Answer]":
    """Blocking: the team's approved answer to ``text`` alone, or None (for messages NLU put out
    of scope: what the team answered is in scope). Needs the embedder, not the index."""
    found = get_approved_answers()
    return found.answer(text) if found is not None else None


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


def get_order_backend(settings: Optional[Settings] = None):
    """The shop's order system (bot/orders/), reached over its HTTP contract; one client (and its
    connection pool) per process, made on first use from the event loop that uses it."""
    global _order_backend
    if _order_backend is None:
        from bot.orders.http import HttpOrderBackend

        settings = settings or get_settings()
        _order_backend = HttpOrderBackend(settings.store_url, settings.store_timeout_s)
        logger.info("orders.backend url=%s timeout_s=%s", settings.store_url,
                    settings.store_timeout_s)
    return _order_backend


_handoff_inbox = None


def get_handoff_inbox(settings: Optional[Settings] = None):
    """Where handed-over conversations go (bot/handoff/inbox.py); ``BOT_HANDOFF_INBOX`` says which.
    "desk", the built-in agent desk's queue, is the one this repository has."""
    global _handoff_inbox
    if _handoff_inbox is None:
        settings = settings or get_settings()
        if settings.handoff_inbox != "desk":
            raise ValueError(f"BOT_HANDOFF_INBOX={settings.handoff_inbox!r}: only 'desk' is built "
                             f"in (bot/handoff/inbox.py says how to add another)")
        from bot.handoff.inbox import DeskInbox
        from bot.storage.db import make_engine, session_factory

        _handoff_inbox = DeskInbox(
            session_factory(make_engine(settings.log_url)), settings.sender_salt(),
            minutes_per_customer=settings.desk_minutes_per_customer,
            always_open=settings.desk_hours == "always",
        )
    return _handoff_inbox
