"""The desk's request plumbing: who is logged in, the CSRF and Origin checks, flash messages.

Every page and every JSON or event route depends on ``page_login`` or ``api_login``; without a
valid session the first redirects to /login (303) and the second answers 401. Every POST form
depends on ``posted_form``, which also checks the form's ``csrf_token`` against the session's
(double submit, in constant time) and refuses a foreign ``Origin``: a page elsewhere cannot make
an agent's browser claim, send or close anything.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterator, Optional
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import FormData
from starlette.responses import Response

from bot.desk import auth
from bot.settings import Settings
from bot.storage.db import WRITE

logger = logging.getLogger(__name__)

SESSION_COOKIE = "desk_session"
LOGIN_CSRF_COOKIE = "desk_login_csrf"  # the double-submit token of the login form itself
FLASH_COOKIE = "desk_flash"

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
     b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
     b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


@dataclass
class Desk:
    """What the routes work with, made once by create_app() and kept in ``app.state.desk``."""

    settings: Settings
    sessions: "sessionmaker[Session]"
    bridge: Any  # send(channel, sender_id, text), resume(channel, sender_id, note): async
    suggester: Any  # bot.desk.suggest.Suggester
    clock: Callable[[], datetime]
    templates: Jinja2Templates
    login_delay_s: float


def desk_of(request: Request) -> Desk:
    return request.app.state.desk


@contextmanager
def writing(sessions: "sessionmaker[Session]") -> Iterator[Session]:
    """A write transaction, committed on leaving; SQLite takes its write lock at the start."""
    with sessions() as session, session.begin():
        session.connection(execution_options=WRITE)
        yield session


class LoginRequired(Exception):
    """No valid session: pages redirect to /login, JSON and event routes answer 401."""

    def __init__(self, api: bool) -> None:
        super().__init__("login required")
        self.api = api


def _login(request: Request, api: bool) -> auth.Login:
    desk = desk_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    login = None
    if token:
        with desk.sessions() as session:
            login = auth.find_session(session, token, desk.clock())
    if login is None:
        raise LoginRequired(api)
    return login


def page_login(request: Request) -> auth.Login:
    return _login(request, api=False)


def api_login(request: Request) -> auth.Login:
    return _login(request, api=True)


def admin_login(login: auth.Login = Depends(page_login)) -> auth.Login:
    if not login.is_admin:
        raise HTTPException(403, "Only an admin may see this page.")
    return login


def same_origin(request: Request) -> bool:
    """True unless the browser says the form came from another site. Ours: the desk's URL from
    the settings, or the host the request was sent to (a browser sets Host itself)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    desk_url = urlsplit(desk_of(request).settings.desk_url)
    own = {f"{desk_url.scheme}://{desk_url.netloc}",
           f"{request.url.scheme}://{request.headers.get('host', '')}"}
    return origin in own


def tokens_match(given: Optional[str], expected: Optional[str]) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


@dataclass(frozen=True)
class Posted:
    login: auth.Login
    form: FormData


async def posted_form(request: Request, login: auth.Login = Depends(page_login)) -> Posted:
    """The form of a POST by a logged-in agent, after the Origin and CSRF checks (403)."""
    if not same_origin(request):
        logger.warning("desk.foreign_origin path=%s", request.url.path)
        raise HTTPException(403, "This form was sent from another site.")
    form = await request.form()
    token = form.get("csrf_token")
    if not tokens_match(token if isinstance(token, str) else None, login.csrf_token):
        logger.warning("desk.csrf_refused path=%s agent=%d", request.url.path, login.agent_id)
        raise HTTPException(403, "This form has expired; reload the page and try again.")
    return Posted(login, form)


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def set_flash(response: Response, text: str, level: str = "info") -> None:
    """A message for the next page (after a redirect); shown once, as text."""
    data = json.dumps({"level": level, "text": text[:500]}).encode("utf-8")
    response.set_cookie(FLASH_COOKIE, base64.urlsafe_b64encode(data).decode("ascii"),
                        max_age=60, httponly=True, samesite="strict", path="/")


def take_flash(request: Request) -> Optional[dict]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode("ascii")))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return None
    level = data.get("level") if data.get("level") in ("info", "error") else "info"
    return {"level": level, "text": data["text"]}


def clear_flash(request: Request, response: Response) -> None:
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path="/", httponly=True, samesite="strict")


class SecurityHeaders:
    """Adds the Content-Security-Policy (no inline script or style, nothing from elsewhere)
    and its companions to every response, the event stream included (pure ASGI: it does not
    buffer streams the way BaseHTTPMiddleware can)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if b"cache-control" not in present and not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def page(request: Request, name: str, login: Optional[auth.Login] = None, status: int = 200,
         **context: Any) -> Response:
    """A rendered page with what every page shows: who is logged in, the flash message, the
    session's CSRF token for its forms."""
    context.setdefault("csrf_token", login.csrf_token if login else "")
    response = desk_of(request).templates.TemplateResponse(
        request, name, {"login": login, "flash": take_flash(request), **context},
        status_code=status,
    )
    clear_flash(request, response)
    return response
