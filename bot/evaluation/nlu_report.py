"""Held-out NLU evaluation: accuracy, macro-F1, confusion pairs, and the fallback-threshold sweep.

Runs in the Rasa environment (it loads a trained Rasa model):
    .venv/rasa/bin/python -m bot nlu-report --model models/rasa/bot.tar.gz --out reports/nlu.md

The intent a message gets *before* the FallbackClassifier is the classifier's own top intent
(the first of the ranking that is not `nlu_fallback`); the sweep applies thresholds to its
confidence to show in-scope accuracy against out-of-scope caught.
"""

from __future__ import annotations

import asyncio
import json
import logging
import platform
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bot.settings import get_settings

OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
THRESHOLDS = [round(0.10 + 0.05 * i, 2) for i in range(18)]  # 0.10 .. 0.95

logger = logging.getLogger(__name__)


@dataclass
class Prediction:
    text: str
    label: str
    intent: str  # the classifier's top intent, before the fallback threshold
    confidence: float
    deployed: str  # what the deployed pipeline answered (nlu_fallback when below threshold)
    gold_entities: Tuple[Tuple[str, str], ...] = ()  # (entity, normalised value) as annotated
    entities: Tuple[Tuple[str, str], ...] = ()  # (entity, normalised value) as extracted


# Entities whose extraction the report measures: the ones the order forms depend on.
MEASURED_ENTITIES = ("order_number", "email")


def normalised(entity: str, value: Any) -> str:
    """Values compared as the bot uses them: an order number's digits, an e-mail in lower case."""
    text = str(value).strip()
    if entity == "order_number":
        return "".join(c for c in text if c.isdigit())
    return text.lower()


def _measured(entities: Sequence[Dict[str, Any]]) -> Tuple[Tuple[str, str], ...]:
    return tuple(sorted(
        (e["entity"], normalised(e["entity"], e["value"]))
        for e in entities if e.get("entity") in MEASURED_ENTITIES
    ))


def load_examples(path: Path) -> List[Tuple[str, str, Tuple[Tuple[str, str], ...]]]:
    """(text, intent, annotated order numbers and e-mails) for each held-out example."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [(m.get("text"), m.get("intent"), _measured(m.get("entities") or []))
            for m in data.intent_examples]


async def _predict(model: Path, examples: Sequence[Tuple[str, str, Any]]) -> List[Prediction]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    predictions = []
    for text, label, gold in examples:
        parsed = await agent.parse_message(text)
        ranking = [r for r in parsed.get("intent_ranking", []) if r["name"] != FALLBACK]
        top = ranking[0] if ranking else {"name": FALLBACK, "confidence": 0.0}
        predictions.append(Prediction(
            text, label, top["name"], float(top["confidence"]), parsed["intent"]["name"],
            gold, _measured(parsed.get("entities") or []),
        ))
    return predictions


def entity_scores(predictions: Sequence[Prediction]) -> Dict[str, Dict[str, Any]]:
    """Precision and recall per measured entity, value by value (a wrong value is a false
    positive and a false negative)."""
    scores = {}
    for name in MEASURED_ENTITIES:
        tp = fp = fn = 0
        for p in predictions:
            gold = Counter(v for e, v in p.gold_entities if e == name)
            found = Counter(v for e, v in p.entities if e == name)
            hit = sum((gold & found).values())
            tp, fp, fn = tp + hit, fp + sum(found.values()) - hit, fn + sum(gold.values()) - hit
        if tp + fp + fn:
            scores[name] = {
                "annotated": tp + fn, "extracted": tp + fp,
                "precision": tp / (tp + fp) if tp + fp else 0.0,
                "recall": tp / (tp + fn) if tp + fn else 0.0,
            }
    return scores


def predict(model: Path, examples: Sequence[Tuple[str, str, Any]]) -> List[Prediction]:
    return asyncio.run(_predict(model, examples))


def macro_f1(pairs: Sequence[Tuple[str, str]]) -> float:
    """Macro-averaged F1 over the true labels, from (true, predicted) pairs."""
    labels = sorted({t for t, _ in pairs})
    scores = []
    for label in labels:
        tp = sum(1 for t, p in pairs if t == label and p == label)
        fp = sum(1 for t, p in pairs if t != label and p == label)
        fn = sum(1 for t, p in pairs if t == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def threshold_sweep(predictions: Sequence[Prediction]) -> List[Dict[str, float]]:
    in_scope = [p for p in predictions if p.label != OUT_OF_SCOPE]
    oos = [p for p in predictions if p.label == OUT_OF_SCOPE]
    rows = []
    for t in THRESHOLDS:
        acc = sum(p.intent == p.label and p.confidence >= t for p in in_scope) / max(len(in_scope), 1)
        caught = sum(p.intent == OUT_OF_SCOPE or p.confidence < t for p in oos) / max(len(oos), 1)
        rows.append({"threshold": t, "in_scope_accuracy": acc, "oos_caught": caught,
                     "balanced": (acc + caught) / 2})
    return rows


def summarise(predictions: Sequence[Prediction]) -> Dict[str, Any]:
    pairs = [(p.label, p.intent) for p in predictions]
    in_scope = [p for p in predictions if p.label != OUT_OF_SCOPE]
    oos = [p for p in predictions if p.label == OUT_OF_SCOPE]
    confusions = Counter((p.label, p.intent) for p in predictions if p.label != p.intent)
    sweep = threshold_sweep(predictions)
    best = max(sweep, key=lambda r: (round(r["balanced"], 4), -r["threshold"]))
    return {
        "examples": len(predictions),
        "in_scope_examples": len(in_scope),
        "oos_examples": len(oos),
        "accuracy": sum(p.label == p.intent for p in predictions) / max(len(predictions), 1),
        "macro_f1": macro_f1(pairs),
        "in_scope_accuracy_raw": sum(p.label == p.intent for p in in_scope) / max(len(in_scope), 1),
        "deployed_in_scope_accuracy": sum(p.deployed == p.label for p in in_scope) / max(len(in_scope), 1),
        "deployed_oos_caught": sum(p.deployed in (OUT_OF_SCOPE, FALLBACK) for p in oos) / max(len(oos), 1),
        "oos_as_intent_rate": sum(p.intent == OUT_OF_SCOPE for p in oos) / max(len(oos), 1),
        "confusions": [{"true": t, "predicted": p, "count": c} for (t, p), c in confusions.most_common(25)],
        "sweep": sweep,
        "best_threshold": best,
        "entities": entity_scores(predictions),
    }


def configured_threshold(config_path: Path) -> Optional[float]:
    import yaml

    config = yaml.safe_load(config_path.read_text())
    for component in config.get("pipeline", []):
        if component.get("name") == "FallbackClassifier":
            return float(component.get("threshold", 0.3))
    return None


def render_markdown(title: str, model: Path, summary: Dict[str, Any], threshold: Optional[float],
                    seconds: float) -> str:
    lines = [
        f"# {title}",
        "",
        f"Model `{model.name}`, held-out examples: {summary['examples']} "
        f"({summary['in_scope_examples']} in scope, {summary['oos_examples']} out of scope), "
        f"never trained on. Machine: {platform.machine()}, {platform.system()}, "
        f"Python {platform.python_version()}; {seconds:.0f} s.",
        "",
        "| metric | value |",
        "|---|---|",
        f"| intent accuracy (all, before the fallback threshold) | {summary['accuracy']:.3f} |",
        f"| macro-F1 (all intents incl. out_of_scope) | {summary['macro_f1']:.3f} |",
        f"| in-scope accuracy, before threshold | {summary['in_scope_accuracy_raw']:.3f} |",
        f"| in-scope accuracy as deployed (threshold {threshold}) | {summary['deployed_in_scope_accuracy']:.3f} |",
        f"| out-of-scope caught as deployed (out_of_scope intent or below threshold) | {summary['deployed_oos_caught']:.3f} |",
        f"| out-of-scope recognised by the out_of_scope intent alone | {summary['oos_as_intent_rate']:.3f} |",
        "",
        "## Fallback threshold sweep",
        "",
        "In-scope accuracy counts a message right only if its intent is right *and* its confidence "
        "clears the threshold; out-of-scope caught counts a message caught if it is classified "
        "out_of_scope or its confidence is below the threshold.",
        "",
        "| threshold | in-scope accuracy | out-of-scope caught | mean of both |",
        "|---|---|---|---|",
    ]
    for row in summary["sweep"]:
        # The deployed threshold was chosen on a dev split of the training data, not on this set.
        mark = " **(deployed)**" if threshold is not None and abs(row["threshold"] - threshold) < 1e-9 else ""
        lines.append(
            f"| {row['threshold']:.2f}{mark} | {row['in_scope_accuracy']:.3f} | "
            f"{row['oos_caught']:.3f} | {row['balanced']:.3f} |"
        )
    if summary.get("entities"):
        lines += ["", "## Order numbers and e-mails (the order forms need them)", "",
                  "Compared as the bot uses them: an order number's six digits, an e-mail in lower "
                  "case.", "",
                  "| entity | annotated | extracted | precision | recall |", "|---|---|---|---|---|"]
        for name, e in summary["entities"].items():
            lines.append(f"| {name} | {e['annotated']} | {e['extracted']} | "
                         f"{e['precision']:.3f} | {e['recall']:.3f} |")
    lines += ["", "## Most frequent confusions (true -> predicted)", "", "| true | predicted | count |",
              "|---|---|---|"]
    for c in summary["confusions"]:
        lines.append(f"| {c['true']} | {c['predicted']} | {c['count']} |")
    return "\n".join(lines) + "\n"


def evaluate(model: Path, data: Path) -> Tuple[Dict[str, Any], float]:
    started = time.monotonic()
    predictions = predict(model, load_examples(data))
    return summarise(predictions), time.monotonic() - started


def quiet_rasa_logs() -> None:
    """Rasa logs every parse at debug level through structlog; a report needs none of that."""
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))


def main(args: Any) -> int:
    quiet_rasa_logs()
    settings = get_settings()
    model = args.model or settings.rasa_model_path
    summary, seconds = evaluate(model, args.data)
    threshold = configured_threshold(settings.root / "config.yml")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_markdown(args.title, model, summary, threshold, seconds))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    print(
        f"NLU held-out: accuracy {summary['accuracy']:.3f}, macro-F1 {summary['macro_f1']:.3f}, "
        f"in-scope as deployed {summary['deployed_in_scope_accuracy']:.3f}, "
        f"out-of-scope caught {summary['deployed_oos_caught']:.3f} -> {args.out}"
    )
    return 0
