"""Knowledge-base search quality on our question set: recall@1, recall@5, MRR per search mode,
and how well the relevance threshold separates answerable from unanswerable questions.

    python -m bot.evaluation.retrieval_report          (make eval-retrieval)

Questions: tests/retrieval/questions.yml (written for our fictional store; each answerable one is
labelled with the article ids that answer it). A question counts as found at k when any of its
articles is among the first k distinct articles returned.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import yaml

from bot.settings import ROOT, get_settings

QUESTIONS = ROOT / "tests" / "retrieval" / "questions.yml"
THRESHOLDS = [round(0.20 + 0.025 * i, 3) for i in range(17)]  # 0.20 .. 0.60


def load_questions(path: Path = QUESTIONS):
    data = yaml.safe_load(path.read_text())
    return data["answerable"], [q["q"] for q in data["unanswerable"]]


def rank_metrics(retriever, answerable: Sequence[dict], mode: str, rerank: bool = False) -> Dict[str, float]:
    r1 = r5 = rr = 0.0
    misses: List[dict] = []
    for item in answerable:
        ranking = [a for a, _ in retriever.article_ranking(item["q"], k=10, mode=mode, rerank=rerank)]
        relevant = set(item["articles"])
        first = next((i for i, a in enumerate(ranking, start=1) if a in relevant), None)
        r1 += first == 1
        r5 += first is not None and first <= 5
        rr += 1.0 / first if first else 0.0
        if first is None or first > 5:
            misses.append({"q": item["q"], "expected": item["articles"], "got": ranking[:3]})
    n = max(len(answerable), 1)
    return {"recall@1": r1 / n, "recall@5": r5 / n, "mrr": rr / n, "misses": misses}


def threshold_sweep(retriever, answerable: Sequence[dict], unanswerable: Sequence[str], mode: str):
    """Best-hit cosine for every question; for each threshold, answered vs refused rates."""
    ans = [retriever.search(q["q"], k=5, mode=mode, rerank=False).best_score for q in answerable]
    unans = [retriever.search(q, k=5, mode=mode, rerank=False).best_score for q in unanswerable]
    rows = []
    for t in THRESHOLDS:
        kept = sum(s >= t for s in ans) / max(len(ans), 1)
        refused = sum(s < t for s in unans) / max(len(unans), 1)
        rows.append({"threshold": t, "answerable_kept": kept, "unanswerable_refused": refused,
                     "balanced": (kept + refused) / 2})
    return rows


def evaluate(retriever, questions_path: Path = QUESTIONS, modes: Sequence[str] = ("dense", "bm25", "hybrid")):
    answerable, unanswerable = load_questions(questions_path)
    started = time.monotonic()
    results = {mode: rank_metrics(retriever, answerable, mode) for mode in modes}
    if retriever.reranker is not None:
        results[f"{retriever.mode} + re-ranker"] = rank_metrics(retriever, answerable, retriever.mode, rerank=True)
    sweep = threshold_sweep(retriever, answerable, unanswerable, retriever.mode)
    at_threshold = min(sweep, key=lambda r: abs(r["threshold"] - retriever.threshold))
    return {
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "modes": results,
        "configured_mode": retriever.mode,
        "threshold": retriever.threshold,
        "at_threshold": at_threshold,
        "best_threshold": max(sweep, key=lambda r: (round(r["balanced"], 4), r["threshold"])),
        "sweep": sweep,
        "seconds": time.monotonic() - started,
    }


def render(summary: Dict) -> str:
    lines = [
        "# Knowledge-base search quality",
        "",
        f"{summary['answerable']} answerable questions (labelled with the articles that answer "
        f"them) and {summary['unanswerable']} the articles cannot answer, from "
        f"`tests/retrieval/questions.yml`; written by `make eval-retrieval` on "
        f"{platform.machine()} / Python {platform.python_version()} in {summary['seconds']:.0f} s.",
        "",
        "| mode | recall@1 | recall@5 | MRR |",
        "|---|---|---|---|",
    ]
    for mode, m in summary["modes"].items():
        mark = " (configured)" if mode == summary["configured_mode"] else ""
        lines.append(f"| {mode}{mark} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | {m['mrr']:.3f} |")
    t = summary["at_threshold"]
    lines += [
        "",
        "## \"I don't know\" without a confidence model: the relevance threshold",
        "",
        "The bot decides with its confidence model (bot/answering/confidence.py; reports/answers.md "
        "has its curve). Without one it answers only when the best unit's cosine similarity to the "
        f"question is at least the threshold (`BOT_KB_THRESHOLD`, now **{summary['threshold']:.3f}**). At that "
        f"threshold, {t['unanswerable_refused']:.1%} of unanswerable questions are refused "
        f"(unanswerable detection) and {t['answerable_kept']:.1%} of answerable ones are answered.",
        "",
        "| threshold | answerable answered | unanswerable refused | mean |",
        "|---|---|---|---|",
    ]
    for row in summary["sweep"]:
        mark = " **(configured)**" if row["threshold"] == t["threshold"] else ""
        lines.append(
            f"| {row['threshold']:.3f}{mark} | {row['answerable_kept']:.3f} | "
            f"{row['unanswerable_refused']:.3f} | {row['balanced']:.3f} |"
        )
    misses = summary["modes"][summary["configured_mode"]]["misses"]  # the first stage
    lines += ["", f"## Questions not found in the top 5 ({summary['configured_mode']})", ""]
    lines += [f"- {m['q']} (expected {', '.join(m['expected'])}; got {', '.join(m['got'])})" for m in misses] or ["(none)"]
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    import logging

    from bot.services import get_retriever

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "retrieval.md")
    parser.add_argument("--json", type=Path, default=ROOT / "reports" / "retrieval.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    summary = evaluate(get_retriever(get_settings()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(summary))
    args.json.write_text(json.dumps(summary, indent=2))
    for mode, m in summary["modes"].items():
        print(f"{mode:7s} recall@1 {m['recall@1']:.3f} recall@5 {m['recall@5']:.3f} MRR {m['mrr']:.3f}")
    t = summary["at_threshold"]
    print(f"threshold {summary['threshold']:.3f}: unanswerable refused {t['unanswerable_refused']:.3f}, "
          f"answerable answered {t['answerable_kept']:.3f}; best {summary['best_threshold']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
