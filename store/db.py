"""The store's engine and session factory, from the settings' database URL.

SQLite (the default) gets WAL, so people reading orders never wait on a writer, foreign keys
(off by default in SQLite), a busy timeout, and write transactions that take the write lock as
they begin (``write_session``): two requests that change the same order then run one after the
other instead of both reading the old state. PostgreSQL gets the same effect from the row lock
the operations take (SELECT ... FOR UPDATE) and the unique Idempotency-Key.

Nothing connects at import time.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import event
from sqlalchemy.engine import Engine, create_engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from store.models import Base
from store.settings import StoreSettings

BUSY_TIMEOUT_MS = 10_000
_WRITE = {"sqlite_begin": "IMMEDIATE"}


def make_engine(settings: StoreSettings) -> Engine:
    """An engine for ``settings.db_url``; a SQLite file's folder is made if missing."""
    url = make_url(settings.db_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, hide_parameters=True, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # SQLAlchemy, not the sqlite3 module, decides when a transaction begins (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def session_factory(engine: Engine) -> "sessionmaker[Session]":
    """Sessions whose objects stay readable after commit (views are built after the commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def create_all(engine: Engine) -> None:
    Base.metadata.create_all(engine)


def drop_all(engine: Engine) -> None:
    Base.metadata.drop_all(engine)


@contextmanager
def write_session(sessions: "sessionmaker[Session]") -> Iterator[Session]:
    """A session whose transaction holds the write lock from its first statement on SQLite (BEGIN
    IMMEDIATE); committed when the block ends, rolled back if it raises."""
    with sessions() as session:
        if session.get_bind().dialect.name == "sqlite":
            session.connection(execution_options=_WRITE)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
