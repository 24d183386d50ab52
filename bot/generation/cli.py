"""`python -m bot generator ...`: build the data, fine-tune, draft one reply.

    python -m bot generator data                  build the examples with the real retriever
    python -m bot generator finetune [--recipe cpu|gpu|smoke]
    python -m bot generator ensure                fine-tune only if there is no good run (make run)
    python -m bot generator draft "question"      draft one reply with the latest good run
    python -m bot generator ship [RUN]            its adapter -> models/shipped/drafter (commit it)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from bot.settings import get_settings


def _examples(folder: Path, settings, extra=()):
    from bot.generation.dataset import build, read_written
    from bot.services import get_retriever

    return build(read_written(folder) + list(extra), get_retriever(settings),
                 settings.draft_passages)


def _cmd_data(args: argparse.Namespace) -> int:
    from bot.generation.dataset import HELDOUT_DIR, TRAIN_DIR, label_counts, write_jsonl

    settings = get_settings()
    out = settings.var_dir / "generator"
    for name, folder in (("train", TRAIN_DIR), ("heldout", HELDOUT_DIR)):
        examples = _examples(settings.root / folder, settings)
        write_jsonl(examples, out / f"{name}.jsonl")
        print(f"{name}: {len(examples)} examples {label_counts(examples)} -> {out / f'{name}.jsonl'}")
    return 0


def _finetune(settings, recipe_name: str, **overrides) -> Path:
    """The written examples plus the team's corrections and edited suggestions (team_data), each
    with its provenance in the run's manifest, and the hash `generator.choice` checks."""
    from bot.generation.dataset import TRAIN_DIR, label_counts
    from bot.generation.finetune import RECIPES, finetune, new_run_dir, with_overrides
    from bot.generation.model import resolve_base
    from bot.generation.runs import read_manifest
    from bot.generation.team_data import current_data_hash, load, summary

    recipe = with_overrides(RECIPES[recipe_name], **overrides)
    base = resolve_base(settings.generator_base, settings.models_dir)
    team = load(settings)
    train = _examples(settings.root / TRAIN_DIR, settings, team)
    print(f"training examples: {len(train)} {label_counts(train)}; from the team: "
          f"{summary(team)}", flush=True)
    labels = {e.id: e.label for e in train}
    data = {
        "written": {"folder": str(TRAIN_DIR), "examples": len(train) - len(team)},
        "team": [{"id": t["id"], "label": labels[t["id"]], **t["provenance"]} for t in team],
    }
    return finetune(
        base, train, new_run_dir(settings.models_dir, recipe), recipe,
        current_data_hash(settings.root / TRAIN_DIR, team), read_manifest(Path(base)), data,
    )


def _cmd_finetune(args: argparse.Namespace) -> int:
    run = _finetune(get_settings(), args.recipe, max_minutes=args.max_minutes, max_steps=args.steps,
                    epochs=args.epochs)
    manifest = json.loads((run / "manifest.json").read_text())
    print(f"run {run}: {manifest['steps']} steps, {manifest['train_seconds']:.0f} s, "
          f"{manifest['tokens_per_second']:.0f} tokens/s, epochs {manifest['epochs']}")
    return 0


def _cmd_ensure(args: argparse.Namespace) -> int:
    """Trains a run when there is none (make generator); says when the latest one is behind the
    data. The bot drafts with a run only when BOT_GENERATOR=auto (the default is quoting:
    reports/answers.md) and the run is current (bot/generation/choice.py)."""
    from bot.generation.choice import choose
    from bot.generation.runs import latest_good

    from bot.generation.choice import use_shipped

    settings = get_settings()
    if settings.generator not in ("auto", "off"):
        return 0  # a run or model named explicitly: nothing to train
    shipped = use_shipped(replace(settings, generator="auto"))
    if shipped:
        print(f"generator: {shipped}", flush=True)
    run = latest_good(settings.models_dir)
    if run is None:
        print("generator: no fine-tuned run yet; training one with the CPU recipe "
              "(at most about 30 minutes on 2 cores, once; progress and ETA below)", flush=True)
        run = _finetune(settings, "cpu")
    if settings.generator == "auto":
        print(f"generator: {choose(settings).note}")
    else:
        print(f"generator: {run} (the bot drafts with it when BOT_GENERATOR=auto)")
    return 0


def _cmd_draft(args: argparse.Namespace) -> int:
    from bot.services import get_drafter, get_retriever

    settings = get_settings()
    drafter = get_drafter(settings)
    if drafter is None:
        print("no generator run: python -m bot generator finetune", file=sys.stderr)
        return 1
    retriever = get_retriever(settings)
    result = retriever.search(args.question, k=settings.kb_top_k)
    started = time.perf_counter()
    drafted = drafter.draft(args.question, result.hits[: settings.draft_passages],
                            retriever.embed_query(args.question), deadline_s=args.deadline)
    o = drafted.outcome
    print(f"draft ({o.status}{', ' + o.failed_check if o.failed_check else ''}; {o.prompt_tokens} prompt "
          f"tokens, {o.new_tokens} new, {time.perf_counter() - started:.2f} s):\n{o.text}\n")
    print("reply:\n" + (drafted.reply or "(none: the extractive answer would be sent)"))
    return 0


def _cmd_ship(args: argparse.Namespace) -> int:
    """Copies a run's adapter into the repository (bot/generation/shipped.py)."""
    from bot.generation.runs import latest_good
    from bot.generation.shipped import ship, shipped_dir

    settings = get_settings()
    run = Path(args.run) if args.run else latest_good(settings.models_dir)
    if run is None or run.name.endswith("-shipped"):
        print("no trained run to ship: python -m bot generator finetune", file=sys.stderr)
        return 1
    manifest = ship(run, shipped_dir(settings))
    print(f"shipped {run.name}: {manifest['shipped']['parameters']:,} parameters (fp16) -> "
          f"{shipped_dir(settings)}; commit it")
    return 0


def add_generator_commands(subparsers) -> None:
    gen = subparsers.add_parser("generator", help="the reply drafter: data, fine-tune, draft")
    sub = gen.add_subparsers(dest="generator_command", required=True)
    data = sub.add_parser("data", help="build training and held-out examples -> var/generator/")
    data.set_defaults(func=_cmd_data)
    ft = sub.add_parser("finetune", help="LoRA fine-tune -> models/generator/runs/<run>/",
                        description="Example: python -m bot generator finetune --recipe cpu")
    ft.add_argument("--recipe", choices=["cpu", "gpu", "smoke"], default="cpu")
    ft.add_argument("--max-minutes", type=float, default=None, help="time budget (stops early, still saves)")
    ft.add_argument("--steps", type=int, default=None, help="at most this many steps")
    ft.add_argument("--epochs", type=int, default=None)
    ft.set_defaults(func=_cmd_finetune)
    ship = sub.add_parser("ship", help="copy a run's adapter into models/shipped/drafter (to commit)")
    ship.add_argument("run", nargs="?", default=None, help="run folder (default: the latest good run)")
    ship.set_defaults(func=_cmd_ship)
    ensure = sub.add_parser("ensure", help="fine-tune with the CPU recipe if there is no good run")
    ensure.set_defaults(func=_cmd_ensure)
    draft = sub.add_parser("draft", help="draft one reply with the latest good run",
                           description="Example: python -m bot generator draft 'how long do refunds take'")
    draft.add_argument("question")
    draft.add_argument("--deadline", type=float, default=30.0)
    draft.set_defaults(func=_cmd_draft)
