"""Drafted replies through both real servers: what a customer gets when the team turns drafts on.

The drafter is the adapter that ships in the repository (models/shipped/drafter, made into a run
by bot/generation/shipped.py, as the action server does on a fresh clone with BOT_GENERATOR=auto),
decoded by CTranslate2 on this machine's CPU. The servers run with one draft a batch and one
waiting, and draft only while at most 2 turns are under way (the default), so that a few
customers at once are enough to find the drafter busy.

If the written examples changed since the adapter was shipped, these tests fail on purpose: retrain
(`make generator`) and ship the new run (`python -m bot generator ship`).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import time
import urllib.request

import pytest

from bot import launcher
from bot.evaluation.bench_servers import throwaway_settings
from bot.settings import ROOT, Settings

PORTS = (16005, 16055)  # Rasa, action server
DRAFT_DEADLINE_S = 4.0


@pytest.fixture(scope="module")
def drafting_bot():
    from bot.generation.choice import use_shipped
    from bot.generation.dataset import TRAIN_DIR
    from bot.generation.runs import latest_current
    from bot.generation.team_data import current_data_hash

    base = dataclasses.replace(Settings.from_env({}), generator="auto")
    note = use_shipped(base)
    # No team data here: the shipped adapter is trained on the written examples alone.
    run = latest_current(base.models_dir, current_data_hash(ROOT / TRAIN_DIR, []))
    if run is None:
        pytest.fail(f"no drafter run for today's written examples ({note}): retrain with "
                    f"`make generator` and ship it with `python -m bot generator ship`")
    settings, endpoints = throwaway_settings("drafter-e2e-", rasa_port=PORTS[0], action_port=PORTS[1],
                                             desk_port=PORTS[0] + 65)
    settings = dataclasses.replace(settings, generator=str(run), draft_deadline_s=DRAFT_DEADLINE_S,
                                   draft_max_batch=1, draft_max_waiting=1)
    launcher.check_ports_free(settings)
    servers = [launcher.start_action_server(settings, settings.var_dir / "logs"),
               launcher.start_rasa_server(settings, settings.var_dir / "logs", endpoints,
                                          ROOT / "credentials.yml")]
    try:
        launcher.wait_until_healthy(servers, timeout_s=300)
        yield settings, run
    finally:
        launcher.stop(servers)


def say(settings: Settings, sender: str, text: str):
    request = urllib.request.Request(
        f"{settings.rasa_url}/webhooks/rest/webhook",
        data=json.dumps({"sender": sender, "message": text}).encode(),
        headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as reply:
        texts = [m.get("text", "") for m in json.loads(reply.read())]
    return "\n".join(texts), time.perf_counter() - started


def drafts(settings: Settings):
    """The drafts table, newest last, with the reply each turn sent."""
    from sqlalchemy import text

    from bot.storage.db import make_engine

    engine = make_engine(settings.log_url)
    try:
        with engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(text(
                "SELECT d.status, d.failed_check, d.draft_text, d.generator_run, d.latency_ms, "
                "t.bot_reply FROM drafts d JOIN turns t ON t.id = d.turn_id ORDER BY d.id"))]
    finally:
        engine.dispose()


# Questions this adapter drafts for (it refuses many others: drafts stay off by default,
# reports/bench_drafter.md), each with the article a drafted answer must cite.
DRAFTED = {"do gift cards expire?": "gift-cards", "how do i track my order?": "track-your-order",
           "is there a fee to cancel an order?": "cancellation-fees",
           "what is the cancellation fee?": "cancellation-fees"}


def test_a_drafted_cited_reply_arrives_within_the_deadline(drafting_bot):
    """One customer at a time: the reply is the model's sentence with its source line, sent within
    the draft deadline, and the log has the draft that was sent. At least one of the questions
    must be drafted (greedy decoding in int8 can tip another way on another CPU)."""
    settings, run = drafting_bot
    say(settings, "e2e-warm", "hello")  # the first message loads Rasa's pipeline
    drafted = 0
    for i, (question, article) in enumerate(DRAFTED.items()):
        before = len(drafts(settings))
        reply, seconds = say(settings, f"e2e-draft-{i}", question)
        assert seconds < settings.action_deadline_s
        row = drafts(settings)[before]
        # the logged reply is the one sent (an order question also gets the offer to look it up)
        assert row["generator_run"] == run.name and reply.split("\n")[0] in row["bot_reply"]
        if row["status"] != "sent":  # a refusal or a failed check: the quote went instead
            assert reply.count("More in our help centre: ") == 1, reply
            continue
        drafted += 1
        body, source = reply.rsplit("\nSource: ", 1)
        assert "More in our help centre" not in reply and "[" not in body  # citations became the source line
        assert f"https://help.larkspur.example/articles/{article}" in source
        assert row["latency_ms"] < DRAFT_DEADLINE_S * 1000
    assert drafted >= 1


def test_customers_who_find_the_drafter_busy_get_the_quote_at_once(drafting_bot):
    """Six customers at once, one draft a batch and one waiting: the others are not queued behind
    them. Every customer gets an answer from the help centre; nobody gets an apology."""
    settings, _ = drafting_bot
    questions = ["how long does a refund to paypal take?", "do you ship to canada?",
                 "can i change my delivery address after ordering?", "what payment methods do you accept?",
                 "how do i return an item?", "do gift cards expire?"]
    before = len(drafts(settings))
    with concurrent.futures.ThreadPoolExecutor(len(questions)) as pool:
        results = list(pool.map(lambda iq: say(settings, f"e2e-busy-{iq[0]}", iq[1]), enumerate(questions)))
    for reply, seconds in results:
        assert "\nSource: " in reply or "More in our help centre: " in reply, reply
        assert seconds < settings.action_deadline_s
    rows = drafts(settings)[before:]
    busy = [r for r in rows if r["status"] == "fallback" and r["failed_check"] == "drafter busy"]
    assert busy, [(r["status"], r["failed_check"]) for r in rows]
    for r in busy:  # turned away without a draft: the quote was sent
        assert r["bot_reply"].count("More in our help centre: ") == 1
    sent = [r for r in rows if r["status"] == "sent"]
    assert sum("\nSource: " in reply for reply, _ in results) == len(sent)
