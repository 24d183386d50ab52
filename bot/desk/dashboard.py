"""The dashboard's data: the log's figures for the last 7, 30 or 90 UTC days (up to now), per
day, with the top intents and the unanswered questions grouped by meaning: the structure of
bot/storage/report.py, which `python -m bot logs stats --json` prints under "period".

Grouping embeds the questions with the knowledge base's MiniLM (loaded once per process, and
shared with the suggester), which takes a second or more on a CPU: a report is kept for a minute
per period, and computed one at a time, so that two admins opening the page, or one switching
periods back and forth, never make the desk's two cores embed the same questions twice.
"""

from __future__ import annotations

import threading
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from bot.storage.figures import days_up_to
from bot.storage.report import period_report

PERIODS = (7, 30, 90)  # days
CACHE_S = 60.0
# Vendored at build time by `make desk-assets` (scripts/vendor-desk-assets); git-ignored.
CHART_JS = Path(__file__).resolve().parent / "static" / "vendor" / "chart.umd.js"


def charts_available() -> bool:
    return CHART_JS.is_file()


def knowledge_base_embed(settings: Settings) -> Callable[[Any], Any]:
    """The knowledge base's MiniLM (bot/services.py), loaded on the first call only."""
    def embed(texts: Any) -> Any:
        from bot import services

        return services.get_embedder(settings).encode(texts)

    return embed


class DashboardReports:
    """The report of each period, computed on demand and kept for ``ttl_s`` seconds."""

    def __init__(self, sessions: "sessionmaker[Session]", settings: Settings,
                 clock: Callable[[], datetime], ttl_s: float = CACHE_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.ttl_s = ttl_s
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._kept: Dict[Tuple[int, date], Tuple[float, Dict[str, Any]]] = {}

    def get(self, days: int) -> Dict[str, Any]:
        """The report of the last ``days`` UTC days up to now. Blocking: call it in a worker
        thread. A second caller for the same period waits for the first and reads its result."""
        now = self.clock()
        first_day, last_day = days_up_to(days, now)
        key = (days, last_day)  # a new day is a new report
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and self.monotonic() < kept[0]:
                return kept[1]
            report = period_report(self.sessions, first_day, last_day, now,
                                   embed=knowledge_base_embed(self.settings))
            self._kept = {k: v for k, v in self._kept.items() if self.monotonic() < v[0]}
            self._kept[key] = (self.monotonic() + self.ttl_s, report)
            return report


def parse_days(text: Optional[str]) -> Optional[int]:
    """The period asked for in the query string: one of PERIODS, 7 when absent, None if not."""
    if text is None or text == "":
        return PERIODS[0]
    return int(text) if text.isdigit() and int(text) in PERIODS else None
