"""Turns a knowledge-base search into the reply a customer reads (bot/answering/policy.py).

Extractive: the answer first (the best answer unit: a table row, an item, a paragraph; the whole
list of steps for a step; for a comparison, the best unit for each side), up to two close units
after it, each item under the heading that says whose item it is, then the sections they come
from. Nothing is invented; when nothing
answers, the policy says so and offers a person (NO_ANSWER).
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
    kind: str  # "approved" (the team's), "drafted", "extractive", "no_answer" or "search_failed"
    offers_handoff: bool
    # The passages search returned, best first: article_id, passage_id, url, score, rank.
    sources: List[Dict[str, Any]] = field(default_factory=list)
    draft: Optional[DraftOutcome] = None  # None when no draft was attempted


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
    """(kind, text) units of a passage in order: "sentence" of a paragraph, or list/table "item"
    (a table row with its column headings, as the knowledge base indexes it)."""
    from bot.retrieval.articles import table_row_text

    units: List[Tuple[str, str]] = []
    header: Optional[List[str]] = None
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            header = None
        if not line or set(line) <= set("|-: "):
            continue
        line = line.replace("**", "")
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if header is None:
                header = cells
                continue
            units.append(("item", table_row_text(header, cells)))
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
    """The log's and the reply's view of search hits (bot.retrieval.search.Hit). The score is
    the one that ranked them: the re-ranker's when there is one, else the cosine."""
    return [
        {"article_id": h.article_id, "passage_id": h.passage.passage_id, "url": h.url,
         "score": round(h.score if h.rerank is None else h.rerank, 3), "rank": h.rank}
        for h in hits
    ]


def _steps(hit) -> List[str]:
    """All numbered steps of the section a step comes from: one step alone is half an answer."""
    from bot.retrieval.articles import answer_units

    return [text for kind, text in answer_units(hit.passage.section) if kind == "step"]


COMPARING = re.compile(r"\b(or|vs\.?|versus|than|compare[sd]?|comparison|difference|between)\b", re.I)


# How close (re-ranker cosine) another unit must be to the best one to be quoted with it, and how
# many units at most. Chosen on the "calibrate" split of the training questions (422 the re-ranker
# never saw; bot/evaluation/answers_dev.py), not on the answer set. Replies that state the written
# answer, with the words they take: best unit alone 49.3 %; two units within 0.06 60.7 % (48
# words); three within 0.10 65.6 % (64 words), within 0.15 67.3 % (72 words). 0.10 and three
# units: most of the gain, and a reply still read at a glance.
SECOND_WITHIN = 0.10
MAX_UNITS = 3


# Units that point elsewhere instead of answering: an article's signpost ("Here is how to claim.")
# and a list's lead-in without its items ("Have ready:", "Contact us if:"); each item is a unit of
# its own, lead-in included, so nothing is lost by passing over the bare lead-in.
SIGNPOST = re.compile(r"\b(here is (how|where|what)|here's (how|where|what)|here are (the|some)|"
                      r"this article (sums|explains|covers))\b", re.I)


def quotable(hit) -> bool:
    """Not a bare lead-in, and not an intro whose only statements are a signpost and a rhetorical
    question ("Have more than one account? Here is how to move between them."); an intro that
    also states something ("You can return most items within 30 days. This article sums up the
    rules.") is quoted."""
    text = hit.text.strip()
    if text.endswith(":"):
        return False
    if hit.heading or not SIGNPOST.search(text):
        return True
    sentences = re.split(r"(?<=[.!?])\s+", text)
    return any(not SIGNPOST.search(s) and not s.rstrip().endswith("?") for s in sentences if s.strip())


def quotable_order(hits: Sequence) -> List:
    """The hits that can be quoted, best first. When the best is a signpost or a bare lead-in, its
    article still answers: the best quotable unit of that article comes first, or, with none among
    the hits, the signpost itself (it names the article, and the source line links it)."""
    usable = [h for h in hits if quotable(h)]
    best = hits[0]
    if not quotable(best):
        best = next((h for h in usable if h.article_id == best.article_id), best)
    return [best] + [h for h in usable if h is not best]


def _repeats(text: str, chosen: Sequence) -> bool:
    """Whether a unit says nothing new beside those chosen: the same text, or one inside the other
    (a list's lead-in and its first item)."""
    core = text.rstrip(":. ").lower()
    return any(core in h.text.lower() or h.text.rstrip(":. ").lower() in text.lower() for h in chosen)


def quoted_hits(hits: Sequence, question: str = "", within: float = SECOND_WITHIN, max_units: int = MAX_UNITS,
                max_chars: int = 600) -> List:
    """The hits a reply quotes, passing over units that only point elsewhere (quotable_order):
    for a comparison, the best unit naming each side (bot/answering/compare.py); else the best
    unit. Then, up to `max_units`, the next ones the re-ranker scores within `within` of the best
    (any article), or of its own section when the question compares two things ("paypal or card":
    two rows of one table); never a row about a subject the question does not name
    (_other_subject)."""
    from bot.answering.compare import best_per_side, compare_sides

    usable = quotable_order(hits)
    comparing = bool(COMPARING.search(question))
    sides = compare_sides(question) if comparing else None
    chosen = (best_per_side(usable, sides) if sides else None) or [usable[0]]
    if len(" ".join(h.text for h in chosen)) > max_chars:
        chosen = chosen[:1]
    best = usable[0]
    for other in usable[1:]:
        if len(chosen) >= max_units:
            break
        same_section = (other.article_id, other.heading) == (best.article_id, best.heading)
        close = other.rerank is not None and best.rerank is not None and best.rerank - other.rerank <= within
        if (close or (same_section and comparing)) and not _repeats(other.text, chosen) \
                and not _other_subject(other, best, question) \
                and len(" ".join(h.text for h in chosen + [other])) <= max_chars:
            chosen.append(other)
    return chosen


def _row_subject(hit) -> set:
    """The key words of a table row's first cell ("United Kingdom" of "United Kingdom: Standard:
    5–8 business days"); empty for anything else."""
    from bot.answering.confidence import key_words

    if hit.passage.kind != "row" or ":" not in hit.text:
        return set()
    return set(key_words(hit.text.split(":", 1)[0]))


def _other_subject(other, best, question: str) -> bool:
    """Whether `other` is a row about something else than the question names: when the question
    names the best row's subject ("standard shipping to New Zealand" and the International Standard
    row), a row it does not name (the United Kingdom's) would read as an answer about it."""
    from bot.answering.confidence import key_words

    asked = set(key_words(question))
    best_subject, subject = _row_subject(best), _row_subject(other)
    return bool(best_subject & asked) and bool(subject) and not subject & asked


def labelled(hit) -> str:
    """A quoted unit with its section's heading in front when the unit does not name it: an item
    such as "Minimum order: 30" quoted beside another section's must say whose minimum it is."""
    from bot.answering.confidence import key_words

    heading = (hit.heading or "").strip()
    if not heading or set(key_words(heading)) <= set(key_words(hit.text)):
        return hit.text
    return f"{heading} - {hit.text}"


def extractive_body(hits: Sequence, question: str = "", max_chars: int = 600, **choose) -> Tuple[str, List]:
    """The answer first, and the hits it quotes: the best unit (a table row, an item, a paragraph;
    a step brings its whole list), then any close second (quoted_hits). Units from more than one
    section carry their section's heading (labelled)."""
    best = quotable_order(hits)[0]
    if best.passage.kind == "step":
        steps = _steps(best)
        body = "\n".join(f"{i}. {s}" for i, s in enumerate(steps, start=1))
        return (body if len(body) <= max_chars else best.text), [best]
    chosen = quoted_hits(hits, question, max_chars=max_chars, **choose)
    sections = {(h.article_id, h.heading) for h in chosen}
    if len(sections) > 1:
        texts = [labelled(h) for h in chosen]
    else:
        texts = [h.text for h in chosen]
        # Items of one section say whose items they are once, as the article does: the heading
        # ("Birthday offer: 15% off") over "Valid for: 30 days from the date it is sent."
        if any(labelled(h) != h.text and h.passage.kind in ("row", "item") for h in chosen):
            return f"{chosen[0].heading}:\n" + "\n".join(f"- {t}" for t in texts), chosen
    if len(chosen) > 1 and any(h.passage.kind in ("row", "item") for h in chosen):
        return "\n".join(f"- {t}" for t in texts), chosen
    return "\n".join(texts), chosen


def source_line(hits: Sequence) -> str:
    """Where the quoted units come from, one section each: "More in our help centre: ..."."""
    seen, parts = set(), []
    for hit in hits:
        key = (hit.article_id, hit.heading)
        if key not in seen:
            seen.add(key)
            section = f" > {hit.heading}" if hit.heading else ""
            parts.append(f"{hit.title}{section} - {hit.url}")
    return "More in our help centre: " + "; ".join(parts)


def extractive_answer(result, **choose) -> Answer:
    """The reply quoted from a search result (bot.retrieval.search.SearchResult): the answer first,
    then where it comes from. The caller has decided that the result answers the question.
    `choose`: quoted_hits' settings (bot/evaluation/answers_dev.py tries others)."""
    if not result.hits:
        return Answer(NO_ANSWER, "no_answer", offers_handoff=True)
    body, quoted = extractive_body(result.hits, result.query, **choose)
    return Answer(f"{body}\n{source_line(quoted)}", "extractive", offers_handoff=False,
                  sources=hit_sources(result.hits))
