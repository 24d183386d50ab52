"""Slack, through Rasa's own `SlackInput`, with the gaps that lose or duplicate messages closed.

Slack signs every request (`v0` HMAC-SHA256 of `v0:timestamp:body` with the app's signing secret;
Rasa checks it and refuses timestamps more than 5 minutes away) and expects an answer within 3
seconds, else it delivers the event again, up to 3 times, with `X-Slack-Retry-Num` and
`X-Slack-Retry-Reason`. Rasa acknowledges at once and answers from a background task, but it
drops a retry only when the reason is `http_timeout` and does not remember events: a retry for any
other reason runs the bot a second time and the customer gets two answers. This subclass:
  - remembers each `event_id` it handled for longer than Slack keeps retrying, and acknowledges a
    repeat without a second turn, whatever the retry reason; a retry of an event it never saw (the
    first delivery did not reach us) is answered normally;
  - answers the URL-verification challenge in the JSON form Slack documents;
  - ignores the bot's own messages and message subtypes that are not someone writing (joins,
    edits, bot posts), besides Rasa's check for `bot_id`;
  - cleans and caps the text before the turn, and replies with an apology when the turn fails or
    runs past `BOT_REPLY_DEADLINE_S`;
  - posts each bot message as one Slack message (Rasa splits at blank lines, so one answer would
    arrive in pieces), with Slack's three control characters escaped, to `BOT_SLACK_API_URL`.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.slack import SlackBot, SlackInput
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels import outbound
from bot.channels.cache import Recent
from bot.channels.guard import cleaned, run_turn
from bot.settings import get_settings

logger = logging.getLogger(__name__)

# Slack retries after about 1 s, 1 min and 5 min; an hour is ample, and 10,000 ids is a few MB.
EVENT_MEMORY_S = 3600.0
# Message subtypes that are a person writing; the others (channel_join, bot_message, ...) are not.
PERSON_SUBTYPES = {None, "thread_broadcast", "file_share", "me_message"}


def slack_text(text: str) -> str:
    """Escapes &, < and >, which Slack reads as markup (links, mentions like <!channel>)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def event_id(request: Request) -> Optional[str]:
    """The Events API's id for this delivery's event; None for interactive (form) payloads."""
    if request.headers.get("content-type") != "application/json":
        return None
    body = request.json
    value = body.get("event_id") if isinstance(body, dict) else None
    return value if isinstance(value, str) and value else None


class SlackReplies(SlackBot):
    """Rasa's Slack output, posting to `BOT_SLACK_API_URL`, one Slack message per bot message."""

    def __init__(
        self,
        token: Text,
        slack_channel: Optional[Text] = None,
        thread_id: Optional[Text] = None,
        proxy: Optional[Text] = None,
    ) -> None:
        super().__init__(token, slack_channel, thread_id, proxy)
        self.client = AsyncWebClient(token, proxy=proxy, base_url=get_settings().slack_api_url)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self._post_message(
            channel=self.slack_channel or recipient_id, as_user=True, text=slack_text(text.strip())
        )


class GuardedSlackInput(SlackInput):
    @classmethod
    def name(cls) -> Text:
        return "slack"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        if not credentials or not credentials.get("slack_token"):
            raise InvalidConfigException(
                "Slack needs `slack_token` in credentials.yml (the app's Bot User OAuth Token, "
                "xoxb-..., from ${SLACK_BOT_TOKEN}); see README, 'Slack'."
            )
        return super().from_credentials(credentials)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Retries are told apart by event_id below, whatever their reason.
        self.errors_ignore_retry = ()
        self._handled_events: Recent[bool] = Recent(ttl_s=EVENT_MEMORY_S)

    @staticmethod
    def _is_user_message(slack_event: Dict[Text, Any]) -> bool:
        if not SlackInput._is_user_message(slack_event):
            return False
        event = slack_event["event"]
        if event.get("subtype") not in PERSON_SUBTYPES:
            return False
        own_ids = {
            a.get("user_id") for a in slack_event.get("authorizations") or [] if a.get("is_bot")
        }
        return event.get("user") not in own_ids

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = super().blueprint(on_new_message)
        outbound.register(self.name(), self._desk_sender)

        @webhook.middleware("request")
        async def url_verification(request: Request) -> Optional[HTTPResponse]:
            # Rasa answers with the challenge as a bare JSON string, which is none of the three
            # forms Slack documents (plain text, form, or {"challenge": ...}).
            if request.method != "POST" or request.headers.get("content-type") != "application/json":
                return None
            body = request.json
            if not isinstance(body, dict) or body.get("type") != "url_verification":
                return None
            if not self.is_request_from_slack_authentic(request):
                return response.text("bad signature", status=400)
            logger.info("slack.url_verified")
            return response.json({"challenge": body.get("challenge")})

        return webhook

    async def process_message(
        self,
        request: Request,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        text: Text,
        sender_id: Optional[Text],
        metadata: Optional[Dict],
    ) -> Any:
        delivery = event_id(request)
        if delivery and not self._handled_events.add(delivery, True):
            logger.info(
                "slack.duplicate_event event_id=%s retry_num=%s retry_reason=%s",
                delivery,
                request.headers.get(self.retry_num_header),
                request.headers.get(self.retry_reason_header),
            )
            return response.text("", headers={"X-Slack-No-Retry": "1"})
        text = cleaned(text, self.name())
        if not text:
            return response.text("")
        return await super().process_message(
            request, self._answering(on_new_message), text, sender_id, metadata
        )

    def _answering(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Callable[[UserMessage], Awaitable[None]]:
        """The bot turn, with an apology posted when it fails or is too slow."""

        async def turn(message: UserMessage) -> None:
            output = message.output_channel  # run_turn wraps it to record the bot's replies
            apology = await run_turn(on_new_message, message, self.name())
            if apology:  # recorded by run_turn
                try:
                    await output.send_text_message(message.sender_id, apology)
                except Exception:
                    logger.exception("slack.send_failed")

        return turn

    async def _desk_sender(self, sender_id: str, text: str, address: Optional[str]) -> None:
        """An agent's message, posted where the customer last wrote (their DM or channel)."""
        await self.get_output_channel(address).send_text_message(sender_id, text)

    def get_output_channel(
        self, channel: Optional[Text] = None, thread_id: Optional[Text] = None
    ) -> OutputChannel:
        return SlackReplies(self.slack_token, channel or self.slack_channel, thread_id, self.proxy)
