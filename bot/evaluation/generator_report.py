"""The drafter side by side on the held-out examples (`make eval` -> reports/generator.md).

Systems, all given the same retrieved passages:

    extractive    the bot's reply without a generator (bot/answer.py): refuses below the
                  retrieval threshold, else quotes the best passage
    base          SmolLM2-135M-Instruct as shipped, with our prompt (CTranslate2 int8)
    fine-tuned    the latest good run (CTranslate2 int8), and on a subset the same run in
                  transformers fp32 (the reference: does int8 keep the quality?) and in ONNX
                  Runtime GenAI int4 (a third runtime)

Quality, on the held-out questions whose gold article was retrieved (label "answer"):
token-F1 and ROUGE-L of the draft (citations removed) against the written reference; refusing
scores 0. Citation precision: the share of citations naming the gold article, over the answers
drafted for answerable questions. Supported sentences: the share of drafted sentences whose best
MiniLM cosine to a passage sentence reaches τ. Passed checks: the share of non-refusal drafts that
would be sent. Correct refusals: on questions no article answers. Over-refusals: refusing a
question whose answer was in the passages.

Latency, on this machine's CPU: time to first token (prompt included), decode tokens/s, and
p50/p95 of a whole draft.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from bot.generation.checks import check_draft, is_supported, sentence_support, sentences
from bot.generation.dataset import HELDOUT_DIR, TRAIN_DIR, Example, build, read_written
from bot.generation.prompt import REFUSAL, is_refusal, render, split_citations
from bot.settings import get_settings

WORD = re.compile(r"[a-z0-9]+(?:[.,'][a-z0-9]+)*")


def tokens(text: str) -> List[str]:
    return WORD.findall(text.lower())


def token_f1(prediction: str, reference: str) -> float:
    p, r = tokens(prediction), tokens(reference)
    common = sum((Counter(p) & Counter(r)).values())
    if not p or not r or not common:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, reference: str) -> float:
    """F-measure of the longest common subsequence of words."""
    p, r = tokens(prediction), tokens(reference)
    if not p or not r:
        return 0.0
    previous = [0] * (len(r) + 1)
    for a in p:
        current = [0]
        for j, b in enumerate(r):
            current.append(previous[j] + 1 if a == b else max(previous[j + 1], current[j]))
        previous = current
    lcs = previous[-1]
    if not lcs:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def percentile(values: List[float], q: float) -> Optional[float]:
    return float(np.percentile(values, q)) if values else None


def score(system: str, outputs: List[dict], examples: List[Example], embed, threshold: float, vocabulary=()) -> dict:
    """Quality figures of one system's outputs ({"text", "seconds", ...} per example)."""
    drafted_by_model = not system.startswith(("extractive", "bot"))
    f1, rl, cited_right, cited_all, supported, drafted_sentences = [], [], 0, 0, 0, 0
    passed = not_refusals = 0
    refusals_unanswerable = unanswerable = over_refusals = answer_count = 0
    for out, ex in zip(outputs, examples):
        text = out["text"]
        refused = is_refusal(text)
        body, cited = split_citations(text)
        if ex.label == "answer":
            answer_count += 1
            reference = split_citations(ex.reference)[0]
            f1.append(0.0 if refused else token_f1(body, reference))
            rl.append(0.0 if refused else rouge_l(body, reference))
            over_refusals += refused
        if ex.article is None:
            unanswerable += 1
            refusals_unanswerable += refused
        if refused:
            continue
        not_refusals += 1
        if ex.article is not None:
            cited_all += len(cited)
            cited_right += sum(c == ex.article for c in cited)
        if drafted_by_model:
            check = check_draft(text, ex.contexts, embed, threshold, [ex.question] + [t.user for t in ex.history], vocabulary)
            passed += check.failed is None
            drafted = sentences(body)
            customer = [ex.question] + [t.user for t in ex.history]
            for cosine, coverage, n in sentence_support(drafted, ex.contexts, embed, customer):
                supported += is_supported(cosine, coverage, n, threshold)
                drafted_sentences += 1
    return {
        "token_f1": float(np.mean(f1)) if f1 else None,
        "rouge_l": float(np.mean(rl)) if rl else None,
        "citation_precision": cited_right / cited_all if cited_all else None,
        "supported_sentences": supported / drafted_sentences if drafted_sentences else None,
        "passed_checks": passed / not_refusals if (not_refusals and drafted_by_model) else None,
        "correct_refusals": refusals_unanswerable / unanswerable if unanswerable else None,
        "over_refusals": over_refusals / answer_count if answer_count else None,
        "n_answer": answer_count,
        "n_unanswerable": unanswerable,
    }


def as_the_bot_replies(
    drafts: List[dict], examples: List[Example], components, threshold: float, vocabulary, trust_refusal: bool,
) -> List[dict]:
    """What the customer reads, draft by draft, decided by the one answer policy
    (bot/answering/policy.py): its search and refusal, the drafter's judge, its choose()."""
    from bot.answer import DraftOutcome, extractive_answer
    from bot.answering.policy import choose, search
    from bot.generation.drafter import DraftResult, judge

    embed = components.retriever.embedder.encode
    replies = []
    for draft, ex in zip(drafts, examples):
        searched = search(components, ex.question)
        if not searched.answers:
            replies.append({"id": ex.id, "text": REFUSAL})
            continue
        verdict = judge(draft["text"], ex.contexts, searched.result.hits, embed, threshold,
                        [ex.question] + [t.user for t in ex.history], vocabulary)
        outcome = DraftOutcome("report", "", draft["text"], "rejected" if verdict.failed else "sent", verdict.failed)
        answer = choose(extractive_answer(searched.result), DraftResult(verdict.reply, verdict.refused, outcome),
                        trust_refusal)
        replies.append({"id": ex.id, "text": answer.text})
    return replies


def latency(outputs: List[dict]) -> dict:
    seconds = [o["seconds"] for o in outputs if "seconds" in o]
    firsts = [o["first_token_s"] for o in outputs if o.get("first_token_s") is not None]
    rates = [
        (o["new_tokens"] - 1) / (o["seconds"] - o["first_token_s"])
        for o in outputs
        if o.get("first_token_s") is not None and o["new_tokens"] > 1 and o["seconds"] > o["first_token_s"]
    ]
    return {
        "first_token_p50": percentile(firsts, 50),
        "tokens_per_s": float(np.median(rates)) if rates else None,
        "draft_p50": percentile(seconds, 50),
        "draft_p95": percentile(seconds, 95),
        "new_tokens_mean": float(np.mean([o["new_tokens"] for o in outputs])) if outputs else None,
    }


def run_model(runtime, examples: List[Example], max_new_tokens: int, refusal_min_prob: float) -> List[dict]:
    """Drafts as the bot decodes them (runtimes.decode); `refusal_min_prob` 0 is plain greedy."""
    from bot.generation.runtimes import decode

    outputs = []
    for ex in examples:
        prompt = render(runtime.tokenizer, ex.question, ex.contexts, ex.history)
        g = decode(runtime, prompt, max_new_tokens, 120.0, refusal_min_prob)
        outputs.append({"id": ex.id, "text": g.text, "seconds": g.seconds, "first_token_s": g.first_token_s,
                        "new_tokens": g.new_tokens, "prompt_tokens": g.prompt_tokens,
                        "refusal_prob": g.first_token_prob if g.first_token_id is not None else None,
                        "refusal_overruled": g.refusal_overruled})
    return outputs


def run_extractive(components, examples: List[Example]) -> List[dict]:
    """The policy's reply without a drafter (what the bot sends by default)."""
    from bot.answering.policy import respond

    outputs = []
    for ex in examples:
        started = time.perf_counter()
        answer = respond(components, ex.question)
        text = REFUSAL if answer.kind == "no_answer" else answer.text
        outputs.append({"id": ex.id, "text": text, "seconds": time.perf_counter() - started})
    return outputs


def refusal_probabilities(model_dir: str, examples: List[Example]) -> List[float]:
    """The probability that the model's first word is the refusal's ("I"), per example: how surely
    it would refuse, before greedy decoding turns that into yes or no (transformers fp32)."""
    import torch

    from bot.generation.model import load

    tokenizer, model = load(model_dir, "cpu", torch.float32)
    first = tokenizer(REFUSAL, add_special_tokens=False).input_ids[0]
    values = []
    with torch.inference_mode():
        for ex in examples:
            prompt = render(tokenizer, ex.question, ex.contexts, ex.history)
            ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids
            values.append(float(torch.softmax(model(ids).logits[0, -1].float(), -1)[first]))
    return values


def auc(positives: List[float], negatives: List[float]) -> Optional[float]:
    """The chance that a random positive scores above a random negative (ties count half)."""
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def refusal_separation(probabilities: List[float], examples: List[Example]) -> dict:
    by_label: Dict[str, List[float]] = {}
    for p, ex in zip(probabilities, examples):
        by_label.setdefault(ex.label, []).append(p)
    answer = by_label.get("answer", [])
    missed = by_label.get("refusal_missed", []) + by_label.get("refusal_cut", [])
    return {
        "auc_unanswerable": auc(by_label.get("unanswerable", []), answer),
        "auc_retrieval_missed": auc(missed, answer),
        "median": {label: float(np.median(v)) for label, v in sorted(by_label.items())},
    }


def reference_support(examples: List[Example], embed) -> List[tuple]:
    """(cosine, word coverage, content words) of each reference sentence: what τ is set from."""
    values = []
    for ex in examples:
        if ex.label == "answer":
            drafted = sentences(split_citations(ex.target)[0])
            values.extend(sentence_support(drafted, ex.contexts, embed, [ex.question]))
    return values


def fmt(value, kind="pct") -> str:
    if value is None:
        return "–"
    return f"{value:.1%}" if kind == "pct" else f"{value:.3f}" if kind == "f" else f"{value:.2f}"


def render_report(summary: dict) -> str:
    lines = [
        "# The reply drafter, side by side (held-out examples)",
        "",
        f"Measured {summary['date']} on {summary['machine']} by `make eval` "
        f"(bot/evaluation/generator_report.py). Fine-tuned run: `{summary['run']}`.",
        f"Held-out: {summary['heldout']} ({summary['heldout_labels']}); never trained on.",
        f"Support threshold τ = {summary['threshold']:.2f}.",
        "",
        "## Quality",
        "",
        "| system | token-F1 | ROUGE-L | citation precision | supported sentences | passed checks | correct refusals | over-refusals |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, q in summary["quality"].items():
        lines.append(
            f"| {name} | {fmt(q['token_f1'], 'f')} | {fmt(q['rouge_l'], 'f')} | {fmt(q['citation_precision'])} | "
            f"{fmt(q['supported_sentences'])} | {fmt(q['passed_checks'])} | {fmt(q['correct_refusals'])} | "
            f"{fmt(q['over_refusals'])} |"
        )
    lines += [
        "",
        "token-F1 and ROUGE-L over the questions whose gold article was among the passages "
        f"({summary['quality']['extractive']['n_answer']}); correct refusals over the questions no "
        f"article answers ({summary['quality']['extractive']['n_unanswerable']}). The extractive "
        "reply refuses only below the retrieval threshold, and quotes rather than answers, so its "
        "F1 is low by design; it is the floor a draft must beat. The `bot` rows are what the "
        "customer reads (bot/services.py): the refusal below the retrieval threshold, else the "
        "fine-tuned draft when it passes its checks, else the extractive reply; a drafted refusal "
        "is sent only when refusals are trusted (`BOT_DRAFT_TRUST_REFUSAL`), and only then does "
        "the refusal gate apply (a refusal stands when the model gives it at least "
        "`BOT_DRAFT_REFUSAL_MIN_PROB`; else the answer is decoded again without it). The fine-tuned "
        "ct2 row is gated, the `plain greedy` row is not. The transformers and "
        "ONNX rows are on the subset of examples they drafted, so their refusal columns are not "
        "comparable with the others.",
        "",
        "## Latency on this CPU",
        "",
        "| system | examples | first token p50 (s) | decode tokens/s | draft p50 (s) | draft p95 (s) | new tokens (mean) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, lat in summary["latency"].items():
        lines.append(
            f"| {name} | {lat['n']} | {fmt(lat['first_token_p50'], 's')} | {fmt(lat['tokens_per_s'], 's')} | "
            f"{fmt(lat['draft_p50'], 's')} | {fmt(lat['draft_p95'], 's')} | {fmt(lat['new_tokens_mean'], 's')} |"
        )
    sep = summary.get("refusal_separation")
    if sep:
        lines += [
            "",
            "## How well the model knows when to refuse",
            "",
            "The probability of the refusal's first word, before decoding (transformers fp32, all "
            "held-out examples). AUC: the chance that a question which should be refused scores "
            "above an answerable one (0.5 is a coin).",
            "",
            "| model | AUC, no article answers vs answerable | AUC, retrieval missed the article vs answerable | median by label |",
            "|---|---|---|---|",
        ]
        for name, v in sep.items():
            medians = ", ".join(f"{k} {m:.2f}" for k, m in v["median"].items())
            lines.append(f"| {name} | {fmt(v['auc_unanswerable'], 'f')} | {fmt(v['auc_retrieval_missed'], 'f')} | {medians} |")
    ref = summary["reference_support"]
    lines += [
        "",
        "## Setting τ",
        "",
        f"The written reference answers of the training data are supported by construction. Their "
        f"{ref['n']} sentences' best cosine to a passage sentence: p5 {ref['p5']:.2f}, p10 {ref['p10']:.2f}, "
        f"median {ref['p50']:.2f}. {ref['cosine_only']:.1%} reach τ = {summary['threshold']:.2f} by cosine alone "
        f"({ref['cosine_0_6']:.1%} would reach 0.6); with the word test as the second way to pass, "
        f"{ref['passed']:.1%} pass.",
        "",
    ]
    return "\n".join(lines)


def draft_all(args, settings, heldout: List[Example], run: Path):
    """Every system's output on the held-out examples, and which of them the slow runtimes drafted."""
    from bot.generation.model import resolve_base
    from bot.generation.runs import convert_ct2, convert_onnx
    from bot.generation.runtimes import CTranslate2Runtime, OnnxGenAIRuntime, TransformersRuntime
    from bot.services import components

    base_dir = Path(resolve_base(settings.generator_base, settings.models_dir))
    if not (base_dir / "ct2-int8").is_dir():
        convert_ct2(base_dir, base_dir / "ct2-int8")
    outputs: Dict[str, List[dict]] = {"extractive": run_extractive(components(settings, with_drafter=False), heldout)}
    print("drafting with the base model...", flush=True)
    gate = settings.draft_refusal_min_prob
    # The base model was never taught the refusal, so its "I" is not one: plain greedy.
    outputs["base (ct2 int8)"] = run_model(CTranslate2Runtime(str(base_dir / "ct2-int8")), heldout, settings.draft_max_new_tokens, 0.0)
    print("drafting with the fine-tuned model...", flush=True)
    fine_tuned = CTranslate2Runtime(str(run / "ct2-int8"))
    outputs["fine-tuned (ct2 int8)"] = run_model(fine_tuned, heldout, settings.draft_max_new_tokens, gate)
    print("again, plain greedy (no refusal gate)...", flush=True)
    outputs["fine-tuned (ct2 int8), plain greedy"] = run_model(fine_tuned, heldout, settings.draft_max_new_tokens, 0.0)
    # Evenly spaced, so the subset holds answerable and unanswerable questions alike.
    picked = list(range(0, len(heldout), max(1, len(heldout) // args.reference_subset)))[: args.reference_subset]
    subset = [heldout[i] for i in picked]
    print(f"drafting {len(subset)} with the fine-tuned model in transformers fp32...", flush=True)
    outputs["fine-tuned (transformers fp32)"] = run_model(TransformersRuntime(str(run / "merged"), "cpu"), subset, settings.draft_max_new_tokens, gate)
    if not (run / "onnx-int4").is_dir():
        convert_onnx(run / "merged", run / "onnx-int4")
    print(f"drafting {len(subset)} with the fine-tuned model in ONNX Runtime GenAI int4...", flush=True)
    outputs["fine-tuned (onnxruntime-genai int4)"] = run_model(OnnxGenAIRuntime(str(run / "onnx-int4")), subset, settings.draft_max_new_tokens, gate)

    return outputs, picked


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("reports/generator.md"))
    parser.add_argument("--json", type=Path, default=Path("reports/generator.json"))
    parser.add_argument("--run", default=None, help="run folder (default: the latest good run)")
    parser.add_argument("--reference-subset", type=int, default=30,
                        help="examples also drafted with transformers fp32 (slow on a CPU)")
    parser.add_argument("--also-separate", action="append", default=[], metavar="RUN",
                        help="an earlier run whose refusal probabilities to show beside this run's")
    parser.add_argument("--limit", type=int, default=None, help="only the first N held-out examples")
    parser.add_argument("--rescore", action="store_true",
                        help="score the drafts saved in --json again, without drafting (after a change to the checks)")
    args = parser.parse_args(argv)

    from bot.evaluation.bench_search import machine_info
    from bot.generation.runs import latest_good
    from bot.services import get_retriever

    settings = get_settings()
    retriever = get_retriever(settings)
    embed = retriever.embedder.encode
    run = Path(args.run) if args.run else latest_good(settings.models_dir)
    if run is None:
        print("no fine-tuned run: python -m bot generator finetune")
        return 1
    heldout = build(read_written(settings.root / HELDOUT_DIR), retriever, settings.draft_passages)
    if args.limit:
        heldout = heldout[: args.limit]
    train = build(read_written(settings.root / TRAIN_DIR), retriever, settings.draft_passages)

    if args.rescore:
        saved = json.loads(args.json.read_text())
        outputs = {k: v for k, v in saved["outputs"].items() if not k.startswith("bot")}
        # (the first report drafted the slow runtimes on the first examples)
        picked = saved.get("subset") or list(range(len(outputs["fine-tuned (transformers fp32)"])))
    else:
        outputs, picked = draft_all(args, settings, heldout, run)
    subset = [heldout[i] for i in picked]
    # As bot/services.py decodes: the refusal gate only when refusals are trusted.
    rows = {
        "bot: refusals not trusted (the default), plain greedy drafts": ("fine-tuned (ct2 int8), plain greedy", False),
        f"bot: refusals trusted, refusal gate {settings.draft_refusal_min_prob:g}": ("fine-tuned (ct2 int8)", True),
        "bot: refusals trusted, plain greedy drafts": ("fine-tuned (ct2 int8), plain greedy", True),
    }
    from bot.generation.dataset import answer_vocabulary
    from bot.services import components

    parts = components(settings, with_drafter=False)
    vocabulary = answer_vocabulary(settings.root / TRAIN_DIR, settings.articles_dir)
    for row, (drafts, trusted) in rows.items():
        outputs[row] = as_the_bot_replies(
            outputs[drafts], heldout, parts, settings.draft_support_threshold, vocabulary, trusted,
        )

    quality = {}
    for name, outs in outputs.items():
        examples = heldout if len(outs) == len(heldout) else subset
        quality[name] = score(name, outs, examples, embed, settings.draft_support_threshold, vocabulary)
    lat = {
        name: {"n": len(outs), **latency(outs)}
        for name, outs in outputs.items() if not name.startswith(("extractive", "bot"))
    }
    same = [outputs["fine-tuned (ct2 int8)"][i] for i in picked]
    lat[f"fine-tuned (ct2 int8), the same {len(subset)}"] = {"n": len(same), **latency(same)}
    if args.rescore:
        separation = saved.get("refusal_separation")
    else:
        print("the refusal's probability, per held-out example...", flush=True)
        separation = {
            Path(r).name: refusal_separation(refusal_probabilities(str(Path(r) / "merged"), heldout), heldout)
            for r in [run, *args.also_separate]
        }
    ref = reference_support(train, embed)
    cosines = [v[0] for v in ref]
    summary = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{machine_info()['CPU']}, {os.cpu_count()} cores, CPU only, load average "
                   f"{os.getloadavg()[0]:.1f} at the end",
        "run": str(run),
        "run_manifest": json.loads((run / "manifest.json").read_text()),
        "heldout": len(heldout),
        "heldout_labels": dict(Counter(e.label for e in heldout)),
        "threshold": settings.draft_support_threshold,
        "quality": quality,
        "latency": lat,
        "refusal_separation": separation,
        "reference_support": {
            "n": len(ref), "p5": percentile(cosines, 5), "p10": percentile(cosines, 10),
            "p50": percentile(cosines, 50),
            "cosine_only": float(np.mean([c >= settings.draft_support_threshold for c in cosines])),
            "cosine_0_6": float(np.mean([c >= 0.6 for c in cosines])),
            "passed": float(np.mean([is_supported(*v, settings.draft_support_threshold) for v in ref])),
        },
        "subset": picked,
        "outputs": outputs,
    }
    if args.rescore:  # the drafting, and so the latency, happened when the saved report was made
        summary["date"], summary["machine"] = saved["date"], saved["machine"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_report(summary))
    args.json.write_text(json.dumps(summary, indent=2))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
