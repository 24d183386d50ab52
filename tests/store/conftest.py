"""Fixtures for the store service's tests: fixed clocks, a seeded database made once per
session and copied for every test that writes, and a client on the real app."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

ET = ZoneInfo("America/New_York")
# A Tuesday morning in mid-March, ordinary in every way: no holiday near, not peak season.
MARCH = datetime(2025, 3, 18, 11, 0, tzinfo=ET)
# Between Christmas and New Year: deliveries from Nov 15 on are still returnable until Jan 31.
DECEMBER = datetime(2025, 12, 30, 10, 0, tzinfo=ET)

# The README's demo table, as a customer would type the details.
DEMO_EMAIL = {
    "100001": "ava.lind@example.com",
    "100002": "ben.okafor@example.com",
    "100003": "chloe.martin@example.com",
    "100004": "dev.patel@example.com",
    "100005": "farah.haddad@example.com",
    "100006": "emma.rossi@example.com",
    "100007": "gabriel.tremblay@example.com",
    "100008": "hana.kobayashi@example.com",
    "100009": "isaac.brennan@example.com",
    "100010": "julia.santos@example.com",
    "100011": "kofi.mensah@example.com",
    "100012": "lena.fischer@example.com",
    "100013": "lena.fischer@example.com",
    "100014": "maya.collins@example.com",
    "100015": "noah.becker@example.com",
    "100016": "ben.okafor@example.com",
}


def make_settings(folder: Path, now: datetime = MARCH):
    from store.settings import StoreSettings

    return StoreSettings(
        db_url=f"sqlite:///{folder / 'store.db'}", secret="test-secret", var_dir=folder, now=now
    )


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory) -> Path:
    """The demo data on the March clock, built once; tests copy it (or only read it)."""
    from store import db, seed

    folder = tmp_path_factory.mktemp("seeded")
    settings = make_settings(folder)
    engine = db.make_engine(settings)
    seed.seed_database(engine, MARCH, settings.seed)
    engine.dispose()  # closes the last connection: SQLite folds the WAL back into the file
    return folder / "store.db"


@pytest.fixture
def store_settings(tmp_path, seeded_db):
    shutil.copy(seeded_db, tmp_path / "store.db")
    return make_settings(tmp_path)


@pytest.fixture
def app(store_settings):
    from store.app import create_app

    app = create_app(store_settings)
    yield app
    app.state.engine.dispose()


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        yield client


@pytest.fixture
def set_clock(app):
    """Moves the app's fixed clock: set_clock(datetime)."""

    def move(now: datetime) -> None:
        app.state.settings = dataclasses.replace(app.state.settings, now=now)

    return move


@pytest.fixture
def login(client):
    """Bearer headers for a demo order, verified with its e-mail as a customer would."""

    def headers(number: str) -> dict:
        response = client.post("/v1/verify", json={"order_number": number, "email": DEMO_EMAIL[number]})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}

    return headers
