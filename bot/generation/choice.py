"""Which model the bot drafts with, from BOT_GENERATOR and the runs' manifests.

    choice = choose(settings)    # choice.source: a run folder, a model id, or None (no drafts)
    print(choice.note)           # why, in one sentence, for the log and `make run`'s banner

- "off": no drafter, the extractive reply is sent.
- "auto": the latest good run under models/generator/runs, if it was trained on today's data:
  the written examples and the team's corrections (its manifest's data hash equals
  `team_data.current_data_hash`). A run that is behind is used only with
  BOT_GENERATOR_ALLOW_STALE=1; otherwise the bot quotes, and says how to retrain. Before
  choosing, the action server calls `use_shipped(settings)`: with no current run, the adapter
  that ships in the repository becomes one when it was trained on today's data
  (bot/generation/shipped.py), so a fresh clone drafts without training.
- anything else: that run folder, checkpoint or Hugging Face id, as the operator chose it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

RETRAIN = ".venv/actions/bin/python -m bot generator finetune"


@dataclass(frozen=True)
class Choice:
    source: Optional[str]
    note: str
    behind: bool = False  # a run exists but was trained before today's data


def use_shipped(settings) -> str:
    """With BOT_GENERATOR=auto and no run trained on today's data, builds one from the shipped
    adapter when it fits (about a minute, once); returns what happened, for the log."""
    from bot.generation.dataset import TRAIN_DIR
    from bot.generation.runs import latest_current
    from bot.generation.shipped import materialize
    from bot.generation.team_data import current_data_hash, load

    if settings.generator != "auto":
        return ""
    current = current_data_hash(settings.root / TRAIN_DIR, load(settings))
    if latest_current(settings.models_dir, current) is not None:
        return ""
    built, why = materialize(settings, current)
    return f"built {built.name} from the shipped adapter" if built else f"shipped adapter not used: {why}"


def choose(settings) -> Choice:
    from bot.generation.dataset import TRAIN_DIR
    from bot.generation.runs import freshness, latest_current, latest_good
    from bot.generation.team_data import current_data_hash, load, summary

    if settings.generator == "off":
        return Choice(None, "drafts off (BOT_GENERATOR=off): replies quote the help centre")
    if settings.generator != "auto":
        return Choice(settings.generator, f"drafting with {settings.generator} (BOT_GENERATOR)")
    team = load(settings)
    current = current_data_hash(settings.root / TRAIN_DIR, team)
    run = latest_current(settings.models_dir, current) or latest_good(settings.models_dir)
    if run is None:
        return Choice(None, "no fine-tuned drafter run yet: replies quote the help centre "
                            "(make generator trains one)")
    stale = freshness(run, current)
    if stale is None:
        return Choice(str(run), f"drafting with {run.name}, trained on today's data")
    counts = summary(team)
    why = (f"{stale}; the team's data: {counts['correction']} corrections, "
           f"{counts['agent_edit']} edited suggestions")
    if settings.generator_allow_stale:
        return Choice(str(run), f"drafting with {run.name} although {why} "
                                f"(BOT_GENERATOR_ALLOW_STALE=1)", behind=True)
    return Choice(None, f"drafts paused: {why}. Retrain with `{RETRAIN}` (about 30 min on 2 "
                        f"cores), or set BOT_GENERATOR_ALLOW_STALE=1 to draft with it anyway",
                  behind=True)

