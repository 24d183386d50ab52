"""Fine-tunes the re-ranker (bot/retrieval/rerank.py) from MiniLM on our own labelled questions.

    python -m bot reranker train        (make reranker; about 20 minutes on 2 CPU cores)

Data: the drafter's training questions (data/generator/*.yml: question, gold article, written
answer) and the approved-answer matcher's training groups (data/corrections/paraphrases_train_*.yml:
a question, its answer's fact and rewordings, under a comment naming the article; the question and
the first `Recipe.rewordings` rewordings are used), never a held-out set. The drafter's questions
are split in two by a stable hash of their id: the "rerank" part trains this model (with all the
matcher's groups), the "calibrate" part is kept for what is fitted on the model's scores (the
"I don't know" model, bot/answering/confidence.py), so those scores are measured on questions the
re-ranker never saw.

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
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from bot.answering.followup import as_searched, previous_question
from bot.generation.dataset import TRAIN_DIR, read_written

logger = logging.getLogger(__name__)

WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
STOP = frozenset("the a an and or of to in on at for with is are be it you your we our can i my".split())


@dataclass(frozen=True)
class Recipe:
    # With the matcher's groups (1,871 pairs), 4 epochs: 236 steps, about 20 minutes on 2 cores.
    # Freezing the embeddings and the lower 3 layers took 12.6 minutes but quoted the written
    # answer less often on the calibrate split (68.0 % against 70.4 %), so every layer is trained.
    epochs: int = 4
    batch_size: int = 32
    lr: float = 3e-5
    warmup: float = 0.1
    scale: float = 20.0  # cosines times this are the logits of the contrastive loss
    hard_negatives: int = 1  # per question: the best-ranked candidate that is not a positive
    candidates: int = 20  # what search returns to pick hard negatives from
    max_minutes: float = 25.0  # a time budget: training stops early, still saves
    seed: int = 13
    rewordings: int = 2  # per matcher group (paraphrase_questions); 0 leaves the groups out


GROUPS_GLOB = "data/corrections/paraphrases_train_*.yml"
_ARTICLE = re.compile(r"^\s*#\s*article:\s*(\S+)")
_QUESTION = re.compile(r"^\s*-\s+question:")


def paraphrase_questions(root: Path, rewordings: int) -> List[dict]:
    """The matcher's training groups as labelled questions (id, article, question, answer): the
    group's question and its first `rewordings` rewordings, all answered by its fact. The article
    is the "# article:" comment above the group (the files' convention)."""
    import yaml

    questions: List[dict] = []
    for path in sorted(Path(root).glob(GROUPS_GLOB)):
        text = path.read_text()
        articles, current = [], None
        for line in text.splitlines():
            match = _ARTICLE.match(line)
            if match:
                current = match.group(1)
            elif _QUESTION.match(line):
                articles.append(current)
        groups = yaml.safe_load(text)["groups"]
        if len(articles) != len(groups):
            raise ValueError(f"{path}: {len(groups)} groups but {len(articles)} '- question:' lines")
        for n, (group, article) in enumerate(zip(groups, articles)):
            if article is None:
                continue
            for k, question in enumerate([group["question"], *group.get("paraphrases", [])[:rewordings]]):
                questions.append({"id": f"{path.stem}-{n:03d}-{k}", "article": article,
                                  "question": question, "answer": group["answer_fact"]})
    return questions


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
    from transformers import AutoModel, AutoTokenizer

    from bot.finetune import optimise, save
    from bot.retrieval.rerank import FORMAT_VERSION, MAX_TOKENS, mean_pooled

    written = [w for w in read_written(root / TRAIN_DIR) if split_of(w["id"]) == "rerank"]
    groups = paraphrase_questions(root, recipe.rewordings) if recipe.rewordings else []
    triples, counts = make_triples(written + groups, retriever, recipe)
    counts["matcher_group_questions"] = len(groups)
    data_hash = hashlib.sha256(json.dumps(triples).encode()).hexdigest()[:16]
    logger.info("reranker.data %s hash=%s", counts, data_hash)

    torch.manual_seed(recipe.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModel.from_pretrained(base_dir, add_pooling_layer=False).to(device)
    total = math.ceil(len(triples) / recipe.batch_size) * recipe.epochs
    rng = random.Random(recipe.seed)

    def embed(texts):
        batch = tokenizer(texts, truncation=True, max_length=MAX_TOKENS, padding=True, return_tensors="pt").to(device)
        return mean_pooled(model, batch)

    def epoch():
        order = list(range(len(triples)))
        rng.shuffle(order)
        return ([triples[i] for i in order[start:start + recipe.batch_size]]
                for start in range(0, len(order), recipe.batch_size))

    def loss_of(batch):
        questions = embed([b[0] for b in batch])
        units = embed([b[1] for b in batch] + [n for b in batch for n in b[2]])
        logits = recipe.scale * questions @ units.T
        # A unit that is also another question's positive is not a negative for it.
        same = torch.tensor([[b[1] == c[1] and i != j for j, c in enumerate(batch)] for i, b in enumerate(batch)])
        logits[:, : len(batch)] = logits[:, : len(batch)].masked_fill(same.to(device), -1e4)
        return torch.nn.functional.cross_entropy(logits, torch.arange(len(batch), device=device))

    progress = optimise(model, (epoch() for _ in range(recipe.epochs)), loss_of, total, recipe.lr,
                        recipe.warmup, recipe.max_minutes, "reranker")
    return save(model, tokenizer, out_dir, {
        "format_version": FORMAT_VERSION,
        "kind": "bi-encoder, contrastive (in-batch and hard negatives)",
        "base_model": str(base_dir),
        "device": device,
        "recipe": asdict(recipe),
        "data": {"source": [str(TRAIN_DIR), GROUPS_GLOB], "split": "rerank", **counts, "hash": data_hash},
        "kb_split_version": retriever.kb.manifest.get("split_version"),
        "steps_planned": total,
    }, progress)
