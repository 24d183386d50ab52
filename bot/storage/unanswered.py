"""The questions the bot could not answer, grouped by meaning: the articles to write next.

    texts = refused_questions(session, since, until)
    groups = group_questions(texts, get_embedder(settings).encode)
    groups[0].count, groups[0].representative, groups[0].examples

A question is *unanswered* when its turn was refused: the reply was no answer, or the channel
sent an apology in its place (figures.ANSWERED, the definition the refusal rate uses); or when
the bot said it was outside what it helps with (out of scope, nothing searched). Left out:
button payloads ("/greet"), messages with no letters, and turns whose intent says nothing about a
topic (greetings, thanks, yes and no, "are you a bot", order numbers or e-mails given on their
own, asking for a person).

Grouping: the distinct wordings (case, spacing and closing punctuation ignored) are embedded with the knowledge base's
MiniLM (normalised vectors) and clustered bottom-up, average linkage on cosine distance, merging
while the mean distance between two groups stays under ``DISTANCE_THRESHOLD``. Groups are sorted
by how many turns asked them; each names the wording closest to its centroid (weighted by how
often each wording was asked) and up to three other wordings, most asked first. The result
depends only on the set of texts, not their order.

The threshold, 0.63, was chosen on a seeded set of 32 questions written for it (6 meanings in 3
to 5 wordings each, 8 questions alone; DEV_* in tests/unit/test_unanswered.py): with average
linkage every threshold from 0.62 to 0.645 groups it exactly; 0.615 splits one meaning, 0.65
merges two (shops with ordering by phone). 0.63 sits in the middle of that window. Complete
linkage had no threshold that grouped the set exactly. A held-out set (3 meanings, 3 questions
alone) is grouped exactly from 0.57 to 0.675. Where it errs, it errs towards splitting: two groups
of one meaning still show the topic, a merged group would hide one. A word MiniLM does not know,
such as the shop's own name, can pull two unrelated questions together ("how do I apply for a job
at Larkspur" and "is Larkspur a real company" did).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Sequence

from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.orm import Session

from bot.storage.figures import ANSWERED, in_window
from bot.storage.log import FALLBACK_INTENTS, HANDOFF_INTENTS
from bot.storage.models import Retrieval, Turn

logger = logging.getLogger(__name__)

DISTANCE_THRESHOLD = 0.63
MAX_EXAMPLES = 3
# Clustering is quadratic in memory: beyond this many distinct wordings only the most asked are
# grouped (2,000 wordings: a 32 MB distance matrix, a few seconds on a laptop CPU).
MAX_WORDINGS = 2000
# Intents that say nothing about what the customer wants to know.
NOT_A_QUESTION_INTENTS = frozenset(
    {"greet", "goodbye", "thank_you", "affirm", "deny", "bot_challenge", "inform"}
) | HANDOFF_INTENTS

Embed = Callable[[Sequence[str]], Any]  # texts -> array (n, dim), like Embedder.encode

_SPACES = re.compile(r"\s+")
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class Group:
    """Questions that mean the same: how many turns asked them, in which words."""

    count: int
    representative: str
    examples: List[str] = field(default_factory=list)  # other wordings, most asked first
    wordings: int = 1

    def as_dict(self) -> Dict[str, Any]:
        return {"count": self.count, "representative": self.representative,
                "examples": list(self.examples), "wordings": self.wordings}


def refused_questions(session: Session, since: Optional[datetime] = None,
                      until: Optional[datetime] = None) -> List[str]:
    """The customer's text of every refused turn in the window, oldest first (one per turn), and
    of every turn told "that's outside what I can help with" (out of scope or not understood,
    with nothing found for it): the customer got no answer there either."""
    searched = exists().where(Retrieval.turn_id == Turn.id)
    told_out_of_scope = and_(Turn.intent.in_(sorted(FALLBACK_INTENTS)), not_(searched))
    statement = (
        select(Turn.user_text)
        .where(or_(not_(ANSWERED), told_out_of_scope), *in_window(Turn.created_at, since, until))
        .where(func.coalesce(Turn.intent, "").not_in(sorted(NOT_A_QUESTION_INTENTS)))
        .order_by(Turn.created_at, Turn.id)
    )
    return [text for text in session.scalars(statement) if is_question(text)]


def is_question(text: Optional[str]) -> bool:
    """False for what is no question to write an article about: a button's payload, or a
    message without a letter (an order number, a smiley)."""
    text = (text or "").strip()
    return bool(text) and not text.startswith("/") and bool(_LETTER.search(text))


def _key(text: str) -> str:
    """One wording however it was typed: case, spacing and the closing ?, ! or . ignored."""
    return _SPACES.sub(" ", text).strip().rstrip("?!. ").casefold()


def group_questions(texts: Sequence[str], embed: Embed,
                    threshold: float = DISTANCE_THRESHOLD,
                    max_examples: int = MAX_EXAMPLES,
                    max_wordings: int = MAX_WORDINGS) -> List[Group]:
    """``texts`` grouped by meaning, the largest group first (see the module docstring)."""
    import numpy as np

    asked: Counter = Counter()
    shown: Dict[str, Counter] = {}  # key -> how each spelling of it was written
    for text in texts:
        if not is_question(text):
            continue
        key = _key(text)
        asked[key] += 1
        shown.setdefault(key, Counter())[_SPACES.sub(" ", text).strip()] += 1
    if not asked:
        return []
    # The most asked wordings when there are too many; sorted, so the order of `texts` never
    # changes the result.
    keys = sorted(sorted(asked, key=lambda k: (-asked[k], k))[:max_wordings])
    if len(asked) > len(keys):
        logger.info("unanswered.capped wordings=%d grouped=%d", len(asked), len(keys))

    def spelling(key: str) -> str:
        return min(shown[key].items(), key=lambda item: (-item[1], item[0]))[0]

    vectors = np.asarray(embed([spelling(k) for k in keys]), dtype=np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    labels = _cluster(vectors, threshold)

    groups = []
    for label in sorted(set(labels)):
        members = [i for i, other in enumerate(labels) if other == label]
        weights = np.array([asked[keys[i]] for i in members], dtype=np.float64)
        centroid = (vectors[members] * weights[:, None]).sum(axis=0)
        closeness = vectors[members] @ centroid
        ranked = sorted(range(len(members)),
                        key=lambda j: (-closeness[j], -weights[j], keys[members[j]]))
        centre = members[ranked[0]]
        others = sorted((i for i in members if i != centre),
                        key=lambda i: (-asked[keys[i]], keys[i]))
        groups.append(Group(
            count=int(weights.sum()), representative=spelling(keys[centre]),
            examples=[spelling(keys[i]) for i in others[:max_examples]],
            wordings=len(members),
        ))
    groups.sort(key=lambda g: (-g.count, -g.wordings, g.representative.casefold()))
    return groups


def _cluster(vectors: Any, threshold: float) -> List[int]:
    if len(vectors) == 1:
        return [0]
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold,
                                    metric="cosine", linkage="average")
    return [int(label) for label in model.fit_predict(vectors)]


def report(texts: Sequence[str], embed: Optional[Embed], limit: Optional[int] = None
           ) -> Dict[str, Any]:
    """The unanswered section of the dashboard and of `logs stats`: how many questions, and
    their groups (``None`` with the reason when they could not be grouped: no embedder given,
    or it failed to load; the figures are shown all the same)."""
    questions = [t for t in texts if is_question(t)]
    result: Dict[str, Any] = {"questions": len(questions), "group_count": None, "groups": None,
                              "error": None}
    if embed is None:
        result["error"] = "not grouped"
        return result
    try:
        groups = group_questions(questions, embed)
    except Exception as e:  # a missing model must not take the figures down with it
        logger.warning("unanswered.grouping_failed error=%s: %s", type(e).__name__, e)
        result["error"] = f"could not group the questions: {type(e).__name__}: {e}"[:300]
        return result
    result["group_count"] = len(groups)
    result["groups"] = [g.as_dict() for g in (groups if limit is None else groups[:limit])]
    return result
