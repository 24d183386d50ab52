"""WeChat's customer-service message API, for answers that miss the 5-second passive-reply window.

Every call needs an access token (from `/cgi-bin/token`, valid about 2 hours, and each new one
invalidates the last after a few minutes). The token is cached and fetched again a margin before
it expires; when WeChat still says it is expired or invalid (another service fetched a new one),
it is fetched again once and the message sent again. Calls are async (aiohttp) on the Rasa
server's event loop. The AppSecret travels only in the token request and is never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Dict, Optional

import aiohttp

from bot.channels.cache import Expiring

logger = logging.getLogger(__name__)

# 40001 invalid credential, 40014 invalid access_token, 42001 access_token expired.
TOKEN_REJECTED = {40001, 40014, 42001}
REFRESH_MARGIN_S = 300.0


class WeChatApiError(RuntimeError):
    def __init__(self, errcode: Any, errmsg: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode


class WeChatApi:
    def __init__(self, app_id: str, app_secret: str, base_url: str, timeout_s: float = 10.0) -> None:
        self.app_id = app_id
        self._app_secret = app_secret
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._token: Expiring[str] = Expiring(margin_s=REFRESH_MARGIN_S)
        self._token_lock: Optional[asyncio.Lock] = None
        self._session: Optional[aiohttp.ClientSession] = None

    async def send_text(self, openid: str, text: str) -> None:
        """Sends one text message to a follower; raises WeChatApiError when WeChat refuses it."""
        payload = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        for attempt in (1, 2):
            token = await self._access_token()
            answer = await self._call(
                "POST", "/cgi-bin/message/custom/send", params={"access_token": token}, body=payload
            )
            errcode = answer.get("errcode", 0)
            if errcode == 0:
                return
            if errcode in TOKEN_REJECTED and attempt == 1:
                logger.warning("wechat.token_rejected errcode=%s", errcode)
                self._token.clear()
                continue
            raise WeChatApiError(errcode, str(answer.get("errmsg", "")))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _access_token(self) -> str:
        token = self._token.current()
        if token:
            return token
        if self._token_lock is None:
            self._token_lock = asyncio.Lock()
        async with self._token_lock:  # one fetch, however many sends are waiting for it
            token = self._token.current()
            if token:
                return token
            answer = await self._call(
                "GET",
                "/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": self.app_id,
                    "secret": self._app_secret,
                },
            )
            token = answer.get("access_token")
            if not isinstance(token, str) or not token:
                raise WeChatApiError(answer.get("errcode"), str(answer.get("errmsg", "no token")))
            lifetime_s = float(answer.get("expires_in") or 7200)
            self._token.set(token, lifetime_s)
            logger.info("wechat.token_fetched expires_in=%.0f", lifetime_s)
            return token

    async def _call(
        self, method: str, path: str, params: Dict[str, str], body: Optional[Dict] = None
    ) -> Dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        # WeChat shows \u escapes literally in some clients: send UTF-8 as it is.
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            async with self._session.request(
                method,
                self.base_url + path,
                params=params,
                data=data,
                headers={"Content-Type": "application/json; charset=utf-8"} if data else None,
            ) as reply:
                answer = await reply.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:
            # The exception's text may hold the URL, and the token URL holds the secret.
            raise WeChatApiError("http", type(e).__name__) from None
        if not isinstance(answer, dict):
            raise WeChatApiError("http", "the answer is not a JSON object")
        return answer
