"""Fine-tunes MiniLM on our own NLU examples so that messages of one intent lie close together.

    python -m bot nlu-encoder train      (make train does it first; about 3 min on 2 CPU cores)

Runs in the actions environment (torch). The Rasa environment has no torch: it reads the saved
weights with its NumPy encoder (bot/nlu/encoder.py) through MiniLMFeaturizer's `model_dir`.

The loss is supervised contrastive (SetFit's idea, on whole batches): in a batch of messages each
message is pulled towards the other messages of its intent and pushed from the rest. Batches
are drawn so that every message has company: a few intents at a time, several messages of each.
Out-of-scope messages are one class like the others, so the encoder learns to set them apart.

Data: data/nlu/*.yml only (the training data Rasa reads), never tests/nlu/. On disk, in
models/nlu-encoder/: the fine-tuned encoder (save_pretrained: config.json, model.safetensors,
tokenizer files) and manifest.json (base, data hash, recipe, figures; "status": "good" written
last, so a crashed run is never loaded). `make train` rebuilds it when data/nlu changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import yaml

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
ANNOTATION = re.compile(r"\[([^\]]+)\](\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True)
class Recipe:
    epochs: int = 4
    intents_per_batch: int = 12
    per_intent: int = 4  # messages of each intent in a batch
    lr: float = 4e-5
    warmup: float = 0.1
    temperature: float = 0.07
    max_tokens: int = 64
    max_minutes: float = 8.0  # a time budget: training stops early, still saves
    seed: int = 17


def plain(example: str) -> str:
    """The message as the customer wrote it, without Rasa's entity annotations."""
    return ANNOTATION.sub(r"\1", example).strip()


def read_nlu(paths: Sequence[Path]) -> List[Tuple[str, str]]:
    """(text, intent) of every intent example in Rasa NLU YAML files (regexes and lookups skipped)."""
    examples = []
    for path in paths:
        data = yaml.safe_load(Path(path).read_text()) or {}
        for block in data.get("nlu") or []:
            if "intent" not in block:
                continue
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    examples.append((plain(line[2:]), block["intent"]))
    return examples


def data_hash(examples: Sequence[Tuple[str, str]]) -> str:
    return hashlib.sha256(json.dumps(sorted(examples)).encode()).hexdigest()[:16]


def batches(examples: Sequence[Tuple[str, str]], recipe: Recipe, rng: random.Random) -> List[List[int]]:
    """One epoch: every example once, in batches of a few intents with several examples each."""
    by_intent: Dict[str, List[int]] = defaultdict(list)
    for i, (_, intent) in enumerate(examples):
        by_intent[intent].append(i)
    chunks = []
    for positions in by_intent.values():
        positions = positions[:]
        rng.shuffle(positions)
        chunks += [positions[j:j + recipe.per_intent] for j in range(0, len(positions), recipe.per_intent)]
    rng.shuffle(chunks)
    out, current, intents = [], [], set()
    for chunk in chunks:
        intent = examples[chunk[0]][1]
        if len(intents) >= recipe.intents_per_batch and intent not in intents:
            out.append(current)
            current, intents = [], set()
        current += chunk
        intents.add(intent)
    if current:
        out.append(current)
    return out


def train(base_dir: Path, out_dir: Path, examples: Sequence[Tuple[str, str]], recipe: Recipe = Recipe()) -> dict:
    """Fine-tunes, saves and describes the encoder in out_dir; returns its manifest."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from bot.finetune import optimise, save

    torch.manual_seed(recipe.seed)
    rng = random.Random(recipe.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    model = AutoModel.from_pretrained(str(base_dir), add_pooling_layer=False).to(device)
    labels = sorted({intent for _, intent in examples})
    label_of = {name: i for i, name in enumerate(labels)}
    # Every epoch's batches drawn up front, so the schedule's length is the real number of steps.
    epochs = [batches(examples, recipe, rng) for _ in range(recipe.epochs)]
    total = sum(len(epoch) for epoch in epochs)

    def embed(texts: List[str]):
        batch = tokenizer(texts, truncation=True, max_length=recipe.max_tokens, padding=True,
                          return_tensors="pt").to(device)
        states = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def loss_of(batch: List[int]):
        """Supervised contrastive: each message's log-probability of the others of its intent."""
        vectors = embed([examples[i][0] for i in batch])
        y = torch.tensor([label_of[examples[i][1]] for i in batch], device=device)
        self_mask = torch.eye(len(batch), dtype=torch.bool, device=device)
        logits = (vectors @ vectors.T / recipe.temperature).masked_fill(self_mask, -1e4)
        positive = (y[:, None] == y[None, :]) & ~self_mask
        log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        has_positive = positive.any(1)
        return -((log_prob * positive).sum(1)[has_positive] / positive.sum(1)[has_positive]).mean()

    progress = optimise(model, epochs, loss_of, total, recipe.lr, recipe.warmup, recipe.max_minutes,
                        "nlu_encoder", log_every=20)
    counts: Dict[str, int] = defaultdict(int)
    for _, intent in examples:
        counts[intent] += 1
    return save(model, tokenizer, out_dir, {
        "format_version": FORMAT_VERSION,
        "kind": "MiniLM, supervised contrastive fine-tune on intents",
        "base_model": str(base_dir),
        "device": device,
        "recipe": asdict(recipe),
        "data": {"examples": len(examples), "intents": len(labels), "hash": data_hash(examples),
                 "per_intent": dict(sorted(counts.items()))},
        "steps_planned": total,
    }, progress, loss_window=20)


def read_manifest(model_dir: Path) -> Dict:
    """The manifest of a finished run, or {} when there is none (or the run did not finish)."""
    path = Path(model_dir) / "manifest.json"
    if not path.exists():
        return {}
    manifest = json.loads(path.read_text())
    return manifest if manifest.get("status") == "good" else {}


def is_current(model_dir: Path, examples: Sequence[Tuple[str, str]]) -> bool:
    manifest = read_manifest(model_dir)
    return bool(manifest) and manifest.get("format_version") == FORMAT_VERSION and \
        manifest["data"]["hash"] == data_hash(examples)

