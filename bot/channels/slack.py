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
    arrive in pieces), with Slack's three control characters escaped, to `BOT_SLACK_API_URL`;
  - puts "Helpful" / "Not helpful" buttons under each of the bot's answers (not under its
    apologies, nor under an agent's messages). A click comes back as an interactive
    `block_actions` payload, on the same URL when it is also the app's Interactivity Request
    URL; it is checked like every request, stored as the customer's rating of that answer
    (bot/channels/feedback.py) instead of reaching Rasa as a message, and acknowledged once
    committed; the buttons then make way for "Thanks for your feedback".
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.slack import SlackBot, SlackInput
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels import outbound
from bot.channels.cache import Recent
from bot.channels.feedback import store_rating
from bot.channels.feedback_store import FeedbackError
from bot.channels.guard import cleaned, run_turn
from bot.settings import get_settings

logger = logging.getLogger(__name__)

# Slack retries after about 1 s, 1 min and 5 min; an hour is ample, and 10,000 ids is a few MB.
EVENT_MEMORY_S = 3600.0
# Message subtypes that are a person writing; the others (channel_join, bot_message, ...) are not.
PERSON_SUBTYPES = {None, "thread_broadcast", "file_share", "me_message"}
# The rating buttons' action ids and what each means (the log's +1 / -1).
FEEDBACK_ACTIONS = {"feedback_up": 1, "feedback_down": -1}
FEEDBACK_BLOCK = "feedback"
# Slack refuses a section block whose text is longer; such an answer goes out without buttons.
MAX_SECTION_CHARS = 3000


def slack_text(text: str) -> str:
    """Escapes &, < and >, which Slack reads as markup (links, mentions like <!channel>)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def answer_blocks(text: str, message_id: str) -> List[Dict[str, Any]]:
    """An answer (already escaped) with the two rating buttons under it; each button carries the
    id of the customer message the answer replies to, which is how the rating finds it."""
    button = {"type": "button", "value": message_id}
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": FEEDBACK_BLOCK, "elements": [
            {**button, "action_id": "feedback_up",
             "text": {"type": "plain_text", "text": ":+1: Helpful", "emoji": True}},
            {**button, "action_id": "feedback_down",
             "text": {"type": "plain_text", "text": ":-1: Not helpful", "emoji": True}},
        ]},
    ]


def thanks_blocks(blocks: Any, rating: int) -> List[Dict[str, Any]]:
    """The rated message's blocks with the buttons replaced by a thank-you."""
    thanks = {"type": "context", "elements": [{"type": "mrkdwn", "text": (
        ":+1:" if rating > 0 else ":-1:") + " Thanks for your feedback"}]}
    kept = [b for b in blocks or [] if isinstance(b, dict) and b.get("block_id") != FEEDBACK_BLOCK]
    return kept + [thanks]


@dataclass(frozen=True)
class RatingClick:
    """A click on one of the rating buttons, from Slack's `block_actions` payload."""

    user_id: str
    rating: int
    message_id: str
    channel_id: Optional[str]
    message_ts: Optional[str]
    thread_ts: Optional[str]
    blocks: List[Any]
    text: str


def rating_click(payload: Any) -> Optional[RatingClick]:
    """The click when ``payload`` is a press of a rating button; None for anything else (other
    buttons go to Rasa as before)."""
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        return None
    actions = payload.get("actions")
    action = actions[0] if isinstance(actions, list) and actions else None
    if not isinstance(action, dict) or action.get("action_id") not in FEEDBACK_ACTIONS:
        return None
    user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
    channel = payload.get("channel") if isinstance(payload.get("channel"), dict) else {}
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    user_id, message_id = user.get("id"), action.get("value")
    if not (isinstance(user_id, str) and user_id and isinstance(message_id, str) and message_id):
        return None
    blocks = message.get("blocks")
    return RatingClick(
        user_id=user_id,
        rating=FEEDBACK_ACTIONS[action["action_id"]],
        message_id=message_id[:64],
        channel_id=channel.get("id"),
        message_ts=message.get("ts"),
        thread_ts=message.get("thread_ts", message.get("ts")),
        blocks=blocks if isinstance(blocks, list) else [],
        text=message.get("text") if isinstance(message.get("text"), str) else "",
    )


def form_payload(request: Request) -> Any:
    """The JSON in an interactive request's `payload` form field; None for any other request."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip()
    if request.method != "POST" or content_type != "application/x-www-form-urlencoded":
        return None
    try:
        return json.loads(request.form.get("payload") or "null")
    except ValueError:
        return None


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
        # Set for a bot turn: the customer message its answers reply to, which their rating
        # buttons carry. Apologies and agents' messages go out through send_text_message alone.
        self.rated_message_id: Optional[str] = None

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        text = message.get("text")
        plain = not (message.get("buttons") or message.get("quick_replies"))
        if not (self.rated_message_id and plain and isinstance(text, str) and text.strip()):
            return await super().send_response(recipient_id, message)
        escaped = slack_text(text.strip())
        if len(escaped) > MAX_SECTION_CHARS:
            await self.send_text_message(recipient_id, text)
        else:
            await self._post_message(channel=self.slack_channel or recipient_id, as_user=True,
                                     text=escaped,
                                     blocks=answer_blocks(escaped, self.rated_message_id))
        rest = {k: v for k, v in message.items() if k != "text"}
        await super().send_response(recipient_id, rest)  # an image or attachment beside it

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

        @webhook.middleware("request")
        async def rating(request: Request) -> Optional[HTTPResponse]:
            click = rating_click(form_payload(request))
            if click is None:
                return None
            if not self.is_request_from_slack_authentic(request):
                return response.text("bad signature", status=400)
            return await self._store_rating(click)

        return webhook

    async def _store_rating(self, click: RatingClick) -> HTTPResponse:
        """Stores the click as the customer's rating; answers Slack once it is committed."""
        # The conversation the answer belongs to, named as Rasa names it for this user.
        sender_id = self._get_conversation_id(click.user_id, click.channel_id, click.thread_ts)
        try:
            await store_rating(self.name(), sender_id or click.user_id, click.rating,
                               message_id=click.message_id)
        except FeedbackError as e:
            # Someone else's answer in a shared channel, or one no longer in the log: nothing to
            # store, and nothing Slack should deliver again.
            logger.info("slack.rating_refused status=%d", e.status)
            return response.text("")
        except Exception as e:
            logger.error("slack.rating_not_stored error=%s", type(e).__name__)
            return response.text("the rating could not be stored", status=503)
        if click.channel_id and click.message_ts:
            task = asyncio.create_task(self._thank(click))
            self._background_tasks.add(task)
            task.add_done_callback(self._background_tasks.discard)
        return response.text("")

    async def _thank(self, click: RatingClick) -> None:
        """The buttons under the rated answer make way for a thank-you (after the answer to
        Slack: its 3 seconds are for storing the rating)."""
        try:
            await SlackReplies(self.slack_token, proxy=self.proxy).client.chat_update(
                channel=click.channel_id, ts=click.message_ts, text=click.text,
                blocks=thanks_blocks(click.blocks, click.rating))
        except Exception as e:
            logger.warning("slack.thanks_failed error=%s", type(e).__name__)

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
            if isinstance(output, SlackReplies):
                output.rated_message_id = message.message_id
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
