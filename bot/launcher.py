"""Starts the store service, the action server and the Rasa server, waits until they answer, stops
them cleanly.

Used by `python -m bot run` (what `make run` calls) and by the integration tests, so the tests
start the servers exactly the way a user does. Standard library only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, IO, List, Optional

from bot.settings import Settings

RASA_VENV = ".venv/rasa"
ACTIONS_VENV = ".venv/actions"


class StartupError(RuntimeError):
    """A server did not come up; the message says which and shows the end of its log."""


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    health_url: str
    log_path: Path
    _log: IO = field(repr=False, default=None)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _env(settings: Settings, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "RASA_TELEMETRY_ENABLED": "false",
            "HF_HUB_OFFLINE": "1",  # nothing is ever downloaded at run time
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            "BOT_TRACKER_URL": settings.tracker_url,
            "BOT_HOST": settings.host,  # the action server's interface (bot/action_server.py)
            "BOT_VAR_DIR": str(settings.var_dir),  # the log's spool and salt live here
            "BOT_LOG_URL": settings.log_url,
            "BOT_GENERATOR": settings.generator,  # which drafter the action server loads
            # how it drafts under load (bot/generation/batcher.py) and how long a turn may take
            "BOT_DRAFT_DEADLINE_S": str(settings.draft_deadline_s),
            "BOT_DRAFT_MAX_BATCH": str(settings.draft_max_batch),
            "BOT_DRAFT_MAX_WAITING": str(settings.draft_max_waiting),
            "BOT_DRAFT_MAX_IN_FLIGHT": str(settings.draft_max_in_flight),
            "BOT_ACTION_DEADLINE_S": str(settings.action_deadline_s),
            "BOT_ANSWER_THREADS": str(settings.answer_threads),
            "BOT_TORCH_THREADS": str(settings.torch_threads),
            "BOT_BACKGROUND_TRAINING": "1" if settings.background_training else "0",
            "BOT_RASA_THREADS": str(settings.rasa_threads),
            "BOT_MAX_MESSAGE_CHARS": str(settings.max_message_chars),
            "BOT_REPLY_DEADLINE_S": str(settings.reply_deadline_s),
            "BOT_STORE_URL": settings.store_url,  # where the action server finds the order system
            "BOT_RASA_PORT": str(settings.rasa_port),  # the desk reaches the desk bridge there
            "BOT_DESK_PORT": str(settings.desk_port),
            "BOT_DESK_HOURS": settings.desk_hours,  # the hand-over replies (bot/handoff/hours.py)
            # The demo store keeps its database and key beside the bot's unless told otherwise.
            "STORE_VAR_DIR": os.environ.get("STORE_VAR_DIR", str(settings.var_dir)),
        }
    )
    env.update(extra or {})
    return env


def _spawn(name: str, cmd: List[str], settings: Settings, health_url: str, log_path: Path) -> Server:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w")
    process = subprocess.Popen(
        cmd,
        cwd=settings.root,
        env=_env(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C in the terminal reaches us; we stop the children
    )
    return Server(name, process, health_url, log_path, log)


def start_store_service(settings: Settings, log_dir: Path) -> Server:
    """The demo shop's order service (store/). Its data is rebuilt at every start against the
    clock, so the demo orders of store/README.md are always in the state it describes (100001
    placed 20 minutes ago, ...); changes made in a session last until the next start."""
    python = settings.root / ACTIONS_VENV / "bin" / "python"
    cmd = [str(python), "-m", "store", "serve", "--reseed", "--host", settings.client_host,
           "--port", str(settings.store_port)]
    return _spawn(
        "store service", cmd, settings, f"{settings.store_url}/health", log_dir / "store.log"
    )


def start_action_server(settings: Settings, log_dir: Path) -> Server:
    python = settings.root / ACTIONS_VENV / "bin" / "python"
    # rasa-sdk's server plus the conversation log (schema, health route, spool replays)
    cmd = [str(python), "-m", "bot.action_server", "--actions", "actions",
           "--port", str(settings.action_port)]
    return _spawn(
        "action server", cmd, settings, f"{settings.action_url}/health", log_dir / "actions.log"
    )


def start_desk(settings: Settings, log_dir: Path) -> Server:
    """The agent desk (bot/desk/): people take over handed-over conversations there."""
    python = settings.root / ACTIONS_VENV / "bin" / "python"
    cmd = [str(python), "-m", "bot", "desk", "serve", "--host", settings.client_host,
           "--port", str(settings.desk_port)]
    return _spawn("agent desk", cmd, settings, f"{settings.desk_url}/health", log_dir / "desk.log")


def start_rasa_server(
    settings: Settings,
    log_dir: Path,
    endpoints: Path,
    credentials: Path,
    model: Optional[Path] = None,
) -> Server:
    python = settings.root / RASA_VENV / "bin" / "python"
    cmd = [
        str(python), "-m", "bot.rasa_server", "run",  # `rasa run`, tuned for many customers
        "--model", str(model or settings.rasa_model_path),
        "--endpoints", str(endpoints),
        "--credentials", str(credentials),
        "--port", str(settings.rasa_port),
        "--interface", settings.host,
    ]
    return _spawn("Rasa server", cmd, settings, f"{settings.rasa_url}/", log_dir / "rasa.log")


def is_healthy(url: str, timeout_s: float = 2.0) -> bool:
    """True when `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as reply:
            return reply.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def wait_until_healthy(servers: List[Server], timeout_s: float = 180.0) -> None:
    """Polls each server's health URL; raises StartupError if one exits or the time runs out."""
    deadline = time.monotonic() + timeout_s
    pending = list(servers)
    while pending:
        for server in list(pending):
            if server.process.poll() is not None:
                raise StartupError(
                    f"the {server.name} exited with code {server.process.returncode}; "
                    f"its log ({server.log_path}) ends with:\n{server.log_tail()}"
                )
            if is_healthy(server.health_url):
                pending.remove(server)
        if pending and time.monotonic() > deadline:
            names = ", ".join(s.name for s in pending)
            raise StartupError(
                f"{names} did not answer within {timeout_s:.0f} s; "
                f"last log lines:\n{pending[0].log_tail()}"
            )
        if pending:
            time.sleep(0.5)


def stop(servers: List[Server], grace_s: float = 15.0) -> None:
    """SIGTERM to each server's process group, then SIGKILL after the grace period."""
    for server in servers:
        if server.process.poll() is None:
            try:
                os.killpg(server.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace_s
    for server in servers:
        try:
            server.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(server.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            server.process.wait()
        if server._log:
            server._log.close()


def check_ports_free(settings: Settings) -> None:
    import socket

    ports = [("Rasa", settings.rasa_port), ("action server", settings.action_port),
             ("agent desk", settings.desk_port)]
    if settings.store_demo:
        ports.append(("store service", settings.store_port))
    for name, port in ports:
        with socket.socket() as sock:
            if sock.connect_ex((settings.client_host, port)) == 0:
                raise StartupError(
                    f"port {port} (for the {name}) is already in use: is the bot already running? "
                    f"Stop it, or pick other ports with BOT_RASA_PORT / BOT_ACTION_PORT / "
                    f"BOT_STORE_PORT / BOT_DESK_PORT."
                )


# Models the bot answers without, less well, while they train: the action server swaps them in
# when they are written (bot/services.py reload_if_retrained). Without the re-ranker, search keeps
# its first-stage order and refuses below the cosine threshold; without the matcher, approved
# answers are matched under the knowledge base's MiniLM.
BACKGROUND_TARGETS = ("reranker", "matcher")


@dataclass
class Training:
    process: subprocess.Popen
    log_path: Path
    targets: tuple


def start_background_training(settings: Settings, log_dir: Path) -> Optional[Training]:
    """`make reranker matcher` behind the running bot, at low priority, when make says they are
    missing or out of date; None when they are current (or ``BOT_BACKGROUND_TRAINING=0``)."""
    if not settings.background_training:
        return None
    env = {k: v for k, v in _env(settings).items() if not k.startswith("MAKE") and k != "MFLAGS"}
    # `make -n` prints what it would run: nothing when the model is current (`-q` is no use here:
    # the phony `venvs` prerequisite always counts as out of date to it).
    stale = tuple(t for t in BACKGROUND_TARGETS
                  if subprocess.run(["make", "-s", "-n", t], cwd=settings.root, env=env, text=True,
                                    capture_output=True).stdout.strip())
    if not stale:
        return None
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "training.log"
    process = subprocess.Popen(
        ["nice", "-n", "10", "make", "--no-print-directory", *stale], cwd=settings.root, env=env,
        stdout=open(log_path, "w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    return Training(process, log_path, stale)


def _training_note(training: Optional[Training]) -> str:
    if training is None:
        return ""
    what = " and the ".join(training.targets)
    return (f"  Still training the {what} (about 25 min on 2 cores; {training.log_path}).\n"
            f"  Until then search keeps its first-stage order: more questions are refused, and\n"
            f"  replies are slower while training shares the cores. They go live without a restart.\n")


def _drafter_note(settings: Settings) -> str:
    """Whether replies are drafted, and whether the drafter is behind the team's corrections."""
    from bot.generation.choice import choose

    try:
        return choose(settings).note
    except Exception as e:  # the banner must come up; the action server's log has the details
        return f"unknown ({type(e).__name__}: see the action server's log)"


def banner(settings: Settings, seconds: float, training: Optional[Training] = None) -> str:
    url = settings.rasa_url
    channels = settings.credentials.read_text() if settings.credentials.exists() else ""
    webhooks = "".join(
        f"  {label:<40}{url}/webhooks/{name}/webhook\n"
        for label, name, cls in (
            ("Slack Events API (Request URL):", "slack", "GuardedSlackInput"),
            ("WeChat Official Account (server URL):", "wechat", "WeChatInput"),
        )
        if cls in channels
    )
    return f"""
Larkspur support bot is up (the servers answered after {seconds:.0f} s).

  Chat in a browser:                      {url}/chat/
{webhooks}  Talk to it over REST:
    curl -s {url}/webhooks/rest/webhook -H 'Content-Type: application/json' \\
         -d '{{"sender": "me", "message": "where is my order #123456"}}'
  Or in the terminal (in another shell):  make shell
  socket.io (web widget):                 {url}/socket.io
  Action server:                          {settings.action_url}/health
  Conversation log (what was said):       .venv/actions/bin/python -m bot logs tail
  Conversation log health:                {settings.action_url}/health/log
  Agent desk (people take over here):     {settings.desk_url}/
    first agent, in another shell:        .venv/actions/bin/python -m bot agents add YOURNAME --role admin
  Order system (demo store, its API):     {settings.store_url}/docs
    demo orders to try (number, e-mail):  store/README.md
  Logs:                                   {settings.var_dir / 'logs'}
  Drafter:                                {_drafter_note(settings)}
{_training_note(training)}
Press Ctrl-C to stop the servers.
"""


def run_forever(settings: Settings) -> int:
    """What `make run` does after the environments and the model exist."""
    check_ports_free(settings)
    log_dir = settings.var_dir / "logs"
    if settings.generator == "auto":  # before the action server, which would wait for it
        from bot.generation.choice import use_shipped

        print("Drafts on (BOT_GENERATOR=auto): checking for a drafter trained on today's data...", flush=True)
        shipped = use_shipped(settings)
        if shipped:
            print(f"  {shipped}", flush=True)
    print("Starting the store service, the action server, the Rasa server and the agent desk "
          "(about 30 s)...", flush=True)
    started = time.monotonic()
    servers = [start_store_service(settings, log_dir)] if settings.store_demo else []
    servers += [
        start_action_server(settings, log_dir),
        start_rasa_server(
            settings, log_dir, settings.root / "endpoints.yml", settings.credentials
        ),
        start_desk(settings, log_dir),
    ]
    training = None
    stopping = {"now": False}

    def on_signal(signum, frame):  # noqa: ARG001
        stopping["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        wait_until_healthy(servers)
        # Only now: training from the start would slow the servers' own start past their limits.
        training = start_background_training(settings, log_dir)
        print(banner(settings, time.monotonic() - started, training), flush=True)
        while not stopping["now"]:
            if training is not None and training.process.poll() is not None:
                done = training.process.returncode == 0
                print(f"Background training of the {' and the '.join(training.targets)} "
                      + ("finished: the bot uses them from its next message." if done else
                         f"failed (exit {training.process.returncode}); see {training.log_path}"),
                      flush=True)
                training = None
            for server in servers:
                if server.process.poll() is not None:
                    print(
                        f"The {server.name} stopped (exit code {server.process.returncode}); "
                        f"its log ends with:\n{server.log_tail()}",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.5)
        print("\nStopping...", flush=True)
        return 0
    except StartupError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        if training is not None and training.process.poll() is None:
            os.killpg(training.process.pid, signal.SIGTERM)
        stop(servers)
        print("The servers stopped.", flush=True)
