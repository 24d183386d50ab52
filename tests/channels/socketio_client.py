"""A minimal socket.io client (Engine.IO 4, HTTP long-polling), to send the server events a
browser widget could send, malformed ones included. The test environment has no socket.io client
library; the protocol needed is a few lines: packets are text, several joined by \\x1e;
"40" connects to the default namespace, "42[...]" is an event, "2"/"3" are ping/pong.
"""

from __future__ import annotations

import json
import time
from typing import Any, List, Optional, Tuple

import requests


class PollingClient:
    def __init__(self, base_url: str) -> None:
        self.url = f"{base_url}/socket.io/"
        self.http = requests.Session()
        handshake = self._get({"EIO": "4", "transport": "polling"})
        opening = json.loads(handshake[0][1:])
        self.sid = opening["sid"]
        self._post("40")
        self._pending: List[Tuple[str, Any]] = []
        self._pending.extend(self._events(self._get(self._query())))

    def emit(self, event: str, data: Any) -> None:
        self._post("42" + json.dumps([event, data]))

    def wait(self, event: str, timeout_s: float = 20.0) -> Optional[Any]:
        """The next `event`'s payload, or None when none came within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            for i, (name, payload) in enumerate(self._pending):
                if name == event:
                    del self._pending[i]
                    return payload
            if time.monotonic() > deadline:
                return None
            self._pending.extend(self._events(self._get(self._query(), timeout=timeout_s + 30)))

    def close(self) -> None:
        try:
            self._post("41")
        finally:
            self.http.close()

    def _query(self) -> dict:
        return {"EIO": "4", "transport": "polling", "sid": self.sid}

    def _get(self, params: dict, timeout: float = 30) -> List[str]:
        reply = self.http.get(self.url, params={**params, "t": str(time.time())}, timeout=timeout)
        reply.raise_for_status()
        return reply.text.split("\x1e")

    def _post(self, packet: str) -> None:
        reply = self.http.post(self.url, params=self._query(), data=packet.encode(), timeout=30)
        reply.raise_for_status()

    def _events(self, packets: List[str]) -> List[Tuple[str, Any]]:
        events = []
        for packet in packets:
            if packet == "2":
                self._post("3")
            elif packet.startswith("42"):
                name, *args = json.loads(packet[2:])
                events.append((name, args[0] if args else None))
        return events
