"""The review pages: the bot's replies, filtered, and one reply in full with a way to correct it.
Read only; every route needs a login, like the rest of the desk."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from bot.desk import review
from bot.desk.web import desk_of, page, page_login

logger = logging.getLogger(__name__)

router = APIRouter()


@router.get("/review")
def review_list(request: Request, login=Depends(page_login)) -> Response:
    # The form shows back what was asked, even a bad value, so the agent sees what to mend.
    given = {name: request.query_params.get(name, "")[:review.MAX_FILTER_CHARS]
             for name in review.FILTER_NAMES}
    desk = desk_of(request)
    with desk.sessions() as session:
        channels, intents = review.choices(session)
        try:
            filters = review.parse_filters(request.query_params)
        except review.FilterError as e:
            logger.info("desk.review_bad_filters agent=%d problems=%d", login.agent_id,
                        len(e.messages))
            return page(request, "review.html", login, status=400, given=given,
                        errors=e.messages, listing=None, filters=None, channels=channels,
                        intents=intents, outcomes=review.OUTCOMES, ratings=review.RATINGS)
        listing = review.listing(session, filters)
    return page(request, "review.html", login, given=given, errors=[], listing=listing,
                filters=filters, channels=channels, intents=intents, outcomes=review.OUTCOMES,
                ratings=review.RATINGS)


@router.get("/review/turns/{turn_id}")
def review_turn(turn_id: int, request: Request, login=Depends(page_login)) -> Response:
    desk = desk_of(request)
    with desk.sessions() as session:
        turn = review.turn_review(session, turn_id)
    if turn is None:
        raise HTTPException(404, "There is no such reply in the log.")
    correct_url = (f"/corrections/new?line={turn.bot_line_id}" if turn.bot_line_id is not None
                   else f"/corrections/new?turn={turn.id}")
    return page(request, "review_turn.html", login, turn=turn, correct_url=correct_url)
