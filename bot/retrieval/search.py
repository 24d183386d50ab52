"""Retriever.search(query, k): the passages that best answer a customer's question.

Two stages. Candidates come from `dense` (FAISS over MiniLM embeddings), `bm25` (keywords: exact
terms like "PayPal", "PO box" and "candles") or `hybrid` (both, fused by reciprocal rank). When a
re-ranker is given (bot/retrieval/rerank.py), it reads the question with each of the first
candidates and puts them in its order. Each hit carries its dense cosine similarity to the query
and its re-ranker score; whether to answer at all is decided from these signals together by
bot/answering/confidence.py. `answerable` is the plain cosine threshold, the fallback without it.
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
    rerank: Optional[float] = None  # the re-ranker's logit, when there is a re-ranker

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
    bm25_best: float = 0.0  # the best BM25 score among the candidates (0: no query word is known)

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
        mode: str,
        threshold: float,
        candidates: int = 20,
        reranker=None,
        rerank_top: int = 12,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"search mode must be one of {MODES}, not {mode!r}")
        self.kb = kb
        self.embedder = embedder
        self.mode = mode
        self.threshold = threshold
        self.n_candidates = candidates
        self.reranker = reranker
        self.rerank_top = rerank_top
        self.keyword = KeywordIndex([p.context for p in kb.passages])
        # Customers ask the same things again and again; the embedding of a question is reused.
        self.embed_query = lru_cache(maxsize=2048)(embedder.encode_one)

    def _dense(self, query_vector: np.ndarray, k: int) -> List[int]:
        _, positions = self.kb.search(query_vector[None, :], k)
        return [int(p) for p in positions[0] if p >= 0]

    def _ranked(self, query: str, query_vector: np.ndarray, mode: str, n: int) -> Tuple[List[int], float]:
        """Candidate positions, best first, and the best BM25 score."""
        keyword = self.keyword.search(query, n) if mode != "dense" else []
        bm25_best = keyword[0][1] if keyword else 0.0
        if mode == "bm25":
            return [p for p, _ in keyword], bm25_best
        dense = self._dense(query_vector, n)
        if mode == "dense":
            return dense, bm25_best
        return [p for p, _ in reciprocal_rank_fusion([dense, [p for p, _ in keyword]])], bm25_best

    def candidates(self, query: str, n: int, mode: Optional[str] = None) -> List[int]:
        """The first-stage candidates (positions in the index), before re-ranking."""
        return self._ranked(query, self.embed_query(query), mode or self.mode, n)[0]

    def search(self, query: str, k: int = 5, mode: Optional[str] = None, rerank: bool = True,
               focus: Optional[str] = None) -> SearchResult:
        """`focus`: words the best unit must answer above all (a follow-up's own words, when
        `query` is the follow-up after the previous question); the re-ranker's score is then the
        mean of its scores for the query and for the focus."""
        query = (query or "").strip()
        if not query:
            return SearchResult(query, [], self.threshold)
        query_vector = self.embed_query(query)
        positions, bm25_best = self._ranked(query, query_vector, mode or self.mode, self.n_candidates)
        scores: List[Optional[float]] = [None] * len(positions)
        if rerank and self.reranker is not None and positions:
            top = positions[: self.rerank_top]
            texts = [self.kb.passages[p].context for p in top]
            logits = self.reranker.score(query, texts)
            if focus:
                logits = (logits + self.reranker.score(focus, texts)) / 2
            order = np.argsort(-logits, kind="stable")
            positions = [top[i] for i in order] + positions[len(top):]
            scores = [float(logits[i]) for i in order] + [None] * (len(positions) - len(top))
        positions, scores = positions[:k], scores[:k]
        cosines = self.kb.vectors[positions] @ query_vector if positions else []
        hits = [
            Hit(self.kb.passages[p], float(c), rank, s)
            for rank, (p, c, s) in enumerate(zip(positions, cosines, scores), start=1)
        ]
        return SearchResult(query, hits, self.threshold, bm25_best)

    def article_ranking(self, query: str, k: int = 5, mode: Optional[str] = None,
                        rerank: bool = True) -> List[Tuple[str, float]]:
        """Distinct article ids in rank order (for evaluation), with their best cosine."""
        result = self.search(query, k=self.n_candidates, mode=mode, rerank=rerank)
        seen: dict = {}
        for hit in result.hits:
            if hit.article_id not in seen:
                seen[hit.article_id] = hit.score
        return list(seen.items())[:k]
