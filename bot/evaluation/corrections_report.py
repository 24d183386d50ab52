"""How close a question must be to an approved one to get its answer: the threshold, chosen on
one set and reported on another.

Every canonical question of a set is approved at once (60 of them); then each probe is asked:
  - its paraphrases (3 per group): a hit when the best approved question is its own group's and
    the cosine reaches the threshold; a false hit when it is another group's;
  - its near misses (2 per group: same topic, a different answer): any match is a false hit.
The threshold is the lowest whose false-hit rate on data/corrections/paraphrases_dev.yml is at
most ``MAX_FALSE``; a wrong answer is worse than none. The held-out set
(tests/corrections/paraphrases_heldout.yml, written apart and never used to choose) reports it.

    .venv/actions/bin/python -m bot.evaluation.corrections_report   (make eval-corrections)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import yaml

from bot.answering.contrast import same_terms
from bot.settings import ROOT, get_settings

DEV = ROOT / "data" / "corrections" / "paraphrases_dev.yml"
HELDOUT = ROOT / "tests" / "corrections" / "paraphrases_heldout.yml"
MAX_FALSE = 0.005  # a wrong answer is worse than none: at most 1 look-alike in 200
THRESHOLDS = [round(0.50 + 0.01 * i, 2) for i in range(50)]


def load(path: Path) -> List[dict]:
    return yaml.safe_load(path.read_text())["groups"]


def _best(text: str, vector, approved, questions: List[str], contrast: bool):
    """The approved question the bot would pick for ``text`` (as ApprovedAnswers.match does,
    before the threshold) and its cosine; (None, -1) when the contrast check rules out all."""
    scores = approved @ vector
    for i in np.argsort(-scores):
        if not contrast or same_terms(text, questions[i]):
            return int(i), float(scores[i])
    return None, -1.0


def probe_scores(groups: List[dict], embed, contrast: bool = True):
    """(best cosine, best is its own group) per paraphrase; best cosine per near miss."""
    questions = [g["question"] for g in groups]
    approved = embed(questions)
    paraphrases: List[Tuple[float, bool]] = []
    near: List[float] = []
    for own, group in enumerate(groups):
        for text, vector in zip(group["paraphrases"], embed(group["paraphrases"])):
            best, score = _best(text, vector, approved, questions, contrast)
            paraphrases.append((score, best == own))
        for text, vector in zip(group["near_misses"], embed(group["near_misses"])):
            near.append(_best(text, vector, approved, questions, contrast)[1])
    return paraphrases, near


def rates(paraphrases, near, threshold: float) -> Dict[str, float]:
    hits = sum(1 for s, own in paraphrases if own and s >= threshold)
    wrong = sum(1 for s, own in paraphrases if not own and s >= threshold)
    near_hits = sum(1 for s in near if s >= threshold)
    return {"hit": hits / len(paraphrases),
            "false": (wrong + near_hits) / (len(paraphrases) + len(near)),
            "near_miss_matched": near_hits / len(near)}


def choose(paraphrases, near) -> float:
    for threshold in THRESHOLDS:
        if rates(paraphrases, near, threshold)["false"] <= MAX_FALSE:
            return threshold
    return THRESHOLDS[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "corrections.md")
    args = parser.parse_args()
    from bot.services import get_embedder

    settings = get_settings()
    embed = get_embedder(settings).encode
    dev, held = load(DEV), load(HELDOUT)
    dev_p, dev_n = probe_scores(dev, embed)
    held_p, held_n = probe_scores(held, embed)
    chosen = choose(dev_p, dev_n)
    plain_p, plain_n = probe_scores(held, embed, contrast=False)
    plain_chosen = choose(*probe_scores(dev, embed, contrast=False))
    lines = [
        "# Approved answers: how close is the same question",
        "",
        f"`make eval-corrections` on {platform.machine()}, {os.cpu_count()} CPU cores; "
        f"{time.strftime('%Y-%m-%d')}. Embedder: {settings.embedding_model} (the knowledge "
        "base's). Each set's canonical questions are all approved at once; its paraphrases "
        "should get their own group's answer (**hit**), and neither they nor the near misses "
        "(same topic, another answer) may get any other (**false**: share of all probes).",
        "",
        f"Chosen on the dev set ({len(dev)} groups, {len(dev_p)} paraphrases, {len(dev_n)} near "
        f"misses): the lowest threshold with at most {MAX_FALSE:.1%} false, **{chosen:.2f}** "
        f"(the setting `BOT_APPROVED_THRESHOLD` is {settings.approved_threshold:.2f}).",
        "",
        "| threshold | dev hit | dev false | held-out hit | held-out false | held-out near misses matched |",
        "|---|---|---|---|---|---|",
    ]
    shown = sorted(set(THRESHOLDS[::4]) | {chosen, settings.approved_threshold})
    for threshold in shown:
        d, h = rates(dev_p, dev_n, threshold), rates(held_p, held_n, threshold)
        mark = " **(chosen)**" if threshold == chosen else ""
        lines.append(f"| {threshold:.2f}{mark} | {d['hit']:.1%} | {d['false']:.1%} | "
                     f"{h['hit']:.1%} | {h['false']:.1%} | {h['near_miss_matched']:.1%} |")
    plain = rates(plain_p, plain_n, plain_chosen)
    lines += ["", f"Held-out set: {len(held)} groups, {len(held_p)} paraphrases, {len(held_n)} "
              "near misses, written by someone who saw only the articles and FACTS.md.", "",
              "Without the contrast check (bot/answering/contrast.py: the same payment method, "
              "region, operation, item, speed, day and numbers), the cosine alone chosen the same "
              f"way needs {plain_chosen:.2f} and gives on the held-out set {plain['hit']:.1%} hits "
              f"at {plain['false']:.1%} false: the near misses are closer to the approved question "
              "than the true rewordings are, so similarity alone cannot tell them apart.", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    (args.out.with_suffix(".json")).write_text(json.dumps(
        {"chosen": chosen, "dev": rates(dev_p, dev_n, chosen),
         "heldout": rates(held_p, held_n, chosen)}, indent=2))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
