"""Are the bot's answers right? `make eval` -> reports/answers.md (+ answers.json).

Every question of tests/answers/questions.yml (written apart from the training data, each with
the facts its answer must state and the false statements a careless answer makes) goes through
the one answer policy (bot/answering/policy.py), as the bot would answer it:

    extractive        the policy without a drafter: the best answer unit, quoted
    drafter alone     the fine-tuned drafter's reply as written, checks not applied (when a run exists)
    bot with drafts   the policy with the drafter: a draft that passes every check, else the quote
    before            the replies of the code before this report (reports/answers_before.json,
                      made once on commit bfc92b2 with the same questions), scored the same way

Scored by bot/evaluation/answer_set.py judge(): correct, false, refused, missed; over the
unanswerable questions, how many are refused. Latency is the policy's own time per question on
this machine (search, re-ranking, drafting), p50 and p95.

A second set, tests/answers/questions_fresh.yml, was written later by someone who had seen
neither the training data nor the first set, and nobody has looked at the bot's replies to it
question by question: it says whether what was improved on the first set holds on questions
nobody tuned for. Its "before" rows are the replies of the code before that session
(reports/answers_fresh_before.json). tests/answers/unanswerable_near.yml adds 220 questions no
article answers, many of them near misses (a help-centre topic, a detail no article states): the
share refused.

Also: search quality (recall@1 and MRR of the gold article, and whether the best unit states the
fact) with and without the re-ranker, and the "I don't know" curve on this set.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from bot.evaluation.answer_set import ANSWER_SET, OUTCOMES, Item, body, judge, load, normalise
from bot.settings import ROOT, get_settings

BEFORE = ROOT / "reports" / "answers_before.json"
FRESH_SET = ROOT / "tests" / "answers" / "questions_fresh.yml"
FRESH_BEFORE = ROOT / "reports" / "answers_fresh_before.json"
NEAR_MISSES = ROOT / "tests" / "answers" / "unanswerable_near.yml"


def is_refusal_text(text: str) -> bool:
    from bot.generation.prompt import is_refusal

    return is_refusal(text) or "can't look that up" in text.lower()


WARMUP = "while the re-ranker trains (first-stage order, stricter cosine threshold)"


def warmup_components(base, settings):
    """What a first `make run` answers with until its re-ranker, confidence model and matcher are
    trained in the background (bot/launcher.py): first-stage search, the cosine threshold."""
    from bot.retrieval.search import Retriever

    from bot.services import first_stage_threshold

    retriever = Retriever(base.retriever.kb, base.retriever.embedder, settings.kb_search_mode,
                          first_stage_threshold(settings, None), reranker=None)
    return replace(base, retriever=retriever, confidence=None)


def run_policy(components, items: Sequence[Item]) -> List[dict]:
    from bot.answering.policy import respond

    outputs = []
    for item in items:
        started = time.perf_counter()
        answer = respond(components, item.q, item.history)
        seconds = time.perf_counter() - started
        draft = answer.draft
        outputs.append({
            "id": item.id, "text": answer.text, "kind": answer.kind, "seconds": seconds,
            "draft": None if draft is None else {"text": draft.text, "status": draft.status,
                                                  "failed_check": draft.failed_check},
        })
    return outputs


def drafter_alone(outputs: Sequence[dict]) -> List[dict]:
    """What the drafter wrote, as if it were sent without checks (the extractive reply where no
    draft was made, which is where the policy refused)."""
    alone = []
    for out in outputs:
        draft = out.get("draft")
        if draft is None or draft["status"] in ("timeout", "fallback"):
            alone.append(out)
        else:
            alone.append(dict(out, text=draft["text"], kind="drafted"))
    return alone


def score(items: Sequence[Item], outputs: Sequence[dict]) -> dict:
    by_id = {o["id"]: o for o in outputs}
    answerable = [i for i in items if i.answerable]
    unanswerable = [i for i in items if not i.answerable]
    outcomes = {}
    for item in answerable:
        out = by_id[item.id]
        outcomes[item.id] = judge(item, out["text"], is_refusal_text(out["text"]))
    counts = Counter(outcomes.values())
    by_type: Dict[str, Counter] = {}
    for item in answerable:
        by_type.setdefault(item.type, Counter())[outcomes[item.id]] += 1
    refused_unanswerable = sum(is_refusal_text(by_id[i.id]["text"]) for i in unanswerable)
    seconds = [o["seconds"] for o in outputs if o.get("seconds") is not None]
    false_items = [
        {"id": i.id, "q": i.q, "history": i.history, "reply": by_id[i.id]["text"][:300],
         "matched": next(p for p in i.false if re.search(p, normalise(body(by_id[i.id]["text"]))))}
        for i in answerable if outcomes[i.id] == "false"
    ]
    n = max(len(answerable), 1)
    return {
        "n_answerable": len(answerable), "n_unanswerable": len(unanswerable),
        **{k: counts.get(k, 0) / n for k in OUTCOMES},
        "unanswerable_refused": refused_unanswerable / max(len(unanswerable), 1),
        "by_type": {t: {k: c.get(k, 0) / sum(c.values()) for k in OUTCOMES} | {"n": sum(c.values())}
                    for t, c in sorted(by_type.items())},
        "p50": float(np.percentile(seconds, 50)) if seconds else None,
        "p95": float(np.percentile(seconds, 95)) if seconds else None,
        "false_items": false_items,
        "outcomes": outcomes,
    }


def search_quality(retriever, items: Sequence[Item], rerank: bool) -> dict:
    """Gold-article recall@1 / MRR, and the share whose best unit alone states every fact."""
    r1 = rr = unit_ok = 0
    answerable = [i for i in items if i.answerable and i.type != "followup"]
    for item in answerable:
        result = retriever.search(item.q, k=retriever.n_candidates, rerank=rerank)
        ranking = list(dict.fromkeys(h.article_id for h in result.hits))
        first = next((r for r, a in enumerate(ranking, start=1) if a in item.articles), None)
        r1 += first == 1
        rr += 1 / first if first else 0
        if result.hits:
            unit_ok += judge(item, result.hits[0].text, False) == "correct"
    n = max(len(answerable), 1)
    return {"n": len(answerable), "recall@1": r1 / n, "mrr": rr / n, "best_unit_correct": unit_ok / n}


def refusal_curve(components, items: Sequence[Item]) -> Optional[dict]:
    from bot.answering.confidence import curve
    from bot.answering.policy import search

    if components.confidence is None:
        return None
    p_ans = [search(components, i.q, i.history).probability for i in items if i.answerable]
    p_un = [search(components, i.q, i.history).probability for i in items if not i.answerable]
    return {"threshold": components.confidence.threshold, "curve": curve(p_ans, p_un),
            "fitted_on": components.confidence.meta.get("data"), "cv": components.confidence.meta.get("cv")}


def pct(x) -> str:
    return "–" if x is None else f"{x:.1%}"


def secs(x) -> str:
    return "–" if x is None else f"{x:.2f} s"


def render(summary: dict) -> str:
    s = summary
    lines = [
        "# Answers a customer can trust",
        "",
        f"Measured {s['date']} on {s['machine']} by `make eval` (bot/evaluation/answers_report.py).",
        f"Set: `tests/answers/questions.yml`, {s['n_answerable']} answerable questions "
        f"({s['types']}) and {s['n_unanswerable']} that no article answers, written apart from the "
        "training data, each with the facts the answer must state and the false statements a careless "
        "answer makes. **correct**: every fact, nothing false; **false**: a known-false statement; "
        "**refused**: \"I couldn't find that\"; **missed**: an answer without the fact.",
        "",
        "## What the customer reads",
        "",
        "| system | correct | false | refused | missed | unanswerable refused | p50 | p95 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, q in s["systems"].items():
        lines.append(f"| {name} | {pct(q['correct'])} | {pct(q['false'])} | {pct(q['refused'])} | "
                     f"{pct(q['missed'])} | {pct(q['unanswerable_refused'])} | {secs(q['p50'])} | {secs(q['p95'])} |")
    lines += ["", s["default_note"], "", "### By kind of question (the bot's default)", "",
              "| kind | n | correct | false | refused | missed |", "|---|---|---|---|---|---|"]
    for t, q in s["systems"][s["default"]]["by_type"].items():
        lines.append(f"| {t} | {q['n']} | {pct(q['correct'])} | {pct(q['false'])} | {pct(q['refused'])} | {pct(q['missed'])} |")
    fresh = s.get("fresh")
    if fresh:
        lines += ["", "## The same on a second held-out set", "",
                  f"`{fresh['set']}`: {fresh['n_answerable']} answerable ({fresh['types']}) and "
                  f"{fresh['n_unanswerable']} unanswerable questions, written after the first set's "
                  "results were known, by someone who saw neither it nor the training data; nobody "
                  "tuned on it.", "",
                  "| system | correct | false | refused | missed | unanswerable refused | p50 | p95 |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, q in fresh["systems"].items():
            lines.append(f"| {name} | {pct(q['correct'])} | {pct(q['false'])} | {pct(q['refused'])} | "
                         f"{pct(q['missed'])} | {pct(q['unanswerable_refused'])} | {secs(q['p50'])} | {secs(q['p95'])} |")
        lines += ["", "| kind | n | correct | false | refused | missed |", "|---|---|---|---|---|---|"]
        for t, q in fresh["systems"][s["default"]]["by_type"].items():
            lines.append(f"| {t} | {q['n']} | {pct(q['correct'])} | {pct(q['false'])} | {pct(q['refused'])} | {pct(q['missed'])} |")
        near = fresh.get("near_misses")
        if near:
            lines += ["", f"`{near['set']}`: {near['n']} more questions no article answers, many of them "
                      f"near misses on the help centre's own topics (the extractive policy): "
                      f"**{pct(near['refused'])} refused**."]
    lines += ["", "## The right passage first", "",
              "Gold-article recall@1 and MRR over the answerable questions (follow-ups left out), and "
              "the share whose best answer unit alone states every fact with nothing false.", "",
              "| search | recall@1 | MRR | best unit correct |", "|---|---|---|---|"]
    for name, r in s["search"].items():
        lines.append(f"| {name} | {r['recall@1']:.3f} | {r['mrr']:.3f} | {pct(r.get('best_unit_correct'))} |")
    curve = s.get("refusal")
    if curve:
        cv = curve["cv"]["chosen"]
        lines += ["", "## \"I don't know\": the confidence model", "",
                  f"Fitted on {curve['fitted_on']['questions']} training questions the re-ranker did not "
                  f"see; the threshold **{curve['threshold']:.2f}** was chosen there by 5-fold "
                  f"cross-validation (there: {cv['unanswerable_refused']:.0%} of unanswerable refused, "
                  f"{cv['answerable_refused']:.0%} of answerable). On this set:", "",
                  "| threshold | answerable refused | unanswerable refused |", "|---|---|---|"]
        for row in curve["curve"]:
            mark = " **(chosen)**" if abs(row["threshold"] - curve["threshold"]) < 1e-6 else ""
            lines.append(f"| {row['threshold']:.2f}{mark} | {row['answerable_refused']:.1%} | {row['unanswerable_refused']:.1%} |")
    checks = s.get("checks")
    if checks:
        lines += ["", "## Draft checks: catch rates on perturbed correct answers", "",
                  checks["note"], "", "| perturbation | n | caught |", "|---|---|---|"]
        for name, r in checks["perturbations"].items():
            lines.append(f"| {name} | {r['n']} | {pct(r['caught'])} |")
        lines.append(f"| false alarms on the correct answers | {checks['clean']['n']} | {pct(checks['clean']['caught'])} |")
    lines += ["", "## False replies of the bot's default", ""]
    false_items = s["systems"][s["default"]]["false_items"]
    lines += [f"- `{f['id']}` {f['q']!r}: {f['reply'][:160]!r} (matched `{f['matched']}`)" for f in false_items] or ["(none)"]
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, default=ANSWER_SET)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "answers.md")
    parser.add_argument("--json", type=Path, default=ROOT / "reports" / "answers.json")
    parser.add_argument("--no-drafts", action="store_true", help="leave the drafter rows out")
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    from bot import services
    from bot.evaluation.bench_search import machine_info

    settings = get_settings()
    items = load(args.set)
    base = services.components(settings, with_drafter=False)
    systems: Dict[str, dict] = {}
    outputs: Dict[str, List[dict]] = {}
    outputs["extractive (the policy, no drafter)"] = run_policy(base, items)
    default = "extractive (the policy, no drafter)"
    if base.retriever.reranker is not None:
        outputs[WARMUP] = run_policy(warmup_components(base, settings), items)
    from bot.generation.runs import latest_good

    run = None if args.no_drafts else latest_good(settings.models_dir)
    drafter = None if run is None else services.get_drafter(replace(settings, generator=str(run)))
    if drafter is not None:
        with_drafts = replace(base, drafter=drafter)
        bot_rows = run_policy(with_drafts, items)
        outputs["drafter alone (checks not applied)"] = drafter_alone(bot_rows)
        outputs["bot with drafts (checked)"] = bot_rows
        if settings.generator != "off":
            default = "bot with drafts (checked)"
    if BEFORE.exists():
        before = json.loads(BEFORE.read_text())
        for name, outs in before["outputs"].items():
            outputs[f"before: {name}"] = outs
    for name, outs in outputs.items():
        systems[name] = score(items, outs)

    fresh = None
    if FRESH_SET.exists() and args.set == ANSWER_SET:
        fresh_items = load(FRESH_SET)
        fresh_outputs = {default: run_policy(base if default.startswith("extractive") else with_drafts, fresh_items)}
        if base.retriever.reranker is not None:
            fresh_outputs[WARMUP] = run_policy(warmup_components(base, settings), fresh_items)
        if FRESH_BEFORE.exists():
            previous = json.loads(FRESH_BEFORE.read_text())
            for name, outs in previous["outputs"].items():
                fresh_outputs[f"before: {name} ({previous['commit']})"] = outs
        near = None
        if NEAR_MISSES.exists():
            near_items = load(NEAR_MISSES)
            near_outputs = run_policy(base, near_items)
            near = {"set": str(NEAR_MISSES.relative_to(ROOT)), "n": len(near_items),
                    "refused": sum(is_refusal_text(o["text"]) for o in near_outputs) / max(len(near_items), 1),
                    "outputs": near_outputs}
        fresh = {
            "set": str(FRESH_SET.relative_to(ROOT)),
            "near_misses": near,
            "n_answerable": sum(i.answerable for i in fresh_items),
            "n_unanswerable": sum(not i.answerable for i in fresh_items),
            "types": ", ".join(f"{n} {t}" for t, n in sorted(Counter(i.type for i in fresh_items if i.answerable).items())),
            "systems": {name: score(fresh_items, outs) for name, outs in fresh_outputs.items()},
            "outputs": fresh_outputs,
        }

    retriever = base.retriever
    search = {}
    if BEFORE.exists() and "search" in before:
        search.update({f"before: {k}": v for k, v in before["search"].items()})
    search["answer units, hybrid"] = search_quality(retriever, items, rerank=False)
    if retriever.reranker is not None:
        search["answer units, hybrid + re-ranker"] = search_quality(retriever, items, rerank=True)
    checks = None
    try:
        from bot.evaluation.checks_report import catch_rates

        checks = catch_rates(retriever)
    except ImportError:
        pass
    summary = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{machine_info()['CPU']}, {os.cpu_count()} cores, CPU only",
        "n_answerable": sum(i.answerable for i in items),
        "n_unanswerable": sum(not i.answerable for i in items),
        "types": ", ".join(f"{n} {t}" for t, n in sorted(Counter(i.type for i in items if i.answerable).items())),
        "default": default,
        "default_note": (
            f"The bot sends **{default}** (`BOT_GENERATOR={settings.generator}`). "
            + ("No fine-tuned drafter run on this machine, so the drafter rows are absent." if drafter is None else "")
        ),
        "systems": systems,
        "fresh": fresh,
        "search": search,
        "refusal": refusal_curve(base, items),
        "checks": checks,
        "reranker": retriever.reranker.manifest if retriever.reranker else None,
        "outputs": outputs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(summary))
    args.json.write_text(json.dumps(summary, indent=2, default=str))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
