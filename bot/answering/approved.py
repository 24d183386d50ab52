"""Answers the team approved: a correction takes effect at once, before the articles are searched.

An agent corrects an answer in the desk (bot/desk/corrections.py): a canonical question, the
right answer, and the article it comes from or "the help centre has no article on this". The row
lands in ``approved_answers``; the answer policy (policy.py) asks ``match`` first, and a customer
question that means the same (MiniLM cosine to the approved question at or above the threshold,
chosen on data: reports/corrections.md) that names the same payment method, region, operation,
item and numbers (contrast.py) gets the approved answer with its source.

No restart and no index rebuild: ``match`` looks at the table at most every ``refresh_s``, and
embeds only questions it has not seen. A withdrawn answer stops matching at the next look.

    approved = ApprovedAnswers(sessions, embedder.encode, threshold=0.85, articles=articles)
    answer = approved.answer("how long do refunds to paypal take")   # an Answer, or None
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.answer import Answer
from bot.answering.contrast import same_terms
from bot.storage.models import ApprovedAnswer

logger = logging.getLogger(__name__)

TEAM_SOURCE = "Answer from our support team."
# Under the knowledge base's MiniLM (when no matcher is trained): the lowest cosine at which no
# probe of data/corrections/paraphrases_dev.yml gets a wrong answer (reports/corrections.md).
BASE_THRESHOLD = 0.87


@dataclass(frozen=True)
class Approved:
    id: int
    question: str
    answer: str
    article_id: Optional[str]
    score: float  # cosine of the customer's question to the approved one

    def reply(self, articles: Mapping[str, Tuple[str, str]]) -> str:
        """The approved answer, then where it comes from (as an extractive reply ends)."""
        if self.article_id and self.article_id in articles:
            title, url = articles[self.article_id]
            return f"{self.answer}\nMore in our help centre: {title} - {url}"
        return f"{self.answer}\n{TEAM_SOURCE}"


class ApprovedAnswers:
    def __init__(self, sessions: "sessionmaker[Session]", embed: Callable[[List[str]], np.ndarray],
                 threshold: float, articles: Optional[Mapping[str, Tuple[str, str]]] = None,
                 refresh_s: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.sessions = sessions
        self.articles = dict(articles or {})  # article id -> (title, url), for the source line
        self.embed = embed  # texts -> unit-length rows (bot.retrieval.embedder.Embedder.encode)
        self.threshold = threshold
        self.refresh_s = refresh_s
        self.clock = clock
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._rows: List[Tuple[int, str, str, Optional[str]]] = []
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._cache: Dict[Tuple[int, str], np.ndarray] = {}

    def match(self, text: str) -> Optional[Approved]:
        """The approved answer for ``text``, or None (also when the table cannot be read)."""
        rows, vectors = self._current()
        if not rows or not text.strip():
            return None
        scores = vectors @ self.embed([text])[0]
        # Only approved questions naming the same payment method, region, operation, item,
        # numbers... (contrast.py): a look-alike about another one needs another answer.
        allowed = [i for i in np.argsort(-scores) if scores[i] >= self.threshold
                   and same_terms(text, rows[i][1])]
        if not allowed:
            return None
        best = int(allowed[0])
        id_, question, answer, article_id = rows[best]
        logger.info("answer.approved id=%d score=%.3f", id_, float(scores[best]))
        return Approved(id_, question, answer, article_id, float(scores[best]))

    def answer(self, text: str) -> Optional[Answer]:
        """The approved answer as the bot sends it (with its source), or None."""
        found = self.match(text)
        if found is None:
            return None
        source = {"article_id": found.article_id or "approved", "passage_id": f"approved#{found.id}",
                  "url": None, "score": round(found.score, 3), "rank": 1}
        return Answer(found.reply(self.articles), "approved", False, [source])

    def _current(self):
        with self._lock:
            if self.clock() - self._checked_at >= self.refresh_s:
                self._checked_at = self.clock()
                try:
                    self._reload()
                except Exception as e:  # the articles still answer; say why once per look
                    logger.error("answer.approved_unavailable error=%s", type(e).__name__)
            return self._rows, self._vectors

    def _reload(self) -> None:
        with self.sessions() as session:
            rows = [tuple(r) for r in session.execute(
                select(ApprovedAnswer.id, ApprovedAnswer.question, ApprovedAnswer.answer,
                       ApprovedAnswer.article_id)
                .where(ApprovedAnswer.status == "approved").order_by(ApprovedAnswer.id))]
        missing = [(r[0], r[1]) for r in rows if (r[0], r[1]) not in self._cache]
        if missing:
            for key, vector in zip(missing, self.embed([q for _, q in missing])):
                self._cache[key] = vector
        keys = [(r[0], r[1]) for r in rows]
        self._cache = {k: self._cache[k] for k in keys}
        self._rows = rows
        self._vectors = (np.stack([self._cache[k] for k in keys]) if keys
                         else np.zeros((0, 0), dtype=np.float32))
