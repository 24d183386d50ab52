"""The bot's order client and actions against the real store app (in-process, through httpx's ASGI
transport), seeded on the store tests' fixed March clock."""

import httpx
import pytest

from tests.store.conftest import DEMO_EMAIL, MARCH, app, seeded_db, store_settings  # noqa: F401


@pytest.fixture
def backend(app):  # noqa: F811
    from bot.orders.http import HttpOrderBackend

    return HttpOrderBackend("http://store.test", transport=httpx.ASGITransport(app=app))


@pytest.fixture
def use_backend(backend, monkeypatch):
    """The actions' composition root hands out this backend."""
    from bot import services

    monkeypatch.setattr(services, "_order_backend", backend)
    return backend
