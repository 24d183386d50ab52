"""Logging in and out, the lockout after wrong passwords, and `python -m bot agents`."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.storage.models import Agent, DeskSession
from tests.desk.conftest import PASSWORD, csrf_of, log_in, page_csrf


def test_login_opens_the_queue_and_logout_ends_the_session(app, add_agent, sessions):
    add_agent("ana", name="Ana Lima")
    client = TestClient(app)
    response = log_in(client, "ANA ")  # usernames are case-insensitive and trimmed
    assert response.status_code == 303 and response.headers["location"] == "/"
    page = client.get("/")
    assert page.status_code == 200 and "Ana Lima" in page.text
    with sessions() as session:
        stored = session.scalars(select(DeskSession.token_hash)).all()
    assert len(stored) == 1 and client.cookies["desk_session"] not in stored  # only its hash
    response = client.post("/logout", data={"csrf_token": page_csrf(client)},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    with sessions() as session:
        assert session.scalars(select(DeskSession)).all() == []
    assert client.get("/", follow_redirects=False).status_code == 303


def test_wrong_password_and_unknown_user_get_the_same_answer(app, add_agent):
    add_agent("ana")
    wrong = log_in(TestClient(app), "ana", "not the password")
    unknown = log_in(TestClient(app), "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong username or password." in wrong.text
    assert "Wrong username or password." in unknown.text


def test_ten_wrong_passwords_lock_the_account_until_the_lock_time_passes(app, add_agent, clock):
    add_agent("ana")
    client = TestClient(app)
    for attempt in range(9):
        assert log_in(client, "ana", f"wrong password {attempt}").status_code == 401
    tenth = log_in(client, "ana", "wrong password 10")
    assert tenth.status_code == 429 and "Please wait 15 min" in tenth.text
    eleventh = log_in(client, "ana", PASSWORD)  # the right password, refused
    assert eleventh.status_code == 429 and "wait" in eleventh.text
    assert "desk_session" not in client.cookies
    clock.advance(seconds=899)
    assert log_in(client, "ana", PASSWORD).status_code == 429
    clock.advance(seconds=2)
    assert log_in(client, "ana", PASSWORD).status_code == 303
    assert client.get("/").status_code == 200


def test_a_good_login_resets_the_count_of_failures(app, add_agent, sessions):
    add_agent("ana")
    client = TestClient(app)
    for _ in range(9):
        log_in(client, "ana", "wrong password!")
    assert log_in(client, "ana").status_code == 303
    with sessions() as session:
        assert session.scalar(select(Agent.failed_logins)) == 0


def test_failed_logins_wait_before_answering(settings, sessions, bridge, clock, add_agent):
    import time

    from bot.desk.app import create_app

    app = create_app(settings, sessions=sessions, bridge=bridge, suggester=lambda t, p: None,
                     clock=clock, login_delay_s=0.2)
    client = TestClient(app)
    form = client.get("/login")
    started = time.perf_counter()
    client.post("/login", data={"username": "nobody", "password": "whatever12",
                                "csrf_token": csrf_of(form.text)})
    assert time.perf_counter() - started >= 0.2


def test_sessions_expire(app, add_agent, clock, settings):
    add_agent("ana")
    client = TestClient(app)
    log_in(client, "ana")
    clock.advance(hours=settings.desk_session_hours, seconds=1)
    assert client.get("/queue.json").status_code == 401


def test_agents_add_and_list_from_the_command_line(tmp_path, monkeypatch, capsys):
    from bot.cli import main
    from bot.settings import get_settings
    from bot.storage.db import session_factory

    url = f"sqlite:///{tmp_path / 'cli' / 'log.db'}"
    monkeypatch.setenv("BOT_LOG_URL", url)
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("BOT_DESK_PASSWORD", "a long enough secret")
    get_settings.cache_clear()
    try:
        assert main(["agents", "add", "Ana", "--name", "Ana Lima", "--role", "admin"]) == 0
        assert main(["agents", "add", "ana"]) == 1  # taken
        monkeypatch.setenv("BOT_DESK_PASSWORD", "short")
        assert main(["agents", "add", "bo"]) == 1
        assert main(["agents", "list"]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr()
    assert "Added admin ana" in out.out and "Ana Lima" in out.out
    assert "already an agent called ana" in out.err and "at least 10 characters" in out.err
    sessions = session_factory(url)
    with sessions() as session:
        agents = session.scalars(select(Agent)).all()
    sessions.kw["bind"].dispose()
    assert [(a.username, a.role, a.display_name) for a in agents] == [("ana", "admin", "Ana Lima")]
    assert agents[0].password_hash.startswith("$argon2id$")
    from argon2 import PasswordHasher

    assert PasswordHasher().verify(agents[0].password_hash, "a long enough secret")
