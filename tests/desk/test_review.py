"""Review in the desk: the bot's replies filtered by channel, date, intent, outcome and rating,
one reply in full (passages, scores, drafts, ratings, the transcript), and correcting it.

The turns are written by the conversation log itself (ConversationLog.record_turn), the way
the action server writes them, and the outcomes are checked against the log's own stats."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone
from typing import List, Optional

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.desk import review
from bot.desk.web import writing
from bot.storage.log import (
    ConversationLog,
    DraftRecord,
    RetrievalRecord,
    TurnRecord,
)
from bot.storage.models import ApprovedAnswer, Feedback, TranscriptLine
from tests.desk.conftest import csrf_of

DAY = datetime(2026, 3, 2, tzinfo=timezone.utc)


@pytest.fixture
def log(sessions):
    return ConversationLog(sessions, salt="test-salt")


@pytest.fixture
def record(log):
    def add(question: str, reply: str, *, at: datetime, channel: str = "socketio",
            sender: str = "cust-1", intent: Optional[str] = "ask_refund", answered: bool = True,
            handoff: bool = False, message_id: Optional[str] = None,
            article: Optional[str] = None, draft: Optional[str] = None,
            failed_check: Optional[str] = None) -> int:
        return log.record_turn(TurnRecord(
            channel=channel, sender_id=sender, user_text=question, intent=intent,
            confidence=0.9134, bot_reply=reply, latency_ms=240, answered=answered,
            handoff=handoff, message_id=message_id, created_at=at,
            retrievals=[RetrievalRecord(article, f"{article}#2", 0.81234, 1),
                        RetrievalRecord("return-policy", "return-policy#1", 0.5, 2)]
            if article else [],
            draft=DraftRecord("run-7", "p" * 64, f"draft for {question}", draft,
                              failed_check=failed_check) if draft else None,
        ))
    return add


@pytest.fixture
def line(sessions, log):
    """A transcript line as the channels write it (sender hashed with the log's salt)."""
    def add(role: str, text: str, *, at: datetime, channel: str = "socketio",
            sender: str = "cust-1", message_id: Optional[str] = None,
            kind: Optional[str] = None) -> int:
        with writing(sessions) as session:
            row = TranscriptLine(channel=channel, sender_hash=log.sender_hash(sender), role=role,
                                 text=text, message_id=message_id, kind=kind, created_at=at)
            session.add(row)
            session.flush()
            return row.id
    return add


def rate(sessions, rating: int, *, turn_id: Optional[int] = None,
         message_id: Optional[str] = None, comment: Optional[str] = None) -> None:
    with writing(sessions) as session:
        session.add(Feedback(turn_id=turn_id, message_id=message_id, rating=rating,
                             comment=comment))


@pytest.fixture
def replies(record, line, sessions):
    """Six replies over four days, one of each outcome, on three channels; the ids by name."""
    ids = {}
    at = DAY + timedelta(hours=9)
    line("customer", "How long does a refund take?", at=at, message_id="m-refund")
    line("bot", "Refunds take 5 to 10 business days.", at=at, message_id="m-refund")
    ids["refund"] = record("How long does a refund take?", "Refunds take 5 to 10 business days.",
                           at=at, message_id="m-refund", article="refund-timelines",
                           draft="rejected", failed_check="novel_words")
    at = DAY + timedelta(hours=11)
    ids["parcel"] = record("Where is my parcel?", "Your parcel is on its way.", at=at,
                           channel="slack", sender="U42", intent="track_order",
                           message_id="m-parcel")
    line("customer", "Where is my parcel?", at=at, channel="slack", sender="U42",
         message_id="m-parcel")
    line("channel", "Sorry, that took too long.", at=at, channel="slack", sender="U42",
         message_id="m-parcel", kind="timeout")  # the customer got this, not the answer
    ids["iceland"] = record("Do you ship to Iceland?", "Sorry, I couldn't find that.",
                            at=DAY - timedelta(hours=3), channel="rest", sender="r-1",
                            intent="shipping_costs", answered=False,
                            article="delivery-rest-of-world")
    ids["person"] = record("I want to talk to a person", "I'm passing you to a person.",
                           at=DAY + timedelta(days=1, hours=2), intent="contact_human_agent",
                           sender="cust-2")
    ids["klarna"] = record("Can I pay with Klarna?", "Yes, Klarna is accepted at checkout.",
                           at=DAY + timedelta(days=2), intent="payment_methods",
                           sender="cust-3", article="pay-with-klarna", draft="sent")
    ids["angry"] = record("<b>Why</b> is my order late?", "Orders ship within 2 days.",
                          at=DAY + timedelta(days=2, hours=1), intent="track_order",
                          sender="cust-4", handoff=True, answered=False,
                          message_id="m-angry")
    rate(sessions, -1, turn_id=ids["refund"], comment="Too vague, I asked about PayPal")
    rate(sessions, 1, turn_id=ids["parcel"])
    return ids


def questions(page: str) -> List[str]:
    """The customer questions of the listed rows, in the page's order, as a reader sees them."""
    return [html.unescape(q) for q in
            re.findall(r'<tr class="review-row">.*?<td class="text">(.*?)</td>', page, re.S)]


def listed(client: TestClient, query: str = "") -> List[str]:
    response = client.get(f"/review?{query}")
    assert response.status_code == 200, response.text
    return questions(response.text)


ALL = ["<b>Why</b> is my order late?", "Can I pay with Klarna?", "I want to talk to a person",
       "Where is my parcel?", "How long does a refund take?", "Do you ship to Iceland?"]


def test_the_list_shows_every_reply_newest_first_with_its_outcome(browser, replies):
    ana = browser("ana")
    page = ana.get("/review")
    assert page.status_code == 200
    assert questions(page.text) == ALL
    assert '<a href="/review">Review</a>' in page.text  # in the nav
    assert "&lt;b&gt;Why&lt;/b&gt;" in page.text and "<b>Why" not in page.text
    row = page.text.split('<tr class="review-row">')[2]  # Klarna
    assert "socketio" in row and "payment_methods" in row and ">answered<" in row
    assert f'href="/review/turns/{replies["klarna"]}"' in row
    assert "6 replies" in page.text


@pytest.mark.parametrize("query, expected", [
    ("channel=rest", ["Do you ship to Iceland?"]),
    ("channel=slack", ["Where is my parcel?"]),
    ("from=2026-03-02&to=2026-03-02", ["Where is my parcel?", "How long does a refund take?"]),
    ("from=2026-03-03", ALL[:3]),
    ("to=2026-03-01", ["Do you ship to Iceland?"]),
    ("intent=track_order", ["<b>Why</b> is my order late?", "Where is my parcel?"]),
    ("outcome=answered", ["Can I pay with Klarna?", "How long does a refund take?"]),
    ("outcome=refused", ["<b>Why</b> is my order late?", "Where is my parcel?",
                         "Do you ship to Iceland?"]),
    ("outcome=handed_over", ["<b>Why</b> is my order late?", "I want to talk to a person"]),
    ("outcome=draft_rejected", ["How long does a refund take?"]),
    ("rating=down", ["How long does a refund take?"]),
    ("rating=up", ["Where is my parcel?"]),
    ("rating=any", ["Where is my parcel?", "How long does a refund take?"]),
    ("rating=none", ["<b>Why</b> is my order late?", "Can I pay with Klarna?",
                     "I want to talk to a person", "Do you ship to Iceland?"]),
    ("channel=socketio&outcome=answered&rating=down", ["How long does a refund take?"]),
    ("intent=track_order&outcome=answered", []),
])
def test_each_filter_narrows_the_list_to_its_rows(browser, replies, query, expected):
    assert listed(browser("ana"), query) == expected


def test_the_form_offers_the_channels_and_intents_in_the_log_and_keeps_the_choice(browser,
                                                                                  replies):
    page = browser("ana").get("/review?channel=slack&outcome=refused&from=2026-03-02").text
    for channel in ("rest", "slack", "socketio"):
        assert f'<option value="{channel}"' in page
    for intent in ("ask_refund", "contact_human_agent", "payment_methods", "track_order"):
        assert f'<option value="{intent}"' in page
    assert '<option value="slack" selected>' in page
    assert '<option value="refused" selected>' in page
    assert 'name="from" value="2026-03-02"' in page


def test_outcomes_agree_with_the_logs_stats(browser, replies, log):
    ana = browser("ana")
    stats = log.stats()
    refused = listed(ana, "outcome=refused")
    assert len(refused) == round(stats["refusal_rate"] * stats["turns"])
    for channel, figures in stats["by_channel"].items():
        in_channel = listed(ana, f"channel={channel}&outcome=refused")
        assert len(in_channel) == round(figures["refusal_rate"] * figures["turns"]), channel


def test_a_thumbs_down_shows_its_comment_in_the_row(browser, replies, sessions):
    page = browser("ana").get("/review?rating=down").text
    assert "thumbs down" in page and "Too vague, I asked about PayPal" in page
    assert "thumbs up" not in page.split('class="list review-list"', 1)[1]  # not the form's


def test_a_customers_rating_by_message_id_counts_for_its_turn(browser, replies, sessions):
    """The widget rates a message before the turn's id is known: only message_id is set."""
    rate(sessions, -1, message_id="m-angry", comment="It is a week late")
    ana = browser("ana")
    assert listed(ana, "rating=down") == ["<b>Why</b> is my order late?",
                                          "How long does a refund take?"]
    assert "It is a week late" in ana.get("/review?rating=down").text
    turn_page = ana.get(f"/review/turns/{replies['angry']}").text
    assert "thumbs down" in turn_page and "It is a week late" in turn_page


def test_the_list_is_paginated_and_the_links_keep_the_filters(browser, record):
    for i in range(review.PAGE_SIZE + 3):
        record(f"question number {i}", "an answer", at=DAY + timedelta(minutes=i))
    record("a slack question", "an answer", at=DAY, channel="slack")
    ana = browser("ana")
    first = ana.get("/review?channel=socketio")
    assert len(questions(first.text)) == review.PAGE_SIZE
    assert questions(first.text)[0] == f"question number {review.PAGE_SIZE + 2}"
    assert "page 1 of 2" in first.text
    older = re.search(r'href="(/review\?[^"]*)" rel="next"', first.text)
    assert older and 'rel="prev"' not in first.text
    second = ana.get(html.unescape(older.group(1)))
    assert questions(second.text) == ["question number 2", "question number 1",
                                      "question number 0"]
    assert "a slack question" not in second.text  # the channel filter went along
    assert 'rel="next"' not in second.text and 'rel="prev"' in second.text
    assert questions(ana.get("/review?channel=socketio&page=3").text) == []


def test_the_reply_page_shows_passages_scores_drafts_ratings_and_the_transcript(browser,
                                                                                 replies):
    page = browser("ana").get(f"/review/turns/{replies['refund']}")
    assert page.status_code == 200
    text = page.text
    assert "How long does a refund take?" in text and "Refunds take 5 to 10 business days." in text
    assert "<td>1</td><td>refund-timelines</td><td>refund-timelines#2</td><td>0.812</td>" in text
    assert "<td>2</td><td>return-policy</td><td>return-policy#1</td><td>0.5</td>" in text
    assert "<td>rejected</td><td>novel_words</td>" in text
    assert "draft for How long does a refund take?" in text
    assert "thumbs down" in text and "Too vague, I asked about PayPal" in text
    assert "intent: ask_refund (0.913)" in text
    assert ">answered<" in text and ">draft rejected<" in text
    assert 'class="line role-bot reviewed"' in text  # the transcript around it


def test_the_reply_page_shows_the_apology_the_customer_got(browser, replies):
    page = browser("ana").get(f"/review/turns/{replies['parcel']}").text
    assert "Sorry, that took too long." in page and ">refused<" in page
    assert "No draft" in page and "No passages" in page


def test_correcting_from_a_transcript_line_prefills_the_form(browser, replies, sessions):
    ana = browser("ana")
    page = ana.get(f"/review/turns/{replies['refund']}").text
    with sessions() as session:
        bot_line = session.scalar(select(TranscriptLine.id).where(
            TranscriptLine.role == "bot", TranscriptLine.message_id == "m-refund"))
    assert f'href="/corrections/new?line={bot_line}"' in page
    form = ana.get(f"/corrections/new?line={bot_line}").text
    assert 'value="How long does a refund take?"' in form
    assert '<option value="refund-timelines" selected>' in form


def test_correcting_a_reply_without_a_transcript_starts_from_the_turn(browser, replies,
                                                                      sessions):
    ana = browser("ana")
    turn_id = replies["iceland"]
    page = ana.get(f"/review/turns/{turn_id}").text
    assert "The channel recorded no transcript" in page
    assert "Already corrected" not in page
    match = re.search(r'href="(/corrections/new\?turn=\d+)"', page)
    assert match and match.group(1) == f"/corrections/new?turn={turn_id}"
    form = ana.get(match.group(1)).text
    assert 'value="Do you ship to Iceland?"' in form
    assert "Sorry, I couldn&#39;t find that." in form  # the reply being corrected
    assert '<option value="delivery-rest-of-world" selected>' in form
    assert f'name="turn_id" value="{turn_id}"' in form
    approved = ana.post("/corrections", data={
        "csrf_token": csrf_of(form), "question": "Do you ship to Iceland?",
        "answer": "Yes, in 7 to 12 business days.", "article_id": "delivery-rest-of-world",
        "turn_id": str(turn_id), "original_reply": "Sorry, I couldn't find that."},
        follow_redirects=False)
    assert approved.status_code == 303
    with sessions() as session:
        (row,) = session.scalars(select(ApprovedAnswer)).all()
        assert row.turn_id == turn_id
    again = ana.get(f"/review/turns/{turn_id}").text
    assert "Already corrected" in again and 'href="/corrections"' in again


def test_review_needs_a_login(app, replies):
    client = TestClient(app)
    for path in ("/review", "/review?outcome=refused", f"/review/turns/{replies['refund']}"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login", path


@pytest.mark.parametrize("query, message", [
    ("from=2026-13-01", "The 'from' date must be a date like 2026-03-02."),
    ("to=yesterday", "The 'to' date must be a date like 2026-03-02."),
    ("from=2026-03-04&to=2026-03-01", "The 'from' date is after the 'to' date."),
    ("outcome=lost", "The outcome must be one of: answered, refused, handed over, draft rejected."),
    ("rating=5", "The rating must be one of: thumbs down, thumbs up, any rating, unrated."),
    ("page=0", "The page must be a number from 1 to"),
    ("page=two", "The page must be a number from 1 to"),
    ("intent=" + "x" * 101, "The intent is too long."),
])
def test_bad_filters_are_answered_clearly(browser, replies, query, message):
    response = browser("ana").get(f"/review?{query}")
    assert response.status_code == 400
    assert message in html.unescape(response.text)
    assert questions(response.text) == []
    assert 'action="/review"' in response.text  # the form is there to mend them


def test_an_unknown_reply_is_a_404(browser):
    response = browser("ana").get("/review/turns/999", headers={"Accept": "text/html"})
    assert response.status_code == 404 and "no such reply" in response.text


def test_filters_parse_to_links_that_give_them_back():
    filters = review.parse_filters({"channel": "slack", "from": "2026-03-01", "to": "2026-03-02",
                                    "outcome": "handed_over", "rating": "none", "page": "3"})
    assert review.parse_filters(dict(re.findall(r"(\w+)=([^&]*)", filters.query()))) == filters
    assert "page=4" in filters.query(page=4) and "page" not in filters.query(page=1)


def test_a_reply_without_an_intent_is_still_answered_or_refused(browser, record):
    """A turn with no intent (a button payload, a skipped classifier) is not a hand-over."""
    record("hello?", "Hi! How can I help?", at=DAY, intent=None)
    record("hm", "Sorry, I couldn't find that.", at=DAY + timedelta(minutes=1), intent=None,
           answered=False)
    ana = browser("ana")
    assert listed(ana, "outcome=answered") == ["hello?"]
    assert listed(ana, "outcome=refused") == ["hm"]
    assert listed(ana, "outcome=handed_over") == []
