"""Fits the "I don't know" model (bot/answering/confidence.py) for the current re-ranker.

    python -m bot reranker train      trains the re-ranker, then runs fit_and_save()

The questions are the "calibrate" split of the drafter's training questions
(bot/retrieval/rerank_train.py split_of): the re-ranker never trained on them, and no held-out
set is read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Tuple

from bot.answering.confidence import ConfidenceModel, features, fit
from bot.answering.followup import as_searched, previous_question
from bot.generation.dataset import TRAIN_DIR, read_written
from bot.retrieval.rerank_train import split_of


def calibration_rows(retriever, root: Path) -> Tuple[list, list, list, dict]:
    """(signals, labels) to fit on, every answerable question's signals, and counts."""
    written = [w for w in read_written(root / TRAIN_DIR) if split_of(w["id"]) == "calibrate"]
    rows, labels, answerable = [], [], []
    wrong_first = 0
    for w in written:
        query, focus = as_searched(w["question"], previous_question(w))
        result = retriever.search(query, k=5, focus=focus)
        signals = features(result)
        if w.get("article") is None:
            rows.append(signals)
            labels.append(0)
            continue
        answerable.append(signals)
        if result.hits and result.hits[0].article_id == w["article"]:
            rows.append(signals)
            labels.append(1)
        else:
            wrong_first += 1  # left out of the fit: neither clearly "answer" nor "refuse"
    ids = sorted(w["id"] for w in written)
    counts = {"questions": len(written), "answer": labels.count(1), "refuse": labels.count(0),
              "answerable_best_from_another_article": wrong_first,
              "hash": hashlib.sha256(json.dumps(ids).encode()).hexdigest()[:16]}
    return rows, labels, answerable, counts


def fit_and_save(retriever, out: Path, root: Path) -> ConfidenceModel:
    rows, labels, answerable, counts = calibration_rows(retriever, root)
    model = fit(rows, labels, answerable, {
        "reranker_hash": retriever.reranker.manifest["data"]["hash"] if retriever.reranker else None,
        "data": {"source": str(TRAIN_DIR), "split": "calibrate", **counts},
    })
    model.save(out)
    return model
