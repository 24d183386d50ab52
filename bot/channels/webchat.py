"""The web chat page, served by the Rasa server itself at `/chat/`.

Same origin as the socket.io endpoint, so the widget needs no CORS and no second web server. The
page (`web/`) loads only files from here: the widget is rasa-webchat's bundle, copied from npm into
`web/vendor/` by `make webchat` (`scripts/vendor-webchat`), never fetched from a CDN. A
Content-Security-Policy keeps it that way: the browser refuses anything from another origin.

This is an input channel only so that credentials.yml can switch it on like the others; it never
produces user messages (those arrive over socket.io, `bot/channels/socketio.py`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import ROOT

logger = logging.getLogger(__name__)

WEB_DIR = ROOT / "web"
WIDGET = WEB_DIR / "vendor" / "rasa-webchat.js"

# The widget injects its own <style> elements and talks to socket.io (polling, then a websocket).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
)
# What the page may load; anything else under web/ is not served.
FILES = {
    "chat.js": "application/javascript",
    "feedback.js": "application/javascript",  # thumbs up / down under the bot's messages
    "chat.css": "text/css",
    "vendor/rasa-webchat.js": "application/javascript",
}


class WebChatPage(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WebChatPage":
        return cls()

    def url_prefix(self) -> Text:
        # Rasa joins this to "/webhooks/"; an absolute path puts the page at a plain /chat/.
        return "/chat"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        page = Blueprint("webchat_page", __name__)
        if not WIDGET.exists():
            logger.error("webchat.widget_missing path=%s fix='make webchat'", WIDGET)

        @page.route("/", methods=["GET"])
        async def index(_: Request) -> HTTPResponse:
            return _serve("")

        @page.route("/<path:path>", methods=["GET"])
        async def asset(_: Request, path: str) -> HTTPResponse:
            return _serve(path)

        return page


def _serve(path: str) -> HTTPResponse:
    """The page for "" (both /chat and /chat/ lead here), else one of FILES."""
    if path in ("", "index.html"):
        if not WIDGET.exists():
            return response.text(
                "The chat widget is not built yet: run `make webchat` (make run does it).",
                status=503,
            )
        return _file(WEB_DIR / "index.html", "text/html; charset=utf-8")
    if path not in FILES or not (WEB_DIR / path).exists():
        return response.text("not found", status=404)
    return _file(WEB_DIR / path, FILES[path])


def _file(path: Path, content_type: str) -> HTTPResponse:
    return response.raw(
        path.read_bytes(),
        content_type=content_type,
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
        },
    )
