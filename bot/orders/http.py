"""``OrderBackend`` over the store service's HTTP contract (docs/store-openapi.json).

One async client per process, a timeout on every request. Reads are tried again on a failed
connection, a time-out or a 5xx, within the caller's deadline; a state-changing call is sent again
only with the same idempotency key, so the shop applies it once however often it arrives, and
when no reply ever comes the result is read back by that key before anything is said.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional

import httpx

from bot.orders.backend import (
    Access, AccessExpired, LockedOut, NotFound, Refused, Unavailable,
)

logger = logging.getLogger(__name__)

READ_TRIES = 3
WRITE_TRIES = 2
RETRY_PAUSE_S = 0.2


class HttpOrderBackend:
    def __init__(self, base_url: str, timeout_s: float = 2.0, transport=None) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout_s, transport=transport,
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        )

    async def close(self) -> None:
        await self._client.aclose()

    # --- identity ------------------------------------------------------------------------------
    async def verify(
        self, order_number: str, email: Optional[str] = None, postcode: Optional[str] = None
    ) -> Access:
        body = {"order_number": order_number}
        if email:
            body["email"] = email
        if postcode:
            body["postcode"] = postcode
        # A failed try is counted by the shop, so only a request that never left is sent again.
        reply = await self._send("POST", "/v1/verify", json=body, retry_only_unsent=True)
        if reply.status_code == 404:
            raise NotFound()
        if reply.status_code == 429:
            retry = _detail(reply).get("retry_after_s", 900)
            raise LockedOut(float(retry))
        _raise_for_status(reply)
        return Access(order_number, reply.json()["token"])

    # --- reads ---------------------------------------------------------------------------------
    async def order(self, access: Access) -> Dict[str, Any]:
        reply = await self._send("GET", f"/v1/orders/{access.order_number}", access=access)
        _raise_for_status(reply)
        return reply.json()

    async def invoice(self, access: Access) -> Dict[str, Any]:
        reply = await self._send("GET", f"/v1/orders/{access.order_number}/invoice", access=access)
        _raise_for_status(reply)
        return reply.json()

    async def operation(self, access: Access, key: str) -> Optional[Dict[str, Any]]:
        reply = await self._send("GET", f"/v1/operations/{key}", access=access)
        if reply.status_code == 404:
            return None
        _raise_for_status(reply)
        return reply.json()

    # --- changes -------------------------------------------------------------------------------
    async def cancel(self, access: Access, key: str) -> Dict[str, Any]:
        return await self._change(access, key, f"/v1/orders/{access.order_number}/cancel", None)

    async def change_address(self, access: Access, address: str, key: str) -> Dict[str, Any]:
        path = f"/v1/orders/{access.order_number}/address"
        return await self._change(access, key, path, {"address": address})

    async def start_return(
        self, access: Access, key: str, skus: Optional[List[str]] = None
    ) -> Dict[str, Any]:
        path = f"/v1/orders/{access.order_number}/returns"
        return await self._change(access, key, path, {"skus": skus or []})

    async def _change(self, access: Access, key: str, path: str, body) -> Dict[str, Any]:
        try:
            reply = await self._send(
                "POST", path, json=body, access=access, tries=WRITE_TRIES,
                headers={"Idempotency-Key": key},
            )
        except Unavailable as e:
            if e.changed is False:
                raise
            # The request may have arrived: ask the shop what became of this key.
            try:
                earlier = await self.operation(access, key)
            except Unavailable:
                raise Unavailable(str(e), changed=None) from e
            if earlier is None:
                raise Unavailable(str(e), changed=False) from e
            logger.info("orders.read_back key=%s", key[:8])
            return earlier
        _raise_for_status(reply)
        return reply.json()

    # --- transport -----------------------------------------------------------------------------
    async def _send(
        self, method: str, path: str, *, access: Optional[Access] = None,
        tries: int = READ_TRIES, retry_only_unsent: bool = False, headers=None, json=None,
    ) -> httpx.Response:
        headers = dict(headers or {})
        if access is not None:
            headers["Authorization"] = f"Bearer {access.token}"
        sent = False  # did any try reach the server (so that a change may have happened)?
        last: Optional[Exception] = None
        for attempt in range(tries):
            if attempt:
                await asyncio.sleep(RETRY_PAUSE_S)
            try:
                reply = await self._client.request(method, path, headers=headers, json=json)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as e:
                last = e  # never reached the server
                continue
            except httpx.TransportError as e:
                last, sent = e, True
                if retry_only_unsent:
                    break
                continue
            if reply.status_code >= 500:
                last, sent = Unavailable(f"HTTP {reply.status_code}"), True
                if retry_only_unsent:
                    break
                continue
            if reply.status_code == 401 and access is not None:
                raise AccessExpired()
            return reply
        logger.warning("orders.unavailable %s %s tries=%d error=%r", method, path, tries, last)
        raise Unavailable(f"{method} {path}: {last!r}", changed=None if sent else False)


def _detail(reply: httpx.Response) -> Dict[str, Any]:
    try:
        detail = reply.json().get("detail")
    except ValueError:
        return {}
    return detail if isinstance(detail, dict) else {}


def _raise_for_status(reply: httpx.Response) -> None:
    if reply.status_code < 400:
        return
    detail = _detail(reply)
    if reply.status_code in (404, 409, 422):
        raise Refused(detail.get("code", f"http_{reply.status_code}"), detail.get("reason"), detail)
    raise Unavailable(f"HTTP {reply.status_code}", changed=False)
