"""Retriever.search(query, k): the passages that best answer a customer's question.

Modes: `dense` (FAISS over MiniLM embeddings), `bm25` (keywords), `hybrid` (both, fused by
reciprocal rank). Whatever the mode, each hit carries its dense cosine similarity to the query,
and `answerable` says whether the best one clears the relevance threshold: below it the bot says
it does not know instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import List, Optional, Tuple

import numpy as np

from bot.retrieval.articles import Passage
from bot.retrieval.index import KnowledgeIndex
from bot.retrieval.keyword import KeywordIndex, reciprocal_rank_fusion

MODES = ("dense", "bm25", "hybrid")


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float  # cosine similarity of passage and query (the relevance the threshold applies to)
    rank: int  # 1 = best

    @property
    def article_id(self) -> str:
        return self.passage.article_id

    @property
    def title(self) -> str:
        return self.passage.title

    @property
    def url(self) -> str:
        return self.passage.url

    @property
    def heading(self) -> str:
        return self.passage.heading

    @property
    def text(self) -> str:
        return self.passage.text


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: List[Hit]
    threshold: float

    @property
    def best_score(self) -> float:
        return max((h.score for h in self.hits), default=0.0)

    @property
    def answerable(self) -> bool:
        """False means: nothing relevant in the knowledge base."""
        return bool(self.hits) and self.best_score >= self.threshold


class Retriever:
    def __init__(
        self,
        kb: KnowledgeIndex,
        embedder,
        mode: str = "hybrid",
        threshold: float = 0.4,
        candidates: int = 20,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"search mode must be one of {MODES}, not {mode!r}")
        self.kb = kb
        self.embedder = embedder
        self.mode = mode
        self.threshold = threshold
        self.candidates = candidates
        self.keyword = KeywordIndex([p.context for p in kb.passages])
        # Customers ask the same things again and again; the embedding of a question is reused.
        self.embed_query = lru_cache(maxsize=2048)(embedder.encode_one)

    def _dense(self, query_vector: np.ndarray, k: int) -> List[int]:
        _, positions = self.kb.search(query_vector[None, :], k)
        return [int(p) for p in positions[0] if p >= 0]

    def _ranked(self, query: str, query_vector: np.ndarray, mode: str) -> List[int]:
        if mode == "dense":
            return self._dense(query_vector, self.candidates)
        keyword = [p for p, _ in self.keyword.search(query, self.candidates)]
        if mode == "bm25":
            return keyword
        dense = self._dense(query_vector, self.candidates)
        return [p for p, _ in reciprocal_rank_fusion([dense, keyword])]

    def search(self, query: str, k: int = 5, mode: Optional[str] = None) -> SearchResult:
        query = (query or "").strip()
        if not query:
            return SearchResult(query, [], self.threshold)
        query_vector = self.embed_query(query)
        positions = self._ranked(query, query_vector, mode or self.mode)[:k]
        cosines = self.kb.vectors[positions] @ query_vector if positions else []
        hits = [
            Hit(self.kb.passages[p], float(c), rank)
            for rank, (p, c) in enumerate(zip(positions, cosines), start=1)
        ]
        return SearchResult(query, hits, self.threshold)

    def article_ranking(self, query: str, k: int = 5, mode: Optional[str] = None) -> List[Tuple[str, float]]:
        """Distinct article ids in rank order (for evaluation), with their best cosine."""
        result = self.search(query, k=self.candidates, mode=mode)
        seen: dict = {}
        for hit in result.hits:
            if hit.article_id not in seen:
                seen[hit.article_id] = hit.score
        return list(seen.items())[:k]
