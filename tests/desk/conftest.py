"""Fixtures of the agent desk's tests: a migrated SQLite file per test, the real app on it with a
bridge that records what it was asked (the real bridge is tested with the Rasa server), a small
real suggester, a clock the tests move, and logged-in browsers.

Passwords are hashed with real Argon2id at a lower cost than the desk's, so that the many logins
of these tests stay quick; the cost is a parameter of the hash, not of the code under test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import List, Optional, Tuple

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from bot.answer import Answer
from bot.desk import auth
from bot.desk.app import create_app
from bot.desk.web import writing
from bot.handoff.bridge import BridgeError
from bot.settings import Settings
from bot.storage import migrate
from bot.storage.db import session_factory
from bot.storage.models import (
    Conversation,
    Draft,
    Handoff,
    Retrieval,
    TranscriptLine,
    Turn,
)

PASSWORD = "correct horse battery"
START = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class Clock:
    """The desk's time: fixed, moved forward by the tests."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class FakeBridge:
    """Records the calls the desk makes to the Rasa server's bridge; fails when told to."""

    fail: Optional[str] = None
    sent: List[Tuple[str, str, str]] = field(default_factory=list)
    resumed: List[Tuple[str, str, Optional[str]]] = field(default_factory=list)

    async def send(self, channel: str, sender_id: str, text: str) -> None:
        if self.fail:
            raise BridgeError(self.fail)
        self.sent.append((channel, sender_id, text))

    async def resume(self, channel: str, sender_id: str, note: Optional[str] = None) -> None:
        if self.fail:
            raise BridgeError(self.fail)
        self.resumed.append((channel, sender_id, note))


def small_suggester(text: str, previous: Optional[str]) -> Answer:
    """A tiny answer policy over two facts: quotes one when a word matches, else no answer."""
    if "refund" in text.lower():
        return Answer(
            "Refunds reach your account within 5 business days.", "extractive", False,
            sources=[{"article_id": "refunds", "passage_id": "refunds#1",
                      "url": "https://help.example/refunds", "score": 0.82, "rank": 1}],
        )
    if "deliver" in text.lower():
        return Answer("Standard delivery takes 3 to 5 days.", "drafted", False,
                      sources=[{"article_id": "delivery", "passage_id": "delivery#2", "url": "",
                                "score": 0.77, "rank": 1}])
    return Answer("Sorry, I couldn't find that.", "no_answer", True, sources=[])


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch):
    monkeypatch.setattr(auth, "hasher", lambda: CHEAP_HASHER)
    auth._decoy_hash.cache_clear()
    yield
    auth._decoy_hash.cache_clear()


@pytest.fixture
def db_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'conversations.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def sessions(db_url):
    factory = session_factory(db_url)
    yield factory
    factory.kw["bind"].dispose()


@pytest.fixture
def settings(tmp_path, db_url):
    return Settings(var_dir=tmp_path, log_url=db_url, desk_secret="test-desk-key",
                    log_salt="test-salt", desk_login_max_failures=10, desk_login_lock_s=900.0)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def bridge():
    return FakeBridge()


@pytest.fixture
def app(settings, sessions, bridge, clock):
    return create_app(settings, sessions=sessions, bridge=bridge, suggester=small_suggester,
                      clock=clock, login_delay_s=0.0)


@pytest.fixture
def add_agent(sessions, clock):
    def add(username: str, role: str = "agent", name: str = "") -> int:
        with writing(sessions) as session:
            return auth.create_agent(session, username, PASSWORD, display_name=name or
                                     username.title(), role=role, now=clock()).id
    return add


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def log_in(client: TestClient, username: str, password: str = PASSWORD):
    form = client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_of(form.text)},
                       follow_redirects=False)


@pytest.fixture
def browser(app, add_agent):
    """browser("ana") -> a TestClient logged in as a new agent ana (role given as second arg)."""
    clients = []

    def make(username: str, role: str = "agent") -> TestClient:
        add_agent(username, role)
        client = TestClient(app, base_url="http://testserver")
        clients.append(client)
        assert log_in(client, username).status_code == 303
        return client

    yield make
    for client in clients:
        client.close()


def page_csrf(client: TestClient, path: str = "/") -> str:
    return csrf_of(client.get(path).text)


@pytest.fixture
def add_handoff(sessions, clock):
    def add(*, channel: str = "socketio", sender_id: str = "sid-1", sender_hash: str = "h" * 64,
            reason: str = "asked", summary: str = "track_order; order 100004 verified",
            status: str = "queued", queued_ago_s: int = 180) -> int:
        with writing(sessions) as session:
            handoff = Handoff(channel=channel, sender_id=sender_id, sender_hash=sender_hash,
                              reason=reason, summary=summary, details={"order": "100004"},
                              status=status, queued_at=clock() - timedelta(seconds=queued_ago_s))
            session.add(handoff)
            session.flush()
            return handoff.id
    return add


@pytest.fixture
def add_line(sessions, clock):
    def add(role: str, text: str, *, channel: str = "socketio", sender_hash: str = "h" * 64,
            message_id: Optional[str] = None) -> int:
        with writing(sessions) as session:
            line = TranscriptLine(channel=channel, sender_hash=sender_hash, role=role, text=text,
                                  message_id=message_id, created_at=clock())
            session.add(line)
            session.flush()
            return line.id
    return add


@pytest.fixture
def add_turn(sessions, clock):
    """A logged turn for a customer message, with its retrievals and a draft."""
    def add(message_id: str, *, intent: str = "ask_refund", channel: str = "socketio",
            sender_hash: str = "h" * 64, article_id: str = "refunds") -> int:
        with writing(sessions) as session:
            conversation = Conversation(channel=channel, sender_hash=sender_hash,
                                        started_at=clock(), last_active_at=clock())
            session.add(conversation)
            session.flush()
            turn = Turn(record_id=message_id[:36], conversation_id=conversation.id, seq=1,
                        user_text="refund?", intent=intent, confidence=0.91, entities=[],
                        bot_reply="...", message_id=message_id, created_at=clock())
            turn.retrievals = [Retrieval(article_id=article_id, passage_id=f"{article_id}#1",
                                         score=0.8123, rank=1)]
            turn.drafts = [Draft(generator_run="run-1", prompt_hash="p" * 64, draft_text="x",
                                 status="rejected", failed_check="novel_words",
                                 created_at=clock())]
            session.add(turn)
            session.flush()
            return turn.id
    return add
