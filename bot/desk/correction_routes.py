"""The corrections pages: the list (with the "no article yet" ones for whoever writes articles),
the form, and an admin's withdrawal. Every route needs a login; posts need the CSRF token."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from bot.desk import corrections
from bot.desk.web import Posted, desk_of, form_text, page, page_login, posted_form, set_flash, writing

logger = logging.getLogger(__name__)

router = APIRouter()


def _articles(request: Request):
    return corrections.articles(desk_of(request).settings.articles_dir)


@router.get("/corrections")
def correction_list(request: Request, login=Depends(page_login)) -> Response:
    desk = desk_of(request)
    with desk.sessions() as session:
        rows = corrections.listing(session)
    return page(request, "corrections.html", login,
                active=[r for r in rows if r.status == "approved"],
                missing=[r for r in rows if r.status == "approved" and r.kb_missing],
                withdrawn=[r for r in rows if r.status == "withdrawn"])


@router.get("/corrections/new")
def correction_form(request: Request, line: int = 0, turn: int = 0,
                    login=Depends(page_login)) -> Response:
    desk = desk_of(request)
    with desk.sessions() as session:
        if line:
            draft = corrections.draft_from_line(session, line)
        elif turn:
            draft = corrections.draft_from_turn(session, turn)
        else:
            draft = corrections.Draft()
    return page(request, "correction_form.html", login, draft=draft,
                articles=_articles(request), error=None)


@router.post("/corrections")
async def correction_create(request: Request, posted: Posted = Depends(posted_form)) -> Response:
    desk = desk_of(request)
    form = posted.form
    known = [article_id for article_id, _ in _articles(request)]
    turn = form_text(form, "turn_id")
    draft = corrections.Draft(
        question=form_text(form, "question"), answer=form_text(form, "answer"),
        article_id=form_text(form, "article_id") or None,
        turn_id=int(turn) if turn.isdigit() else None,
        original_reply=form_text(form, "original_reply") or None,
    )
    kb_missing = form_text(form, "kb_missing") == "yes"

    def store() -> int:
        with writing(desk.sessions) as session:
            return corrections.approve(
                session, question=draft.question, answer=draft.answer,
                article_id=draft.article_id, kb_missing=kb_missing,
                agent_id=posted.login.agent_id, now=desk.clock(), known_articles=known,
                turn_id=draft.turn_id, original_reply=draft.original_reply)

    try:
        correction_id = await run_in_threadpool(store)
    except corrections.CorrectionError as e:
        return page(request, "correction_form.html", posted.login, status=400, draft=draft,
                    articles=_articles(request), error=str(e))
    logger.info("desk.correction id=%d agent=%d kb_missing=%s", correction_id,
                posted.login.agent_id, kb_missing)
    response = RedirectResponse("/corrections", status_code=303)
    set_flash(response, "Approved: the bot gives this answer from now on.")
    return response


@router.post("/corrections/{correction_id}/withdraw")
def correction_withdraw(correction_id: int, request: Request,
                        posted: Posted = Depends(posted_form)) -> Response:
    if not posted.login.is_admin:
        raise HTTPException(403, "Only an admin may withdraw an approved answer.")
    desk = desk_of(request)
    with writing(desk.sessions) as session:
        done = corrections.withdraw(session, correction_id, posted.login.agent_id, desk.clock())
    response = RedirectResponse("/corrections", status_code=303)
    set_flash(response, "Withdrawn: the bot no longer gives it." if done
              else "That answer was already withdrawn.", "info" if done else "error")
    return response
