"""Fine-tunes the approved-answer matcher (matcher.py) from MiniLM, and chooses its threshold.

    python -m bot matcher train        (make matcher; a few minutes on 2 CPU cores)

Data: our own groups in data/corrections/paraphrases_train_*.yml (a canonical question, four
rewordings, three near misses), written from the articles and FACTS.md only. The dev set
(data/corrections/paraphrases_dev.yml) is never trained on: it chooses the threshold, the lowest
cosine at which at most MAX_FALSE of its probes get a wrong answer. The held-out set
(tests/corrections/) is only for reports/corrections.md.

The loss, per batch, is a softmax over every candidate in it (as the re-ranker's,
bot/retrieval/rerank_train.py): a canonical question should be closest to its own rewording,
before its near misses and the other groups' texts; and a rewording closest to its canonical
question. Texts of the same group are never each other's negatives.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import List, Tuple

from bot.answering.matching_sets import DEV, MAX_FALSE, TRAIN_GLOB, choose, load, probe_scores, rates

logger = logging.getLogger(__name__)

# (group index, anchor, positive, hard negatives)
Triple = Tuple[int, str, str, List[str]]


@dataclass(frozen=True)
class Recipe:
    epochs: int = 4
    batch_size: int = 32
    lr: float = 3e-5
    warmup: float = 0.1
    scale: float = 20.0  # cosines times this are the logits of the contrastive loss
    max_minutes: float = 10.0  # a time budget: training stops early, still saves
    seed: int = 17


def train_groups(root: Path) -> List[dict]:
    groups: List[dict] = []
    for path in sorted((root / "data" / "corrections").glob(TRAIN_GLOB)):
        groups.extend(load(path))
    return groups


def make_triples(groups: List[dict]) -> List[Triple]:
    triples: List[Triple] = []
    for index, group in enumerate(groups):
        near = list(group.get("near_misses") or [])
        for paraphrase in group["paraphrases"]:
            triples.append((index, group["question"], paraphrase, near))
            triples.append((index, paraphrase, group["question"], near))
    return triples


def train(base_dir: str, out_dir: Path, root: Path, recipe: Recipe = Recipe()) -> dict:
    """Fine-tunes, chooses the threshold on dev, saves and describes the matcher; its manifest."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from bot.answering.matcher import FORMAT_VERSION, MAX_TOKENS
    from bot.finetune import optimise, save
    from bot.retrieval.rerank import mean_pooled

    groups = train_groups(root)
    if not groups:
        raise ValueError(f"no training groups in {root / 'data' / 'corrections' / TRAIN_GLOB}")
    triples = make_triples(groups)
    data_hash = hashlib.sha256(json.dumps(groups, sort_keys=True).encode()).hexdigest()[:16]
    logger.info("matcher.data groups=%d triples=%d hash=%s", len(groups), len(triples), data_hash)

    torch.manual_seed(recipe.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModel.from_pretrained(base_dir, add_pooling_layer=False).to(device)
    total = math.ceil(len(triples) / recipe.batch_size) * recipe.epochs
    rng = random.Random(recipe.seed)

    def embed(texts):
        batch = tokenizer(list(texts), truncation=True, max_length=MAX_TOKENS, padding=True,
                          return_tensors="pt").to(device)
        return mean_pooled(model, batch)

    def epoch():
        order = list(range(len(triples)))
        rng.shuffle(order)
        return ([triples[i] for i in order[start:start + recipe.batch_size]]
                for start in range(0, len(order), recipe.batch_size))

    def loss_of(batch):
        anchors = embed([b[1] for b in batch])
        candidates = [b[2] for b in batch] + [n for b in batch for n in b[3]]
        owners = [b[0] for b in batch] + [b[0] for b in batch for _ in b[3]]
        logits = recipe.scale * anchors @ embed(candidates).T
        # Another triple's positive from the same group means the same: not a negative. A
        # group's own near misses stay negatives (they are the point).
        same = torch.tensor([[owners[j] == b[0] and j != i and j < len(batch)
                              for j in range(len(candidates))] for i, b in enumerate(batch)])
        logits = logits.masked_fill(same.to(device), -1e4)
        return torch.nn.functional.cross_entropy(logits, torch.arange(len(batch), device=device))

    progress = optimise(model, (epoch() for _ in range(recipe.epochs)), loss_of, total, recipe.lr,
                        recipe.warmup, recipe.max_minutes, "matcher")

    model.eval()

    def encode(texts):
        with torch.inference_mode():
            return embed(texts).float().cpu().numpy()

    dev = load(DEV)
    dev_p, dev_n = probe_scores(dev, encode)
    threshold = choose(dev_p, dev_n)
    figures = rates(dev_p, dev_n, threshold)
    logger.info("matcher.threshold %.2f dev %s", threshold, figures)
    return save(model, tokenizer, out_dir, {
        "format_version": FORMAT_VERSION,
        "kind": "bi-encoder, contrastive (in-batch and near-miss negatives)",
        "base_model": str(base_dir),
        "device": device,
        "recipe": asdict(recipe),
        "data": {"source": f"data/corrections/{TRAIN_GLOB}", "groups": len(groups),
                 "triples": len(triples), "hash": data_hash},
        "threshold": threshold,
        "threshold_chosen_on": {"set": str(DEV.relative_to(root)) if DEV.is_relative_to(root)
                                else str(DEV), "max_false": MAX_FALSE, **figures},
        "steps_planned": total,
    }, progress)
