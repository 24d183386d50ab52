"""The queue, one conversation, its live events and suggested reply, and what an agent does.

Each button is a POST form that redirects back to the conversation with a flash message (post,
redirect, get: a reload never sends twice). Acting on a queued conversation claims it first; only
the agent who claimed it, or an admin, may answer, hand back or close it. The customer is reached
only through the bridge; a reply is stored as sent only when the bridge said it went out.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional, Tuple

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from bot.desk import auth, queue, transcript
from bot.desk.live import conversation_events
from bot.desk.queue import HandoffView
from bot.desk.text import duration, full_time
from bot.desk.web import (
    SESSION_COOKIE,
    Desk,
    Posted,
    api_login,
    desk_of,
    form_text,
    page,
    page_login,
    posted_form,
    set_flash,
    writing,
)
from bot.handoff import hours
from bot.handoff.bridge import BridgeError
from bot.storage.privacy import mask_pii

logger = logging.getLogger(__name__)

router = APIRouter()

MAX_REPLY_CHARS = 2000
MAX_FIELD_CHARS = 4000  # the hidden fields: a suggestion, the question it answers


# --- reading -------------------------------------------------------------------------------

def queue_item(handoff: HandoffView, login: auth.Login, now) -> Dict[str, Any]:
    """One handoff as the queue shows it (the page and queue.json)."""
    end = handoff.ended_at or now
    return {
        "id": handoff.id, "url": f"/conversations/{handoff.id}", "channel": handoff.channel,
        "reason": handoff.reason, "summary": handoff.summary, "status": handoff.status,
        "claimed_by": handoff.claimed_by_name, "mine": handoff.claimed_by == login.agent_id,
        "waiting": duration((end - handoff.queued_at).total_seconds()),
        "waiting_s": int((end - handoff.queued_at).total_seconds()),
        "queued_at": full_time(handoff.queued_at), "ended_at": full_time(handoff.ended_at),
        "ended_by": handoff.ended_by_name,
    }


def status_item(handoff: HandoffView, login: auth.Login) -> Dict[str, Any]:
    """What the conversation page shows of the handoff's state, and updates live."""
    return {
        "status": handoff.status, "open": handoff.is_open, "claimed_by": handoff.claimed_by_name,
        "mine": handoff.claimed_by == login.agent_id,
        "can_act": handoff.status == "queued" or queue.may_act(handoff, login.agent_id,
                                                               login.is_admin),
    }


def _queue_lists(desk: Desk, login: auth.Login) -> Tuple[List[dict], List[dict]]:
    now = desk.clock()
    with desk.sessions() as session:
        waiting = [queue_item(h, login, now) for h in queue.open_handoffs(session)]
        ended = [queue_item(h, login, now) for h in queue.recently_ended(session)]
    return waiting, ended


def _handoff_or_404(desk: Desk, handoff_id: int) -> HandoffView:
    with desk.sessions() as session:
        handoff = queue.get_handoff(session, handoff_id)
    if handoff is None:
        raise HTTPException(404, "There is no such conversation.")
    return handoff


@router.get("/")
def queue_page(request: Request, login: auth.Login = Depends(page_login)) -> Response:
    waiting, ended = _queue_lists(desk_of(request), login)
    return page(request, "queue.html", login, waiting=waiting, ended=ended)


@router.get("/queue.json")
def queue_json(request: Request, login: auth.Login = Depends(api_login)) -> Dict[str, Any]:
    waiting, ended = _queue_lists(desk_of(request), login)
    return {"open": waiting, "ended": ended}


@router.get("/conversations/{handoff_id}")
def conversation_page(handoff_id: int, request: Request,
                      login: auth.Login = Depends(page_login)) -> Response:
    desk = desk_of(request)
    handoff = _handoff_or_404(desk, handoff_id)
    with desk.sessions() as session:
        lines, truncated = transcript.history(session, handoff.channel, handoff.sender_hash)
        question = transcript.last_question(session, handoff.channel, handoff.sender_hash)
    return page(
        request, "conversation.html", login, handoff=handoff, lines=lines, truncated=truncated,
        state=status_item(handoff, login), question=question[1] if question else "",
        last_line_id=lines[-1].id if lines else 0, max_reply_chars=MAX_REPLY_CHARS,
        waiting=queue_item(handoff, login, desk.clock())["waiting"],
    )


@router.get("/conversations/{handoff_id}/events")
async def conversation_stream(handoff_id: int, request: Request, after: int = 0,
                              login: auth.Login = Depends(api_login)) -> Response:
    """New transcript lines and status changes as server-sent events (bot/desk/live.py)."""
    desk = desk_of(request)
    await run_in_threadpool(_handoff_or_404, desk, handoff_id)
    last_event = request.headers.get("last-event-id", "")
    if last_event.isdigit():  # the browser reconnects from the last line it has
        after = max(after, int(last_event))
    token = request.cookies.get(SESSION_COOKIE, "")

    def snapshot(after_id: int):
        with desk.sessions() as session:
            if auth.find_session(session, token, desk.clock()) is None:
                return None  # logged out or expired: the stream ends, the reconnect gets 401
            handoff = queue.get_handoff(session, handoff_id)
            if handoff is None:
                return None
            new = transcript.lines_after(session, handoff.channel, handoff.sender_hash, after_id)
            return [line.to_json() for line in new], status_item(handoff, login)

    async def poll(after_id: int):
        return await run_in_threadpool(snapshot, after_id)

    return StreamingResponse(
        conversation_events(poll, request.is_disconnected, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/conversations/{handoff_id}/suggestion")
async def conversation_suggestion(handoff_id: int, request: Request,
                                  login: auth.Login = Depends(api_login)) -> Dict[str, Any]:
    """The bot's answer to the customer's latest message (JSON), fetched after the page."""
    desk = desk_of(request)
    handoff = await run_in_threadpool(_handoff_or_404, desk, handoff_id)

    def last_question():
        with desk.sessions() as session:
            return transcript.last_question(session, handoff.channel, handoff.sender_hash)

    found = await run_in_threadpool(last_question)
    if found is None:
        return {"question": "", "question_id": None, "text": "", "kind": "no_question",
                "usable": False, "sources": []}
    line_id, text, previous = found
    suggestion = await desk.suggester.suggest(text, previous)
    return {**suggestion.to_json(), "question_id": line_id}


# --- acting --------------------------------------------------------------------------------

def _back(handoff_id: int, text: str, level: str = "info") -> Response:
    response = RedirectResponse(f"/conversations/{handoff_id}", status_code=303)
    set_flash(response, text, level)
    return response


def _take(desk: Desk, handoff_id: int,
          login: auth.Login) -> Tuple[Optional[HandoffView], Optional[str]]:
    """The handoff this agent may act on (claiming a queued one), or why not."""
    now = desk.clock()
    with writing(desk.sessions) as session:
        handoff = queue.get_handoff(session, handoff_id)
        if handoff is None:
            raise HTTPException(404, "There is no such conversation.")
        if not handoff.is_open:
            return None, "This conversation has ended."
        if handoff.status == "queued":
            claimed = queue.claim(session, handoff_id, login.agent_id, now)
            if not claimed.ok:
                return None, claimed.message
            handoff = queue.get_handoff(session, handoff_id)
        if not queue.may_act(handoff, login.agent_id, login.is_admin):
            return None, (f"{handoff.claimed_by_name or 'Another agent'} has this conversation; "
                          f"only they or an admin may answer or end it.")
    return handoff, None


@router.post("/conversations/{handoff_id}/claim")
def claim(handoff_id: int, request: Request, posted: Posted = Depends(posted_form)) -> Response:
    desk = desk_of(request)
    with writing(desk.sessions) as session:
        if queue.get_handoff(session, handoff_id) is None:
            raise HTTPException(404, "There is no such conversation.")
        result = queue.claim(session, handoff_id, posted.login.agent_id, desk.clock())
    logger.info("desk.claim handoff=%d agent=%d ok=%s", handoff_id, posted.login.agent_id,
                result.ok)
    return _back(handoff_id, result.message, "info" if result.ok else "error")


def _sources(raw: str) -> List[Dict[str, Any]]:
    """The suggestion's sources as the page had them: a JSON list of small objects, or []."""
    try:
        value = json.loads(raw) if raw else []
    except ValueError:
        return []
    if not isinstance(value, list):
        return []
    return [
        {k: v for k, v in item.items() if k in ("article_id", "url", "score")
         and isinstance(v, (str, int, float, type(None)))}
        for item in value[:10] if isinstance(item, dict)
    ]


@router.post("/conversations/{handoff_id}/reply")
async def reply(handoff_id: int, request: Request,
                posted: Posted = Depends(posted_form)) -> Response:
    desk = desk_of(request)
    login, form = posted.login, posted.form
    text = form_text(form, "text").strip()
    if not 0 < len(text) <= MAX_REPLY_CHARS:
        return _back(handoff_id, f"A reply needs 1 to {MAX_REPLY_CHARS} characters.", "error")
    handoff, refusal = await run_in_threadpool(_take, desk, handoff_id, login)
    if refusal:
        return _back(handoff_id, refusal, "error")
    error = None
    try:
        await desk.bridge.send(handoff.channel, handoff.sender_id, text)
    except BridgeError as e:
        error = str(e) or "the bot's server refused it"
    suggested = form_text(form, "suggested_text").strip()[:MAX_FIELD_CHARS] or None
    used = queue.suggestion_use(text, suggested)
    mask = mask_pii if desk.settings.log_mask_pii else (lambda value: value)

    def record() -> None:
        with writing(desk.sessions) as session:
            queue.record_reply(
                session, handoff_id, login.agent_id, sent_text=mask(text),
                suggested_text=mask(suggested) if suggested else None,
                suggested_sources=_sources(form_text(form, "suggested_sources")),
                question=form_text(form, "question").strip()[:MAX_FIELD_CHARS] or None,
                used=used, delivered=error is None, now=desk.clock(),
            )

    await run_in_threadpool(record)
    logger.info("desk.reply handoff=%d agent=%d used=%s delivered=%s chars=%d", handoff_id,
                login.agent_id, used, error is None, len(text))
    if error is not None:
        return _back(handoff_id, f"Not sent: {error}", "error")
    return _back(handoff_id, "Sent.")


async def _end(handoff_id: int, request: Request, login: auth.Login, status: str, note: str,
               done: str) -> Response:
    desk = desk_of(request)
    handoff, refusal = await run_in_threadpool(_take, desk, handoff_id, login)
    if refusal:
        return _back(handoff_id, refusal, "error")
    try:
        await desk.bridge.resume(handoff.channel, handoff.sender_id, note)
    except BridgeError as e:
        return _back(handoff_id, f"Nothing changed: {e}", "error")

    def record() -> bool:
        with writing(desk.sessions) as session:
            return queue.end(session, handoff_id, status, login.agent_id, desk.clock())

    ended = await run_in_threadpool(record)
    logger.info("desk.%s handoff=%d agent=%d", status, handoff_id, login.agent_id)
    return _back(handoff_id, done if ended else "This conversation had already ended.")


@router.post("/conversations/{handoff_id}/handback")
async def hand_back(handoff_id: int, request: Request,
                    posted: Posted = Depends(posted_form)) -> Response:
    return await _end(handoff_id, request, posted.login, "handed_back", hours.BACK_WITH_BOT,
                      "Handed back to the bot.")


@router.post("/conversations/{handoff_id}/close")
async def close(handoff_id: int, request: Request,
                posted: Posted = Depends(posted_form)) -> Response:
    return await _end(handoff_id, request, posted.login, "closed", hours.CLOSED_BY_AGENT,
                      "Closed.")

