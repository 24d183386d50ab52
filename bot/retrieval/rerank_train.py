"""Fine-tunes the re-ranker (bot/retrieval/rerank.py) from MiniLM on our own labelled questions.

    python -m bot reranker train        (make reranker; a few minutes on 2 CPU cores)

Data: the drafter's training questions (data/generator/*.yml: question, gold article, written
answer), never a held-out set. The questions are split in two by a stable hash of their id:
the "rerank" part trains this model, the "calibrate" part is kept for what is fitted on the
model's scores (the "I don't know" model, bot/answering/confidence.py), so those scores are
measured on questions the re-ranker never saw.

Labels, per question, over the answer units of the knowledge base:
  positive   the unit of the gold article that shares the most words and numbers with the written
             answer (and any unit nearly as close);
  negative   the best-ranked candidate search returns (hybrid dense + BM25) that is not a
             positive, and the other questions' units in the same batch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import re
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from bot.answering.followup import as_searched, previous_question
from bot.generation.dataset import TRAIN_DIR, read_written

logger = logging.getLogger(__name__)

WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
STOP = frozenset("the a an and or of to in on at for with is are be it you your we our can i my".split())


@dataclass(frozen=True)
class Recipe:
    epochs: int = 6
    batch_size: int = 32
    lr: float = 3e-5
    warmup: float = 0.1
    scale: float = 20.0  # cosines times this are the logits of the contrastive loss
    hard_negatives: int = 1  # per question: the best-ranked candidate that is not a positive
    candidates: int = 20  # what search returns to pick hard negatives from
    max_minutes: float = 15.0  # a time budget: training stops early, still saves
    seed: int = 13


def split_of(example_id: str) -> str:
    """'rerank' or 'calibrate', stable for an id (about two thirds train the re-ranker)."""
    bucket = int(hashlib.sha256(example_id.encode()).hexdigest(), 16) % 3
    return "calibrate" if bucket == 0 else "rerank"


def _words(text: str) -> Counter:
    return Counter(w for w in WORD.findall(text.lower()) if w not in STOP)


def overlap(unit: str, answer: str) -> float:
    """Token F1 of a unit against a written answer, numbers counting double."""
    a, b = _words(unit), _words(answer)
    for c in (a, b):
        for w in list(c):
            if any(ch.isdigit() for ch in w):
                c[w] *= 2
    common = sum((a & b).values())
    if not common:
        return 0.0
    p, r = common / sum(a.values()), common / sum(b.values())
    return 2 * p * r / (p + r)


def positives(passages: Sequence, answer: str) -> List[int]:
    """Positions of the units of the gold article that state the written answer."""
    scored = [(overlap(p.text, answer), i) for i, p in passages]
    if not scored:
        return []
    best = max(s for s, _ in scored)
    if best < 0.15:
        return []
    return [i for s, i in scored if s >= 0.8 * best]


def make_triples(written: Sequence[dict], retriever, recipe: Recipe) -> Tuple[List[Tuple[str, str, List[str]]], Dict]:
    """(question, a unit that answers it, hard negative units) per answerable question, and
    counts for the manifest. Questions no article answers have no positive and are left out here
    (the confidence model learns from them)."""
    passages = retriever.kb.passages
    by_article: Dict[str, List[int]] = {}
    for i, p in enumerate(passages):
        by_article.setdefault(p.article_id, []).append(i)
    triples, skipped = [], 0
    for w in written:
        if w.get("article") is None:
            continue
        gold = by_article.get(w["article"], [])
        pos = positives([(i, passages[i]) for i in gold], w.get("answer") or "")
        if not pos:
            skipped += 1
            continue
        # A follow-up ("and for canada?") is learnt as the policy searches it: after the question before.
        query, _ = as_searched(w["question"], previous_question(w))
        ranked = retriever.candidates(query, recipe.candidates)
        hard = [i for i in ranked if i not in pos][: recipe.hard_negatives]
        for i in pos:
            triples.append((query, passages[i].context, [passages[j].context for j in hard]))
    return triples, {"questions": len({t[0] for t in triples}), "pairs": len(triples),
                     "skipped_no_positive": skipped}


def train(retriever, base_dir: str, out_dir: Path, recipe: Recipe = Recipe(), root: Path = Path(".")) -> dict:
    """Fine-tunes, saves and describes a re-ranker in out_dir; returns its manifest.

    The loss: for a batch of questions, softmax over every unit in the batch (each question's
    own positive, the others' positives, and the hard negatives) with the question's positive
    as the target (in-batch negatives, as sentence-transformers' MultipleNegativesRankingLoss)."""
    import torch
    from transformers import AutoModel, AutoTokenizer, get_linear_schedule_with_warmup

    from bot.retrieval.rerank import FORMAT_VERSION, MAX_TOKENS, mean_pooled

    written = [w for w in read_written(root / TRAIN_DIR) if split_of(w["id"]) == "rerank"]
    triples, counts = make_triples(written, retriever, recipe)
    data_hash = hashlib.sha256(json.dumps(triples).encode()).hexdigest()[:16]
    logger.info("reranker.data %s hash=%s", counts, data_hash)

    torch.manual_seed(recipe.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModel.from_pretrained(base_dir, add_pooling_layer=False).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=0.01)
    steps_per_epoch = math.ceil(len(triples) / recipe.batch_size)
    total = steps_per_epoch * recipe.epochs
    schedule = get_linear_schedule_with_warmup(optimizer, int(recipe.warmup * total), total)
    rng = random.Random(recipe.seed)

    def embed(texts):
        batch = tokenizer(texts, truncation=True, max_length=MAX_TOKENS, padding=True, return_tensors="pt").to(device)
        return mean_pooled(model, batch)

    started, step, losses, stopped_early = time.monotonic(), 0, [], False
    model.train()
    for epoch in range(recipe.epochs):
        order = list(range(len(triples)))
        rng.shuffle(order)
        for start in range(0, len(order), recipe.batch_size):
            batch = [triples[i] for i in order[start:start + recipe.batch_size]]
            questions = embed([b[0] for b in batch])
            units = embed([b[1] for b in batch] + [n for b in batch for n in b[2]])
            logits = recipe.scale * questions @ units.T
            # A unit that is also another question's positive is not a negative for it.
            same = torch.tensor([[b[1] == c[1] and i != j for j, c in enumerate(batch)] for i, b in enumerate(batch)])
            logits[:, : len(batch)] = logits[:, : len(batch)].masked_fill(same.to(device), -1e4)
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch), device=device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            losses.append(float(loss.detach()))
            if step % 10 == 0:
                logger.info("reranker.step %d/%d loss %.4f (%.0f s)", step, total,
                            sum(losses[-10:]) / 10, time.monotonic() - started)
            if time.monotonic() - started > recipe.max_minutes * 60:
                stopped_early = True
                break
        if stopped_early:
            break

    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    model.eval()
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    manifest = {
        "format_version": FORMAT_VERSION,
        "kind": "bi-encoder, contrastive (in-batch and hard negatives)",
        "base_model": str(base_dir),
        "device": device,
        "recipe": asdict(recipe),
        "data": {"source": str(TRAIN_DIR), "split": "rerank", **counts, "hash": data_hash},
        "kb_split_version": retriever.kb.manifest.get("split_version"),
        "steps": step,
        "steps_planned": total,
        "stopped_early": stopped_early,
        "final_loss": sum(losses[-10:]) / max(1, len(losses[-10:])),
        "seconds": round(time.monotonic() - started, 1),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    manifest["status"] = "good"  # last: a crashed run has no good manifest
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest
