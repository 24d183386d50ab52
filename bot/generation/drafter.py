"""A draft for one customer turn: prompt, decode within the budget, check, decide.

    drafter = Drafter(runtime, run="20261123-1550-cpu", embed=embedder.encode, threshold=0.6)
    result = drafter.draft(question, hits, question_vector, history, deadline_s=3.0)
    result.reply       # the text to send, or None: send the extractive answer instead
    result.refused     # the model said the passages don't answer it
    result.outcome     # bot.answer.DraftOutcome for the log: sent / rejected / timeout / fallback

The model decodes greedily except for one choice: it refuses only when its refusal is at least
`refusal_min_prob` likely, else it answers (runtimes.decode says why).

One thread decodes, several customers' drafts at a time as one batch (bot/generation/batcher.py):
on a 2-core machine two decodes side by side only make both miss their budget. A turn waits for
its draft only until its deadline, and only if few drafts wait already: otherwise it gets the
extractive answer at once (outcome "fallback", "drafter busy"), so no customer's answer queues
behind other customers' drafts.

A draft in three steps, so that the bot's action waits for the model without holding a thread:

    pending = drafter.start(question, hits, question_vector, history, deadline_s)  # prompt, queued
    generation = pending.future.result(pending.seconds_left())                     # or awaited
    result = drafter.finish(pending, generation)                                   # checks

`draft()` does all three in turn (the reports, the CLI).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

import numpy as np

from bot.answer import DraftOutcome
from bot.generation.batcher import DraftBatcher
from bot.generation.checks import check_draft
from bot.generation.prompt import (MAX_PASSAGE_CHARS, REFUSAL, Context, Turn, build_contexts, is_refusal,
                                   prompt_hash, render, split_citations)
from bot.generation.runtimes import Generation

BUSY = "drafter busy"  # the outcome's failed_check when a turn is not drafted for lack of time

logger = logging.getLogger(__name__)


@dataclass
class DraftResult:
    reply: Optional[str]  # what to send; None: fall back to the extractive answer
    refused: bool
    outcome: DraftOutcome


def customer_reply(draft: str, hits: Sequence) -> str:
    """The draft as the customer reads it: citations become a source line with the article link."""
    body, cited = split_citations(draft)
    by_article = {h.article_id: h for h in hits}
    sources = []
    for article_id in dict.fromkeys(cited):
        hit = by_article[article_id]
        sources.append(f"{hit.title} - {hit.url}")
    label = "Source" if len(sources) == 1 else "Sources"
    return f"{body}\n{label}: " + "; ".join(sources)


@dataclass
class PendingDraft:
    """A draft on its way: its prompt is queued (`future`), or it already has its result
    (`result`: the drafter was busy)."""

    started: float  # time.perf_counter() at start()
    deadline_s: float
    digest: str
    contexts: List[Context]
    hits: Sequence
    customer_text: List[str]
    future: Optional[Future] = None
    result: Optional[DraftResult] = field(default=None)

    def seconds_left(self) -> float:
        return max(0.0, self.deadline_s - (time.perf_counter() - self.started))


class Drafter:
    def __init__(
        self,
        runtime,
        run: str,
        embed: Callable[[Sequence[str]], np.ndarray],
        threshold: float,
        max_new_tokens: int = 100,
        max_passage_chars: int = MAX_PASSAGE_CHARS,
        refusal_min_prob: float = 0.5,
        vocabulary: Sequence[str] = (),
        max_batch: int = 4,
        max_waiting: int = 4,
        batch_wait_s: float = 0.01,
    ):
        self.runtime = runtime
        self.run = run
        self.embed = embed
        self.threshold = threshold
        self.max_new_tokens = max_new_tokens
        self.max_passage_chars = max_passage_chars
        self.refusal_min_prob = refusal_min_prob
        self.vocabulary = frozenset(vocabulary)  # words an answer may add (checks.check_novel)
        self.batcher = DraftBatcher(runtime, max_new_tokens, refusal_min_prob, max_batch=max_batch,
                                    wait_s=batch_wait_s, max_waiting=max_waiting)

    def _outcome(self, pending: PendingDraft, status, text="", failed=None,
                 generation: Optional[Generation] = None) -> DraftOutcome:
        return DraftOutcome(
            self.run, pending.digest, text, status, failed,
            latency_ms=int((time.perf_counter() - pending.started) * 1000),
            prompt_tokens=generation.prompt_tokens if generation else None,
            new_tokens=generation.new_tokens if generation else None,
        )

    def start(
        self,
        question: str,
        hits: Sequence,
        question_vector: np.ndarray,
        history: Sequence[Turn] = (),
        deadline_s: float = 3.0,
    ) -> PendingDraft:
        """The prompt built and queued for the model (blocking: embeds the passages' sentences)."""
        started = time.perf_counter()
        contexts = build_contexts(hits, question_vector, self.embed, self.max_passage_chars)
        prompt = render(self.runtime.tokenizer, question, contexts, history)
        pending = PendingDraft(started, deadline_s, prompt_hash(prompt), contexts, hits,
                               [question, *[t.user for t in history]])
        left = pending.seconds_left()
        pending.future = self.batcher.submit(prompt, time.monotonic() + left) if left > 0 else None
        if pending.future is None:
            pending.result = DraftResult(None, False, self._outcome(pending, "fallback", failed=BUSY))
        return pending

    def finish(self, pending: PendingDraft, generation: Optional[Generation] = None,
               error: Optional[BaseException] = None) -> DraftResult:
        """What becomes of the draft (blocking: the checks embed its sentences). `generation`
        None: it did not come in time."""
        if pending.result is not None:
            return pending.result
        if error is not None:  # a broken runtime must not cost the customer their answer
            logger.error("draft.failed error=%s: %s", type(error).__name__, error)
            return DraftResult(None, False, self._outcome(pending, "fallback", failed=f"error: {type(error).__name__}"))
        if generation is None or generation.timed_out:
            text = generation.text if generation else ""
            return DraftResult(None, False, self._outcome(
                pending, "timeout", text, f"over {pending.deadline_s:.1f} s", generation))
        verdict = judge(generation.text, pending.contexts, pending.hits, self.embed, self.threshold,
                        pending.customer_text, self.vocabulary)
        if verdict.failed:
            logger.info("draft.rejected check=%s detail=%s", verdict.failed, verdict.detail)
            return DraftResult(None, False, self._outcome(pending, "rejected", generation.text, verdict.failed, generation))
        return DraftResult(verdict.reply, verdict.refused, self._outcome(pending, "sent", generation.text, None, generation))

    def wait(self, pending: PendingDraft) -> DraftResult:
        """Blocks until the draft is ready or its deadline passes, then finish()."""
        if pending.result is not None:
            return pending.result
        try:
            generation = pending.future.result(timeout=pending.seconds_left())
        except TimeoutError:
            pending.future.cancel()
            return self.finish(pending, None)
        except Exception as e:
            return self.finish(pending, error=e)
        return self.finish(pending, generation)

    def draft(
        self,
        question: str,
        hits: Sequence,
        question_vector: np.ndarray,
        history: Sequence[Turn] = (),
        deadline_s: float = 3.0,
    ) -> DraftResult:
        """start(), wait() and finish(), blocking."""
        return self.wait(self.start(question, hits, question_vector, history, deadline_s))


@dataclass
class Verdict:
    reply: Optional[str]  # what the customer would read; None when a check failed
    refused: bool
    failed: Optional[str] = None
    detail: str = ""


def judge(text: str, contexts: Sequence, hits: Sequence, embed, threshold: float,
          customer_text: Sequence[str], vocabulary=()) -> Verdict:
    """A finished draft checked (bot/generation/checks.py) and put in the customer's form; the
    drafter and the drafter's report (bot/evaluation/generator_report.py) both decide with this."""
    result = check_draft(text, contexts, embed, threshold, customer_text, vocabulary)
    if result.failed:
        return Verdict(None, False, result.failed, result.detail)
    if is_refusal(text):
        return Verdict(REFUSAL, True)
    return Verdict(customer_reply(text, hits), False)
