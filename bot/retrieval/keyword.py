"""BM25 over the knowledge-base passages (bm25s, English stop words, Snowball stemming).

Built in memory from the passages when the retriever loads (a fraction of a second for a help
centre); the dense index is the one that is saved and checked.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple


class KeywordIndex:
    def __init__(self, texts: Sequence[str]) -> None:
        import logging

        import bm25s
        import Stemmer

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG

        self._bm25s = bm25s
        self._stemmer = Stemmer.Stemmer("english")
        tokens = bm25s.tokenize(list(texts), stopwords="en", stemmer=self._stemmer, show_progress=False)
        self._retriever = bm25s.BM25()
        self._retriever.index(tokens, show_progress=False)
        self._vocab = set(tokens.vocab)
        self.size = len(texts)

    def search(self, query: str, k: int) -> List[Tuple[int, float]]:
        """(position, BM25 score) of the best passages; empty when no query word is known."""
        words = self._bm25s.tokenize(
            [query], stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )[0]
        words = [w for w in words if w in self._vocab]
        if not words:
            return []
        k = min(k, self.size)
        ids, scores = self._retriever.retrieve([words], k=k, show_progress=False)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if s > 0]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = 60) -> List[Tuple[int, float]]:
    """Fuses ranked lists of positions: score = sum of 1 / (k + rank). Best first."""
    scores: dict = {}
    for ranking in rankings:
        for rank, position in enumerate(ranking, start=1):
            scores[position] = scores.get(position, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
