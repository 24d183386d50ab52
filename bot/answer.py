"""Turns a knowledge-base search into the reply a customer reads (used by actions/actions.py).

Extractive: the reply is made of sentences from the best passage, the ones closest to the
question, in their original order, followed by a link to the article. Nothing is invented:
when search finds nothing relevant, the reply says so and offers a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

SUPPORT_INTENTS: List[str] = [
    "cancel_order", "change_order", "place_order", "track_order", "change_shipping_address",
    "set_up_shipping_address", "check_cancellation_fee", "check_invoice", "get_invoice",
    "check_payment_methods", "payment_issue", "check_refund_policy", "get_refund", "track_refund",
    "complaint", "review", "contact_customer_service", "contact_human_agent", "create_account",
    "delete_account", "edit_account", "recover_password", "registration_problems",
    "switch_account", "delivery_options", "delivery_period", "newsletter_subscription",
]

NO_ANSWER = (
    "I couldn't find that in our help centre, and I'd rather not guess. "
    "Would you like me to connect you with a person from our support team?"
)
SEARCH_FAILED = (
    "Sorry, I can't look that up right now. "
    "Would you like me to connect you with a person from our support team?"
)


@dataclass
class DraftOutcome:
    """What the generator drafted for a turn and what became of it (the log's drafts table)."""

    run: str  # the generator run that drafted it (models/generator/<run>)
    prompt_hash: str  # sha256 of the prompt text
    text: str  # the draft as generated, sent or not
    status: str  # "sent", "rejected" (a check failed), "timeout" or "fallback" (drafter unusable)
    failed_check: Optional[str] = None  # which check rejected it, or why it fell back
    latency_ms: Optional[int] = None
    prompt_tokens: Optional[int] = None
    new_tokens: Optional[int] = None


@dataclass
class Answer:
    text: str
    kind: str  # "drafted", "extractive", "no_answer" or "search_failed"
    offers_handoff: bool
    # The passages search returned, best first: article_id, passage_id, url, score, rank.
    sources: List[Dict[str, Any]] = field(default_factory=list)
    draft: Optional[DraftOutcome] = None  # None when no draft was attempted


def normalise_entity(entity: str, value: Any) -> Optional[str]:
    """Puts an extracted entity value in the form replies use ('#482913' -> '482913')."""
    if value is None:
        return None
    text = str(value).strip()
    if entity == "order_number":
        digits = re.sub(r"\D", "", text)
        return digits or None
    if entity == "invoice_number":
        match = re.search(r"(?i)inv[-\s]?(\d+)", text)
        return f"INV-{match.group(1)}" if match else (text.upper() or None)
    return text or None


def entity_values(entities: Iterable[Mapping[str, Any]]) -> Dict[str, str]:
    """The first normalised value of each entity type in a parsed message."""
    values: Dict[str, str] = {}
    for entity in entities:
        name = entity.get("entity")
        if not name or name in values:
            continue
        value = normalise_entity(name, entity.get("value"))
        if value:
            values[name] = value
    return values


def search_query(intent: Optional[str], text: str, entities: Iterable[Mapping[str, Any]]) -> str:
    """What the knowledge base is searched with: the recognised intent as a hint, then the
    message without entity values ("track order: where is my order")."""
    question = strip_entities(text, entities) or text
    if intent in SUPPORT_INTENTS:
        return f"{intent.replace('_', ' ')}: {question}"
    return question


def strip_entities(text: str, entities: Iterable[Mapping[str, Any]]) -> str:
    """The message without its entity values: '#482913' says nothing about which article helps."""
    spans = sorted(
        (e["start"], e["end"]) for e in entities
        if isinstance(e.get("start"), int) and isinstance(e.get("end"), int)
    )
    for start, end in reversed(spans):
        text = text[:start] + text[end:]
    return " ".join(text.split())


def passage_units(text: str) -> List[Tuple[str, str]]:
    """(kind, text) units of a passage in order: "sentence" of a paragraph, or list/table "item"."""
    units: List[Tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or set(line) <= set("|-: "):
            continue
        line = line.replace("**", "")
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            units.append(("item", ": ".join(c for c in cells if c)))
        elif re.match(r"^([-*]|\d+\.)\s+", line):
            units.append(("item", re.sub(r"^([-*]|\d+\.)\s+", "", line)))
        else:
            parts = re.split(r"(?<=[.!?])\s+(?=[A-Z\"'(])", line)
            units.extend(("sentence", p.strip()) for p in parts if p.strip())
            units.append(("break", ""))
    return units


def render_units(units: Sequence[Tuple[str, str]]) -> str:
    """Sentences of a paragraph run on; items and paragraphs start new lines.

    Single newlines only: Rasa splits a reply at blank lines into separate chat messages, and an
    answer is one message.
    """
    lines: List[str] = []
    previous = "break"
    for kind, text in units:
        if kind == "item":
            lines.append(f"- {text}")
        elif kind == "sentence":
            if previous == "sentence" and lines:
                lines[-1] += " " + text
            else:
                lines.append(text)
        previous = kind
    return "\n".join(lines)


def answer_from_passage(
    text: str,
    question_vector: np.ndarray,
    embed: Callable[[Sequence[str]], np.ndarray],
    max_chars: int = 700,
) -> str:
    """The passage as it is when short; else its units closest to the question, in order."""
    units = passage_units(text)
    content = [i for i, (kind, _) in enumerate(units) if kind != "break"]
    if sum(len(units[i][1]) for i in content) <= max_chars:
        return render_units(units)
    scores = embed([units[i][1] for i in content]) @ question_vector
    keep, used = set(), 0
    for j in np.argsort(-scores):
        i = content[int(j)]
        if keep and used + len(units[i][1]) > max_chars:
            continue
        keep.add(i)
        used += len(units[i][1])
    return render_units([u for i, u in enumerate(units) if i in keep or u[0] == "break"])


def hit_sources(hits) -> List[Dict[str, Any]]:
    """The log's and the reply's view of search hits (bot.retrieval.search.Hit)."""
    return [
        {"article_id": h.article_id, "passage_id": h.passage.passage_id, "url": h.url,
         "score": round(h.score, 3), "rank": h.rank}
        for h in hits
    ]


def extractive_answer(
    result,
    question_vector: np.ndarray,
    embed: Callable[[Sequence[str]], np.ndarray],
    entities: Optional[Mapping[str, str]] = None,
) -> Answer:
    """The reply for a search result (bot.retrieval.search.SearchResult)."""
    if not result.answerable:
        return Answer(NO_ANSWER, "no_answer", offers_handoff=True, sources=hit_sources(result.hits))
    best = result.hits[0]
    body = answer_from_passage(best.text, question_vector, embed)
    prefix = ""
    if entities and entities.get("order_number"):
        prefix = f"About order #{entities['order_number']}: "
    text = f"{prefix}{body}\nMore in our help centre: {best.title} - {best.url}"
    sources = hit_sources(result.hits)
    return Answer(text, "extractive", offers_handoff=False, sources=sources)
