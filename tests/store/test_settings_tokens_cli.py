"""Settings from the environment, access tokens, the clock, the database URL and the CLI."""

from __future__ import annotations

import json
import stat
from datetime import datetime, timedelta, timezone

import pytest

from store import clock, tokens
from store.settings import SettingsError, StoreSettings, normalize_db_url
from tests.store.conftest import MARCH


def test_defaults_and_secret_file(tmp_path):
    settings = StoreSettings.from_env({"STORE_VAR_DIR": str(tmp_path)})
    assert settings.db_url == f"sqlite:///{tmp_path / 'store.db'}"
    assert (settings.now, settings.seed, settings.token_minutes) == (None, 7, 60)
    secret_file = tmp_path / "store_secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert settings.secret == secret_file.read_text().strip() and len(settings.secret) == 64
    # Made once: the next start reads the same key.
    assert StoreSettings.from_env({"STORE_VAR_DIR": str(tmp_path)}).secret == settings.secret
    assert settings.secret not in repr(settings)


def test_values_from_the_environment(tmp_path):
    settings = StoreSettings.from_env(
        {
            "STORE_VAR_DIR": str(tmp_path),
            "STORE_SECRET": "s3cret",
            "STORE_SEED": "11",
            "STORE_NOW": "2025-03-18T11:00:00-04:00",
            "STORE_DB_URL": "postgresql://shop:pw@db:5432/store",
        }
    )
    assert settings.secret == "s3cret" and not (tmp_path / "store_secret").exists()
    assert settings.seed == 11 and settings.now == MARCH
    assert settings.db_url == "postgresql+psycopg://shop:pw@db:5432/store"


def test_postgres_urls_are_read_with_psycopg():
    assert normalize_db_url("postgres://a@h/db") == "postgresql+psycopg://a@h/db"
    assert normalize_db_url("postgresql+psycopg://a@h/db") == "postgresql+psycopg://a@h/db"
    assert normalize_db_url("sqlite:///x.db") == "sqlite:///x.db"
    from store import db

    engine = db.make_engine(StoreSettings(db_url="postgresql://a:b@localhost:1/db", secret="k"))
    assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")  # nothing connects yet


@pytest.mark.parametrize(
    "env",
    [
        {"STORE_NOW": "2025-03-18T11:00:00"},
        {"STORE_NOW": "next tuesday"},
        {"STORE_SEED": "seven"},
        {"STORE_TOKEN_MINUTES": "0"},
    ],
)
def test_bad_settings_stop_start_up(tmp_path, env):
    with pytest.raises(SettingsError):
        StoreSettings.from_env({"STORE_VAR_DIR": str(tmp_path), "STORE_SECRET": "k", **env})


def test_clock_fixed_or_real():
    assert clock.now(StoreSettings(db_url="sqlite://", secret="k", now=MARCH)) == MARCH
    real = clock.now(StoreSettings(db_url="sqlite://", secret="k"))
    assert real.tzinfo is not None and abs(real - datetime.now(timezone.utc)) < timedelta(seconds=5)


def test_tokens_are_scoped_signed_and_expiring():
    token, expires = tokens.issue("key", "100001", MARCH)
    assert expires == MARCH + timedelta(minutes=60)
    assert tokens.is_valid_for("key", token, "100001", MARCH + timedelta(minutes=59))
    assert not tokens.is_valid_for("key", token, "100001", MARCH + timedelta(minutes=60))
    assert not tokens.is_valid_for("key", token, "100002", MARCH)
    assert not tokens.is_valid_for("other key", token, "100001", MARCH)
    number, expiry, signature = token.split(".")
    assert not tokens.is_valid_for("key", f"100002.{expiry}.{signature}", "100002", MARCH)
    assert not tokens.is_valid_for("key", f"{number}.{int(expiry) + 3600}.{signature}", "100001", MARCH)
    assert tokens.order_number_of("key", "not-a-token", MARCH) is None


def test_cli_writes_the_openapi_document(tmp_path):
    from store.__main__ import main

    out = tmp_path / "docs" / "store-openapi.json"
    assert main(["openapi", "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["info"]["title"] == "Larkspur store service"
    assert "/v1/orders/{number}/cancel" in document["paths"]


def test_cli_seed_refuses_to_overwrite_without_force(tmp_path, monkeypatch, seeded_db):
    import shutil

    from store.__main__ import main
    from store.settings import get_store_settings

    shutil.copy(seeded_db, tmp_path / "store.db")
    monkeypatch.setenv("STORE_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("STORE_SECRET", "k")
    monkeypatch.setenv("STORE_NOW", MARCH.isoformat())
    monkeypatch.delenv("STORE_DB_URL", raising=False)
    get_store_settings.cache_clear()
    try:
        assert main(["seed"]) == 1
    finally:
        get_store_settings.cache_clear()
