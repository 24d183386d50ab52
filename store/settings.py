"""The store service's one settings object, built from ``STORE_*`` environment variables.

    STORE_DB_URL      sqlite:///<repo>/var/store.db by default; PostgreSQL as
                      postgresql://user:password@host:5432/store (read with psycopg 3)
    STORE_NOW         a fixed clock for tests and demos, ISO-8601 with an offset
                      (2025-03-18T11:00:00-04:00); unset: the real clock
    STORE_SECRET      the key access tokens are signed with; unset: a random key made once in
                      <var dir>/store_secret, readable by its owner only
    STORE_VAR_DIR     <repo>/var by default
    STORE_SEED        the demo data's random seed (7)
    STORE_TOKEN_MINUTES  how long an access token lives (60)

Nothing else in ``store/`` reads ``os.environ``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Optional

ROOT = Path(__file__).resolve().parent.parent
SECRET_FILE = "store_secret"


class SettingsError(ValueError):
    """A setting cannot be used: raised at start-up, with the variable's name."""


def normalize_db_url(url: str) -> str:
    """The URL with its driver made explicit: a bare ``postgresql://`` (or ``postgres://``) is
    read with psycopg 3, the driver this program's environment carries."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


def parse_now(raw: str) -> datetime:
    """A fixed clock from ISO-8601; without an offset the instant would be ambiguous, so refused."""
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise SettingsError(f"STORE_NOW must be an ISO-8601 date and time, got {raw!r}") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise SettingsError(f"STORE_NOW needs a UTC offset (like -04:00 or Z), got {raw!r}")
    return value


def _read_or_make_secret(var_dir: Path) -> str:
    """The key in ``var_dir/store_secret``, made on first use. Written aside and linked into place
    so two processes starting together end up with the same key."""
    path = var_dir / SECRET_FILE
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".{SECRET_FILE}.{os.getpid()}")
        descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # another process won the race: its key is the key
        finally:
            aside.unlink()
    key = path.read_text().strip()
    if not key:
        raise SettingsError(f"{path} is empty: delete it to make a new key, or set STORE_SECRET")
    return key


@dataclass(frozen=True)
class StoreSettings:
    db_url: str
    secret: str
    var_dir: Path = ROOT / "var"
    now: Optional[datetime] = None  # a fixed clock; None means the real one
    seed: int = 7
    token_minutes: int = 60

    def __post_init__(self) -> None:
        object.__setattr__(self, "db_url", normalize_db_url(self.db_url))
        if not self.secret:
            raise SettingsError("the token key (STORE_SECRET) must not be empty")
        if self.token_minutes < 1:
            raise SettingsError("STORE_TOKEN_MINUTES must be at least 1")
        if self.now is not None and self.now.utcoffset() is None:
            raise SettingsError("a fixed clock (STORE_NOW) must carry a UTC offset")

    def __repr__(self) -> str:
        # The key stays out of logs and tracebacks.
        return (
            f"StoreSettings(db_url={self.db_url!r}, var_dir={str(self.var_dir)!r}, "
            f"now={self.now!r}, seed={self.seed}, token_minutes={self.token_minutes})"
        )

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "StoreSettings":
        """Settings from ``STORE_*`` variables; unset ones take the defaults above."""
        env = os.environ if environ is None else environ
        var_dir = Path(env.get("STORE_VAR_DIR") or ROOT / "var").expanduser().resolve()
        db_url = env.get("STORE_DB_URL") or f"sqlite:///{var_dir / 'store.db'}"
        now = parse_now(env["STORE_NOW"]) if env.get("STORE_NOW") else None
        values = {}
        for name, field in (("STORE_SEED", "seed"), ("STORE_TOKEN_MINUTES", "token_minutes")):
            if env.get(name):
                try:
                    values[field] = int(env[name])
                except ValueError:
                    raise SettingsError(f"{name} must be a whole number, got {env[name]!r}") from None
        secret = env.get("STORE_SECRET") or _read_or_make_secret(var_dir)
        return cls(db_url=db_url, secret=secret, var_dir=var_dir, now=now, **values)


@lru_cache(maxsize=1)
def get_store_settings() -> StoreSettings:
    """The process-wide settings, built once from the environment."""
    return StoreSettings.from_env()
