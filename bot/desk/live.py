"""Server-sent events that keep an open conversation current in the agent's browser.

The desk and the Rasa server are separate processes that share only the database, so the desk
polls it: every ``poll_s`` it asks for transcript lines after the last one sent and for the
handoff's status, and sends what is new. A comment line every ``keepalive_s`` keeps proxies from
closing a quiet stream. The generator knows nothing of HTTP: the route gives it a ``poll``
function (the database) and an ``is_disconnected`` check (the client), and the tests drive it
directly.

    event: line     data: {"id": 42, "role": "customer", "text": "...", ...}    id: 42
    event: status   data: {"status": "claimed", "claimed_by": "Ana", ...}
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Optional, Tuple

KEEPALIVE = ": keep-alive\n\n"
POLL_S = 0.5
KEEPALIVE_S = 15.0

# What one poll returns: new lines (as JSON-ready dicts, in id order) and the handoff's status;
# None when the stream should end (the handoff was erased, the login expired).
Snapshot = Optional[Tuple[List[Dict[str, Any]], Dict[str, Any]]]


def event(name: str, data: Any, event_id: Optional[int] = None) -> str:
    """One SSE message; JSON keeps newlines out of the ``data:`` line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def conversation_events(
    poll: Callable[[int], Awaitable[Snapshot]],
    is_disconnected: Callable[[], Awaitable[bool]],
    after_id: int = 0,
    *,
    poll_s: float = POLL_S,
    keepalive_s: float = KEEPALIVE_S,
    monotonic: Callable[[], float] = time.monotonic,
) -> AsyncIterator[str]:
    """Yields SSE messages: each new line once, the status whenever it changes (and first)."""
    last_status: Optional[Dict[str, Any]] = None
    last_sent = monotonic()
    while not await is_disconnected():
        snapshot = await poll(after_id)
        if snapshot is None:
            return
        new_lines, status = snapshot
        for line in new_lines:
            after_id = max(after_id, int(line["id"]))
            last_sent = monotonic()
            yield event("line", line, line["id"])
        if status != last_status:
            last_status = status
            last_sent = monotonic()
            yield event("status", status)
        if monotonic() - last_sent >= keepalive_s:
            last_sent = monotonic()
            yield KEEPALIVE
        await asyncio.sleep(poll_s)
