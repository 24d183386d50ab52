"""How close a question must be to an approved one to get its answer: the threshold, chosen on
one set and reported on another.

Every canonical question of a set is approved at once (60 of them); then each probe is asked:
  - its paraphrases (3 per group): a hit when the best approved question is its own group's and
    the cosine reaches the threshold; a false hit when it is another group's;
  - its near misses (2 per group: same topic, a different answer): any match is a false hit.
The threshold is the lowest whose false-hit rate on data/corrections/paraphrases_dev.yml is at
most ``MAX_FALSE``; a wrong answer is worse than none. The held-out set
(tests/corrections/paraphrases_heldout.yml, written apart and never used to choose) reports it.
The knowledge base's MiniLM and the fine-tuned matcher (bot/answering/matcher.py) side by side,
with and without the contrast check (bot/answering/contrast.py).

    .venv/actions/bin/python -m bot.evaluation.corrections_report   (make eval-corrections)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from bot.answering.matching_sets import (
    DEV,
    HELDOUT,
    MAX_FALSE,
    THRESHOLDS,
    choose,
    load,
    probe_scores,
    rates,
)
from bot.settings import ROOT, get_settings


def auc(paraphrases, near) -> float:
    """How often a rewording that found its own group scores above a near miss (0.5 = chance)."""
    own = [s for s, hit in paraphrases if hit]
    if not own or not near:
        return float("nan")
    wins = sum((a > b) + 0.5 * (a == b) for a in own for b in near)
    return wins / (len(own) * len(near))


def evaluate(name: str, embed, dev, held, contrast: bool) -> dict:
    dev_p, dev_n = probe_scores(dev, embed, contrast)
    held_p, held_n = probe_scores(held, embed, contrast)
    chosen = choose(dev_p, dev_n)
    return {"name": name, "contrast": contrast, "chosen": chosen, "dev_probes": (dev_p, dev_n),
            "held_probes": (held_p, held_n), "dev": rates(dev_p, dev_n, chosen),
            "heldout": rates(held_p, held_n, chosen), "dev_auc": auc(dev_p, dev_n),
            "heldout_auc": auc(held_p, held_n)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "corrections.md")
    args = parser.parse_args()
    from bot.answering.matcher import Matcher
    from bot.services import get_embedder

    settings = get_settings()
    dev, held = load(DEV), load(HELDOUT)
    base = get_embedder(settings).encode
    rows = [evaluate(f"{settings.embedding_model} (the knowledge base's)", base, dev, held, False),
            evaluate(f"{settings.embedding_model} + contrast check", base, dev, held, True)]
    matcher = None
    if (settings.matcher_dir / "manifest.json").exists():
        matcher = Matcher(settings.matcher_dir)
        rows += [evaluate("fine-tuned matcher", matcher.encode, dev, held, False),
                 evaluate("fine-tuned matcher + contrast check (the bot's)", matcher.encode, dev,
                          held, True)]
    deployed = rows[-1]
    rule = ("at which no probe gets a wrong answer" if MAX_FALSE == 0
            else f"with at most {MAX_FALSE:.1%} false")
    lines = [
        "# Approved answers: how close is the same question",
        "",
        f"`make eval-corrections` on {platform.machine()}, {os.cpu_count()} CPU cores; "
        f"{time.strftime('%Y-%m-%d')}. Each set's canonical questions are all approved at once; "
        "its paraphrases should get their own group's answer (**hit**), and neither they nor the "
        "near misses (same topic, another answer) may get any other (**false**: share of all "
        "probes; a paraphrase matched to another group's question counts here too).",
        "",
        f"Every threshold is the lowest {rule} on the dev set "
        f"(data/corrections/paraphrases_dev.yml: {len(dev)} groups, "
        f"{sum(len(g['paraphrases']) for g in dev)} paraphrases, "
        f"{sum(len(g['near_misses']) for g in dev)} near misses). The held-out set "
        f"(tests/corrections/paraphrases_heldout.yml: {len(held)} groups, written by someone who "
        "saw only the articles and FACTS.md) reports it and chooses nothing. AUC: how often a "
        "paraphrase that found its own group scores above a near miss.",
        "",
        "| model | threshold (dev) | dev hit | dev false | held-out hit | held-out false | "
        "held-out near misses matched | dev AUC | held-out AUC |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        d, h = row["dev"], row["heldout"]
        lines.append(f"| {row['name']} | {row['chosen']:.2f} | {d['hit']:.1%} | {d['false']:.1%} | "
                     f"{h['hit']:.1%} | {h['false']:.1%} | {h['near_miss_matched']:.1%} | "
                     f"{row['dev_auc']:.2f} | {row['heldout_auc']:.2f} |")
    if matcher is not None:
        data = matcher.manifest["data"]
        lines += ["", f"The matcher: {settings.embedding_model} fine-tuned on {data['groups']} "
                  f"groups of our own (data/corrections/paraphrases_train_*.yml, written apart "
                  f"from both sets), {matcher.manifest['steps']} steps in "
                  f"{matcher.manifest['seconds']:.0f} s on {matcher.manifest['device']}. The bot "
                  f"uses it with the threshold in its manifest, {matcher.threshold:.2f}."]
    lines += ["", f"## The bot's: {deployed['name']}, threshold by threshold", "",
              "| threshold | dev hit | dev false | held-out hit | held-out false | "
              "held-out near misses matched |", "|---|---|---|---|---|---|"]
    for threshold in sorted(set(THRESHOLDS[::5]) | {deployed["chosen"]}):
        d = rates(*deployed["dev_probes"], threshold)
        h = rates(*deployed["held_probes"], threshold)
        mark = " **(chosen)**" if threshold == deployed["chosen"] else ""
        lines.append(f"| {threshold:.2f}{mark} | {d['hit']:.1%} | {d['false']:.1%} | "
                     f"{h['hit']:.1%} | {h['false']:.1%} | {h['near_miss_matched']:.1%} |")
    lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    (args.out.with_suffix(".json")).write_text(json.dumps(
        [{k: row[k] for k in ("name", "contrast", "chosen", "dev", "heldout", "dev_auc",
                              "heldout_auc")} for row in rows], indent=2))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
