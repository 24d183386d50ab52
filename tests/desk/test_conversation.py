"""One conversation: the transcript (escaped), the live events, the suggestion, and replying,
handing back and closing through the bridge."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from bot.desk import queue, transcript
from bot.desk.live import conversation_events
from bot.handoff import hours
from bot.storage.models import AgentMessage, Handoff
from tests.desk.conftest import page_csrf


def _reply(client, handoff_id, text, **hidden):
    data = {"csrf_token": page_csrf(client, f"/conversations/{handoff_id}"), "text": text,
            "suggested_text": "", "suggested_sources": "[]", "question": "", **hidden}
    return client.post(f"/conversations/{handoff_id}/reply", data=data)


def _messages(sessions):
    with sessions() as session:
        return session.scalars(select(AgentMessage).order_by(AgentMessage.id)).all()


def _handoff(sessions, handoff_id):
    with sessions() as session:
        return session.get(Handoff, handoff_id)


def test_the_transcript_shows_every_line_with_the_bots_turn(browser, add_handoff, add_line,
                                                             add_turn):
    handoff_id = add_handoff()
    add_line("customer", "How long does a refund take?", message_id="m1")
    add_line("bot", "Refunds take 5 business days.", message_id="m1")
    add_line("channel", "Sorry, that took too long.")
    add_line("customer", "someone else's line", sender_hash="z" * 64)
    add_turn("m1")
    page = browser("ana").get(f"/conversations/{handoff_id}").text
    assert page.index("How long does a refund take?") < page.index("Refunds take 5 business")
    assert "Sorry, that took too long." in page
    assert "someone else" not in page
    assert "intent: ask_refund (0.91)" in page
    assert "refunds (0.812)" in page and "rejected (novel_words)" in page
    assert 'data-last-line="3"' in page


def test_html_in_messages_is_shown_as_text(browser, add_handoff, add_line, sessions):
    handoff_id = add_handoff(summary="<i>summary</i>")
    add_line("customer", "<script>alert(1)</script> and <b>x</b>")
    add_line("agent", '<img src=x onerror="alert(2)">')
    page = browser("ana").get(f"/conversations/{handoff_id}").text
    assert "<script>alert(1)" not in page and "<b>x</b>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; and &lt;b&gt;x&lt;/b&gt;" in page
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in page
    assert "&lt;i&gt;summary&lt;/i&gt;" in page


def test_a_reply_goes_through_the_bridge_and_is_stored(browser, add_handoff, add_line, bridge,
                                                       sessions, clock):
    handoff_id = add_handoff(channel="slack", sender_id="U123")
    add_line("customer", "Where is my refund?", channel="slack")
    ana = browser("ana")
    page = _reply(ana, handoff_id, "  Hi, this is Ana. It's on its way.  ",
                  question="Where is my refund?")
    assert bridge.sent == [("slack", "U123", "Hi, this is Ana. It's on its way.")]
    assert "Sent." in page.text
    [message] = _messages(sessions)
    assert message.sent_text == "Hi, this is Ana. It's on its way."
    assert message.used == "own" and message.suggested_text is None
    assert message.delivered and message.question == "Where is my refund?"
    handoff = _handoff(sessions, handoff_id)
    assert handoff.status == "claimed"  # sending on a queued conversation claims it
    assert handoff.first_reply_at == clock()
    assert message.agent_id == handoff.claimed_by


def test_the_suggestion_used_as_is_or_edited_is_recorded(browser, add_handoff, bridge, sessions,
                                                         clock):
    handoff_id = add_handoff()
    ana = browser("ana")
    suggestion = "Refunds reach your account within 5 business days."
    sources = json.dumps([{"article_id": "refunds", "url": "https://help.example/refunds",
                           "score": 0.82}])
    _reply(ana, handoff_id, suggestion + "\n", suggested_text=suggestion,
           suggested_sources=sources, question="refund?")
    first_reply = clock()
    clock.advance(minutes=1)
    _reply(ana, handoff_id, suggestion + " Sorry for the wait!", suggested_text=suggestion,
           suggested_sources=sources)
    as_is, edited = _messages(sessions)
    assert (as_is.used, edited.used) == ("as_is", "edited")
    assert as_is.suggested_text == suggestion
    assert as_is.suggested_sources == [{"article_id": "refunds",
                                        "url": "https://help.example/refunds", "score": 0.82}]
    assert len(bridge.sent) == 2
    assert _handoff(sessions, handoff_id).first_reply_at == first_reply  # the first one only


def test_personal_data_is_masked_in_the_stored_reply_not_in_the_sent_one(
        browser, add_handoff, bridge, sessions):
    handoff_id = add_handoff()
    _reply(browser("ana"), handoff_id, "Write to ana@example.com please")
    assert bridge.sent[0][2] == "Write to ana@example.com please"
    assert _messages(sessions)[0].sent_text == "Write to [email] please"


def test_a_failed_send_is_stored_undelivered_and_shown(browser, add_handoff, bridge, sessions):
    handoff_id = add_handoff()
    bridge.fail = "The bot's server did not answer; try again in a moment."
    page = _reply(browser("ana"), handoff_id, "Hello")
    assert "Not sent: The bot&#39;s server did not answer" in page.text
    [message] = _messages(sessions)
    assert not message.delivered
    assert _handoff(sessions, handoff_id).first_reply_at is None


@pytest.mark.parametrize("text", ["", "   ", "x" * 2001])
def test_replies_must_have_1_to_2000_characters(browser, add_handoff, bridge, sessions, text):
    handoff_id = add_handoff()
    page = _reply(browser("ana"), handoff_id, text)
    assert "A reply needs 1 to 2000 characters." in page.text
    assert bridge.sent == [] and _messages(sessions) == []


def test_only_the_claiming_agent_or_an_admin_may_answer_or_end(browser, add_handoff, bridge,
                                                                sessions):
    handoff_id = add_handoff()
    ana, bruno, boss = browser("ana"), browser("bruno"), browser("boss", "admin")
    _reply(ana, handoff_id, "Hi from Ana")
    refused = _reply(bruno, handoff_id, "Hi from Bruno")
    assert "Ana has this conversation" in refused.text
    bruno.post(f"/conversations/{handoff_id}/close",
               data={"csrf_token": page_csrf(bruno)})
    assert _handoff(sessions, handoff_id).status == "claimed"
    _reply(boss, handoff_id, "Hi from the boss")
    assert [text for _, _, text in bridge.sent] == ["Hi from Ana", "Hi from the boss"]


@pytest.mark.parametrize("action, status, note", [
    ("handback", "handed_back", hours.BACK_WITH_BOT),
    ("close", "closed", hours.CLOSED_BY_AGENT),
])
def test_hand_back_and_close_resume_the_bot_and_end_the_handoff(
        browser, add_handoff, bridge, sessions, clock, action, status, note):
    handoff_id = add_handoff(channel="wechat", sender_id="openid-1")
    ana = browser("ana")
    ana.post(f"/conversations/{handoff_id}/claim", data={"csrf_token": page_csrf(ana)})
    page = ana.post(f"/conversations/{handoff_id}/{action}", data={"csrf_token": page_csrf(ana)})
    assert bridge.resumed == [("wechat", "openid-1", note)]
    handoff = _handoff(sessions, handoff_id)
    assert handoff.status == status and handoff.ended_at == clock()
    assert handoff.ended_by == handoff.claimed_by
    assert "This conversation has ended" in page.text and 'id="reply-form"' not in page.text
    again = _reply(ana, handoff_id, "Hello?")
    assert "This conversation has ended." in again.text and bridge.sent == []


@pytest.mark.parametrize("action", ["handback", "close"])
def test_a_failed_resume_leaves_the_status(browser, add_handoff, bridge, sessions, action):
    handoff_id = add_handoff()
    ana = browser("ana")
    ana.post(f"/conversations/{handoff_id}/claim", data={"csrf_token": page_csrf(ana)})
    bridge.fail = "unreachable"
    page = ana.post(f"/conversations/{handoff_id}/{action}", data={"csrf_token": page_csrf(ana)})
    assert "Nothing changed: unreachable" in page.text
    handoff = _handoff(sessions, handoff_id)
    assert handoff.status == "claimed" and handoff.ended_at is None


def test_the_suggestion_answers_the_customers_latest_message(browser, add_handoff, add_line):
    handoff_id = add_handoff()
    ana = browser("ana")
    assert ana.get(f"/conversations/{handoff_id}/suggestion").json()["kind"] == "no_question"
    add_line("customer", "When will my parcel be delivered?")
    add_line("bot", "Let me pass you to a person.")
    add_line("customer", "And my refund?")
    data = ana.get(f"/conversations/{handoff_id}/suggestion").json()
    assert data["question"] == "And my refund?" and data["question_id"] == 3
    assert data["kind"] == "extractive" and data["usable"]
    assert data["text"] == "Refunds reach your account within 5 business days."
    assert data["sources"] == [{"article_id": "refunds", "url": "https://help.example/refunds",
                                "score": 0.82}]
    add_line("customer", "hmm")
    none = ana.get(f"/conversations/{handoff_id}/suggestion").json()
    assert none["kind"] == "no_answer" and not none["usable"] and none["text"] == ""


def test_a_slow_suggester_times_out_without_holding_the_page(settings, sessions, bridge, clock,
                                                             add_agent, add_handoff, add_line):
    import threading

    from fastapi.testclient import TestClient

    from bot.desk.app import create_app
    from bot.desk.suggest import Suggester
    from tests.desk.conftest import log_in

    release = threading.Event()

    def slow(text, previous):
        release.wait(5)
        return {"text": "late", "kind": "extractive", "sources": []}

    app = create_app(settings, sessions=sessions, bridge=bridge,
                     suggester=Suggester(slow, timeout_s=0.2), clock=clock, login_delay_s=0)
    add_agent("ana")
    handoff_id = add_handoff()
    add_line("customer", "Anything?")
    client = TestClient(app)
    log_in(client, "ana")
    assert client.get(f"/conversations/{handoff_id}").status_code == 200
    assert client.get(f"/conversations/{handoff_id}/suggestion").json()["kind"] == "timeout"
    release.set()  # the work finishes in the background; the next request gets it at once
    for _ in range(50):
        data = client.get(f"/conversations/{handoff_id}/suggestion").json()
        if data["kind"] != "timeout":
            break
    assert data["text"] == "late"
    app.state.desk.suggester.shutdown()


def test_the_event_stream_yields_new_lines_and_status_changes(add_handoff, add_line, sessions,
                                                               clock):
    handoff_id = add_handoff()
    first = add_line("customer", "Hello?")

    async def poll(after_id):
        with sessions() as session:
            handoff = queue.get_handoff(session, handoff_id)
            new = transcript.lines_after(session, handoff.channel, handoff.sender_hash, after_id)
            return [line.to_json() for line in new], {"status": handoff.status}

    async def connected():
        return False

    async def run():
        events = conversation_events(poll, connected, after_id=first, poll_s=0.01)
        status = await anext(events)
        assert status.startswith("event: status\n") and '"status":"queued"' in status
        added = add_line("customer", "<b>still there?</b>")
        line = await anext(events)
        assert line.startswith(f"id: {added}\nevent: line\ndata: ")
        data = json.loads(line.split("data: ", 1)[1])
        assert data["text"] == "<b>still there?</b>" and data["role"] == "customer"
        with sessions() as session, session.begin():
            session.get(Handoff, handoff_id).status = "closed"
        assert '"status":"closed"' in await anext(events)
        await events.aclose()

    asyncio.run(asyncio.wait_for(run(), 5))


def test_the_event_stream_keeps_alive_and_stops_when_the_client_leaves():
    ticks = iter(range(100))
    gone = {"value": False}

    async def poll(after_id):
        return [], {"status": "queued"}

    async def disconnected():
        return gone["value"]

    async def run():
        events = conversation_events(poll, disconnected, poll_s=0, keepalive_s=3,
                                     monotonic=lambda: next(ticks))
        assert (await anext(events)).startswith("event: status")
        assert await anext(events) == ": keep-alive\n\n"
        gone["value"] = True
        with pytest.raises(StopAsyncIteration):
            await anext(events)

    asyncio.run(asyncio.wait_for(run(), 5))


def test_the_events_route_ends_for_a_logged_out_agent(browser, add_handoff, app):
    handoff_id = add_handoff()
    ana = browser("ana")
    ana.post("/logout", data={"csrf_token": page_csrf(ana)})
    assert ana.get(f"/conversations/{handoff_id}/events").status_code == 401
    assert browser("bruno").get("/conversations/999", headers={"Accept": "text/html"}
                                ).status_code == 404


def test_start_up_warms_the_suggester_in_the_background(settings, sessions, bridge, clock):
    import threading
    import time

    from fastapi.testclient import TestClient

    from bot.desk.app import create_app

    called, release = threading.Event(), threading.Event()

    def loading(text, previous):
        called.set()
        release.wait(5)  # a knowledge base that takes its time to load
        return {"text": "ok", "kind": "extractive", "sources": []}

    app = create_app(settings, sessions=sessions, bridge=bridge, suggester=loading, clock=clock)
    started = time.perf_counter()
    try:
        with TestClient(app) as client:
            assert client.get("/health").json() == {"status": "ok"}
            assert called.wait(2)
            assert time.perf_counter() - started < 2  # served while the model was loading
    finally:
        release.set()
