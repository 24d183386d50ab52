"""Training and held-out examples for the drafter, with passages from the real retriever.

The examples are written by us for our articles:

    data/generator/*.yml     training (question, optional recent turns, gold article, answer)
    tests/generator/*.yml    held-out, never trained on

Each question is searched with the retriever the bot uses, and the prompt gets what it returns,
so the model learns from the same imperfect retrieval it will meet in a conversation:

- the gold article is among the passages and the reference answer's numbers, e-mails, phones and
  links are in them -> the target is the reference answer;
- otherwise (retrieval missed, or the passage cut lost the fact) -> the target is the refusal,
  because from those passages it is the honest reply;
- questions no article answers -> the refusal.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import yaml

from bot.generation.checks import check_facts
from bot.generation.prompt import (
    MAX_PASSAGE_CHARS,
    REFUSAL,
    Context,
    Turn,
    build_contexts,
    history_from_pairs,
)

TRAIN_DIR = Path("data/generator")
HELDOUT_DIR = Path("tests/generator")


@dataclass
class Example:
    id: str
    question: str
    article: Optional[str]  # the article that answers it; None for unanswerable questions
    reference: Optional[str]  # the written answer (None for unanswerable questions)
    target: str  # what the model is trained to say for these passages
    contexts: List[Context]
    history: List[Turn] = field(default_factory=list)
    label: str = ""  # answer, refusal_missed (gold not retrieved), refusal_cut, unanswerable
    # written (data/generator), correction or agent_edit (the team's, bot/generation/team_data.py)
    source: str = "written"

    def to_json(self) -> dict:
        return asdict(self)


def read_written(folder: Path) -> List[dict]:
    """The written examples of every YAML file in `folder`, in file order."""
    examples = []
    for path in sorted(folder.glob("*.yml")):
        examples.extend(yaml.safe_load(path.read_text())["examples"])
    return examples


def build(
    written: Iterable[dict], retriever, passages: int, max_passage_chars: int = MAX_PASSAGE_CHARS
) -> List[Example]:
    """Examples with retrieved passages and the target for them."""
    written = list(written)
    questions = [w["question"] for w in written]
    vectors = retriever.embedder.encode(questions)
    examples = []
    for w, vector in zip(written, vectors):
        hits = retriever.search(w["question"], k=passages).hits
        contexts = build_contexts(hits, vector, retriever.embedder.encode, max_passage_chars)
        article, answer = w.get("article"), w.get("answer")
        if article is None:
            target, label = REFUSAL, "unanswerable"
        elif article not in {c.article_id for c in contexts}:
            target, label = REFUSAL, "refusal_missed"
        elif check_facts(answer, "\n".join(c.render() for c in contexts) + "\n" + w["question"]).failed:
            target, label = REFUSAL, "refusal_cut"
        else:
            target, label = answer, "answer"
        examples.append(
            Example(w["id"], w["question"], article, answer, target, contexts,
                    history_from_pairs(w.get("history")), label,
                    (w.get("provenance") or {}).get("source", "written"))
        )
    return examples


def data_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.yml")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def write_jsonl(examples: List[Example], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for e in examples:
            f.write(json.dumps(e.to_json()) + "\n")


def label_counts(examples: List[Example]) -> Dict[str, int]:
    return dict(Counter(e.label for e in examples))


def answer_vocabulary(train_dir: Path, articles_dir: Path, min_count: int = 3) -> List[str]:
    """Words our written answers use that their article does not have ("sorry", "instead",
    "yours"), stemmed: the glue of an answer, which the drafter's novel-word check allows.
    Derived from the training answers only, in a few milliseconds."""
    from bot.generation.checks import content_words
    from bot.retrieval.articles import load_articles

    bodies = {a.id: set(content_words(f"{a.title} {a.body}")) for a in load_articles(articles_dir)}
    counts: Counter = Counter()
    for w in read_written(train_dir):
        if w.get("article") in bodies and w.get("answer"):
            counts.update(set(content_words(w["answer"])) - bodies[w["article"]])
    return sorted(word for word, n in counts.items() if n >= min_count)
