"""The same service on PostgreSQL, when one is at hand: STORE_TEST_PG_URL=postgresql://... names
an empty database the test may fill (skipped otherwise; every other test uses SQLite)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.store.conftest import MARCH

PG_URL = os.environ.get("STORE_TEST_PG_URL")
pytestmark = pytest.mark.skipif(not PG_URL, reason="set STORE_TEST_PG_URL to run against PostgreSQL")


def test_changes_apply_once_on_postgres():
    from fastapi.testclient import TestClient

    from store import db, seed
    from store.app import create_app
    from store.settings import StoreSettings

    settings = StoreSettings(db_url=PG_URL, secret="k", now=MARCH)
    engine = db.make_engine(settings)
    seed.seed_database(engine, MARCH, settings.seed)
    engine.dispose()
    app = create_app(settings)
    try:
        with TestClient(app) as client:

            def login(number: str, email: str) -> dict:
                body = client.post("/v1/verify", json={"order_number": number, "email": email}).json()
                return {"Authorization": f"Bearer {body['token']}"}

            same_key = {**login("100016", "ben.okafor@example.com"), "Idempotency-Key": "pg-same"}
            with ThreadPoolExecutor(max_workers=6) as pool:
                answers = list(
                    pool.map(lambda _: client.post("/v1/orders/100016/cancel", headers=same_key), range(6))
                )
            assert sorted(a.json()["replayed"] for a in answers) == [False] + [True] * 5

            headers = login("100002", "ben.okafor@example.com")
            with ThreadPoolExecutor(max_workers=6) as pool:
                answers = list(
                    pool.map(
                        lambda i: client.post(
                            "/v1/orders/100002/cancel", headers={**headers, "Idempotency-Key": f"k{i}"}
                        ),
                        range(6),
                    )
                )
            assert sorted(a.status_code for a in answers) == [200] + [409] * 5

            # New rows after the seed's explicit ids: the sequences were moved past them.
            returned = client.post(
                "/v1/orders/100004/returns",
                headers={**login("100004", "dev.patel@example.com"), "Idempotency-Key": "pg-return"},
            )
            assert returned.status_code == 200
    finally:
        app.state.engine.dispose()
