"""A correction takes effect at once: an approved answer reaches the next customer who asks the
same thing, through the real servers, without a restart; withdrawn, it stops. (How far a
rewording may go is measured in reports/corrections.md: not far, for now.)"""

from __future__ import annotations

import time

import pytest
from sqlalchemy.orm import Session

from bot.storage.db import make_engine
from bot.storage.models import ApprovedAnswer

pytestmark = pytest.mark.integration

ANSWER = "Yes: our gift wrap is free on every order, and you can add a message card too."


def ask_until(bot, sender: str, text: str, want, timeout_s: float = 15.0) -> str:
    """The reply to ``text``, asked again until ``want(reply)`` or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        reply = "\n".join(bot.say(sender, text)[0])
        if want(reply) or time.monotonic() > deadline:
            return reply
        time.sleep(1.0)


def test_an_approved_answer_is_given_at_once_and_stops_when_withdrawn(bot):
    engine = make_engine(bot.log_read_url)
    try:
        with Session(engine) as session, session.begin():
            row = ApprovedAnswer(question="Is gift wrapping free?", answer=ANSWER,
                                 article_id=None, kb_missing=True, status="approved")
            session.add(row)
            session.flush()
            row_id = row.id
        reply = ask_until(bot, f"wrap-{bot.db_kind}", "is gift wrapping free",
                          lambda r: ANSWER in r)
        assert reply == f"{ANSWER}\nAnswer from our support team."
        # An unrelated question still gets the help centre.
        other = "\n".join(bot.say(f"wrap-{bot.db_kind}", "how do I track a parcel")[0])
        assert ANSWER not in other and "track-your-order" in other

        with Session(engine) as session, session.begin():
            session.get(ApprovedAnswer, row_id).status = "withdrawn"
        reply = ask_until(bot, f"wrap2-{bot.db_kind}", "is gift wrapping free",
                          lambda r: ANSWER not in r)
        assert ANSWER not in reply
        logged = bot.log_query(
            "SELECT r.passage_id FROM retrievals r JOIN turns t ON t.id = r.turn_id "
            "JOIN conversations c ON c.id = t.conversation_id WHERE c.sender_hash = :h",
            h=bot.sender_hash(f"wrap-{bot.db_kind}"))
        assert {"passage_id": f"approved#{row_id}"} in logged
    finally:
        engine.dispose()
