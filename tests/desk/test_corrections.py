"""Corrections in the desk: an agent approves the right answer for a bot reply, an admin can
withdraw it, and the "no article" ones are listed for whoever writes articles."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.storage.models import ApprovedAnswer
from tests.desk.conftest import csrf_of


def approved(sessions):
    with sessions() as session:
        return session.scalars(select(ApprovedAnswer).order_by(ApprovedAnswer.id)).all()


@pytest.fixture
def a_bot_reply(add_turn, add_line):
    """A customer question and the bot's (wrong) reply in a transcript, with its logged turn."""
    add_turn("m-1", intent="shipping_costs", article_id="shipping-options")
    add_line("customer", "do you ship to iceland", message_id="m-1")
    return add_line("bot", "We ship to the US only.", message_id="m-1")


def test_the_form_starts_from_the_bot_reply_and_approving_stores_it(browser, sessions,
                                                                     a_bot_reply):
    ana = browser("ana")
    line_id = a_bot_reply
    form = ana.get(f"/corrections/new?line={line_id}")
    assert form.status_code == 200
    assert 'value="do you ship to iceland"' in form.text
    assert "We ship to the US only." in form.text
    assert '<option value="shipping-options" selected>' in form.text
    answer = ana.post("/corrections", data={
        "csrf_token": csrf_of(form.text), "question": "Do you ship to Iceland?",
        "answer": "Yes: we ship to Iceland, in 7 to 12 business days.",
        "article_id": "shipping-options", "turn_id": "1",
        "original_reply": "We ship to the US only."}, follow_redirects=False)
    assert answer.status_code == 303
    (row,) = approved(sessions)
    assert (row.question, row.article_id, row.status, row.kb_missing) == (
        "Do you ship to Iceland?", "shipping-options", "approved", False)
    assert row.turn_id == 1 and row.original_reply == "We ship to the US only."
    listed = ana.get("/corrections").text
    assert "Do you ship to Iceland?" in listed and "Withdraw" not in listed  # agents can't


def test_an_answer_needs_an_article_or_the_no_article_mark(browser, sessions):
    ana = browser("ana")
    token = csrf_of(ana.get("/corrections/new").text)
    refused = ana.post("/corrections", data={"csrf_token": token, "question": "Do you sell kites?",
                                             "answer": "Not yet."})
    assert refused.status_code == 400 and "Pick the article" in refused.text
    assert approved(sessions) == []
    ana.post("/corrections", data={"csrf_token": token, "question": "Do you sell kites?",
                                   "answer": "Not yet.", "kb_missing": "yes"})
    (row,) = approved(sessions)
    assert row.kb_missing and row.article_id is None
    page = ana.get("/corrections").text
    assert page.index("Questions the help centre has no article on") < page.rindex("Do you sell kites?")


def test_only_an_admin_withdraws_and_a_post_without_the_token_changes_nothing(browser, sessions):
    ana, boss = browser("ana"), browser("boss", "admin")
    token = csrf_of(ana.get("/corrections/new").text)
    ana.post("/corrections", data={"csrf_token": token, "question": "Is gift wrap free?",
                                   "answer": "Gift wrap costs $4.", "kb_missing": "yes"})
    (row,) = approved(sessions)
    assert ana.post(f"/corrections/{row.id}/withdraw", data={"csrf_token": token}).status_code == 403
    assert boss.post(f"/corrections/{row.id}/withdraw", data={}).status_code == 403  # no token
    assert approved(sessions)[0].status == "approved"
    boss_token = csrf_of(boss.get("/corrections").text)
    boss.post(f"/corrections/{row.id}/withdraw", data={"csrf_token": boss_token})
    assert approved(sessions)[0].status == "withdrawn"
