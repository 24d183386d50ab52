"""The web chat page in a real browser: Debian's Chromium driven by Playwright, against the real
servers. Never downloads a browser (`playwright install` is not used): /usr/bin/chromium comes from
Debian (.ci/run installs it). Without it the test skips locally and fails in CI.
"""

from __future__ import annotations

import pytest

from bot.settings import ROOT

pytestmark = pytest.mark.integration

SCREENSHOT = ROOT / "reports" / "screenshots" / "webchat.png"
TRACK_URL = "https://help.larkspur.example/articles/track-your-order"


def test_chat_in_the_browser_survives_a_reload(browser, channel_servers):
    origin = channel_servers.url
    page = browser.new_page(viewport={"width": 900, "height": 760})
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    bot_messages = page.locator(".rw-response")

    page.goto(f"{origin}/chat/")
    page.wait_for_selector(".rw-response >> text=Larkspur's support assistant", timeout=30_000)

    page.fill(".rw-new-message", "how do I track a parcel")
    page.keyboard.press("Enter")
    link = page.locator(f".rw-response a[href='{TRACK_URL}']")
    link.first.wait_for(timeout=30_000)
    assert link.first.get_attribute("target") == "_blank"  # the help article opens beside the chat
    assert link.first.is_visible()

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    aside = SCREENSHOT.with_suffix(".png.tmp")
    page.screenshot(path=str(aside), type="png")
    aside.replace(SCREENSHOT)

    session_id = page.evaluate("() => JSON.parse(sessionStorage.getItem('chat_session')).session_id")
    shown_before = bot_messages.all_inner_texts()

    page.reload()
    page.locator(f".rw-response a[href='{TRACK_URL}']").first.wait_for(timeout=30_000)
    assert bot_messages.all_inner_texts() == shown_before  # same conversation, no second greeting
    assert page.evaluate(
        "() => JSON.parse(sessionStorage.getItem('chat_session')).session_id"
    ) == session_id

    page.fill(".rw-new-message", "thanks")
    page.keyboard.press("Enter")
    page.wait_for_selector(".rw-response >> text=You're welcome", timeout=30_000)

    # The server saw one conversation, carried on after the reload, all of it over socket.io.
    turns = channel_servers.user_turns(session_id)
    assert [t["text"] for t in turns] == ["/greet", "how do I track a parcel", "thanks"]
    assert {t["input_channel"] for t in turns} == {"socketio"}
    # Nothing came from anywhere but our own server: no CDN, no web font.
    assert requested and all(url.startswith(origin) or url.startswith("data:") for url in requested)
    page.close()
