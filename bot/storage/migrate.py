"""Creates and updates the conversation log's schema with Alembic, from Python, by URL.

    from bot.storage.migrate import upgrade, downgrade
    upgrade("sqlite:///var/conversations.db")          # to the newest revision
    downgrade("sqlite:///var/conversations.db", "base")  # drops every table of the log

The Alembic environment lives in bot/storage/migrations/ and the Config is built here, so no
alembic.ini is needed. The log keeps its own version table (``conversation_log_version``) so it
can share a PostgreSQL database with Rasa's tracker store or anything else that uses Alembic.

A new revision, after changing models.py:

    python -c "from bot.storage.migrate import revision; revision('sqlite:///var/x.db', 'add y')"
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from bot.storage.db import make_engine, safe_url

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "conversation_log_version"


def _config(url: str, connection: object = None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = url
    config.attributes["version_table"] = VERSION_TABLE
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _run(url: str, action: str, revision: str, **kwargs: object) -> None:
    from alembic import command

    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            getattr(command, action)(_config(url, connection), revision, **kwargs)
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Brings the database at ``url`` to ``revision`` (default: the newest)."""
    _run(url, "upgrade", revision)
    logger.info("storage.migrated url=%s to=%s", safe_url(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Takes the database at ``url`` back to ``revision``; ``"base"`` drops all the log's tables."""
    _run(url, "downgrade", revision)
    logger.info("storage.migrated url=%s to=%s", safe_url(url), revision)


def current(url: str) -> Optional[str]:
    """The revision the database at ``url`` is at; None when the log was never created there.

    Read straight from the version table: the reading commands (`logs tail`...) need not load
    Alembic, nor print its set-up messages.
    """
    from sqlalchemy import column, inspect, select, table

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(VERSION_TABLE):
                return None
            versions = table(VERSION_TABLE, column("version_num"))
            return connection.execute(select(versions.c.version_num)).scalar()
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision in bot/storage/migrations/versions/."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config("")).get_current_head()


def revision(url: str, message: str, autogenerate: bool = True) -> None:
    """Writes a new revision file comparing models.py with the database at ``url`` (developers)."""
    from alembic import command

    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            command.revision(
                _config(url, connection), message=message, autogenerate=autogenerate
            )
    finally:
        engine.dispose()
