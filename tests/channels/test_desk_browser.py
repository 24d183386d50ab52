"""The hand-over to a person, end to end in a real browser: a customer in the web chat page and an
agent in the desk, two browser contexts (Debian's Chromium, Playwright), against the real Rasa
server, action server and desk.

The customer asks for a person; the agent logs in, finds the conversation in the queue with its
transcript, claims it, sees the customer's next message arrive without reloading, sends the
suggested reply, and the customer reads it in the widget; HTML the agent types shows as text;
the agent hands back and the bot answers the next message. Screenshots of the desk go to
reports/screenshots/. The two delays a customer feels are printed: "I want a person" until the
desk shows the conversation, and the agent's send until the widget shows it.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from bot.settings import ROOT
from bot.storage.db import make_engine
from tests.channels.conftest import DESK_PASSWORD as PASSWORD

pytestmark = pytest.mark.integration

SCREENSHOTS = ROOT / "reports" / "screenshots"
TRACK_URL = "https://help.larkspur.example/articles/track-your-order"
HTML_REPLY = "Please read <b>this</b> <img src=x onerror=alert(1)> carefully"


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    aside = SCREENSHOTS / f"{name}.png.tmp"
    page.screenshot(path=str(aside), type="png", full_page=True)
    aside.replace(SCREENSHOTS / f"{name}.png")


def test_a_person_takes_over_answers_in_the_widget_and_hands_back(browser, channel_servers, desk):
    origin = channel_servers.url
    customer = browser.new_context(viewport={"width": 900, "height": 760}).new_page()
    agent = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    agent.on("dialog", lambda dialog: dialog.accept())  # "Hand this conversation back?"

    # The customer asks for a person.
    customer.goto(f"{origin}/chat/")
    customer.wait_for_selector(".rw-response >> text=Larkspur's support assistant", timeout=30_000)
    session_id = customer.evaluate(
        "() => JSON.parse(sessionStorage.getItem('chat_session')).session_id")
    customer.fill(".rw-new-message", "I want to talk to a person")
    asked = time.perf_counter()
    customer.keyboard.press("Enter")
    customer.wait_for_selector(".rw-response >> text=in the queue", timeout=30_000)

    # The agent logs in and finds the conversation in the queue.
    agent.goto(f"{desk}/conversations/1")
    assert agent.url.endswith("/login")  # nothing without a login
    agent.fill("input[name=username]", "ana")
    agent.fill("input[name=password]", PASSWORD)
    agent.click("button[type=submit]")
    agent.goto(f"{desk}/")
    row = agent.locator("#open-rows tr", has_text="asked for a person")
    row.wait_for(timeout=30_000)
    shown_in_desk = time.perf_counter() - asked
    assert "socketio" in row.inner_text() and "queued" in row.inner_text()
    shot(agent, "desk_queue")

    # The transcript: what the customer wrote and what the bot answered.
    row.locator("a").click()
    transcript = agent.locator("#transcript")
    transcript.locator(".role-customer >> text=I want to talk to a person").wait_for()
    assert "in the queue" in transcript.locator(".role-bot").last.inner_text()
    agent.click("button:has-text('Claim')")
    agent.locator("#status >> text=claimed").wait_for()

    # The customer writes again; the agent sees it arrive without reloading the page.
    agent.evaluate("() => { window.notReloaded = true; }")
    customer.fill(".rw-new-message", "Can I return candles?")
    customer.keyboard.press("Enter")
    transcript.locator(".role-customer >> text=Can I return candles").wait_for(timeout=30_000)
    assert agent.evaluate("() => window.notReloaded === true")

    # The suggested reply, for that question, sent as it is.
    agent.wait_for_function(
        "() => { const s = document.getElementById('suggestion-text');"
        " return !s.hidden && s.textContent.toLowerCase().includes('candle'); }",
        timeout=60_000)
    suggested = agent.locator("#suggestion-text").inner_text()
    agent.click("#use-suggestion")
    assert agent.input_value("#reply-text") == suggested
    shot(agent, "desk_conversation")
    agent.click("#reply-form button[type=submit]")
    sent = time.perf_counter()
    first_words = suggested.split("\n")[0].lstrip("- ")[:30]  # the widget renders the list
    customer.locator(".rw-response", has_text=first_words).last.wait_for(timeout=30_000)
    seen_in_widget = time.perf_counter() - sent

    # HTML typed by the agent is shown as text, in the widget and in the desk.
    agent.fill("#reply-text", HTML_REPLY)
    agent.click("#reply-form button[type=submit]")
    customer.locator(".rw-response", has_text="carefully").last.wait_for(timeout=30_000)
    widget_text = customer.locator(".rw-response", has_text="carefully").last.inner_text()
    assert "<b>this</b>" in widget_text
    assert customer.locator(".rw-response b, .rw-response img").count() == 0
    transcript.locator(".role-agent", has_text="carefully").wait_for(timeout=30_000)
    assert "<b>this</b>" in transcript.locator(".role-agent", has_text="carefully").inner_text()
    assert agent.locator("#transcript b, #transcript img").count() == 0

    # While the person has it, the bot said nothing of its own (the tracker has no bot turn).
    events = channel_servers.events(session_id)
    paused = max(i for i, e in enumerate(events) if e.get("event") == "pause")
    assert [e for e in events[paused:] if e.get("event") == "bot"] == []

    # Hand back: the bot answers the next message.
    agent.click("button:has-text('Hand back to the bot')")
    customer.wait_for_selector(".rw-response >> text=back with Larkspur's virtual assistant",
                               timeout=30_000)
    customer.fill(".rw-new-message", "how do I track a parcel")
    customer.keyboard.press("Enter")
    customer.locator(f".rw-response a[href='{TRACK_URL}']").first.wait_for(timeout=30_000)
    shot(agent, "desk_handed_back")

    engine = make_engine(channel_servers.settings.log_url)
    with engine.connect() as connection:
        status, first_reply = connection.execute(text(
            "SELECT status, first_reply_at FROM handoffs WHERE channel = 'socketio'")).one()
        messages = connection.execute(text(
            "SELECT used, suggested_text = sent_text, delivered FROM agent_messages "
            "ORDER BY id")).all()
        roles = [r for r, in connection.execute(text(
            "SELECT role FROM transcript WHERE channel = 'socketio' AND id > (SELECT MIN(id) "
            "FROM transcript WHERE text LIKE '%in the queue%') AND id < (SELECT id FROM "
            "transcript WHERE kind = 'resumed') ORDER BY id"))]
    assert status == "handed_back" and first_reply is not None
    # The log agrees with the tracker: while Ana had it, only she and the customer wrote.
    assert set(roles) == {"customer", "agent"} and roles.count("agent") == 2
    # The suggestion sent as it was, then the agent's own words while it was still shown.
    assert [(used, bool(same), bool(delivered)) for used, same, delivered in messages] == [
        ("as_is", True, True), ("edited", False, True)]
    print(f"\ndesk timings: asked->in desk {shown_in_desk:.2f} s, sent->in widget "
          f"{seen_in_widget:.2f} s")
