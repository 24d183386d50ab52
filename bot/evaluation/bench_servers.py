"""What the benchmarks that start the servers share: settings on a throwaway var/ folder.

    settings, endpoints = throwaway_settings("bench-desk-", rasa_port=25105, ...)

Ports of their own (a running `make run` is left alone), SQLite under a temporary folder,
extractive replies (no drafter), and an endpoints.yml that points Rasa at this action server.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any, Tuple

import yaml

from bot.settings import ROOT, Settings


def throwaway_settings(prefix: str, **overrides: Any) -> Tuple[Settings, Path]:
    var = Path(tempfile.mkdtemp(prefix=prefix))
    settings = dataclasses.replace(
        Settings.from_env({}), var_dir=var, tracker_url=f"sqlite:///{var / 'tracker.db'}",
        log_url=f"sqlite:///{var / 'conversations.db'}", generator="off", **overrides,
    )
    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text())
    endpoints["action_endpoint"]["url"] = f"{settings.action_url}/webhook"
    path = var / "endpoints.yml"
    path.write_text(yaml.safe_dump(endpoints))
    return settings, path
