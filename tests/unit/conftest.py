"""Fixtures of the unit tests: a database per test, SQLite always, and PostgreSQL again when
BOT_TEST_POSTGRES_URL is set (postgresql://user:password@host:5432/db, psycopg installed); each
PostgreSQL test gets a schema of its own, dropped afterwards."""

from __future__ import annotations

import uuid

import pytest

from bot.storage import migrate
from bot.storage.db import make_engine, normalize_url, session_factory
from bot.storage.log import ConversationLog
from tests.unit.storage_helpers import POSTGRES_URL, SALT


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A URL to an empty database: a SQLite file, or a fresh schema in BOT_TEST_POSTGRES_URL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'conversations.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("BOT_TEST_POSTGRES_URL is not set")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail("BOT_TEST_POSTGRES_URL is set but psycopg is not installed "
                    "(pip install 'psycopg[binary]')")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = normalize_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def engines():
    """Engines made by a test, disposed after it (PostgreSQL counts connections)."""
    made = []

    def make(url, **kwargs):
        engine = make_engine(url, **kwargs)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.dispose()


@pytest.fixture
def migrated_url(db_url):
    migrate.upgrade(db_url)
    return db_url


@pytest.fixture
def engine(migrated_url, engines):
    return engines(migrated_url)


@pytest.fixture
def log(engine):
    return ConversationLog(session_factory(engine), salt=SALT)
