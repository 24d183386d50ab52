"""What time it is for the shop: the settings' fixed clock in tests and demos, else the real one.

Every instant is timezone-aware. Business rules are read in US Eastern Time (FACTS.md: "All times
are US Eastern Time"), so dates such as "dispatched on" are taken in ``BUSINESS_TZ``.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Optional
from zoneinfo import ZoneInfo

from store.settings import StoreSettings, get_store_settings

BUSINESS_TZ = ZoneInfo("America/New_York")


def now(settings: Optional[StoreSettings] = None) -> datetime:
    """The current instant: the fixed ``STORE_NOW`` when set, else the real clock (UTC)."""
    settings = settings or get_store_settings()
    if settings.now is not None:
        return settings.now
    return datetime.now(timezone.utc)


def business_date(instant: datetime) -> date:
    """The calendar date of ``instant`` in the shop's time zone."""
    if instant.tzinfo is None:
        raise ValueError("business_date needs a timezone-aware datetime")
    return instant.astimezone(BUSINESS_TZ).date()
