"""Starts the real action server and the real Rasa server for the integration tests.

They run on their own ports (so a `make run` in another terminal is not disturbed), through the
same launcher `make run` uses, once with Rasa's tracker store and the conversation log in
temporary SQLite files and once both in a real PostgreSQL database when BOT_TEST_POSTGRES_URL is
set (.ci/run sets it). There the action server reaches the log through a TCP relay in this process
(LogRelay), so that a test can take the log's database away from it and bring it back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import yaml

from bot import launcher
from bot.settings import ROOT, Settings

PORTS = {"sqlite": (15005, 15055, 15060), "postgresql": (15105, 15155, 15160)}  # Rasa, actions, store


class LogRelay:
    """A TCP relay between the action server and the log's PostgreSQL server. ``cut`` drops its
    connections and refuses new ones, as a database server that went away; ``restore`` listens
    again on the same port."""

    def __init__(self, target: Tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._lock = threading.Lock()
        self._open: List[socket.socket] = []
        self._listener: Optional[socket.socket] = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.2)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        listener.close()
        with self._lock:
            connections, self._open = self._open, []
        for connection in connections:
            _close(connection)

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            client.settimeout(None)
            with self._lock:
                self._open += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        _close(source)
        _close(sink)


def _close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()


@dataclasses.dataclass
class Bot:
    settings: Settings
    servers: List[launcher.Server]
    log_read_url: str  # the conversation log, for the tests (the action server may go through a relay)
    relay: Optional[LogRelay] = None
    restarts: int = 0

    @property
    def db_kind(self) -> str:
        return "postgresql" if self.relay else "sqlite"

    def sender_hash(self, sender: str) -> str:
        from bot.storage.privacy import hash_sender

        return hash_sender(sender, self.settings.sender_salt(create=False))

    def log_health(self) -> Tuple[int, Dict[str, Any]]:
        """GET /health/log on the action server: (status, body)."""
        try:
            with urllib.request.urlopen(f"{self.settings.action_url}/health/log", timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def wait_for_log_health(self, ok: bool, timeout_s: float = 30) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            status, health = self.log_health()
            if health["ok"] is ok and (status == 200) is ok:
                return health
            if time.monotonic() > deadline:
                raise AssertionError(f"log health did not become ok={ok}: {status} {health}")
            time.sleep(0.25)

    def log_query(self, sql: str, **params: Any) -> List[Dict[str, Any]]:
        from sqlalchemy import text

        from bot.storage.db import make_engine

        engine = make_engine(self.log_read_url)
        try:
            with engine.connect() as connection:
                return [dict(r._mapping) for r in connection.execute(text(sql), params)]
        finally:
            engine.dispose()

    def logged_turns(self, sender: str) -> List[Dict[str, Any]]:
        """The sender's turns in the conversation log, in order, with what was retrieved."""
        return self.log_query(
            "SELECT t.* FROM turns t JOIN conversations c ON c.id = t.conversation_id "
            "WHERE c.sender_hash = :h ORDER BY c.id, t.seq", h=self.sender_hash(sender)
        )

    @contextlib.contextmanager
    def log_database_down(self) -> Iterator[None]:
        """The log's database unavailable to the action server: PostgreSQL cut off at the relay;
        the SQLite file write-locked by another process, as a long transaction would."""
        if self.relay is not None:
            self.relay.cut()
            try:
                yield
            finally:
                self.relay.restore()
            return
        locker = sqlite3.connect(self.log_read_url.removeprefix("sqlite:///"), isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            locker.execute("ROLLBACK")
            locker.close()

    def kill_action_server(self) -> None:
        """kill -9 of the action server: its main process and its worker, no chance to clean up."""
        server = self.servers[0]
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
        launcher.stop([server])

    def restart_action_server(self) -> float:
        """Starts the action server again, the way the launcher does; seconds until healthy."""
        self.restarts += 1
        started = time.monotonic()
        server = launcher.start_action_server(
            self.settings, self.settings.var_dir / f"logs-restart-{self.restarts}"
        )
        self.servers[0] = server
        launcher.wait_until_healthy([server], timeout_s=180)
        return time.monotonic() - started

    def stop_store(self) -> None:
        """kill -9 of the store service, as a shop system that went away."""
        server = self.servers[2]
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
        launcher.stop([server])

    def start_store(self) -> None:
        self.restarts += 1
        server = launcher.start_store_service(
            self.settings, self.settings.var_dir / f"logs-store-{self.restarts}"
        )
        self.servers[2] = server
        launcher.wait_until_healthy([server], timeout_s=60)

    def store_query(self, sql: str, **params: Any) -> List[Dict[str, Any]]:
        """Rows from the demo store's own database (what the shop really did)."""
        path = self.settings.var_dir / "store.db"
        with contextlib.closing(sqlite3.connect(path)) as connection:
            connection.row_factory = sqlite3.Row
            return [dict(r) for r in connection.execute(sql, params)]

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


def _fresh_postgres_log(url: str) -> None:
    """The conversation log's tables of earlier runs dropped (the action server creates them)."""
    from bot.storage import migrate

    if migrate.current(url) is not None:
        migrate.downgrade(url, "base")


def _through(relay: LogRelay, url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(host="127.0.0.1", port=relay.port).render_as_string(
        hide_password=False
    )


def _for_sqlalchemy2(url: str) -> str:
    """Rasa (SQLAlchemy 1.4) talks to PostgreSQL through psycopg2, our tests through psycopg 3."""
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def bot(request, tmp_path_factory) -> Bot:
    settings = Settings.from_env({})
    if not settings.rasa_model_path.exists():
        pytest.fail(f"no trained Rasa model at {settings.rasa_model_path}: run `make train` first")
    var = tmp_path_factory.mktemp(f"var-{request.param}")
    relay = None
    if request.param == "postgresql":
        tracker_url = _fresh_postgres_tracker()
        # The log in the tracker's database: its tables and version table have names of their own.
        log_read_url = tracker_url
        _fresh_postgres_log(log_read_url)
        from sqlalchemy.engine import make_url

        parsed = make_url(log_read_url)
        relay = LogRelay((parsed.host or "127.0.0.1", parsed.port or 5432))
        log_url = _through(relay, log_read_url)
    else:
        tracker_url = f"sqlite:///{var / 'tracker.db'}"
        log_url = log_read_url = f"sqlite:///{var / 'conversations.db'}"
    rasa_port, action_port, store_port = PORTS[request.param]
    settings = dataclasses.replace(
        settings,
        var_dir=var,
        rasa_port=rasa_port,
        action_port=action_port,
        store_port=store_port,
        store_url="",  # the demo store on store_port
        tracker_url=tracker_url,
        log_url=log_url,
        # Extractive replies, so the expected texts do not depend on whether this machine has a
        # fine-tuned drafter (CI has none); tests/unit/test_generation_pipeline.py drafts for real.
        generator="off",
        desk_port=rasa_port + 65,  # checked free, though no desk runs here
        desk_hours="always",  # hand-over replies that do not depend on the hour
    )
    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text())
    endpoints["action_endpoint"]["url"] = f"{settings.action_url}/webhook"
    endpoints_path = var / "endpoints.yml"
    endpoints_path.write_text(yaml.safe_dump(endpoints))

    launcher.check_ports_free(settings)
    # The demo store keeps its SQLite database under this run's var/ (STORE_VAR_DIR, set by the
    # launcher), seeded at its start with dates relative to now.
    servers = [
        launcher.start_action_server(settings, var / "logs"),
        launcher.start_rasa_server(settings, var / "logs", endpoints_path, ROOT / "credentials.yml"),
        launcher.start_store_service(settings, var / "logs"),
    ]
    try:
        launcher.wait_until_healthy(servers, timeout_s=240)
        yield Bot(settings, servers, log_read_url, relay)
    finally:
        launcher.stop(servers)
        if relay is not None:
            relay.cut()


def tracker_events(settings: Settings, sender: str) -> List[dict]:
    """The events Rasa stored for `sender` in the SQL tracker store (SQLite or PostgreSQL);
    none before the first conversation created the table."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(_for_sqlalchemy2(settings.tracker_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sqlalchemy.text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"),
                {"s": sender},
            ).fetchall()
    except sqlalchemy.exc.OperationalError:
        return []
    finally:
        engine.dispose()
    return [json.loads(r[0]) for r in rows]
