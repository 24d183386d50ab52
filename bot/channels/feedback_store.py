"""Customers' ratings of the bot's replies: what a rating must look like, which reply it is
about, and the row it becomes in the conversation log's ``feedback`` table.

    store = FeedbackStore(engine, salt)
    rating = parse_web_rating({"sender": session_id, "text": shown, "rating": -1, "comment": "..."})
    stored = store.rate("socketio", rating.sender, rating.rating, rating.comment, text=rating.text)

A rating is about one bot reply the customer was shown. The web page knows only the words it
displayed, so the reply is found among that sender's own transcript lines (role ``bot``, newest
first) by its text, masked the way the transcript masks it; Slack's buttons carry the message id
itself. Either way the row keeps Rasa's id of the customer message the reply answers
(``message_id``, the key ``turns`` and ``transcript`` share) and the turn's id when the turn is
already in ``turns``. One row per rated reply and sender: rating again replaces the rating.
Ratings are +1 (helpful) and -1 (not helpful); the desk's review and dashboard read exactly that.

Runs in the Rasa server (SQLAlchemy 1.4) and in the tests (2.x), so it uses SQLAlchemy Core only,
with the columns of ``bot.storage.models.Feedback`` (tests/unit/test_feedback_store.py checks
they agree). Everything here blocks: bot/channels/feedback.py calls it from its own threads.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, select

from bot.channels.transcript import TRANSCRIPT
from bot.nlu.cleaning import clean_text
from bot.storage.privacy import hash_sender, mask_pii

HELPFUL, NOT_HELPFUL = 1, -1
RATINGS = (HELPFUL, NOT_HELPFUL)
MAX_COMMENT_CHARS = 500
MAX_TEXT_CHARS = 20_000  # far above any reply the bot sends; the widget sends it back verbatim
MAX_SENDER_CHARS = 128  # as the socket.io channel allows for a session id
# A customer rates what is on their screen: a reply further back than this is not looked for.
RECENT_LINES = 200
SOURCE = "customer"

_metadata = MetaData()
FEEDBACK = Table(
    "feedback", _metadata,
    Column("id", Integer, primary_key=True),
    Column("turn_id", Integer),
    Column("draft_id", Integer),
    Column("rating", Integer),
    Column("edited_text", Text),
    Column("message_id", String(64)),
    Column("channel", String(64)),
    Column("sender_hash", String(64)),
    Column("comment", Text),
    Column("source", String(16)),
    Column("created_at", DateTime, nullable=False),
)
TURNS = Table(
    "turns", _metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", Integer),
    Column("message_id", String(64)),
)
CONVERSATIONS = Table(
    "conversations", _metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(64)),
    Column("sender_hash", String(64)),
)


class FeedbackError(Exception):
    """A rating that cannot be stored; ``status`` is the HTTP status the channel answers."""

    status = 400


class BadFeedback(FeedbackError):
    status = 400


class UnknownReply(FeedbackError):
    status = 404

    def __init__(self) -> None:
        super().__init__("no reply of the bot to this conversation has that text")


@dataclass(frozen=True)
class WebRating:
    sender: str  # the widget's session id
    text: str  # the bot message as the page shows it
    rating: int
    comment: Optional[str]


@dataclass(frozen=True)
class Stored:
    feedback_id: int
    message_id: str
    turn_id: Optional[int]
    replaced: bool  # the customer had rated this reply before


def parse_rating(value: Any) -> int:
    # bool is an int in Python, and JSON's true must not count as a thumbs up.
    if type(value) is not int or value not in RATINGS:
        raise BadFeedback("rating must be 1 (helpful) or -1 (not helpful)")
    return value


def parse_comment(value: Any) -> Optional[str]:
    """The comment without control characters and folded to one line; None when there is none."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadFeedback("comment must be text")
    if len(value) > MAX_COMMENT_CHARS:
        raise BadFeedback(f"the comment must have at most {MAX_COMMENT_CHARS} characters")
    return clean_text(value, MAX_COMMENT_CHARS).text or None


def parse_web_rating(body: Any) -> WebRating:
    """The web page's ``{sender, text, rating, comment?}``, checked; BadFeedback says what is wrong."""
    if not isinstance(body, dict):
        raise BadFeedback("the body must be a JSON object: {sender, text, rating, comment?}")
    sender = body.get("sender")
    if not (isinstance(sender, str) and 0 < len(sender) <= MAX_SENDER_CHARS
            and sender.isprintable()):
        raise BadFeedback(f"sender must be the chat's session id (1 to {MAX_SENDER_CHARS} "
                          f"printable characters)")
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadFeedback("text must be the bot message that is rated, as shown")
    if len(text) > MAX_TEXT_CHARS:
        raise BadFeedback(f"text must have at most {MAX_TEXT_CHARS} characters")
    return WebRating(sender, text, parse_rating(body.get("rating")),
                     parse_comment(body.get("comment")))


_WORD = re.compile(r"\w+")


def same_words(text: str) -> str:
    """What survives the widget's rendering: the words, in order, without case or markup.

    The page shows a reply as Markdown (a "- " bullet becomes a dot, line breaks fold), and
    the browser's text of it differs from what was sent in everything but the words.
    """
    return " ".join(_WORD.findall(text.casefold()))


class FeedbackStore:
    def __init__(self, engine: Any, salt: str, mask: bool = True) -> None:
        self.engine = engine
        self.salt = salt
        self.mask = mask
        # find-then-write must not interleave, or a double click stores two rows for one reply.
        self._lock = threading.Lock()

    def rate(self, channel: str, sender_id: str, rating: int, comment: Optional[str] = None, *,
             text: Optional[str] = None, message_id: Optional[str] = None) -> Stored:
        """Stores (or replaces) this sender's rating of one bot reply; committed on return.

        The reply is the newest of the sender's bot lines on ``channel`` shown with ``text``, or
        their reply to the message ``message_id``. Raises UnknownReply when they have none.
        """
        rating = parse_rating(rating)
        sender_hash = hash_sender(sender_id, self.salt)
        if comment is not None:
            comment = (mask_pii(comment) if self.mask else comment)[:MAX_COMMENT_CHARS]
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        with self._lock, self.engine.begin() as connection:
            if text is not None:
                message_id = self._replied_to(connection, channel, sender_hash, text)
            elif message_id and not self._has_reply(connection, channel, sender_hash, message_id):
                message_id = None
            if not message_id:
                raise UnknownReply()
            turn_id = connection.execute(
                select(TURNS.c.id)
                .select_from(TURNS.join(CONVERSATIONS, TURNS.c.conversation_id == CONVERSATIONS.c.id))
                .where(CONVERSATIONS.c.sender_hash == sender_hash,
                       CONVERSATIONS.c.channel == channel,
                       TURNS.c.message_id == message_id)
                .order_by(TURNS.c.id.desc()).limit(1)
            ).scalar()
            earlier = connection.execute(
                select(FEEDBACK.c.id).where(FEEDBACK.c.message_id == message_id,
                                            FEEDBACK.c.sender_hash == sender_hash,
                                            FEEDBACK.c.source == SOURCE)
                .order_by(FEEDBACK.c.id).limit(1)
            ).scalar()
            values = dict(rating=rating, comment=comment, turn_id=turn_id, created_at=now)
            if earlier is not None:
                connection.execute(FEEDBACK.update().where(FEEDBACK.c.id == earlier).values(**values))
                return Stored(earlier, message_id, turn_id, replaced=True)
            inserted = connection.execute(FEEDBACK.insert().values(
                message_id=message_id, channel=channel[:64], sender_hash=sender_hash,
                source=SOURCE, **values))
            return Stored(inserted.inserted_primary_key[0], message_id, turn_id, replaced=False)

    def _replied_to(self, connection: Any, channel: str, sender_hash: str,
                    shown: str) -> Optional[str]:
        """The message id of the sender's newest bot line that reads like ``shown``."""
        lines = connection.execute(
            select(TRANSCRIPT.c.text, TRANSCRIPT.c.message_id)
            .where(TRANSCRIPT.c.sender_hash == sender_hash, TRANSCRIPT.c.channel == channel,
                   TRANSCRIPT.c.role == "bot", TRANSCRIPT.c.message_id.is_not(None))
            .order_by(TRANSCRIPT.c.id.desc()).limit(RECENT_LINES)
        ).all()
        # The transcript holds the masked text, so the shown text is masked the same way.
        shown = mask_pii(shown) if self.mask else shown
        exact = " ".join(shown.split())
        for text, message_id in lines:
            if " ".join(text.split()) == exact:
                return message_id
        words = same_words(shown)
        if not words:
            return None
        for text, message_id in lines:
            if same_words(text) == words:
                return message_id
        return None

    @staticmethod
    def _has_reply(connection: Any, channel: str, sender_hash: str, message_id: str) -> bool:
        return connection.execute(
            select(TRANSCRIPT.c.id).where(
                TRANSCRIPT.c.sender_hash == sender_hash, TRANSCRIPT.c.channel == channel,
                TRANSCRIPT.c.role == "bot", TRANSCRIPT.c.message_id == message_id,
            ).limit(1)
        ).first() is not None
