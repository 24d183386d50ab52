"""The dashboard in a real browser: Debian's Chromium (never a downloaded one) opens the page as an
admin, under the desk's Content-Security-Policy, and the vendored Chart.js draws every chart from
the page's JSON without one console error. Skipped locally without /usr/bin/chromium or without
the vendored bundle (`make desk-assets`); in CI (`CI=true`, after `make test` built it) it fails
instead."""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import timedelta

import pytest

from bot.desk import dashboard
from bot.storage.log import ConversationLog, TurnRecord
from tests.channels.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.desk.conftest import PASSWORD, START


def needs(ready: bool, reason: str) -> None:
    if not ready:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def served(app):
    """The desk's app on a free local port, in a thread: the URL."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the desk did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_chart_js_draws_every_chart_under_the_csp(served, sessions, add_agent, monkeypatch,
                                                   embedder):
    needs(CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    needs(dashboard.charts_available(),
          f"{dashboard.CHART_JS} is missing: make desk-assets vendors it")
    from playwright.sync_api import sync_playwright

    from bot import services

    monkeypatch.setattr(services, "get_embedder", lambda settings=None: embedder)
    log = ConversationLog(sessions, salt="s")
    for hours, text, answered in [(30, "where is my parcel", True),
                                  (26, "do you sell gift cards", False),
                                  (2, "can I buy a gift voucher", False)]:
        log.record_turn(TurnRecord(channel="socketio", sender_id=f"c{hours}", user_text=text,
                                   intent="track_order" if answered else "out_of_scope",
                                   answered=answered, latency_ms=100 + hours,
                                   created_at=START - timedelta(hours=hours)))
    add_agent("boss", "admin")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            problems = []
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("console", lambda message: message.type in ("error", "warning")
                    and not message.location.get("url", "").endswith("/favicon.ico")
                    and problems.append(f"{message.type}: {message.text}"))
            page.goto(served + "/login")
            page.fill("input[name=username]", "boss")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(served + "/")
            page.goto(served + "/dashboard")
            page.wait_for_function("window.Chart && Object.keys(window.Chart.instances).length"
                                   " === 5", timeout=10_000)
            drawn = page.evaluate(
                "Object.values(Chart.instances).map((c) => [c.canvas.id, c.data.labels.length,"
                " c.canvas.width > 0])")
        finally:
            browser.close()
    assert sorted(drawn) == [["chart-drafts", 7, True], ["chart-intents", 2, True],
                             ["chart-latency", 7, True], ["chart-rates", 7, True],
                             ["chart-volume", 7, True]]
    assert problems == []
