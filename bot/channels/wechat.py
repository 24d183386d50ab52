"""The WeChat Official Account channel: `GET|POST /webhooks/wechat/webhook`.

WeChat's rules, and what this connector does about each:
  - The server URL is verified with a signed GET (`echostr`): answered only when the signature is
    right. Every POST is signed too; in safe mode the message is AES-encrypted and the reply must
    be. wechatpy does the checking, parsing, crypto and reply XML (`wechat_protocol.py`).
  - WeChat waits 5 seconds for the answer, then drops the connection and delivers the message
    again, 3 times in all. So each message (by MsgId) gets exactly one bot turn, whatever the
    number of deliveries. A delivery waits for that turn up to `BOT_WECHAT_REPLY_WINDOW_S` (4 s):
    in time, the answer goes back as the passive reply (a later delivery of the same message gets
    the same reply, since WeChat only delivers again when it did not take the earlier one); too
    slow, the answer is "success" at once and the reply follows through the customer-service API
    from a task on the same event loop, once (`wechat_api.py`).
  - A passive reply carries one message: an answer in several parts (or longer than WeChat's
    2048 bytes, split at paragraphs) goes through the API, in order.
  - A new follower (`subscribe`) is welcomed; voice, images and the rest get a polite "text only".

Dedup memory is the process's (one Sanic worker, as Rasa runs it). Credentials, from
credentials.deploy.yml: `token`, `app_id`, `app_secret`, and `encoding_aes_key` for safe mode.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy.crypto import WeChatCrypto

from bot import replies
from bot.channels.cache import Recent
from bot.channels import outbound
from bot.channels.guard import cleaned, record_customer, record_own, run_turn
from bot.channels.wechat_api import WeChatApi, WeChatApiError
from bot.channels.wechat_protocol import (
    SUCCESS,
    TEXT_ONLY,
    WELCOME,
    Incoming,
    Refused,
    dedup_key,
    read_message,
    render_reply,
    texts_of,
    verify_url,
)
from bot.settings import get_settings

logger = logging.getLogger(__name__)

# WeChat delivers a message at most 3 times within about 15 s; 5 minutes covers them with room.
DELIVERY_MEMORY_S = 300.0


@dataclass
class _Turn:
    """The one bot turn for a message, shared by all its deliveries."""

    task: "asyncio.Task[List[str]]"
    via_api: bool = False  # some delivery answered "success": the reply goes through the API


class WeChatInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WeChatInput":
        """Checks the credentials at start-up: a mistake here must stop the server, not a customer."""
        credentials = credentials or {}
        missing = [k for k in ("token", "app_id", "app_secret") if not credentials.get(k)]
        if missing:
            raise InvalidConfigException(
                f"WeChat needs {', '.join(missing)} in credentials.yml (from ${{WECHAT_...}} "
                f"variables); see README, 'WeChat'."
            )
        token, app_id = str(credentials["token"]), str(credentials["app_id"])
        crypto = None
        aes_key = credentials.get("encoding_aes_key")
        if aes_key:
            try:
                crypto = WeChatCrypto(token, str(aes_key), app_id)
            except Exception:  # wechatpy asserts a 32-byte key after base64
                raise InvalidConfigException(
                    "WeChat's encoding_aes_key must be the 43 characters shown on the "
                    "Official Account's Basic Configuration page"
                ) from None
        settings = get_settings()
        if not 0 < settings.wechat_reply_window_s < 5:
            raise InvalidConfigException(
                "BOT_WECHAT_REPLY_WINDOW_S must be between 0 and 5 seconds: WeChat waits 5"
            )
        api = WeChatApi(app_id, str(credentials["app_secret"]), settings.wechat_api_url)
        return cls(token, crypto, api, settings.wechat_reply_window_s)

    def __init__(
        self, token: str, crypto: Optional[WeChatCrypto], api: WeChatApi, reply_window_s: float
    ) -> None:
        self.token = token
        self.crypto = crypto
        self.api = api
        self.reply_window_s = reply_window_s
        self._turns: Recent[_Turn] = Recent(ttl_s=DELIVERY_MEMORY_S)
        self._background: Set[asyncio.Task] = set()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("wechat_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET", "POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                if request.method == "GET":
                    return response.text(verify_url(self.token, request.args))
                incoming = read_message(request.body, request.args, self.token, self.crypto)
            except Refused as e:
                logger.warning("wechat.refused status=%d reason=%s", e.status, e.reason)
                return response.text(e.reason, status=e.status)
            text = await self._answer(incoming, on_new_message)
            if text is None:
                return response.text(SUCCESS)
            return response.text(
                render_reply(incoming, text, self.crypto), content_type="application/xml"
            )

        outbound.register(self.name(), self._desk_sender)

        @webhook.listener("after_server_stop")
        async def close_api(*_: Any) -> None:
            await self.api.close()

        return webhook

    async def _answer(
        self, incoming: Incoming, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Optional[str]:
        """The passive reply for this delivery, or None to answer "success"."""
        message = incoming.message
        if message.type == "text":
            return await self._conversation(message, on_new_message)
        if message.type == "event":
            if message.event in ("subscribe", "subscribe_scan"):
                logger.info("wechat.subscribe")
                await record_own(self.name(), message.source, WELCOME, "welcome")
                return WELCOME
            return None  # unsubscribe, menu clicks, location reports...: nothing to say
        logger.info("wechat.not_text type=%s", message.type)
        await record_customer(self.name(), message.source, "", message.type)
        await record_own(self.name(), message.source, TEXT_ONLY, "text_only")
        return TEXT_ONLY

    async def _conversation(
        self, message: Any, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Optional[str]:
        key = dedup_key(message)
        turn = self._turns.get(key)
        if turn is None:
            turn = _Turn(asyncio.ensure_future(self._bot_turn(message, on_new_message)))
            self._turns.add(key, turn)
        else:
            logger.info("wechat.duplicate_msg key=%s", key)
        if turn.via_api:
            return None
        try:
            parts: Optional[List[str]] = await asyncio.wait_for(
                asyncio.shield(turn.task), self.reply_window_s
            )
        except asyncio.TimeoutError:
            parts = None
        if turn.via_api:  # another delivery gave up waiting meanwhile: the API has it
            return None
        if parts == []:  # a person has the conversation and the bot says nothing
            return None
        if parts is not None and len(parts) == 1:
            return parts[0]
        turn.via_api = True
        logger.info(
            "wechat.reply_via_api key=%s reason=%s", key, "slow" if parts is None else "parts"
        )
        self._in_background(self._send_when_ready(message.source, turn.task))
        return None

    async def _bot_turn(
        self, message: Any, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> List[str]:
        """Runs the bot once for `message`; always returns at least one text to send."""
        text = cleaned(message.content, self.name())
        if not text:
            await record_own(self.name(), message.source, replies.EMPTY_MESSAGE, "empty")
            return [replies.EMPTY_MESSAGE]
        collector = CollectingOutputChannel()
        user_message = UserMessage(
            text,
            collector,
            message.source,
            input_channel=self.name(),
            metadata={"wechat_msg_id": str(message.id)},
        )
        apology = await run_turn(on_new_message, user_message, self.name())
        parts = texts_of(collector.messages)
        if apology:  # recorded by run_turn, like every reply the collector got
            parts.append(apology)
        return parts  # empty only while a person has the conversation

    async def _desk_sender(self, openid: str, text: str, address: Optional[str]) -> None:
        """An agent's message, through the customer-service message API."""
        await self.api.send_text(openid, text)

    async def _send_when_ready(self, openid: str, task: "asyncio.Task[List[str]]") -> None:
        for part in await task:
            try:
                await self.api.send_text(openid, part)
            except WeChatApiError as e:
                logger.error("wechat.send_failed errcode=%s", e.errcode)
                return
            except Exception:
                logger.exception("wechat.send_failed")
                return
        logger.info("wechat.sent_via_api parts=%d", len(task.result()))

    def _in_background(self, coroutine: Awaitable[None]) -> None:
        # Keep a reference: the event loop holds tasks only weakly.
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
