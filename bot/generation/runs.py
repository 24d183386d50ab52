"""The fine-tuning runs under models/generator/runs/<run>/, each described by its manifest.

    <run>/manifest.json   base model, data hash, recipe, metrics, times; "status": "good" once
                          the run finished and saved everything
    <run>/adapter/        the LoRA weights (small: what fine-tuning learned)
    <run>/merged/         base + adapter as one ordinary checkpoint (what transformers loads)
    <run>/ct2-int8/       the same converted for CTranslate2, int8 (what the CPU drafts with)
    <run>/onnx-int4/      for ONNX Runtime GenAI, int4 (made by `make eval`, for the comparison)

"The latest good run" is the newest folder whose manifest says good and whose merged model is
there. A run still in progress, or one that crashed, has no good manifest and is never used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional


def runs_dir(models_dir: Path) -> Path:
    return models_dir / "generator" / "runs"


def read_manifest(run: Path) -> Optional[dict]:
    try:
        return json.loads((run / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def is_good(run: Path) -> bool:
    manifest = read_manifest(run)
    return bool(manifest and manifest.get("status") == "good" and (run / "merged" / "config.json").exists())


def latest_good(models_dir: Path, recipe: Optional[str] = None) -> Optional[Path]:
    """The newest good run (of `recipe`, when given), or None."""
    candidates = sorted(runs_dir(models_dir).glob("*"), key=lambda p: p.name, reverse=True)
    for run in candidates:
        if is_good(run) and (recipe is None or read_manifest(run).get("recipe", {}).get("name") == recipe):
            return run
    return None


def latest_current(models_dir: Path, data_hash: str) -> Optional[Path]:
    """The newest good run trained on data with this hash, or None."""
    candidates = sorted(runs_dir(models_dir).glob("*"), key=lambda p: p.name, reverse=True)
    return next((r for r in candidates if is_good(r) and read_manifest(r).get("data_hash") == data_hash), None)


def convert_ct2(merged: Path, out: Path, quantization: str = "int8") -> Path:
    """Converts a merged checkpoint for CTranslate2 (about 15 s); the tokenizer files go along."""
    import shutil

    from ctranslate2.converters import TransformersConverter

    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    TransformersConverter(str(merged)).convert(str(tmp), quantization=quantization, force=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (merged / name).exists():
            shutil.copy(merged / name, tmp / name)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


def convert_onnx(merged: Path, out: Path) -> Path:
    """Builds an ONNX Runtime GenAI int4 model of a merged checkpoint (about 30 s), offline."""
    import shutil
    import subprocess
    import sys

    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    subprocess.run(
        [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(merged), "-o", str(tmp),
         "-p", "int4", "-e", "cpu", "-c", str(out.with_name(out.name + ".cache"))],
        check=True, capture_output=True,
    )
    shutil.rmtree(out.with_name(out.name + ".cache"), ignore_errors=True)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


def freshness(run: Path, current_hash: str) -> Optional[str]:
    """None when `run` was trained on today's data; otherwise one sentence saying it is not."""
    trained_on = (read_manifest(run) or {}).get("data_hash")
    if trained_on == current_hash:
        return None
    return (f"the drafter run {run.name} was trained on data {trained_on}, the data is now "
            f"{current_hash} (new written examples or corrections)")
