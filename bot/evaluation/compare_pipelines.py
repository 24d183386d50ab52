"""Trains each candidate NLU pipeline on data/ and compares them on the held-out set.

    make nlu-compare    (.venv/rasa/bin/python -m bot.evaluation.compare_pipelines)

Each variant in bot/evaluation/pipelines/*.yml replaces the pipeline of config.yml (the
FallbackClassifier of config.yml is appended to each); results go to reports/nlu_pipelines.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import yaml

from bot.evaluation.nlu_report import quiet_rasa_logs, evaluate
from bot.settings import get_settings

PIPELINES = Path(__file__).parent / "pipelines"


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("tests/nlu/heldout.yml"))
    parser.add_argument("--out", type=Path, default=Path("reports/nlu_pipelines.md"))
    args = parser.parse_args(argv)
    quiet_rasa_logs()

    settings = get_settings()
    work = settings.var_dir / "nlu-compare"
    work.mkdir(parents=True, exist_ok=True)
    base = yaml.safe_load((settings.root / "config.yml").read_text())
    fallback = [c for c in base["pipeline"] if c["name"] == "FallbackClassifier"]
    rasa = Path(sys.executable).parent / "rasa"
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", HF_HUB_OFFLINE="1")

    rows = []
    for variant in sorted(PIPELINES.glob("*.yml")):
        config = dict(base, pipeline=yaml.safe_load(variant.read_text()) + fallback)
        config_path = work / f"{variant.stem}.config.yml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        started = time.monotonic()
        subprocess.run(
            [str(rasa), "train", "nlu", "--config", str(config_path), "--nlu", "data",
             "--out", str(work), "--fixed-model-name", variant.stem],
            check=True, cwd=settings.root, env=env,
        )
        train_s = time.monotonic() - started
        summary, eval_s = evaluate(work / f"{variant.stem}.tar.gz", args.data)
        best = summary["best_threshold"]
        rows.append((variant.stem, summary, train_s, eval_s, best))
        print(f"{variant.stem}: accuracy {summary['accuracy']:.3f} macro-F1 {summary['macro_f1']:.3f}")

    lines = [
        "# NLU pipelines compared on the held-out set",
        "",
        f"Trained on data/ and evaluated on `{args.data}` (never trained on) by "
        f"`make nlu-compare`. Machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}.",
        "",
        "| pipeline | accuracy | macro-F1 | in-scope acc. (no threshold) | best threshold | in-scope acc. @best | out-of-scope caught @best | train s | eval s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s, train_s, eval_s, best in rows:
        lines.append(
            f"| {name} | {s['accuracy']:.3f} | {s['macro_f1']:.3f} | {s['in_scope_accuracy_raw']:.3f} | "
            f"{best['threshold']:.2f} | {best['in_scope_accuracy']:.3f} | {best['oos_caught']:.3f} | "
            f"{train_s:.0f} | {eval_s:.0f} |"
        )
    lines += ["", "Pipelines: " + ", ".join(f"`bot/evaluation/pipelines/{n}.yml`" for n, *_ in rows), ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
