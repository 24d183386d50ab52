""""I don't know": whether a search result answers the question, from several signals together.

A logistic regression over:

    rerank       the re-ranker's logit for the best unit
    margin       how far the best unit is ahead of the second
    cosine       the best dense cosine among the hits
    bm25         log(1 + the best BM25 score): do the question's exact words occur anywhere
    coverage     the share of the question's key words (stemmed) found in the best unit's section

fitted on the drafter's training questions that the re-ranker did not train on (the "calibrate"
split of bot/retrieval/rerank_train.py): answerable questions whose best unit comes from their
article against questions no article answers. The threshold on its probability is chosen from
5-fold cross-validated probabilities on the same questions: among the thresholds that meet both
goals (`TARGET_REFUSED`, `MAX_OVER_REFUSED`), or else among all, the one that best separates
(refused unanswerable minus refused answerable). Held-out sets are never used here.

Saved as models/confidence.json with the feature scaling, the weights, the threshold, the curve
and the re-ranker it was fitted with; it is used only with that re-ranker.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

FEATURES = ("rerank", "margin", "cosine", "bm25", "coverage")
TARGET_REFUSED = 0.90  # the goal: at least this share of unanswerable questions refused,
MAX_OVER_REFUSED = 0.10  # with at most this share of answerable ones
WORD = re.compile(r"[a-z0-9]+")
GENERIC = frozenset(
    "the a an and or but if of to in on at for with from by as is are was were be been it its this "
    "that these those you your we our us they them their i me my can will would should could do does "
    "did not no yes so than then there here have has had just also about into out up over only any "
    "all each some such more most very what which who when where why how please sure hi hello hey "
    "thanks thank want need know tell get like larkspur help ok okay much many long whats im dont "
    "there's it's i'm don't guys anything something".split()
)


class ConfidenceError(RuntimeError):
    """The saved model cannot be used with this re-ranker; the message says how to fix it."""


@lru_cache(maxsize=1)
def _stem():
    import Stemmer

    return Stemmer.Stemmer("english").stemWord


def key_words(text: str) -> List[str]:
    stem = _stem()
    return [stem(w) for w in WORD.findall(text.lower()) if len(w) > 2 and w not in GENERIC]


def features(result) -> Dict[str, float]:
    """The signals of one search result (bot.retrieval.search.SearchResult)."""
    hits = result.hits
    if not hits:
        return {"rerank": -10.0, "margin": 0.0, "cosine": 0.0, "bm25": 0.0, "coverage": 0.0}
    best = hits[0]
    reranks = [h.rerank for h in hits if h.rerank is not None]
    words = set(key_words(result.query))
    found = set(key_words(f"{best.title} {best.heading} {best.passage.section or best.text}"))
    return {
        "rerank": reranks[0] if reranks else 0.0,
        "margin": (reranks[0] - reranks[1]) if len(reranks) > 1 else 0.0,
        "cosine": max(h.score for h in hits),
        "bm25": float(np.log1p(result.bm25_best)),
        "coverage": len(words & found) / len(words) if words else 0.0,
    }


def _matrix(rows: Sequence[Dict[str, float]]) -> np.ndarray:
    return np.array([[r[f] for f in FEATURES] for r in rows], dtype=np.float64)


def _fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50) -> np.ndarray:
    """Weights (bias last) of an L2-regularised logistic regression, by Newton's method."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    penalty = np.eye(xb.shape[1]) * l2
    penalty[-1, -1] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ w))
        gradient = xb.T @ (p - y) + penalty @ w
        hessian = (xb * (p * (1 - p))[:, None]).T @ xb + penalty
        w -= np.linalg.solve(hessian, gradient)
    return w


@dataclass
class ConfidenceModel:
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # bias last
    threshold: float
    meta: dict

    def probability(self, result) -> float:
        """How likely the best unit answers the question."""
        x = (_matrix([features(result)])[0] - self.mean) / self.scale
        return float(1 / (1 + np.exp(-(x @ self.weights[:-1] + self.weights[-1]))))

    def answers(self, result) -> bool:
        return bool(result.hits) and self.probability(result) >= self.threshold

    def save(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps({
            "features": list(FEATURES), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
            "weights": self.weights.tolist(), "threshold": self.threshold, **self.meta,
        }, indent=2))

    @classmethod
    def load(cls, path: Path, reranker_hash: Optional[str]) -> "ConfidenceModel":
        data = json.loads(Path(path).read_text())
        if data.get("features") != list(FEATURES):
            raise ConfidenceError(f"{path} has other features: fit it again with `python -m bot reranker train`")
        if data.get("reranker_hash") != reranker_hash:
            raise ConfidenceError(
                f"{path} was fitted with re-ranker {data.get('reranker_hash')}, not {reranker_hash}: "
                "fit it again with `python -m bot reranker train`"
            )
        return cls(np.array(data["mean"]), np.array(data["scale"]), np.array(data["weights"]),
                   float(data["threshold"]), {k: data[k] for k in ("reranker_hash", "fitted_at", "data", "curve", "cv")})


def curve(p_answerable: Sequence[float], p_unanswerable: Sequence[float]) -> List[dict]:
    rows = []
    for t in np.round(np.arange(0.05, 0.96, 0.05), 2):
        rows.append({
            "threshold": float(t),
            "answerable_refused": float(np.mean([p < t for p in p_answerable])) if p_answerable else 0.0,
            "unanswerable_refused": float(np.mean([p < t for p in p_unanswerable])) if p_unanswerable else 0.0,
        })
    return rows


def fit(rows: Sequence[Dict[str, float]], labels: Sequence[int], all_answerable_rows: Sequence[Dict[str, float]],
        meta: dict, folds: int = 5, seed: int = 7) -> ConfidenceModel:
    """Fits on (signals, 1 = answer / 0 = refuse) and picks the threshold from cross-validation.

    `all_answerable_rows` are every answerable question's signals (those whose best unit is from
    another article too): the curve's over-refusal is counted over them."""
    x, y = _matrix(rows), np.asarray(labels, dtype=np.float64)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / scale
    order = np.random.default_rng(seed).permutation(len(z))
    cv = np.zeros(len(z))
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        w = _fit_logistic(z[train], y[train])
        cv[test] = 1 / (1 + np.exp(-(np.hstack([z[test], np.ones((len(test), 1))]) @ w)))
    weights = _fit_logistic(z, y)
    p_unanswerable = [float(p) for p, label in zip(cv, y) if label == 0]
    p_answerable = [float(p) for p, label in zip(cv, y) if label == 1]
    table = curve(p_answerable, p_unanswerable)
    both = [r for r in table if r["unanswerable_refused"] >= TARGET_REFUSED and r["answerable_refused"] <= MAX_OVER_REFUSED]
    chosen = max(both or table, key=lambda r: (r["unanswerable_refused"] - r["answerable_refused"], -r["threshold"]))
    meta = dict(meta, fitted_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                curve=table, cv={"chosen": chosen, "n_answer": len(p_answerable), "n_refuse": len(p_unanswerable)})
    return ConfidenceModel(mean, scale, weights, chosen["threshold"], meta)
