"""Logging in and out, and the admin's list of agents.

The login form carries its own CSRF token (a cookie set with the form, echoed in a hidden field)
because there is no session yet to hold one. A refused login waits ``login_delay_s`` before
answering, whatever the reason, and says the same for an unknown username as for a wrong
password; a locked account is told how long to wait.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from bot.desk import auth
from bot.desk.text import duration
from bot.desk.web import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Desk,
    Posted,
    admin_login,
    desk_of,
    form_text,
    page,
    posted_form,
    same_origin,
    set_flash,
    tokens_match,
    writing,
)
from bot.storage.models import Agent

logger = logging.getLogger(__name__)

router = APIRouter()

WRONG = "Wrong username or password."
EXPIRED_FORM = "The login form had expired; please try again."


@dataclass(frozen=True)
class Attempt:
    result: Optional[auth.LoginResult] = None  # set when the login worked
    locked_until: Optional[datetime] = None


def _login_page(request: Request, *, error: str = "", username: str = "",
                status: int = 200) -> Response:
    desk = desk_of(request)
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_hex(32)
    response = page(request, "login.html", status=status, csrf_token=token, error=error,
                    username=username)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=12 * 3600, httponly=True,
                        samesite="strict", secure=desk.settings.desk_cookie_secure,
                        path="/login")
    return response


def _try_login(desk: Desk, username: str, password: str) -> Attempt:
    """Blocking (Argon2 and the database): run in a worker thread."""
    now = desk.clock()
    settings = desk.settings
    with desk.sessions() as session:
        agent = auth.find_agent(session, username)
        until = auth.locked_until(agent, now)
        if until is not None:
            return Attempt(locked_until=until)
        agent_id = agent.id if agent is not None else None
        # The Argon2 check is slow on purpose: done outside the write transaction.
        matches = auth.password_matches(agent, password)
    if not matches:
        if agent_id is None:
            return Attempt()
        with writing(desk.sessions) as session:
            until = auth.record_failure(session, agent_id, now=now,
                                        max_failures=settings.desk_login_max_failures,
                                        lock_s=settings.desk_login_lock_s)
        if until is not None:
            logger.warning("desk.login_locked username_hash=%s until=%s",
                           auth.username_hash(auth.normalize_username(username)),
                           until.isoformat())
        return Attempt(locked_until=until)
    with writing(desk.sessions) as session:
        agent = session.get(Agent, agent_id)
        until = auth.locked_until(agent, now)  # locked by another attempt meanwhile
        if agent is None or until is not None:
            return Attempt(locked_until=until)
        auth.rehash_if_needed(agent, password)
        return Attempt(result=auth.start_session(session, agent, now=now,
                                                 hours=settings.desk_session_hours))


def _logged_in(request: Request) -> bool:
    desk = desk_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return False
    with desk.sessions() as session:
        return auth.find_session(session, token, desk.clock()) is not None


@router.get("/login")
def login_form(request: Request) -> Response:
    if _logged_in(request):
        return RedirectResponse("/", status_code=303)
    return _login_page(request)


@router.post("/login")
async def login_submit(request: Request) -> Response:
    desk = desk_of(request)
    form = await request.form()
    token = form.get("csrf_token")
    if not same_origin(request) or not tokens_match(
            token if isinstance(token, str) else None, request.cookies.get(LOGIN_CSRF_COOKIE)):
        logger.warning("desk.login_csrf_refused")
        return _login_page(request, error=EXPIRED_FORM, status=403)
    username = form_text(form, "username")[:200]
    password = form_text(form, "password")
    attempt = await run_in_threadpool(_try_login, desk, username, password)
    if attempt.result is None:
        await asyncio.sleep(desk.login_delay_s)
        name_hash = auth.username_hash(auth.normalize_username(username))
        if attempt.locked_until is not None:
            wait = duration((attempt.locked_until - desk.clock()).total_seconds())
            logger.warning("desk.login_refused_locked username_hash=%s", name_hash)
            return _login_page(
                request, username=username, status=429,
                error=f"Too many wrong passwords for this account. Please wait {wait} and "
                      f"try again, or ask an admin.")
        logger.warning("desk.login_failed username_hash=%s", name_hash)
        return _login_page(request, error=WRONG, username=username, status=401)
    result = attempt.result
    logger.info("desk.login agent=%d", result.login.agent_id)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, result.token,
                        max_age=int(desk.settings.desk_session_hours * 3600), httponly=True,
                        samesite="strict", secure=desk.settings.desk_cookie_secure, path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, posted: Posted = Depends(posted_form)) -> Response:
    with writing(desk_of(request).sessions) as session:
        auth.end_session(session, posted.login.session_id)
    logger.info("desk.logout agent=%d", posted.login.agent_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/admin/agents")
def agents_page(request: Request, login: auth.Login = Depends(admin_login)) -> Response:
    with desk_of(request).sessions() as session:
        agents = auth.list_agents(session)
    return page(request, "admin_agents.html", login, agents=agents, now=desk_of(request).clock(),
                min_password=auth.MIN_PASSWORD_CHARS)


@router.post("/admin/agents")
def add_agent(request: Request, posted: Posted = Depends(posted_form)) -> Response:
    if not posted.login.is_admin:
        raise HTTPException(403, "Only an admin may add agents.")
    desk = desk_of(request)
    form = posted.form
    response = RedirectResponse("/admin/agents", status_code=303)
    try:
        with writing(desk.sessions) as session:
            agent = auth.create_agent(
                session, form_text(form, "username"), form_text(form, "password"),
                display_name=form_text(form, "display_name"),
                role=form_text(form, "role") or "agent", now=desk.clock())
            username = agent.username
    except auth.AgentError as e:
        set_flash(response, f"Not added: {e}.", "error")
        return response
    logger.info("desk.agent_added by=%d username_hash=%s", posted.login.agent_id,
                auth.username_hash(username))
    set_flash(response, f"Added {username}.")
    return response
