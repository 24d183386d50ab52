"""Rasa's tracker store in SQL, configured by one URL (`BOT_TRACKER_URL`).

Default: a SQLite file under var/ (var/tracker.db). PostgreSQL: set
BOT_TRACKER_URL=postgresql://user:password@host:5432/dbname. endpoints.yml names this class.
Runs inside the Rasa server (SQLAlchemy 1.4 there).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from sqlalchemy.engine import make_url

from bot.settings import get_settings

logger = logging.getLogger(__name__)


class UrlSQLTrackerStore(SQLTrackerStore):
    def __init__(
        self,
        domain: Optional[Domain] = None,
        event_broker: Optional[EventBroker] = None,
        url: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("host", None)  # Rasa passes the endpoint's `url` as `host`; we use our own
        raw = url or get_settings().tracker_url
        parsed = make_url(raw)
        if parsed.drivername.startswith("sqlite") and parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(
            domain=domain,
            dialect=parsed.drivername,
            host=parsed.host,
            port=parsed.port,
            db=parsed.database,
            username=parsed.username,
            password=parsed.password,
            event_broker=event_broker,
            query=dict(parsed.query),
            **kwargs,
        )
        logger.info(
            "tracker_store.connected dialect=%s database=%s", parsed.drivername, parsed.database
        )
