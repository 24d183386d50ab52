"""Starts the real action server and the real Rasa server once for the integration tests.

They run on their own ports (so a `make run` in another terminal is not disturbed), with the
tracker store in a temporary SQLite file, through the same launcher `make run` uses.
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, List, Tuple

import pytest
import yaml

from bot import launcher
from bot.settings import ROOT, Settings

RASA_PORT = 15005
ACTION_PORT = 15055


@dataclasses.dataclass
class Bot:
    settings: Settings
    servers: List[launcher.Server]

    @property
    def webhook(self) -> str:
        return f"{self.settings.rasa_url}/webhooks/rest/webhook"

    def post_raw(self, body: bytes, timeout: float = 30) -> Tuple[int, Any, float]:
        """POSTs bytes to the REST webhook; returns (status, decoded JSON or text, seconds)."""
        request = urllib.request.Request(
            self.webhook, data=body, headers={"Content-Type": "application/json"}
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                status, raw = reply.status, reply.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        elapsed = time.perf_counter() - started
        try:
            return status, json.loads(raw), elapsed
        except ValueError:
            return status, raw.decode(errors="replace"), elapsed

    def say(self, sender: str, message: Any, timeout: float = 30) -> Tuple[List[str], float]:
        status, replies, elapsed = self.post_raw(
            json.dumps({"sender": sender, "message": message}).encode(), timeout
        )
        assert status == 200, (status, replies)
        return [r.get("text", "") for r in replies], elapsed


@pytest.fixture(scope="session")
def bot(tmp_path_factory) -> Bot:
    settings = Settings.from_env({})
    if not settings.rasa_model_path.exists():
        pytest.fail(f"no trained Rasa model at {settings.rasa_model_path}: run `make train` first")
    var = tmp_path_factory.mktemp("var")
    settings = dataclasses.replace(
        settings,
        var_dir=var,
        rasa_port=RASA_PORT,
        action_port=ACTION_PORT,
        tracker_url=f"sqlite:///{var / 'tracker.db'}",
    )
    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text())
    endpoints["action_endpoint"]["url"] = f"{settings.action_url}/webhook"
    endpoints_path = var / "endpoints.yml"
    endpoints_path.write_text(yaml.safe_dump(endpoints))

    launcher.check_ports_free(settings)
    servers = [
        launcher.start_action_server(settings, var / "logs"),
        launcher.start_rasa_server(settings, var / "logs", endpoints_path, ROOT / "credentials.yml"),
    ]
    try:
        launcher.wait_until_healthy(servers, timeout_s=240)
        yield Bot(settings, servers)
    finally:
        launcher.stop(servers)


def tracker_events(settings: Settings, sender: str) -> List[dict]:
    """The events Rasa stored for `sender` in the SQL tracker store."""
    import sqlite3

    path = settings.tracker_url.replace("sqlite:///", "")
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender,)
        ).fetchall()
    return [json.loads(r[0]) for r in rows]
