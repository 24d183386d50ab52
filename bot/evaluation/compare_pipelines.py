"""Trains each candidate NLU pipeline and compares them on both held-out sets.

    make nlu-compare    (.venv/rasa/bin/python -m bot.evaluation.compare_pipelines)

Each variant in bot/evaluation/pipelines/*.yml replaces the pipeline of config.yml (the
FallbackClassifier of config.yml is appended to each). For each variant:

 1. the fallback threshold is chosen on a dev split: the variant is trained on 80 % of data/nlu
    (`rasa data split nlu`, fixed seed; a fine-tuned encoder is fine-tuned again on those 80 %
    only) and the threshold that best balances in-scope accuracy and out-of-scope caught on the
    other 20 % is kept;
 2. the variant is trained on all of data/ and evaluated on each held-out set at that threshold,
    with the whole curve beside it. The held-out sets never choose anything.

Results go to reports/nlu_pipelines.md (and .json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import yaml

from bot.evaluation.nlu_report import load_examples, predict, quiet_rasa_logs, summarise, threshold_sweep
from bot.settings import get_settings

PIPELINES = Path(__file__).parent / "pipelines"
HELDOUT = (Path("tests/nlu/heldout.yml"), Path("tests/nlu/heldout_voices.yml"))
ENCODER_DIR = "models/nlu-encoder"


def _at(sweep, threshold: float) -> dict:
    return min(sweep, key=lambda r: abs(r["threshold"] - threshold))


def _train(rasa: Path, config: dict, config_path: Path, nlu: Path, out: Path, name: str, root: Path, env) -> float:
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    started = time.monotonic()
    subprocess.run([str(rasa), "train", "nlu", "--config", str(config_path), "--nlu", str(nlu),
                    "--out", str(out), "--fixed-model-name", name], check=True, cwd=root, env=env)
    return time.monotonic() - started


def _with_encoder(pipeline: list, model_dir: str) -> list:
    """The pipeline with every fine-tuned encoder replaced by `model_dir`."""
    return [dict(c, model_dir=model_dir) if c.get("model_dir") == ENCODER_DIR else c for c in pipeline]


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="*", default=list(HELDOUT))
    parser.add_argument("--out", type=Path, default=Path("reports/nlu_pipelines.md"))
    args = parser.parse_args(argv)
    quiet_rasa_logs()

    settings = get_settings()
    root = settings.root
    work = settings.var_dir / "nlu-compare"
    work.mkdir(parents=True, exist_ok=True)
    base = yaml.safe_load((root / "config.yml").read_text())
    fallback = [c for c in base["pipeline"] if c["name"] == "FallbackClassifier"]
    rasa = Path(sys.executable).parent / "rasa"
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", HF_HUB_OFFLINE="1")

    # The dev split, and an encoder fine-tuned on its training part only.
    split = work / "split"
    subprocess.run([str(rasa), "data", "split", "nlu", "--nlu", "data", "--training-fraction", "0.8",
                    "--random-seed", "42", "--out", str(split)], check=True, cwd=root, env=env)
    dev_encoder = work / "encoder-dev"
    actions_py = root / ".venv" / "actions" / "bin" / "python"
    subprocess.run([str(actions_py), "-m", "bot", "nlu-encoder", "train", "--data", str(split / "training_data.yml"),
                    "--out", str(dev_encoder)], check=True, cwd=root, env=env)
    dev_examples = load_examples(split / "test_data.yml")
    sets = {path: load_examples(root / path) for path in args.data}

    rows = []
    for variant in sorted(PIPELINES.glob("*.yml")):
        pipeline = yaml.safe_load(variant.read_text())
        dev_config = dict(base, pipeline=_with_encoder(pipeline, str(dev_encoder)) + fallback)
        _train(rasa, dev_config, work / f"{variant.stem}.dev.yml", split / "training_data.yml", work,
               f"{variant.stem}-dev", root, env)
        dev_sweep = threshold_sweep(predict(work / f"{variant.stem}-dev.tar.gz", dev_examples))
        chosen = max(dev_sweep, key=lambda r: (round(r["balanced"], 4), -r["threshold"]))
        train_s = _train(rasa, dict(base, pipeline=pipeline + fallback), work / f"{variant.stem}.config.yml",
                         Path("data"), work, variant.stem, root, env)
        results = {}
        for path, examples in sets.items():
            started = time.monotonic()
            summary = summarise(predict(work / f"{variant.stem}.tar.gz", examples))
            summary["at_chosen"] = _at(summary["sweep"], chosen["threshold"])
            summary["eval_s"] = time.monotonic() - started
            results[str(path)] = summary
            print(f"{variant.stem} on {path}: accuracy {summary['accuracy']:.3f}, at threshold "
                  f"{chosen['threshold']:.2f}: in-scope {summary['at_chosen']['in_scope_accuracy']:.3f}, "
                  f"out-of-scope caught {summary['at_chosen']['oos_caught']:.3f}")
        rows.append({"pipeline": variant.stem, "threshold": chosen, "dev_sweep": dev_sweep,
                     "train_s": train_s, "results": results})

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(rows, len(dev_examples)))
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2))
    print(f"-> {args.out}")
    return 0


def render(rows: List[dict], n_dev: int) -> str:
    sets = list(rows[0]["results"]) if rows else []
    lines = [
        "# NLU pipelines compared on both held-out sets",
        "",
        f"By `make nlu-compare` (bot/evaluation/compare_pipelines.py). Machine: {os.cpu_count()} cores, "
        f"{platform.machine()}, Python {platform.python_version()}.",
        "",
        "- `tests/nlu/heldout.yml`: written by the team, apart from the training data.",
        "- `tests/nlu/heldout_voices.yml`: written by someone who saw only the intent taxonomy "
        "(docs/taxonomy.md), never the training data, in many customers' voices.",
        f"- The fallback threshold of each pipeline is chosen on a dev split ({n_dev} messages, 20 % of "
        "data/nlu, the pipeline and any encoder fine-tune trained on the other 80 %), never on a held-out set.",
        "- **in-scope** counts a message right when its intent is right and clears the threshold; "
        "**caught** counts an out-of-scope message classified out_of_scope or under the threshold.",
        "",
        "| pipeline | held-out set | accuracy | macro-F1 | threshold (dev) | in-scope | out-of-scope caught | train s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        for name in sets:
            r = row["results"][name]
            lines.append(
                f"| {row['pipeline']} | {Path(name).stem} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | "
                f"{row['threshold']['threshold']:.2f} | {r['at_chosen']['in_scope_accuracy']:.3f} | "
                f"{r['at_chosen']['oos_caught']:.3f} | {row['train_s']:.0f} |")
    lines += ["", "## The curves: in-scope accuracy / out-of-scope caught by threshold", ""]
    for row in rows:
        header = ["threshold", "dev split"] + [Path(n).stem for n in sets]
        lines += [f"### {row['pipeline']}", "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]
        for i, dev in enumerate(row["dev_sweep"]):
            cells = [f"{dev['threshold']:.2f}" + (" **(chosen)**" if dev["threshold"] == row["threshold"]["threshold"] else ""),
                     f"{dev['in_scope_accuracy']:.3f} / {dev['oos_caught']:.3f}"]
            for name in sets:
                s = row["results"][name]["sweep"][i]
                cells.append(f"{s['in_scope_accuracy']:.3f} / {s['oos_caught']:.3f}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Most frequent confusions (true -> predicted, before the threshold)", ""]
    for row in rows:
        for name in sets:
            top = row["results"][name]["confusions"][:8]
            lines.append(f"- **{row['pipeline']}**, {Path(name).stem}: " +
                         ", ".join(f"{c['true']} -> {c['predicted']} ({c['count']})" for c in top))
    lines += ["", "Pipelines: " + ", ".join(f"`bot/evaluation/pipelines/{r['pipeline']}.yml`" for r in rows), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
