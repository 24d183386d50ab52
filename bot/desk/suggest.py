"""Agent assist: the bot's own answer to the customer's latest question, as a suggested reply.

The answer policy (``bot.services.answer``) blocks and can take seconds (the knowledge base loads
on first use, a draft takes time), so it runs in a small pool of the desk's own threads with a
deadline; the page asks for the suggestion after it has loaded, and a slow model never delays it.
A question asked again (a reload, a second agent) waits on the work already started instead of
starting it twice; a failed one is forgotten, so the next request tries again.

    suggester = Suggester()                      # the bot's answer policy, loaded on first use
    suggester = Suggester(lambda text, previous: Answer(...))   # tests: any function like it
    suggestion = await suggester.suggest("Where is my parcel?", previous=None)
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

logger = logging.getLogger(__name__)

USABLE_KINDS = ("approved", "drafted", "extractive")
WARM_UP_QUESTION = "How long does delivery take?"

# (customer's message, their previous message) -> an Answer (bot/answer.py) or anything with
# text, kind and sources.
AnswerFunction = Callable[[str, Optional[str]], Any]


def services_answer(text: str, previous: Optional[str]) -> Any:
    """The bot's answer policy; its knowledge base and models load on the first call."""
    from bot import services

    return services.answer(text, previous, ())


@dataclass(frozen=True)
class Suggestion:
    question: str
    text: str
    # drafted, extractive, no_answer, search_failed (the answer policy's), or the desk's own:
    # timeout, busy, error, no_question
    kind: str
    sources: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.kind in USABLE_KINDS and bool(self.text.strip())

    def to_json(self) -> Dict[str, Any]:
        return {"question": self.question, "text": self.text if self.usable else "",
                "kind": self.kind, "usable": self.usable, "sources": self.sources}


def _field(answer: Any, name: str, default: Any = None) -> Any:
    if isinstance(answer, dict):
        return answer.get(name, default)
    return getattr(answer, name, default)


def to_suggestion(question: str, answer: Any) -> Suggestion:
    sources = []
    for source in list(_field(answer, "sources", None) or [])[:5]:
        score = _field(source, "score")
        sources.append({
            "article_id": str(_field(source, "article_id", "")),
            "url": _field(source, "url") or None,
            "score": round(float(score), 3) if isinstance(score, (int, float)) else None,
        })
    return Suggestion(question, str(_field(answer, "text", "") or ""),
                      str(_field(answer, "kind", "no_answer")), sources)


class Suggester:
    def __init__(self, answer: Optional[AnswerFunction] = None, *, timeout_s: float = 8.0,
                 workers: int = 2, max_pending: int = 8, cache_size: int = 128) -> None:
        self.answer = answer or services_answer
        self.timeout_s = timeout_s
        self.max_pending = max_pending
        self.cache_size = cache_size
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="desk-suggest")
        self._futures: "OrderedDict[Tuple[str, Optional[str]], Future]" = OrderedDict()
        self._lock = threading.Lock()

    async def suggest(self, question: str, previous: Optional[str] = None) -> Suggestion:
        """The suggestion for ``question``, or kind timeout/busy/error; never raises."""
        future = self._future_for(question, previous)
        if future is None:
            logger.warning("desk.suggestion_busy pending=%d", self.max_pending)
            return Suggestion(question, "", "busy")
        try:
            # shield: a deadline here must not cancel work another request is waiting on
            answer = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)),
                                            self.timeout_s)
        except asyncio.TimeoutError:
            logger.warning("desk.suggestion_timeout timeout_s=%s", self.timeout_s)
            return Suggestion(question, "", "timeout")
        except Exception as e:
            logger.error("desk.suggestion_failed error=%s", type(e).__name__)
            return Suggestion(question, "", "error")
        return to_suggestion(question, answer)

    def _future_for(self, question: str, previous: Optional[str]) -> Optional[Future]:
        key = (question, previous)
        with self._lock:
            future = self._futures.get(key)
            if future is not None:
                self._futures.move_to_end(key)
                return future
            if sum(not f.done() for f in self._futures.values()) >= self.max_pending:
                return None
            future = self._pool.submit(self._timed, question, previous)
            self._futures[key] = future
            while len(self._futures) > self.cache_size:
                self._futures.popitem(last=False)
        future.add_done_callback(lambda f: self._forget_failure(key, f))
        return future

    def _forget_failure(self, key: Tuple[str, Optional[str]], future: Future) -> None:
        if future.cancelled() or future.exception() is not None:
            with self._lock:
                if self._futures.get(key) is future:
                    del self._futures[key]

    def _timed(self, question: str, previous: Optional[str]) -> Any:
        started = time.perf_counter()
        answer = self.answer(question, previous)
        logger.info("desk.suggested kind=%s ms=%d", _field(answer, "kind"),
                    (time.perf_counter() - started) * 1000)
        return answer

    def warm_up(self) -> None:
        """Loads the answer policy in the background so the first real suggestion is quick;
        returns at once, and a failure is only logged (the desk works without suggestions)."""

        def run() -> None:
            started = time.perf_counter()
            try:
                self.answer(WARM_UP_QUESTION, None)
            except Exception as e:
                logger.error("desk.suggester_warm_up_failed error=%s: %s", type(e).__name__,
                             str(e)[:200])
                return
            logger.info("desk.suggester_warm s=%.1f", time.perf_counter() - started)

        self._pool.submit(run)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
