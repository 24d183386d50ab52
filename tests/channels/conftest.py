"""One real Rasa server + action server pair for every channel test, with fake Slack and WeChat APIs.

The servers start through the same launcher `make run` uses, on their own ports, with a copy of
credentials.deploy.yml (every channel: REST, socket.io, the web page, Slack, WeChat) and its
secrets set in the environment the way a deployment sets them; BOT_SLACK_API_URL and
BOT_WECHAT_API_URL point the connectors' outgoing calls at the fakes in this process
(`fakes.py`). The tracker store is a SQLite file in a temporary folder, read back by the tests.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import shutil
import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
import requests
import yaml

from bot import launcher
from bot.settings import ROOT, Settings
from tests.channels.fakes import FakeSlack, FakeWeChat
from tests.integration.conftest import tracker_events

RASA_PORT, ACTION_PORT = 15205, 15255

# Debian's Chromium for the browser tests (never downloaded: `playwright install` is not used).
CHROMIUM = Path("/usr/bin/chromium")
# Headless as root in a sandbox with no internet: no sandbox, no GPU, no background calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# Test values for the secrets credentials.deploy.yml reads (see channels.env.example).
SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-test-larkspur",
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
    "WECHAT_TOKEN": "larkspur-test-token",
    "WECHAT_APP_ID": "wx5823bf96d3bd56c7",
    "WECHAT_APP_SECRET": "test-app-secret-0123456789abcdef",
    # 32 random-looking bytes, base64 without the trailing "=": WeChat's 43-character format.
    "WECHAT_ENCODING_AES_KEY": base64.b64encode(bytes(range(7, 39))).decode().rstrip("="),
}


@dataclasses.dataclass
class ChannelServers:
    settings: Settings
    servers: List[launcher.Server]
    slack: FakeSlack
    wechat: FakeWeChat
    secrets: Dict[str, str]

    @property
    def url(self) -> str:
        return self.settings.rasa_url

    def events(self, sender: str) -> List[dict]:
        """The events Rasa stored for `sender` in the tracker store."""
        return tracker_events(self.settings, sender)

    def user_turns(self, sender: str) -> List[dict]:
        return [e for e in self.events(sender) if e.get("event") == "user"]

    def bot_texts(self, sender: str) -> List[str]:
        return [e.get("text") or "" for e in self.events(sender) if e.get("event") == "bot"]

    def turn_finished(self, sender: str) -> bool:
        """True when the last event is the bot listening again (its turn is over)."""
        events = [e for e in self.events(sender) if e.get("event") in ("user", "action", "bot")]
        return bool(events) and events[-1].get("name") == "action_listen" and any(
            e.get("event") == "user" for e in events
        )

    @contextmanager
    def action_server_paused(self) -> Iterator[None]:
        """Freezes the action server (SIGSTOP to its process group): the bot is really slow."""
        group = self.servers[0].process.pid  # started in its own session: pid is the group id
        os.killpg(group, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(group, signal.SIGCONT)


@pytest.fixture(scope="session")
def channel_servers(tmp_path_factory) -> Iterator[ChannelServers]:
    settings = Settings.from_env({})
    if not settings.rasa_model_path.exists():
        pytest.fail(f"no trained Rasa model at {settings.rasa_model_path}: run `make train` first")
    var = tmp_path_factory.mktemp("var-channels")
    settings = dataclasses.replace(
        settings,
        var_dir=var,
        rasa_port=RASA_PORT,
        action_port=ACTION_PORT,
        tracker_url=f"sqlite:///{var / 'tracker.db'}",
        log_url=f"sqlite:///{var / 'conversations.db'}",  # not the developer's var/ (replace copies it)
        credentials=var / "credentials.yml",
        generator="off",  # replies that do not depend on whether this machine has a drafter
        desk_port=15270,  # no desk runs here: the tests call the desk bridge as the desk does
        desk_hours="always",  # hand-over replies that do not depend on the hour
    )
    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text())
    endpoints["action_endpoint"]["url"] = f"{settings.action_url}/webhook"
    endpoints_path = var / "endpoints.yml"
    endpoints_path.write_text(yaml.safe_dump(endpoints))
    shutil.copy(ROOT / "credentials.deploy.yml", settings.credentials)

    slack = FakeSlack(SECRETS["SLACK_BOT_TOKEN"])
    wechat = FakeWeChat(SECRETS["WECHAT_APP_ID"], SECRETS["WECHAT_APP_SECRET"])
    environment = {
        **SECRETS,
        "BOT_SLACK_API_URL": slack.api_url,
        "BOT_WECHAT_API_URL": wechat.url,
    }
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)  # the launcher hands its environment to the servers
    servers: List[launcher.Server] = []
    try:
        launcher.check_ports_free(settings)
        servers = [
            launcher.start_action_server(settings, var / "logs"),
            launcher.start_rasa_server(settings, var / "logs", endpoints_path, settings.credentials),
        ]
        launcher.wait_until_healthy(servers, timeout_s=240)
        warm_up(settings)
        yield ChannelServers(settings, servers, slack, wechat, dict(SECRETS))
    finally:
        launcher.stop(servers)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        slack.close()
        wechat.close()


def warm_up(settings: Settings, timeout_s: float = 90.0) -> None:
    """Asks one help-centre question over REST until it is answered from an article.

    The action server loads its search models on the first question; on a busy 2-core machine
    that takes longer than the reply deadline, and whichever test came first got an apology
    instead of the answer it checks for.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            replies = requests.post(
                f"{settings.rasa_url}/webhooks/rest/webhook",
                json={"sender": "channel-tests-warm-up", "message": "how do I track a parcel"},
                timeout=30,
            ).json()
        except (requests.RequestException, ValueError):
            replies = []
        if any("help.larkspur.example/articles/" in (r.get("text") or "") for r in replies):
            return
        time.sleep(2)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


DESK_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def desk(channel_servers):
    """The agent desk against the channel servers' log, with two people: "ana" (an agent) and
    "max" (an admin), both with DESK_PASSWORD; its URL."""
    import subprocess

    settings = channel_servers.settings
    python = ROOT / launcher.ACTIONS_VENV / "bin" / "python"
    env = {**os.environ, "BOT_LOG_URL": settings.log_url, "BOT_VAR_DIR": str(settings.var_dir),
           "BOT_DESK_PASSWORD": DESK_PASSWORD}
    for username, name, role in (("ana", "Ana", "agent"), ("max", "Max", "admin")):
        subprocess.run([str(python), "-m", "bot", "agents", "add", username, "--name", name,
                        "--role", role], env=env, check=True, cwd=ROOT, capture_output=True)
    server = launcher.start_desk(settings, settings.var_dir / "logs")
    try:
        launcher.wait_until_healthy([server], timeout_s=120)
        yield settings.desk_url
    finally:
        launcher.stop([server])
