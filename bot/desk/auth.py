"""The desk's people: Argon2id password hashes, logins with a lockout, and sessions.

A login is a random token in the agent's cookie; the database keeps only its SHA-256, so a copy of
the database opens no one's session. After ``max_failures`` wrong passwords in a row an account
refuses every login, the right password included, for ``lock_s``: guessing a password then takes
years, and the owner learns from the page why they cannot get in. An unknown username costs the
same Argon2 check as a wrong password, so the timing does not tell which usernames exist.

Functions take a SQLAlchemy ``Session`` (the caller owns the transaction) and the time ``now``, so
tests can run the clock forward.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import List, Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.storage.models import AGENT_ROLES, Agent, DeskSession

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024  # Argon2 takes any length; a megabyte "password" is only a load
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class AgentError(ValueError):
    """An agent cannot be created as asked; the message says why, for the person adding one."""


@dataclass(frozen=True)
class Login:
    """Who is logged in, read once per request (plain values: usable after the session closes)."""

    session_id: int
    agent_id: int
    username: str
    display_name: str
    role: str
    csrf_token: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class LoginResult:
    login: Optional[Login] = None
    token: Optional[str] = None  # for the cookie; only its hash is stored
    locked_until: Optional[datetime] = None  # set when the account refuses logins for now


@dataclass(frozen=True)
class AgentRow:
    id: int
    username: str
    display_name: str
    role: str
    active: bool
    locked_until: Optional[datetime]
    last_login_at: Optional[datetime]
    created_at: datetime


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    """Argon2id with argon2-cffi's recommended parameters (RFC 9106's second choice)."""
    return PasswordHasher()


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    """What an unknown username's password is checked against: same cost, never matches."""
    return hasher().hash(secrets.token_hex(16))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def username_hash(username: str) -> str:
    """For the logs: which account, without writing what someone typed in the username box."""
    return hashlib.sha256(username.encode("utf-8")).hexdigest()[:12]


def normalize_username(username: str) -> str:
    return username.strip().lower()


def check_new_agent(username: str, password: str, role: str) -> str:
    """The username to store; raises AgentError when the username, password or role won't do."""
    username = normalize_username(username)
    if not USERNAME.match(username):
        raise AgentError("the username must be 1 to 64 letters, digits, dots, dashes or "
                         "underscores, starting with a letter or digit")
    if role not in AGENT_ROLES:
        raise AgentError(f"the role must be one of {', '.join(AGENT_ROLES)}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AgentError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AgentError(f"the password must have at most {MAX_PASSWORD_CHARS} characters")
    return username


def create_agent(session: Session, username: str, password: str, *, display_name: str = "",
                 role: str = "agent", now: datetime) -> Agent:
    """Adds an agent (Argon2id hash of ``password``); AgentError when invalid or taken."""
    username = check_new_agent(username, password, role)
    if session.scalar(select(Agent.id).where(Agent.username == username)) is not None:
        raise AgentError(f"there is already an agent called {username}")
    agent = Agent(username=username, display_name=(display_name.strip() or username)[:100],
                  password_hash=hasher().hash(password), role=role, active=True,
                  failed_logins=0, created_at=now)
    session.add(agent)
    session.flush()
    return agent


def list_agents(session: Session) -> List[AgentRow]:
    return [
        AgentRow(a.id, a.username, a.display_name, a.role, a.active, a.locked_until,
                 a.last_login_at, a.created_at)
        for a in session.scalars(select(Agent).order_by(Agent.username))
    ]


def find_agent(session: Session, username: str) -> Optional[Agent]:
    return session.scalars(
        select(Agent).where(Agent.username == normalize_username(username))
    ).first()


def locked_until(agent: Optional[Agent], now: datetime) -> Optional[datetime]:
    """When the account takes logins again; None when it takes them now."""
    if agent is not None and agent.locked_until is not None and agent.locked_until > now:
        return agent.locked_until
    return None


def password_matches(agent: Optional[Agent], password: str) -> bool:
    """The Argon2 check; an unknown or inactive agent costs the same and never matches."""
    stored = agent.password_hash if agent is not None and agent.active else _decoy_hash()
    try:
        hasher().verify(stored, password[:MAX_PASSWORD_CHARS])
    except (VerificationError, InvalidHashError):
        return False
    return agent is not None and agent.active


def record_failure(session: Session, agent_id: int, *, now: datetime, max_failures: int,
                   lock_s: float) -> Optional[datetime]:
    """Counts a wrong password (atomically, two tabs may fail at once); locks the account at
    ``max_failures`` in a row. Returns the lock's end when this failure locked it."""
    session.execute(update(Agent).where(Agent.id == agent_id)
                    .values(failed_logins=Agent.failed_logins + 1))
    failures = session.scalar(select(Agent.failed_logins).where(Agent.id == agent_id)) or 0
    if failures < max_failures:
        return None
    until = now + timedelta(seconds=lock_s)
    # The count starts again, so after the lock the owner has the full number of tries.
    session.execute(update(Agent).where(Agent.id == agent_id)
                    .values(failed_logins=0, locked_until=until))
    return until


def start_session(session: Session, agent: Agent, *, now: datetime, hours: float) -> LoginResult:
    """A new login for ``agent``: resets the failure count, drops its expired sessions."""
    agent.failed_logins = 0
    agent.locked_until = None
    agent.last_login_at = now
    session.execute(delete(DeskSession).where(DeskSession.agent_id == agent.id,
                                              DeskSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    row = DeskSession(token_hash=token_hash(token), agent_id=agent.id,
                      csrf_token=secrets.token_hex(32), created_at=now,
                      expires_at=now + timedelta(hours=hours))
    session.add(row)
    session.flush()
    login = Login(row.id, agent.id, agent.username, agent.display_name, agent.role,
                  row.csrf_token)
    return LoginResult(login=login, token=token)


def rehash_if_needed(agent: Agent, password: str) -> None:
    """A hash made with weaker parameters than today's is replaced at the next good login."""
    if hasher().check_needs_rehash(agent.password_hash):
        agent.password_hash = hasher().hash(password)


def find_session(session: Session, token: str, now: datetime) -> Optional[Login]:
    """The login behind a cookie's token; None when unknown, expired or the agent is inactive."""
    row = session.execute(
        select(DeskSession, Agent).join(Agent, Agent.id == DeskSession.agent_id).where(
            DeskSession.token_hash == token_hash(token), DeskSession.expires_at > now,
            Agent.active.is_(True),
        )
    ).first()
    if row is None:
        return None
    desk_session, agent = row
    return Login(desk_session.id, agent.id, agent.username, agent.display_name, agent.role,
                 desk_session.csrf_token)


def end_session(session: Session, session_id: int) -> None:
    session.execute(delete(DeskSession).where(DeskSession.id == session_id))
