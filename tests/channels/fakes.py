"""Stand-ins for Slack's Web API and WeChat's Official Account API, on localhost.

They answer the few calls the connectors make the way the real services do (same paths, same JSON,
same error codes) and record every call, so a test can count what a customer would have received.
Each runs an HTTP server in a thread of the test process; the Rasa server reaches them through
BOT_SLACK_API_URL and BOT_WECHAT_API_URL.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Tuple
from urllib.parse import parse_qs, urlsplit


def wait_for(check: Callable[[], Any], timeout_s: float = 20.0, every_s: float = 0.1) -> Any:
    """Polls `check` until it returns something truthy; returns it, or the last falsy value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every_s)


class _FakeApi:
    """An HTTP server in a thread; subclasses answer `handle(method, path, query, body)`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                status, answer = fake.handle(self.command, url.path, query, dict(self.headers), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(
        self, method: str, path: str, query: Dict[str, str], headers: Dict[str, str], body: bytes
    ) -> Tuple[int, Dict[str, Any]]:
        raise NotImplementedError


class FakeSlack(_FakeApi):
    """Slack's Web API: `chat.postMessage` and `chat.update` with a bot token. A message's
    blocks are checked as Slack checks them where it matters here (a section's text length)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.posts: List[Dict[str, Any]] = []
        self.updates: List[Dict[str, Any]] = []
        self._ts = itertools.count(1)
        super().__init__()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def handle(self, method, path, query, headers, body):
        if path not in ("/api/chat.postMessage", "/api/chat.update"):
            return 200, {"ok": False, "error": "unknown_method"}
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 200, {"ok": False, "error": "invalid_auth"}
        post = json.loads(body)
        if any(len((b.get("text") or {}).get("text", "")) > 3000 for b in post.get("blocks") or []):
            return 200, {"ok": False, "error": "invalid_blocks"}
        with self.lock:
            if path == "/api/chat.update":
                self.updates.append(post)
                return 200, {"ok": True, "channel": post.get("channel"), "ts": post.get("ts")}
            post["ts"] = f"1700000000.{next(self._ts):06d}"
            self.posts.append(post)
        return 200, {"ok": True, "channel": post.get("channel"), "ts": post["ts"]}

    def posts_to(self, channel: str) -> List[Dict[str, Any]]:
        with self.lock:
            return [p for p in self.posts if p.get("channel") == channel]


class FakeWeChat(_FakeApi):
    """WeChat's `/cgi-bin/token` and `/cgi-bin/message/custom/send`, tokens checked like WeChat."""

    def __init__(self, app_id: str, app_secret: str) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.tokens_issued: List[str] = []
        self.valid_tokens: set = set()
        self.sent: List[Dict[str, Any]] = []  # delivered customer-service messages
        self.rejected: List[Tuple[str, int]] = []  # (token, errcode) of refused sends
        self.expire_on_next_send = False
        self._numbers = itertools.count(1)
        super().__init__()

    def expire_current_tokens_on_next_send(self) -> None:
        """The next send is refused with 42001, as when the token expired or another service
        fetched a new one; the token it used stays refused."""
        with self.lock:
            self.expire_on_next_send = True

    def handle(self, method, path, query, headers, body):
        with self.lock:
            if path == "/cgi-bin/token" and method == "GET":
                if query.get("appid") != self.app_id or query.get("secret") != self.app_secret:
                    return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
                token = f"token-{next(self._numbers)}"
                self.tokens_issued.append(token)
                self.valid_tokens.add(token)
                return 200, {"access_token": token, "expires_in": 7200}
            if path == "/cgi-bin/message/custom/send" and method == "POST":
                token = query.get("access_token", "")
                if self.expire_on_next_send and token in self.valid_tokens:
                    self.expire_on_next_send = False
                    self.valid_tokens.discard(token)
                if token not in self.valid_tokens:
                    self.rejected.append((token, 42001))
                    return 200, {"errcode": 42001, "errmsg": "access_token expired"}
                message = json.loads(body.decode("utf-8"))
                self.sent.append(message)
                return 200, {"errcode": 0, "errmsg": "ok"}
        return 404, {"errcode": -1, "errmsg": "unknown path"}

    def sent_to(self, openid: str) -> List[str]:
        with self.lock:
            return [m["text"]["content"] for m in self.sent if m.get("touser") == openid]
