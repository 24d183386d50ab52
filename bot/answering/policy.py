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
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional, Sequence

from bot.answer import NO_ANSWER, Answer, extractive_answer, hit_sources
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


def respond(
    components: Components,
    text: str,
    previous: Optional[str] = None,
    history: Sequence = (),
) -> Answer:
    """The reply to one customer message (blocking: the action runs it in a thread).

    `text` is the customer's message without entity values; `previous` their previous message in
    this conversation, if any; `history` the recent turns the drafter reads."""
    approved = components.approved.answer(text) if components.approved is not None else None
    if approved is not None:
        return approved
    searched = search(components, text, previous)
    result = searched.result
    if not searched.answers:
        return Answer(NO_ANSWER, "no_answer", True, hit_sources(result.hits))
    extractive = extractive_answer(result)
    drafter = components.drafter
    if drafter is None:
        return extractive
    retriever = components.retriever
    drafted = drafter.draft(
        text, result.hits[: components.draft_passages], retriever.embed_query(searched.query),
        history, deadline_s=components.draft_deadline_s,
    )
    return choose(extractive, drafted, components.trust_refusal)


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
