"""The admin's dashboard: the log's figures per day for the last 7, 30 or 90 days, the top
intents and the unanswered questions grouped by meaning (with the real MiniLM), as tables and as
the JSON the charts are drawn from. Agents may not see it."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from bot import services
from bot.desk import dashboard
from bot.desk.dashboard import DashboardReports
from bot.storage.log import ConversationLog, TurnRecord
from bot.storage.models import Feedback
from tests.desk.conftest import START


@pytest.fixture
def minilm(monkeypatch, embedder):
    """The knowledge base's embedder as the desk gets it, the session's real MiniLM."""
    monkeypatch.setattr(services, "get_embedder", lambda settings=None: embedder)
    return embedder


@pytest.fixture
def logged(sessions):
    """Turns over the last days: START is 2026-03-02 15:00 UTC."""
    log = ConversationLog(sessions, salt="test-salt")

    def add(sender, text, intent, ago, **kwargs):
        return log.record_turn(TurnRecord(channel="socketio", sender_id=sender, user_text=text,
                                          intent=intent, created_at=START - ago, **kwargs))

    ids = {
        # 1 March: one answered question, one refused
        "ann1": add("ann", "where is my parcel", "track_order", timedelta(days=1),
                    latency_ms=120),
        "ann2": add("ann", "do you sell gift cards", "out_of_scope",
                    timedelta(days=1, minutes=-1), latency_ms=90, answered=False),
        # 2 March: bob asks the same in other words, and for a person
        "bob1": add("bob", "can I buy a gift voucher", "out_of_scope", timedelta(hours=2),
                    latency_ms=80, answered=False),
        "bob2": add("bob", "a person please", "contact_human_agent", timedelta(hours=1),
                    latency_ms=60),
        # 10 days ago: only in the 30-day view
        "old": add("cy", "can I pay with bitcoin", "out_of_scope", timedelta(days=10),
                   latency_ms=70, answered=False),
    }
    with Session(sessions.kw["bind"]) as session, session.begin():
        session.add(Feedback(turn_id=ids["ann1"], rating=1, source="customer"))
    return ids


def figures_of(page_text):
    match = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>',
                      page_text, re.S)
    assert match, "no data for the charts in the page"
    return json.loads(match.group(1))


def test_an_admin_sees_the_figures_per_day_and_the_questions_to_write_articles_for(
        browser, logged, minilm):
    boss = browser("boss", "admin")
    page = boss.get("/dashboard")
    assert page.status_code == 200
    text = page.text
    assert '<a href="/dashboard">Dashboard</a>' in text

    data = figures_of(text)
    assert (data["first_day"], data["last_day"]) == ("2026-02-24", "2026-03-02")
    assert [d["day"] for d in data["days"]][-2:] == ["2026-03-01", "2026-03-02"]
    assert len(data["days"]) == 7
    march1 = data["days"][-2]
    assert (march1["turns"], march1["containment"], march1["refusal_rate"]) == (2, 0.5, 0.5)
    assert (march1["ratings"], march1["thumbs_up_share"]) == (1, 1.0)
    march2 = data["days"][-1]
    assert (march2["turns"], march2["handoff_rate"], march2["containment"]) == (2, 1.0, 0.0)
    assert data["totals"]["turns"] == 4 and data["totals"]["conversations"] == 2
    assert [(r["intent"], r["turns"]) for r in data["top_intents"]] == [
        ("out_of_scope", 2), ("contact_human_agent", 1), ("track_order", 1)]
    unanswered = data["unanswered"]
    assert (unanswered["questions"], unanswered["group_count"]) == (2, 1)
    (group,) = unanswered["groups"]
    assert group["count"] == 2
    assert {group["representative"], *group["examples"]} == {
        "do you sell gift cards", "can I buy a gift voucher"}

    # the same figures as tables, for people and for a server without the charts
    day_row = re.search(r"<tr>\s*<td>2026-03-01</td>(.*?)</tr>", text, re.S).group(1)
    cells = [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", day_row)]
    assert cells[:7] == ["1", "2", "50.0 %", "0.0 %", "50.0 %", "100.0 %", "1"]
    assert cells[7:9] == ["90 ms", "120 ms"]
    unanswered_table = text[text.index('id="unanswered"'):]
    assert '<td class="count">2</td>' in unanswered_table
    assert "gift voucher" in unanswered_table and "gift cards" in unanswered_table


def test_the_period_can_be_30_or_90_days_and_nothing_else(browser, logged, minilm):
    boss = browser("boss", "admin")
    month = figures_of(boss.get("/dashboard?days=30").text)
    assert len(month["days"]) == 30 and month["totals"]["turns"] == 5
    assert month["unanswered"]["questions"] == 3
    assert len(figures_of(boss.get("/dashboard?days=90").text)["days"]) == 90
    refused = boss.get("/dashboard?days=5", headers={"Accept": "text/html"})
    assert refused.status_code == 400 and "Choose a period of 7, 30, 90 days." in refused.text


def test_agents_may_not_see_the_dashboard_nor_anyone_logged_out(app, browser, logged):
    ana = browser("ana")
    refused = ana.get("/dashboard", headers={"Accept": "text/html"})
    assert refused.status_code == 403 and "Only an admin may see this page." in refused.text
    assert "dashboard-data" not in refused.text
    assert 'href="/dashboard"' not in ana.get("/").text
    with TestClient(app) as stranger:
        response = stranger.get("/dashboard", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_without_the_vendored_charts_the_page_says_how_to_build_them(
        browser, logged, minilm, monkeypatch, tmp_path):
    boss = browser("boss", "admin")
    monkeypatch.setattr(dashboard, "CHART_JS", tmp_path / "missing" / "chart.umd.js")
    bare = boss.get("/dashboard").text
    assert "make desk-assets" in bare and "/static/vendor/chart.umd.js" not in bare
    assert '<table class="list numbers" id="days">' in bare

    built = tmp_path / "chart.umd.js"
    built.write_text("/* Chart.js */")
    monkeypatch.setattr(dashboard, "CHART_JS", built)
    drawn = boss.get("/dashboard").text
    assert '<script src="/static/vendor/chart.umd.js" defer></script>' in drawn
    assert "make desk-assets" not in drawn


def test_no_inline_script_and_customer_text_stays_text(browser, sessions, minilm):
    ConversationLog(sessions, salt="s").record_turn(TurnRecord(
        channel="rest", sender_id="eve", user_text="</script><script>alert(1)</script> refund?",
        intent="nlu_fallback", answered=False, created_at=START - timedelta(hours=1)))
    boss = browser("boss", "admin")
    page = boss.get("/dashboard")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for tag in re.findall(r"<script[^>]*>", page.text):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "<script>alert" not in page.text
    assert figures_of(page.text)["unanswered"]["groups"][0]["representative"].startswith(
        "</script><script>alert(1)")


def test_when_grouping_fails_the_figures_are_still_shown(browser, logged, monkeypatch):
    def no_model(settings=None):
        raise OSError("no MiniLM here")

    monkeypatch.setattr(services, "get_embedder", no_model)
    page = browser("boss", "admin").get("/dashboard")
    assert page.status_code == 200
    assert "could not group the questions: OSError: no MiniLM here" in page.text
    assert figures_of(page.text)["totals"]["turns"] == 4


def test_a_report_is_kept_for_a_minute(sessions, settings, clock, logged, minilm):
    now = [0.0]
    reports = DashboardReports(sessions, settings, clock, monotonic=lambda: now[0])
    first = reports.get(7)
    ConversationLog(sessions, salt="s").record_turn(TurnRecord(
        channel="rest", sender_id="dan", user_text="hello", intent="greet",
        created_at=START - timedelta(minutes=5)))
    now[0] = 59.0
    assert reports.get(7) is first
    now[0] = 61.0
    assert reports.get(7)["totals"]["turns"] == first["totals"]["turns"] + 1
