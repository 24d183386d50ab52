"""How fast a hand-over reaches a person, and a person's reply reaches the customer.

Starts the action server, the Rasa server and the agent desk the way `make run` does (ports of its
own, a throwaway var/ folder, an agent made with `python -m bot agents add`), then, one customer at
a time, over socket.io as the web chat widget speaks it:
  - baseline, in the same run: a help-centre question until the bot's answer arrives;
  - "I want to talk to a person" until the desk's queue (``/queue.json``, what the queue page
    fetches every 2 s) lists the conversation;
  - the agent claims it and sends a reply (the desk's form post) until the customer's socket.io
    connection receives it; then hands back.
Writes reports/bench_desk.md.

    .venv/actions/bin/python -m bot.evaluation.bench_desk   (make bench-desk)
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import time
import uuid
from pathlib import Path
from typing import Dict, List

import requests

from bot import launcher
from bot.evaluation.bench_servers import throwaway_settings
from bot.settings import ROOT
from bot.storage.log import percentile
from tests.channels.socketio_client import PollingClient

PORTS = (25105, 25155, 25170)  # Rasa, action server, desk
PASSWORD = "bench-password-not-secret"
QUEUE_PAGE_REFRESH_S = 2.0  # bot/desk/static/desk.js


class Agent:
    """The desk as a browser uses it: a login cookie and the session's CSRF token."""

    def __init__(self, url: str, username: str) -> None:
        self.url = url
        self.http = requests.Session()
        page = self.http.get(f"{url}/login", timeout=10)
        token = _csrf(page.text)
        self.http.post(f"{url}/login", data={"username": username, "password": PASSWORD,
                                             "csrf_token": token}, timeout=30)
        self.csrf = _csrf(self.http.get(f"{url}/", timeout=10).text)

    def queue_ids(self) -> List[int]:
        return [item["id"] for item in self.http.get(f"{self.url}/queue.json", timeout=10).json()["open"]]

    def post(self, handoff_id: int, action: str, **fields: str) -> None:
        answer = self.http.post(f"{self.url}/conversations/{handoff_id}/{action}",
                                data={"csrf_token": self.csrf, **fields}, timeout=30,
                                allow_redirects=False)
        if answer.status_code not in (200, 303):
            raise RuntimeError(f"{action}: HTTP {answer.status_code}")


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if not match:
        raise RuntimeError("no CSRF token in the page (not logged in?)")
    return match.group(1)


def customer(rasa_url: str) -> PollingClient:
    client = PollingClient(rasa_url)
    client.emit("session_request", {"session_id": uuid.uuid4().hex})
    session_id = client.wait("session_confirm")
    client.session_id = session_id
    return client


def said(client: PollingClient, text: str) -> float:
    """Sends ``text``; the seconds until the next bot message arrives."""
    started = time.perf_counter()
    client.emit("user_uttered", {"message": text, "session_id": client.session_id})
    if client.wait("bot_uttered", timeout_s=30) is None:
        raise RuntimeError(f"no reply to {text!r}")
    return time.perf_counter() - started


def one_handoff(rasa_url: str, agent: Agent, i: int) -> Dict[str, float]:
    client = customer(rasa_url)
    try:
        baseline = said(client, "how do I track a parcel")
        before = set(agent.queue_ids())
        started = time.perf_counter()
        client.emit("user_uttered", {"message": "I want to talk to a person",
                                     "session_id": client.session_id})
        handoff_id = None
        while handoff_id is None:
            new = set(agent.queue_ids()) - before
            if new:
                handoff_id = max(new)
            elif time.perf_counter() - started > 30:
                raise RuntimeError("the conversation never reached the queue")
            else:
                time.sleep(0.02)
        in_queue = time.perf_counter() - started
        client.wait("bot_uttered", timeout_s=30)  # the queue notice
        agent.post(handoff_id, "claim")
        text = f"Hello, this is the bench agent ({i})"
        sent = time.perf_counter()
        agent.post(handoff_id, "reply", text=text, suggested_text="", suggested_sources="[]",
                   question="")
        while True:
            message = client.wait("bot_uttered", timeout_s=30)
            if message is None:
                raise RuntimeError("the agent's reply never arrived")
            if message.get("text") == text:
                break
        in_widget = time.perf_counter() - sent
        agent.post(handoff_id, "handback")
        return {"baseline": baseline, "in_queue": in_queue, "in_widget": in_widget}
    finally:
        client.close()


def render(samples: List[Dict[str, float]], seconds_total: float) -> str:
    def row(label: str, key: str, note: str) -> str:
        values = [s[key] for s in samples]
        return (f"| {label} | {len(values)} | {statistics.median(values):.2f} s | "
                f"{percentile(values, 95):.2f} s | "
                f"{percentile(values, 95) / percentile([s['baseline'] for s in samples], 95):.2f} "
                f"| {note} |")

    return "\n".join([
        "# The agent desk: how fast a person is reached, and heard",
        "",
        f"`make bench-desk` on {platform.machine()}, {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}; {time.strftime('%Y-%m-%d')}. The action server, the Rasa "
        "server and the agent desk started as `make run` starts them (SQLite); customers over "
        "socket.io as the web chat widget speaks it, one at a time; the agent through the desk's "
        f"own routes with a login and CSRF token. {seconds_total:.0f} s in all.",
        "",
        "| step | samples | p50 | p95 | p95 / baseline p95 | what is timed |",
        "|---|---|---|---|---|---|",
        row("help-centre answer (baseline)", "baseline", "a question until the bot's answer"),
        row("\"I want a person\" -> in the desk's queue", "in_queue",
            "the message until `/queue.json` lists it"),
        row("agent's send -> in the widget", "in_widget",
            "the desk's reply post until the customer's socket receives it"),
        "",
        f"The queue page fetches `/queue.json` every {QUEUE_PAGE_REFRESH_S:.0f} s, so an agent "
        f"looking at it sees a new conversation up to {QUEUE_PAGE_REFRESH_S:.0f} s after the "
        "second row; an open conversation gets new messages pushed (server-sent events, polled "
        "from the database every 0.5 s).",
        "",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench_desk.md")
    args = parser.parse_args()

    rasa_port, action_port, desk_port = PORTS
    settings, endpoints = throwaway_settings(
        "bench-desk-", rasa_port=rasa_port, action_port=action_port, desk_port=desk_port,
        store_demo=False, desk_hours="always")
    var = settings.var_dir
    launcher.check_ports_free(settings)
    python = ROOT / launcher.ACTIONS_VENV / "bin" / "python"
    subprocess.run([str(python), "-m", "bot", "agents", "add", "bench"], check=True, cwd=ROOT,
                   capture_output=True, env={**os.environ, "BOT_LOG_URL": settings.log_url,
                                             "BOT_VAR_DIR": str(var), "BOT_DESK_PASSWORD": PASSWORD})
    servers = [
        launcher.start_action_server(settings, var / "logs"),
        launcher.start_rasa_server(settings, var / "logs", endpoints,
                                   ROOT / "credentials.yml"),
        launcher.start_desk(settings, var / "logs"),
    ]
    started = time.perf_counter()
    try:
        launcher.wait_until_healthy(servers, timeout_s=240)
        agent = Agent(settings.desk_url, "bench")
        one_handoff(settings.rasa_url, agent, 0)  # warm-up: the first of each kind loads things
        samples = [one_handoff(settings.rasa_url, agent, i) for i in range(1, args.samples + 1)]
    finally:
        launcher.stop(servers)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(samples, time.perf_counter() - started))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
