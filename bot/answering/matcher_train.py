"""Fine-tunes the approved-answer matcher (matcher.py) from MiniLM, and chooses its threshold.

    python -m bot matcher train        (make matcher; a few minutes on 2 CPU cores)

Data: our own groups in data/corrections/paraphrases_train_*.yml (a canonical question, four
rewordings, three near misses), written from the articles and FACTS.md only. The dev set
(data/corrections/paraphrases_dev.yml) is never trained on: it chooses the threshold, the lowest
cosine at which at most MAX_FALSE of its probes get a wrong answer. The held-out set
(tests/corrections/) is only for reports/corrections.md.

The loss is supervised-contrastive over whole groups: a batch holds several groups, each
text of a group (its question and rewordings) is an anchor whose positives are the group's other
texts, and whose negatives are every other text in the batch, its own group's near misses first
among them. Each text is encoded once per step, so a step over 8 groups costs 64 encodings
(a triple per pair would cost 160 for 32 pairs).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import List

from bot.answering.matching_sets import DEV, MAX_FALSE, TRAIN_GLOB, choose, load, probe_scores, rates

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class Recipe:
    epochs: int = 4
    groups_per_batch: int = 8
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
    data_hash = hashlib.sha256(json.dumps(groups, sort_keys=True).encode()).hexdigest()[:16]
    logger.info("matcher.data groups=%d hash=%s", len(groups), data_hash)

    torch.manual_seed(recipe.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModel.from_pretrained(base_dir, add_pooling_layer=False).to(device)
    total = math.ceil(len(groups) / recipe.groups_per_batch) * recipe.epochs
    rng = random.Random(recipe.seed)

    def embed(texts):
        batch = tokenizer(list(texts), truncation=True, max_length=MAX_TOKENS, padding=True,
                          return_tensors="pt").to(device)
        return mean_pooled(model, batch)

    def epoch():
        order = list(range(len(groups)))
        rng.shuffle(order)
        return ([groups[i] for i in order[start:start + recipe.groups_per_batch]]
                for start in range(0, len(order), recipe.groups_per_batch))

    def loss_of(batch):
        same_answer, owner, near = [], [], []
        for index, group in enumerate(batch):
            texts = [group["question"], *group["paraphrases"]]
            same_answer += texts
            owner += [index] * len(texts)
            near += list(group.get("near_misses") or [])
        anchors = embed(same_answer)
        candidates = torch.cat([anchors, embed(near)]) if near else anchors
        logits = recipe.scale * anchors @ candidates.T
        n = len(same_answer)
        owners = torch.tensor(owner, device=device)
        itself = torch.eye(n, len(candidates), dtype=torch.bool, device=device)
        positive = torch.zeros(n, len(candidates), dtype=torch.bool, device=device)
        positive[:, :n] = (owners[:, None] == owners[None, :]) & ~itself[:, :n]
        # A near miss of one group may be another group's question: never a negative for it.
        texts_of = [set(same_answer[j] for j in range(n) if owner[j] == owner[i]) for i in range(n)]
        clash = torch.tensor([[False] * n + [t in texts_of[i] for t in near] for i in range(n)],
                             device=device)
        logits = logits.masked_fill(itself | clash, -1e4)
        # -log of the share of each anchor's softmax that falls on its group's other texts
        return (torch.logsumexp(logits, dim=1)
                - torch.logsumexp(logits.masked_fill(~positive, -1e4), dim=1)).mean()

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
        "kind": "bi-encoder, supervised-contrastive over groups (near misses as negatives)",
        "base_model": str(base_dir),
        "device": device,
        "recipe": asdict(recipe),
        "data": {"source": f"data/corrections/{TRAIN_GLOB}", "groups": len(groups),
                 "texts": sum(1 + len(g["paraphrases"]) + len(g.get("near_misses") or [])
                              for g in groups), "hash": data_hash},
        "threshold": threshold,
        "threshold_chosen_on": {"set": str(DEV.relative_to(root)) if DEV.is_relative_to(root)
                                else str(DEV), "max_false": MAX_FALSE, **figures},
        "steps_planned": total,
    }, progress)
