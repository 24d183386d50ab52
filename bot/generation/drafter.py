"""A draft for one customer turn: prompt, decode within the budget, check, decide.

    drafter = Drafter(runtime, run="20261123-1550-cpu", embed=embedder.encode, threshold=0.6)
    result = drafter.draft(question, hits, question_vector, history, deadline_s=3.0)
    result.reply       # the text to send, or None: send the extractive answer instead
    result.refused     # the model said the passages don't answer it
    result.outcome     # bot.answer.DraftOutcome for the log: sent / rejected / timeout / fallback

The model decodes greedily except for one choice: it refuses only when its refusal is at least
`refusal_min_prob` likely, else it answers (runtimes.decode says why).

One draft at a time: on a 2-core machine two decodes at once only make both miss their budget. A
turn that finds the drafter busy does not wait for it: it gets the extractive answer at once
(outcome "fallback", "drafter busy"), so no customer's answer queues behind another's draft.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from bot.answer import DraftOutcome
from bot.generation.checks import check_draft
from bot.generation.prompt import MAX_PASSAGE_CHARS, REFUSAL, Turn, build_contexts, is_refusal, prompt_hash, render, split_citations
from bot.generation.runtimes import decode

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
    ):
        self.runtime = runtime
        self.run = run
        self.embed = embed
        self.threshold = threshold
        self.max_new_tokens = max_new_tokens
        self.max_passage_chars = max_passage_chars
        self.refusal_min_prob = refusal_min_prob
        self.vocabulary = frozenset(vocabulary)  # words an answer may add (checks.check_novel)
        self._busy = threading.Lock()

    def draft(
        self,
        question: str,
        hits: Sequence,
        question_vector: np.ndarray,
        history: Sequence[Turn] = (),
        deadline_s: float = 3.0,
    ) -> DraftResult:
        started = time.perf_counter()
        contexts = build_contexts(hits, question_vector, self.embed, self.max_passage_chars)
        prompt = render(self.runtime.tokenizer, question, contexts, history)
        digest = prompt_hash(prompt)

        def outcome(status, text="", failed=None, generation=None) -> DraftOutcome:
            return DraftOutcome(
                self.run, digest, text, status, failed,
                latency_ms=int((time.perf_counter() - started) * 1000),
                prompt_tokens=generation.prompt_tokens if generation else None,
                new_tokens=generation.new_tokens if generation else None,
            )

        if not self._busy.acquire(blocking=False):
            return DraftResult(None, False, outcome("fallback", failed="drafter busy"))
        try:
            left = deadline_s - (time.perf_counter() - started)
            generation = decode(self.runtime, prompt, self.max_new_tokens, left, self.refusal_min_prob)
        except Exception as e:  # a broken runtime must not cost the customer their answer
            logger.exception("draft.failed")
            return DraftResult(None, False, outcome("fallback", failed=f"error: {type(e).__name__}"))
        finally:
            self._busy.release()
        text = generation.text
        if generation.timed_out:
            return DraftResult(None, False, outcome("timeout", text, f"over {deadline_s:.1f} s", generation))
        verdict = judge(text, contexts, hits, self.embed, self.threshold,
                        [question, *[t.user for t in history]], self.vocabulary)
        if verdict.failed:
            logger.info("draft.rejected check=%s detail=%s", verdict.failed, verdict.detail)
            return DraftResult(None, False, outcome("rejected", text, verdict.failed, generation))
        return DraftResult(verdict.reply, verdict.refused, outcome("sent", text, None, generation))


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
