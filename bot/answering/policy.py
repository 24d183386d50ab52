"""The one answer policy: refuse, quote or draft. The bot (bot/services.py) and `make eval`
(bot/evaluation/answers_report.py) both call respond(), so what is measured is what is sent.

    0. A question the team has approved an answer for (approved.py) gets that answer.
    1. Search with the customer's words; a follow-up is searched a second time after the previous
       question, and the search the confidence model trusts more is kept.
    2. Refuse ("I couldn't find that ... would you like a person?") when the confidence model
       (or, without one, the cosine threshold) says the best unit does not answer.
    3. Quote: the best unit first (bot/answer.py extractive_answer), then its source.
    4. Draft, only when a drafter is configured: a draft that passes every check replaces the
       quote; a drafted refusal is sent only when refusals are trusted. Anything else keeps the
       quote, and the draft's fate is recorded for the log.

respond() does it all in the calling thread. respond_async() is the same policy for the action
server: the search and the checks run in its thread pool, and the wait for the drafter (which
decodes in its own thread, bot/generation/batcher.py) holds no thread, so customers whose turns
need no draft are never queued behind those waiting for one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable, Optional, Sequence

from bot.answer import NO_ANSWER, Answer, DraftOutcome, extractive_answer, hit_sources
from bot.answering.followup import in_context, is_followup

logger = logging.getLogger(__name__)


@dataclass
class Components:
    """What respond() works with; bot/services.py builds them once."""

    retriever: object  # bot.retrieval.search.Retriever
    confidence: Optional[object] = None  # bot.answering.confidence.ConfidenceModel
    drafter: Optional[object] = None  # bot.generation.drafter.Drafter
    top_k: int = 5
    draft_passages: int = 3
    draft_deadline_s: float = 3.0
    trust_refusal: bool = False
    followup_context: bool = True
    approved: Optional[object] = None  # bot.answering.approved.ApprovedAnswers


@dataclass
class Searched:
    result: object  # SearchResult
    probability: float  # how likely its best unit answers (1.0/0.0 from the threshold without a model)
    answers: bool
    query: str


def _judge(components: Components, query: str, focus: Optional[str] = None) -> Searched:
    result = components.retriever.search(query, k=components.top_k, focus=focus)
    if components.confidence is not None:
        p = components.confidence.probability(result) if result.hits else 0.0
        return Searched(result, p, bool(result.hits) and p >= components.confidence.threshold, query)
    return Searched(result, float(result.answerable), result.answerable, query)


def search(components: Components, text: str, previous: Optional[str] = None) -> Searched:
    """The search the answer is built on (step 1 of the module docstring)."""
    alone = _judge(components, text)
    if components.followup_context and is_followup(text, previous):
        together = _judge(components, in_context(text, previous), focus=text)
        if together.probability > alone.probability:
            logger.info("answer.followup_in_context p=%.2f alone=%.2f", together.probability, alone.probability)
            return together
    return alone


@dataclass
class Begun:
    """Steps 0 to 3 done: the reply to send if no draft replaces it, and the draft under way."""

    answer: Answer
    draft: Optional[object] = None  # bot.generation.drafter.PendingDraft


def begin(
    components: Components,
    text: str,
    previous: Optional[str] = None,
    history: Sequence = (),
    draft: bool = True,
) -> Begun:
    """Steps 0 to 3, and the draft started (blocking: search, and the prompt's passages).
    `draft` False: the server is too busy to draft (the quote goes, and the log says why)."""
    approved = components.approved.answer(text) if components.approved is not None else None
    if approved is not None:
        return Begun(approved)
    searched = search(components, text, previous)
    result = searched.result
    if not searched.answers:
        return Begun(Answer(NO_ANSWER, "no_answer", True, hit_sources(result.hits)))
    extractive = extractive_answer(result)
    drafter = components.drafter
    if drafter is None:
        return Begun(extractive)
    if not draft:
        from bot.generation.drafter import BUSY

        extractive.draft = DraftOutcome(drafter.run, "", "", "fallback", BUSY)
        return Begun(extractive)
    pending = drafter.start(
        text, result.hits[: components.draft_passages], components.retriever.embed_query(searched.query),
        history, deadline_s=components.draft_deadline_s,
    )
    return Begun(extractive, pending)


def respond(
    components: Components,
    text: str,
    previous: Optional[str] = None,
    history: Sequence = (),
) -> Answer:
    """The reply to one customer message (blocking).

    `text` is the customer's message without entity values; `previous` their previous message in
    this conversation, if any; `history` the recent turns the drafter reads."""
    begun = begin(components, text, previous, history)
    if begun.draft is None:
        return begun.answer
    return choose(begun.answer, components.drafter.wait(begun.draft), components.trust_refusal)


Blocking = Callable[..., Awaitable]  # runs a blocking function with its arguments in a thread pool


async def respond_async(
    components: Components,
    run_blocking: Blocking,
    text: str,
    previous: Optional[str] = None,
    history: Sequence = (),
    draft: bool = True,
) -> Answer:
    """respond() for an event loop: the blocking steps go through `run_blocking`; the draft is
    awaited until its deadline without holding a thread. `draft`: as for begin()."""
    begun = await run_blocking(begin, components, text, previous, history, draft)
    pending = begun.draft
    if pending is None:
        return begun.answer
    drafter = components.drafter
    generation, error = None, None
    if pending.result is None:
        try:
            generation = await asyncio.wait_for(asyncio.wrap_future(pending.future), pending.seconds_left())
        except asyncio.TimeoutError:
            logger.info("draft.late waited_s=%.2f", pending.deadline_s)
        except Exception as e:  # the runtime failed: finish() logs it and the quote is sent
            error = e
    drafted = await run_blocking(drafter.finish, pending, generation, error)
    return choose(begun.answer, drafted, components.trust_refusal)


def choose(extractive: Answer, drafted, trust_refusal: bool) -> Answer:
    """Draft or quote (step 4): a checked draft replaces the quote; a drafted refusal is sent only
    when refusals are trusted. `drafted` is a bot.generation.drafter.DraftResult."""
    extractive.draft = drafted.outcome
    if drafted.refused:
        if trust_refusal:
            return Answer(NO_ANSWER, "no_answer", True, extractive.sources, drafted.outcome)
        drafted.outcome.status, drafted.outcome.failed_check = "rejected", "refusal not trusted"
        return extractive
    if drafted.reply is None:
        return extractive
    return Answer(drafted.reply, "drafted", False, extractive.sources, drafted.outcome)
