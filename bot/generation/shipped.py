"""The drafter's adapter that ships in the repository, so a fresh clone drafts without training.

    python -m bot generator ship RUN   # RUN's LoRA adapter -> models/shipped/drafter/ (fp16, ~5 MB)
    materialize(settings)              # the shipped adapter -> a run under models/generator/runs

A run folder is hundreds of MB (the merged model and its CTranslate2 copy), but what training
learned is only the LoRA adapter: about 2.6M parameters, 5 MB in fp16. `ship` copies that adapter
with its run's manifest (data hash, recipe, the base and its sha256, what it was trained on) plus
the adapter file's own sha256. On a machine with no run trained on today's data, `choose()`
(bot/generation/choice.py) asks `materialize` for one: if the shipped manifest's data hash is
today's and the base model installed here has the sha256 it was trained on, the adapter is checked,
merged into the base and converted, about a minute on 2 cores, and becomes a run like any other
(its manifest says `"shipped": true`). Anything that does not match is refused, with the reason,
and `make generator` trains a new run as before. After retraining on new data, `ship` the new
run to keep the repository's copy current.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Optional, Tuple

from bot.generation.model import sha256_of

logger = logging.getLogger(__name__)

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def shipped_dir(settings) -> Path:
    return settings.models_dir / "shipped" / "drafter"


def ship(run: Path, out: Path) -> dict:
    """Copies `run`'s adapter (as fp16) and manifest into `out`; returns the shipped manifest."""
    import torch
    from safetensors.torch import load_file, save_file

    manifest = json.loads((run / "manifest.json").read_text())
    if manifest.get("status") != "good":
        raise ValueError(f"{run} is not a good run")
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    shutil.copy(run / "adapter" / "adapter_config.json", tmp / "adapter_config.json")
    weights = load_file(str(run / "adapter" / "adapter_model.safetensors"))
    save_file({k: v.to(torch.float16).contiguous() for k, v in weights.items()},
              str(tmp / "adapter_model.safetensors"))
    manifest["shipped"] = {
        "from_run": run.name,
        "adapter_dtype": "float16",
        "adapter_sha256": sha256_of(tmp / "adapter_model.safetensors"),
        "parameters": sum(v.numel() for v in weights.values()),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return manifest


def check(folder: Path, data_hash: str, base_manifest: Optional[dict]) -> Tuple[Optional[dict], str]:
    """(the shipped manifest, "") when `folder` holds an adapter for today's data and this base;
    (None, why not) otherwise."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None, f"no shipped adapter in {folder}"
    shipped = manifest.get("shipped") or {}
    if manifest.get("data_hash") != data_hash:
        return None, "the shipped adapter was trained on other data than today's"
    wanted = (manifest.get("base_manifest") or {}).get("gguf_sha256")
    have = (base_manifest or {}).get("gguf_sha256")
    if not wanted or wanted != have:
        return None, f"the shipped adapter's base (sha256 {wanted}) is not the installed one ({have})"
    if not all((folder / f).exists() for f in ADAPTER_FILES):
        return None, f"{folder} lacks {', '.join(ADAPTER_FILES)}"
    if sha256_of(folder / "adapter_model.safetensors") != shipped.get("adapter_sha256"):
        return None, "the shipped adapter's file does not match its manifest's sha256"
    return manifest, ""


def materialize(settings, data_hash: str) -> Tuple[Optional[Path], str]:
    """A run built from the shipped adapter (merged and converted), or (None, why not). Reuses
    one built before."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bot.generation.model import resolve_base
    from bot.generation.runs import convert_ct2, is_good, read_manifest, runs_dir

    folder = shipped_dir(settings)
    if not (folder / "manifest.json").exists():
        return None, f"no shipped adapter in {folder}"
    peek = json.loads((folder / "manifest.json").read_text())
    run = runs_dir(settings.models_dir) / f"{peek.get('run', 'run')}-shipped"
    if is_good(run) and (read_manifest(run) or {}).get("data_hash") == data_hash:
        return run, ""
    started = time.monotonic()
    base = resolve_base(settings.generator_base, settings.models_dir)
    manifest, why = check(folder, data_hash, read_manifest(Path(base)))
    if manifest is None:
        return None, why
    logger.info("generator.shipped.materialize adapter=%s run=%s (about a minute)", folder, run)
    tmp = run.with_name(run.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model = PeftModel.from_pretrained(model, str(folder), torch_dtype=torch.float32)
    merged = model.merge_and_unload()
    merged.to(dtype=torch.float32).save_pretrained(tmp / "merged")
    AutoTokenizer.from_pretrained(base).save_pretrained(tmp / "merged")
    convert_ct2(tmp / "merged", tmp / "ct2-int8")
    manifest = dict(manifest, status="good", run=run.name,
                    materialized={"from": str(folder), "seconds": round(time.monotonic() - started, 1)})
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    if run.exists():
        shutil.rmtree(run)
    tmp.rename(run)
    logger.info("generator.shipped.ready run=%s seconds=%.0f", run, time.monotonic() - started)
    return run, ""
