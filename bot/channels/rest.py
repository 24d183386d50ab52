"""The REST channel, hardened: `POST /webhooks/rest/webhook` with `{"sender": ..., "message": ...}`.

Rasa's own `RestInput` answers a JSON array body with HTTP 500, passes any text size to NLU, and
returns an empty list (silence) when processing fails. This subclass keeps its URL and its reply
format and adds, in one place:
  - request validation: a JSON object with a string `message` and a string or number `sender`,
    else HTTP 400 with a message that says what is wrong;
  - text cleaning: control characters removed, length capped (`BOT_MAX_MESSAGE_CHARS`);
  - an empty message gets a prompt to type something, without a bot turn;
  - a deadline (`BOT_REPLY_DEADLINE_S`) and a fallback reply when the bot fails or is too slow
    (bot/channels/guard.py, which also writes the transcript). A person cannot push a message
    to this channel: while one has the conversation, the customer is told it is with the team.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, List, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import replies
from bot.channels.guard import record_own, run_turn
from bot.nlu.cleaning import clean_text
from bot.settings import get_settings

logger = logging.getLogger(__name__)

MAX_SENDER_CHARS = 128


class RequestError(ValueError):
    """The request body is not something we can answer; becomes an HTTP 400."""


def parse_body(body: Any) -> Dict[str, Any]:
    """Validates a decoded JSON body; returns sender, message and metadata or raises RequestError."""
    if not isinstance(body, dict):
        raise RequestError("the body must be a JSON object like {\"sender\": \"id\", \"message\": \"hi\"}")
    message = body.get("message")
    if message is None:
        message = ""
    if not isinstance(message, str):
        raise RequestError("'message' must be a string")
    sender = body.get("sender", "default")
    if isinstance(sender, bool) or not isinstance(sender, (str, int)):
        raise RequestError("'sender' must be a string")
    sender = str(sender).strip()
    if not sender or len(sender) > MAX_SENDER_CHARS:
        raise RequestError(f"'sender' must be 1 to {MAX_SENDER_CHARS} characters")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise RequestError("'metadata' must be a JSON object")
    return {"sender": sender, "message": message, "metadata": metadata}


class GuardedRestInput(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        webhook = Blueprint("guarded_rest_webhook", __name__)
        settings = get_settings()

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = request.json
            except Exception:  # sanic raises InvalidUsage; any decoding failure is the client's
                return response.json({"error": "the body is not valid JSON"}, status=400)
            try:
                fields = parse_body(body)
            except RequestError as e:
                return response.json({"error": str(e)}, status=400)

            sender = fields["sender"]
            cleaned = clean_text(fields["message"], settings.max_message_chars)
            if not cleaned.text:
                await record_own(self.name(), sender, replies.EMPTY_MESSAGE, "empty")
                return response.json([{"recipient_id": sender, "text": replies.EMPTY_MESSAGE}])
            if cleaned.truncated:
                logger.warning(
                    "rest.message_truncated sender_chars=%d kept_chars=%d",
                    len(fields["message"]),
                    len(cleaned.text),
                )

            collector = CollectingOutputChannel()
            message = UserMessage(
                cleaned.text,
                collector,
                sender,
                input_channel=self.name(),
                metadata=fields["metadata"],
            )
            apology = await run_turn(on_new_message, message, self.name())
            if apology:  # recorded by run_turn with the replies
                return response.json(_fallback(sender, collector.messages, apology))
            return response.json(collector.messages)

        return webhook


def _fallback(sender: str, sent: List[Dict[str, Any]], text: str) -> List[Dict[str, Any]]:
    """What the bot had already said, plus an apology that offers a person."""
    return list(sent) + [{"recipient_id": sender, "text": text}]
