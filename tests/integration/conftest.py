"""Starts the real action server and the real Rasa server for the integration tests.

They run on their own ports (so a `make run` in another terminal is not disturbed), through the
same launcher `make run` uses, once with Rasa's tracker store in a temporary SQLite file and once
in a real PostgreSQL database when BOT_TEST_POSTGRES_URL is set (.ci/run sets it).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, List, Tuple

import pytest
import yaml

from bot import launcher
from bot.settings import ROOT, Settings

PORTS = {"sqlite": (15005, 15055), "postgresql": (15105, 15155)}  # Rasa, action server


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


def _fresh_postgres_tracker() -> str:
    """The PostgreSQL URL for Rasa's tracker store, with the events table of earlier runs dropped."""
    url = os.environ.get("BOT_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("BOT_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    import sqlalchemy

    engine = sqlalchemy.create_engine(_for_sqlalchemy2(url))
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("DROP TABLE IF EXISTS events"))
    engine.dispose()
    return url


def _for_sqlalchemy2(url: str) -> str:
    """Rasa (SQLAlchemy 1.4) talks to PostgreSQL through psycopg2, our tests through psycopg 3."""
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def bot(request, tmp_path_factory) -> Bot:
    settings = Settings.from_env({})
    if not settings.rasa_model_path.exists():
        pytest.fail(f"no trained Rasa model at {settings.rasa_model_path}: run `make train` first")
    var = tmp_path_factory.mktemp(f"var-{request.param}")
    if request.param == "postgresql":
        tracker_url = _fresh_postgres_tracker()
    else:
        tracker_url = f"sqlite:///{var / 'tracker.db'}"
    rasa_port, action_port = PORTS[request.param]
    settings = dataclasses.replace(
        settings,
        var_dir=var,
        rasa_port=rasa_port,
        action_port=action_port,
        tracker_url=tracker_url,
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
    """The events Rasa stored for `sender` in the SQL tracker store (SQLite or PostgreSQL)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(_for_sqlalchemy2(settings.tracker_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sqlalchemy.text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"),
                {"s": sender},
            ).fetchall()
    finally:
        engine.dispose()
    return [json.loads(r[0]) for r in rows]
