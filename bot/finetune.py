"""What the MiniLM fine-tunes share: the optimisation loop and the saved, self-describing model.

Used by the re-ranker (bot/retrieval/rerank_train.py) and the NLU encoder
(bot/nlu/encoder_train.py); each brings its own batches and loss. torch is imported by the
callers, never at import time here.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, List

logger = logging.getLogger(__name__)


@dataclass
class Progress:
    steps: int = 0
    losses: List[float] = field(default_factory=list)
    stopped_early: bool = False
    seconds: float = 0.0

    def final_loss(self, last: int) -> float:
        tail = self.losses[-last:]
        return sum(tail) / max(1, len(tail))


def optimise(model, epochs: Iterable[Iterable], loss_of: Callable, total: int, lr: float, warmup: float,
             max_minutes: float, name: str, log_every: int = 10) -> Progress:
    """AdamW with a linear warm-up and decay over `total` steps, gradients clipped at 1. `epochs`
    yields each epoch's batches; `loss_of(batch)` is the batch's loss. Stops early, still
    returning, once `max_minutes` have passed."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(warmup * total), total)
    progress, started = Progress(), time.monotonic()
    model.train()
    for batches in epochs:
        for batch in batches:
            loss = loss_of(batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            progress.steps += 1
            progress.losses.append(float(loss.detach()))
            if progress.steps % log_every == 0:
                logger.info("%s.step %d/%d loss %.4f (%.0f s)", name, progress.steps, total,
                            progress.final_loss(log_every), time.monotonic() - started)
            if time.monotonic() - started > max_minutes * 60:
                progress.stopped_early = True
                break
        if progress.stopped_early:
            break
    progress.seconds = round(time.monotonic() - started, 1)
    return progress


def save(model, tokenizer, out_dir: Path, manifest: dict, progress: Progress, loss_window: int = 10) -> dict:
    """The model (save_pretrained) and manifest.json in a fresh `out_dir`. The manifest gets the
    run's figures, and "status": "good" last, so a crashed run is never loaded."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    model.eval()
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    manifest = dict(manifest, steps=progress.steps, stopped_early=progress.stopped_early,
                    final_loss=progress.final_loss(loss_window), seconds=progress.seconds,
                    trained_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    manifest["status"] = "good"
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest
