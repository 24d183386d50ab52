"""Customers rate the bot's replies: the web chat page's 👍 / 👎 land here, in the log.

    POST /webhooks/feedback/rate   {"sender": session_id, "text": shown, "rating": 1 | -1,
                                    "comment": "optional, at most 500 characters"}

``sender`` is the widget's session id (its socket.io conversation) and ``text`` the bot message
as the page shows it (web/feedback.js). The reply is looked up among that session's own bot
lines on the socket.io channel only, so a rating can never reach another customer's
conversation, nor one on Slack whose user ids are no secret. The row is committed before the
answer: 200 means stored. Everything wrong with a request gets a 4xx with ``{"error": ...}``;
a database that does not answer in time gets a 503 and the page offers to try again.

The matching and the row itself are in bot/channels/feedback_store.py; Slack's buttons
(bot/channels/slack.py) store through ``store_rating`` too.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.feedback_store import (
    FeedbackError,
    FeedbackStore,
    Stored,
    UnknownReply,
    parse_web_rating,
)
from bot.channels.transcript import get_transcript

logger = logging.getLogger(__name__)

WEB_CHANNEL = "socketio"  # the widget's conversations: bot/channels/socketio.py
MAX_BODY_BYTES = 64 * 1024
STORE_WAIT_S = 5.0  # a customer is told to try again rather than left waiting on a locked database
# The transcript's writer commits a reply a moment after the customer saw it: a click that fast
# waits for it this long at most.
TRANSCRIPT_CATCH_UP_S = 2.0


class Ratings:
    """The store, run on threads of its own so that a slow database holds no thread the other
    channels need."""

    def __init__(self, store: FeedbackStore, wait_for_transcript: Callable[[float], Any]) -> None:
        self.store = store
        self.wait_for_transcript = wait_for_transcript
        self._threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="feedback")

    async def rate(self, channel: str, sender_id: str, rating: int,
                   comment: Optional[str] = None, *, text: Optional[str] = None,
                   message_id: Optional[str] = None) -> Stored:
        loop = asyncio.get_running_loop()
        call = functools.partial(self.store.rate, channel, sender_id, rating, comment,
                                 text=text, message_id=message_id)
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._threads, call), STORE_WAIT_S)
        except UnknownReply:
            await loop.run_in_executor(self._threads, self.wait_for_transcript,
                                       TRANSCRIPT_CATCH_UP_S)
            return await asyncio.wait_for(loop.run_in_executor(self._threads, call), STORE_WAIT_S)


_ratings: Optional[Ratings] = None


def get_ratings() -> Ratings:
    """The process's ratings, on the transcript's database, sender key and masking."""
    global _ratings
    if _ratings is None:
        transcript = get_transcript()
        _ratings = Ratings(FeedbackStore(transcript.engine, transcript.salt, transcript.mask),
                           transcript.flush)
    return _ratings


async def store_rating(channel: str, sender_id: str, rating: int, comment: Optional[str] = None,
                       *, text: Optional[str] = None,
                       message_id: Optional[str] = None) -> Stored:
    """Stores a customer's rating of one bot reply (found by ``text`` or ``message_id``)."""
    stored = await get_ratings().rate(channel, sender_id, rating, comment, text=text,
                                      message_id=message_id)
    logger.info("feedback.stored channel=%s rating=%d replaced=%s comment=%s turn_known=%s",
                channel, rating, stored.replaced, comment is not None, stored.turn_id is not None)
    return stored


class FeedbackInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "feedback"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "FeedbackInput":
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        feedback = Blueprint("customer_feedback", __name__)

        @feedback.route("/rate", methods=["POST"])
        async def rate(request: Request) -> HTTPResponse:
            content_type = (request.headers.get("content-type") or "").split(";")[0].strip()
            if content_type != "application/json":
                return _refused("send the rating as JSON (Content-Type: application/json)", 415)
            if len(request.body or b"") > MAX_BODY_BYTES:
                return _refused(f"the body must be at most {MAX_BODY_BYTES} bytes", 413)
            try:
                body = request.json
            except Exception:  # sanic raises InvalidUsage: the client sent no valid JSON
                body = None
            try:
                rating = parse_web_rating(body)
                stored = await store_rating(WEB_CHANNEL, rating.sender, rating.rating,
                                            rating.comment, text=rating.text)
            except FeedbackError as e:
                return _refused(str(e), e.status)
            except asyncio.TimeoutError:
                logger.error("feedback.not_stored error=timeout")
                return response.json({"error": "the rating could not be stored in time; "
                                               "please try again"}, status=503)
            except Exception as e:
                logger.error("feedback.not_stored error=%s", type(e).__name__)
                return response.json({"error": "the rating could not be stored; please try "
                                               "again"}, status=503)
            return response.json({"stored": True, "rating": rating.rating,
                                  "replaced": stored.replaced})

        return feedback


def _refused(message: str, status: int) -> HTTPResponse:
    logger.info("feedback.refused status=%d", status)
    return response.json({"error": message}, status=status)
