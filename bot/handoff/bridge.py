"""The desk's client for the Rasa server's desk bridge (bot/channels/desk_bridge.py).

An agent's reply must reach the customer through their own channel, and only the Rasa server
holds the channels (the socket.io room of a web chat, Slack's and WeChat's credentials) and the
conversation's state (paused while a person has it). The bridge takes three calls, each signed
with the shared desk key (``Settings.desk_key()``):

    await bridge.send("socketio", sender_id, "Hello, this is Ana")   # True: it went out
    await bridge.resume(sender_id, note)     # the bot answers again from the next message
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional

logger = logging.getLogger(__name__)

HEADER = "X-Desk-Key"
PATH = "/webhooks/desk"


class BridgeError(RuntimeError):
    """The reply or the hand-back did not happen; the message says why, for the agent."""


class DeskBridge:
    def __init__(self, rasa_url: str, key: str, timeout_s: float = 5.0,
                 transport: Any = None) -> None:
        import httpx  # the actions' environment; the Rasa server only imports HEADER from here

        self._client = httpx.AsyncClient(
            base_url=rasa_url.rstrip("/") + PATH, timeout=timeout_s,
            headers={HEADER: key}, transport=transport,
        )

    async def send(self, channel: str, sender_id: str, text: str) -> None:
        """Delivers ``text`` to the customer; raises BridgeError when it did not go out."""
        await self._post("/send", {"channel": channel, "sender_id": sender_id, "text": text})

    async def resume(self, channel: str, sender_id: str, note: Optional[str] = None) -> None:
        """Un-pauses the conversation in Rasa's tracker, telling the customer ``note`` first."""
        await self._post("/resume", {"channel": channel, "sender_id": sender_id, "note": note})

    async def close(self) -> None:
        await self._client.aclose()

    async def _post(self, path: str, body: Dict[str, Any]) -> None:
        import httpx

        try:
            response = await self._client.post(path, json=body)
        except httpx.HTTPError as e:
            logger.error("desk.bridge_unreachable path=%s error=%s", path, type(e).__name__)
            raise BridgeError("The bot's server did not answer; try again in a moment.") from e
        if response.status_code != 200:
            try:
                reason = response.json().get("error") or response.text
            except ValueError:
                reason = response.text
            logger.error("desk.bridge_refused path=%s status=%d", path, response.status_code)
            raise BridgeError(str(reason)[:300])
