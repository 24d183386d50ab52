"""One engine and one session factory for the conversation log, from a URL.

    sqlite:///var/conversations.db                        the default: a file, no server, no driver
    postgresql://user:password@host:5432/larkspur          PostgreSQL through psycopg (version 3)

SQLite is set up for a server that writes while people read: WAL (readers never block the writer),
foreign keys on (SQLite leaves them off), a busy timeout instead of an immediate "database is
locked", full sync (a committed turn survives a power cut), and write transactions that take the
write lock when they begin, so two writers never read the same "next seq".

Nothing happens at import time; nothing connects until the first query.
"""

from __future__ import annotations

from typing import Any, Union

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, create_engine, make_url
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_BUSY_TIMEOUT_MS = 5000
DEFAULT_CONNECT_TIMEOUT_S = 5

# Session(...).connection(execution_options=WRITE) begins SQLite transactions with BEGIN IMMEDIATE.
WRITE = {"sqlite_begin": "IMMEDIATE"}


def normalize_url(url: Union[str, URL]) -> URL:
    """The URL with its driver made explicit: a bare ``postgresql://`` means psycopg (3).

    The Rasa environment reads the same ``postgresql://`` URL with psycopg2; here it is psycopg.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def safe_url(url: Union[str, URL]) -> str:
    """The URL for logs and messages: the password replaced by ***."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(
    url: Union[str, URL],
    *,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    connect_timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S,
    **kwargs: Any,
) -> Engine:
    """An engine for ``url``; SQLite files get WAL, foreign keys, busy timeout and full sync.

    ``hide_parameters`` keeps customers' text out of error messages and logs. The parent folder
    of a SQLite file is not created here: the caller decides where data may live.
    """
    parsed = normalize_url(url)
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, **kwargs)
        _set_up_sqlite(engine, busy_timeout_ms)
        return engine
    if parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)  # a restarted server costs one retry, not an error
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("connect_timeout", connect_timeout_s)
        try:
            return create_engine(parsed, connect_args=connect_args, **kwargs)
        except ImportError as e:
            raise ImportError(
                f"{safe_url(parsed)} needs the PostgreSQL driver {parsed.get_driver_name()}: "
                f"pip install 'psycopg[binary]' into the action server's environment ({e})"
            ) from e
    return create_engine(parsed, **kwargs)


def _set_up_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, say when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"sqlite_begin must be DEFERRED, IMMEDIATE or EXCLUSIVE, not {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")


def session_factory(engine_or_url: Union[Engine, str, URL]) -> "sessionmaker[Session]":
    """The session factory the conversation log uses; objects stay readable after commit."""
    engine = engine_or_url if isinstance(engine_or_url, Engine) else make_engine(engine_or_url)
    return sessionmaker(bind=engine, expire_on_commit=False)
