"""Two small in-memory caches the channels need: recently seen ids, and a value that expires.

Slack and WeChat deliver the same event again when they think we missed it (Slack up to 3 retries
over about 5 minutes, WeChat 3 within 15 seconds). `Recent` remembers what was already handled for
long enough to recognise those retries, and stays bounded so a flood of ids cannot grow it without
limit. `Expiring` holds WeChat's access token and says when to fetch a new one, a margin before the
token actually expires.

Both live in the Rasa server process (one Sanic worker), so memory is the right home: a restart
forgets them, and the worst a restart can cause is one duplicate reply to a retry.
Standard library only; the clock is a parameter so the tests need not sleep.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable, Generic, Hashable, Optional, TypeVar

V = TypeVar("V")
Clock = Callable[[], float]


class Recent(Generic[V]):
    """A mapping of recently seen keys to values, each forgotten `ttl_s` after it was added."""

    def __init__(self, ttl_s: float, max_items: int = 10_000, clock: Clock = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self._clock = clock
        self._items: "OrderedDict[Hashable, tuple]" = OrderedDict()  # key -> (added_at, value)

    def get(self, key: Hashable) -> Optional[V]:
        self._forget_old()
        item = self._items.get(key)
        return None if item is None else item[1]

    def add(self, key: Hashable, value: V) -> bool:
        """Remembers `key`; False (and nothing changes) when it was already there."""
        self._forget_old()
        if key in self._items:
            return False
        self._items[key] = (self._clock(), value)
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)
        return True

    def __len__(self) -> int:
        self._forget_old()
        return len(self._items)

    def _forget_old(self) -> None:
        oldest_kept = self._clock() - self.ttl_s
        while self._items:
            added_at, _ = next(iter(self._items.values()))
            if added_at > oldest_kept:
                break
            self._items.popitem(last=False)


class Expiring(Generic[V]):
    """One value with a lifetime; `current()` is None once it is within `margin_s` of expiring."""

    def __init__(self, margin_s: float, clock: Clock = time.monotonic) -> None:
        self.margin_s = margin_s
        self._clock = clock
        self._value: Optional[V] = None
        self._refresh_at = 0.0

    def set(self, value: V, lifetime_s: float) -> None:
        # A lifetime shorter than the margin still gets half of it, so a short-lived value is used
        # at least once instead of being fetched again on every call.
        margin = min(self.margin_s, lifetime_s / 2)
        self._value = value
        self._refresh_at = self._clock() + lifetime_s - margin

    def current(self) -> Optional[V]:
        if self._value is None or self._clock() >= self._refresh_at:
            return None
        return self._value

    def clear(self) -> None:
        self._value = None
