"""The drafter's runtimes side by side, and what batching buys: `make bench-drafter`.

For one fine-tuned run (the newest current one, or `--run`), each runtime:

    transformers float32      the merged checkpoint, eager PyTorch
    ctranslate2 float32       an unquantized CTranslate2 conversion (made here if missing)
    ctranslate2 int8_float32  the int8 conversion, float32 activations
    ctranslate2 int8          the int8 conversion (what `auto` uses on a CPU)

is measured on the same questions of the answer set (every `--every`th answerable one, plus the
unanswerable ones at the same rate), through the one answer policy with the drafter on and no
deadline pressure (30 s):

    correct / false       what the customer reads (a checked draft, else the quote)
    drafts sent           share of answerable questions whose draft passed every check
    draft correct / false the drafts as written, before the checks (bot/evaluation/answers_report)
    p50 / p95             seconds a reply took, one customer at a time

Then batching, with the same prompts: drafts per second decoding them one by one and in batches
of 2, 4 and 8 (runtimes.decode_batch), and what one core-second buys. Writes
reports/bench_drafter.md with the machine.

    .venv/actions/bin/python -m bot.evaluation.bench_drafter [--run DIR] [--every 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from pathlib import Path
from typing import List, Optional

from bot.settings import ROOT

RUNTIMES = [("transformers", "float32"), ("ctranslate2", "float32"),
            ("ctranslate2", "int8_float32"), ("ctranslate2", "int8")]
BATCHES = (1, 2, 4, 8)


def _subset(every: int):
    from bot.evaluation.answer_set import load

    items = load()
    answerable = [i for i in items if i.answerable][::every]
    unanswerable = [i for i in items if not i.answerable][::every]
    return answerable + unanswerable


def _drafter(run: Path, runtime: str, compute_type: str, settings, embed):
    from bot.generation.runtimes import open_runtime
    from bot.services import new_drafter

    rt = open_runtime(str(run), runtime, device="cpu",
                      compute_type=compute_type if runtime == "ctranslate2" else None)
    return new_drafter(settings, rt, run.name, embed)


def correctness(run: Path, runtime: str, compute_type: str, items, settings) -> dict:
    from bot import services
    from bot.answering.policy import Components
    from bot.evaluation.answers_report import drafter_alone, run_policy, score

    retriever = services.get_retriever(settings)
    drafter = _drafter(run, runtime, compute_type, settings, retriever.embedder.encode)
    components = Components(retriever, services.get_confidence(settings), drafter, top_k=settings.kb_top_k,
                            draft_passages=settings.draft_passages, draft_deadline_s=30.0,
                            trust_refusal=settings.draft_trust_refusal)
    outputs = run_policy(components, items)
    sent = [o for o in outputs if o["draft"] and o["draft"]["status"] == "sent"]
    customer, alone = score(items, outputs), score(items, drafter_alone(outputs))
    return {"runtime": runtime, "compute_type": compute_type, "correct": customer["correct"],
            "false": customer["false"], "drafts_sent": len(sent) / max(1, customer["n_answerable"]),
            "draft_correct": alone["correct"], "draft_false": alone["false"],
            "p50": customer["p50"], "p95": customer["p95"], "n": customer["n_answerable"]}


def prompts_for(items, settings, tokenizer) -> List[str]:
    """The prompts the drafter would read for these questions (those search answers)."""
    from bot import services
    from bot.answering.policy import search
    from bot.generation.prompt import build_contexts, render

    components = services.components(settings, with_drafter=False)
    out = []
    for item in items:
        searched = search(components, item.q, item.history)
        if not searched.answers:
            continue
        hits = searched.result.hits[: settings.draft_passages]
        contexts = build_contexts(hits, components.retriever.embed_query(searched.query),
                                  components.retriever.embedder.encode)
        out.append(render(tokenizer, item.q, contexts))
    return out


def throughput(run: Path, runtime: str, compute_type: str, prompts: List[str], max_new_tokens: int) -> List[dict]:
    from bot.generation.runtimes import decode_batch, open_runtime

    rt = open_runtime(str(run), runtime, device="cpu",
                      compute_type=compute_type if runtime == "ctranslate2" else None)
    rows = []
    for size in BATCHES:
        started = time.perf_counter()
        tokens = 0
        for i in range(0, len(prompts), size):
            chunk = prompts[i:i + size]
            for g in decode_batch(rt, chunk, max_new_tokens, [120.0] * len(chunk), 0.0):
                tokens += g.new_tokens
        wall = time.perf_counter() - started
        rows.append({"runtime": runtime, "compute_type": compute_type, "batch": size, "drafts": len(prompts),
                     "drafts_per_s": len(prompts) / wall, "seconds_per_draft": wall / len(prompts),
                     "core_seconds_per_draft": wall * (os.cpu_count() or 1) / len(prompts),
                     "new_tokens_per_draft": tokens / len(prompts)})
    return rows


def render_report(run: Path, quality: List[dict], speed: List[dict], n_prompts: int, seconds: float,
                  every: int) -> str:
    from bot.evaluation.bench_search import machine_info

    info = machine_info()
    pct = lambda x: f"{100 * x:.1f} %"  # noqa: E731
    lines = [
        "# The drafter's runtimes, and batching",
        "",
        f"`make bench-drafter` on {info['CPU']}, {os.cpu_count()} CPU cores, CPU only, Python "
        f"{platform.python_version()}; {time.strftime('%Y-%m-%d')}. Run `{run.name}`. {seconds:.0f} s in all.",
        "",
        f"## Correctness and latency, one customer at a time ({quality[0]['n'] if quality else 0} answerable questions of "
        f"tests/answers/questions.yml, every {every}th, and the unanswerable ones at the same rate; draft "
        "deadline 30 s)",
        "",
        "| runtime | weights | customer reads: correct | false | drafts sent | drafts as written: correct | false | p50 | p95 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for q in quality:
        lines.append(f"| {q['runtime']} | {q['compute_type']} | {pct(q['correct'])} | {pct(q['false'])} | "
                     f"{pct(q['drafts_sent'])} | {pct(q['draft_correct'])} | {pct(q['draft_false'])} | "
                     f"{q['p50']:.2f} s | {q['p95']:.2f} s |")
    lines += [
        "",
        f"## Batching ({n_prompts} prompts the policy would draft for, greedy, no deadline)",
        "",
        "| runtime | weights | batch | drafts/s | s a draft | core-seconds a draft | new tokens a draft |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in speed:
        lines.append(f"| {r['runtime']} | {r['compute_type']} | {r['batch']} | {r['drafts_per_s']:.2f} | "
                     f"{r['seconds_per_draft']:.2f} | {r['core_seconds_per_draft']:.2f} | "
                     f"{r['new_tokens_per_draft']:.0f} |")
    lines.append("")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=None)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--prompts", type=int, default=16, help="prompts for the batching table")
    parser.add_argument("--runtimes", nargs="+", default=[f"{r}:{c}" for r, c in RUNTIMES])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench_drafter.md")
    args = parser.parse_args(argv)
    from bot.generation.choice import choose
    from bot.generation.runs import convert_ct2
    from bot.settings import get_settings

    settings = get_settings()
    run = args.run or Path(choose(dataclasses.replace(settings, generator="auto")).source or "")
    if not (run / "merged").is_dir():
        raise SystemExit(f"no run to measure ({run}): make generator, or --run DIR")
    runtimes = [tuple(r.split(":")) for r in args.runtimes]
    if ("ctranslate2", "float32") in runtimes and not (run / "ct2-float32").is_dir():
        convert_ct2(run / "merged", run / "ct2-float32", quantization="float32")
    started = time.perf_counter()
    items = _subset(args.every)
    quality = [correctness(run, r, c, items, settings) for r, c in runtimes]
    from transformers import AutoTokenizer

    prompts = prompts_for(items, settings, AutoTokenizer.from_pretrained(run / "merged"))[: args.prompts]
    speed = [row for r, c in runtimes for row in throughput(run, r, c, prompts, settings.draft_max_new_tokens)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_report(run, quality, speed, len(prompts), time.perf_counter() - started,
                                      args.every))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
