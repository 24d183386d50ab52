"""create_app(): the agent desk's web application, built from its collaborators.

    app = create_app()                                    # the settings' database and Rasa server
    app = create_app(settings, sessions=sessions, bridge=FakeBridge(), suggester=answer_fn,
                     clock=lambda: now)                   # tests

Everything the routes use arrives here (the database's session factory, the bridge to the Rasa
server, the suggester, the clock), so tests run the real routes on a temporary database with a
bridge that records what it was asked. Pages are server-rendered with autoescaping; the only
scripts are our own static files (desk.js, dashboard.js with the vendored Chart.js), and the
Content-Security-Policy forbids any other.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Optional, Union

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException
from starlette.responses import Response

from bot.desk import (
    correction_routes,
    dashboard_routes,
    handoff_routes,
    login_routes,
    review_routes,
)
from bot.desk.suggest import AnswerFunction, Suggester
from bot.desk.text import clock_time, full_time
from bot.desk.web import Desk, LoginRequired, SecurityHeaders, page
from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
LOGIN_DELAY_S = 0.5  # every refused login waits this long: guessing gets slow, timing says nothing


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["clock_time"] = clock_time
    env.filters["full_time"] = full_time
    return Jinja2Templates(env=env)


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def create_app(
    settings: Optional[Settings] = None,
    *,
    sessions: Optional["sessionmaker[Session]"] = None,
    bridge: Any = None,
    suggester: Union[Suggester, AnswerFunction, None] = None,
    clock: Optional[Callable[[], datetime]] = None,
    login_delay_s: float = LOGIN_DELAY_S,
) -> FastAPI:
    """The desk. Defaults: the settings' log database, a DeskBridge to the settings' Rasa server,
    the bot's answer policy as the suggester (warmed up in the background at start), UTC now."""
    settings = settings or get_settings()
    own_sessions = sessions is None
    if sessions is None:
        from bot.storage.db import session_factory

        sessions = session_factory(settings.log_url)
    if bridge is None:
        from bot.handoff.bridge import DeskBridge

        bridge = DeskBridge(settings.rasa_url, settings.desk_key())
    if not isinstance(suggester, Suggester):
        suggester = Suggester(suggester)
    desk = Desk(settings=settings, sessions=sessions, bridge=bridge, suggester=suggester,
                clock=clock or utcnow, templates=_templates(), login_delay_s=login_delay_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        desk.suggester.warm_up()  # returns at once; the desk serves while the model loads
        logger.info("desk.started url=%s", settings.desk_url)
        yield
        desk.suggester.shutdown()
        if hasattr(desk.bridge, "close"):
            await desk.bridge.close()
        if own_sessions:
            desk.sessions.kw["bind"].dispose()

    # No /docs or /openapi.json: they would be pages outside the login, loading outside assets.
    app = FastAPI(title="Agent desk", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.desk = desk
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(login_routes.router)
    app.include_router(handoff_routes.router)
    app.include_router(correction_routes.router)
    app.include_router(review_routes.router)
    app.include_router(dashboard_routes.router)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if exc.api:
            return JSONResponse({"error": "login required"}, status_code=401)
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        # Messages here are the desk's own sentences, never the request's text.
        if _wants_html(request):
            return page(request, "error.html", status=exc.status_code,
                        message=str(exc.detail))
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    return app
