"""The actions' own behaviour: handoff, deadline and failure fallbacks, and the turn each reply
logs before it is returned. The search service is faked (these tests are about the actions, not
about search); the conversation log is the real one, in a temporary SQLite file."""

import asyncio
import dataclasses
import json
import time

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

import actions.actions as module
from actions.actions import ActionAnswerSupport, ResponseAction
from bot import services
from bot.answer import NO_ANSWER, SEARCH_FAILED, Answer, DraftOutcome
from bot.settings import ROOT, Settings
from bot.storage import migrate
from bot.storage.db import make_engine
from bot.storage.privacy import mask_pii
from bot.storage.writer import open_writer
from tests.unit.storage_helpers import dump

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())
SENT_AT = time.time()


def answers_with(monkeypatch, fake):
    """The action's search (services.answer_async) answered by a blocking stand-in run in a
    thread, as the answer pool runs the policy: these tests are about the action, not search."""
    async def answer_async(text, previous=None, history=()):
        return await asyncio.to_thread(fake, text, previous, history)

    monkeypatch.setattr(module.services, "answer_async", answer_async)


def tracker(text, intent, entities=(), sender="s1"):
    message = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": list(entities)}
    user = {"event": "user", "timestamp": SENT_AT, "text": text, "input_channel": "rest",
            "parse_data": message}
    return Tracker(sender, {}, message, [user], False, None, {}, "action_listen")


def run(action, text, intent, entities=(), timing=None):
    """Runs the action; `timing` (a dict) gets the seconds until the action returned its reply."""
    dispatcher = CollectingDispatcher()

    async def go():
        started = time.perf_counter()
        events = await action.run(dispatcher, tracker(text, intent, entities), DOMAIN)
        if timing is not None:
            timing["seconds"] = time.perf_counter() - started
        return events

    events = asyncio.run(go())
    return dispatcher.messages, events


@pytest.fixture(autouse=True)
def log_engine(tmp_path, monkeypatch):
    """The conversation log the actions write to, and an engine to read it back with."""
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path), "BOT_LOG_SALT": "test-salt"})
    migrate.upgrade(settings.log_url)
    writer = open_writer(settings)
    monkeypatch.setattr(services, "get_conversation_log", lambda: writer)
    monkeypatch.setattr(services, "_handoff_inbox", None)
    monkeypatch.setattr(services, "get_settings", lambda: settings)
    engine = make_engine(settings.log_url)
    yield engine
    engine.dispose()


def turns(engine):
    return sorted(dump(engine, "turns"), key=lambda r: r["id"])


@pytest.fixture()
def action(monkeypatch):
    monkeypatch.setattr(module, "get_settings", lambda: dataclasses.replace(Settings.from_env({}), action_deadline_s=0.3))
    return ActionAnswerSupport()


def test_a_request_for_a_person_queues_the_conversation_and_pauses_it(action, monkeypatch, log_engine):
    answers_with(monkeypatch, lambda *a: pytest.fail("searched"))
    messages, events = run(action, "human please", "contact_human_agent")
    (reply,) = [m["text"] for m in messages]
    # Which of the two depends on the hour (bot/handoff/hours.py, tested on fixed clocks).
    assert "You're next in the queue" in reply or "Live chat with a person is closed now" in reply
    assert [e["event"] for e in events] == ["slot", "pause", "action"]
    (handoff,) = dump(log_engine, "handoffs")
    assert (handoff["reason"], handoff["status"], handoff["channel"]) == ("asked", "queued", "rest")
    assert handoff["summary"].startswith("asked for a person")
    (row,) = turns(log_engine)
    assert row["handoff"] and row["answered"]
    assert row["bot_reply"] == mask_pii(reply)


def test_a_second_request_joins_the_first_handoff(action, log_engine):
    run(action, "human please", "contact_human_agent")
    run(action, "a person now", "contact_human_agent")
    assert len(dump(log_engine, "handoffs")) == 1


def test_the_search_gets_the_message_without_entity_values_and_the_previous_question(action, monkeypatch):
    seen = {}

    def fake_answer(text, previous, history):
        seen.update(text=text, previous=previous, history=history)
        return Answer("You can track it in Account > Orders.", "extractive", offers_handoff=False)

    answers_with(monkeypatch, fake_answer)
    entity = {"entity": "order_number", "value": "#123456", "start": 18, "end": 25}
    messages, events = run(action, "where is my order #123456", "track_order", [entity])
    # The number says nothing about which article helps; nothing was said before.
    assert seen == {"text": "where is my order", "previous": None, "history": []}
    # the help centre's answer, then the offer to look at the customer's own order
    assert messages[0]["text"].startswith("You can track it in Account > Orders.\n\n")
    assert "send me its order number" in messages[0]["text"]
    assert events[0]["value"] is False


def test_an_answer_is_logged_with_its_retrievals_and_draft_before_the_reply_is_returned(
    action, monkeypatch, log_engine
):
    sources = [
        {"article_id": "refund-times", "passage_id": "refund-times#2",
         "url": "https://help.larkspur.example/articles/refund-times", "score": 0.71, "rank": 1},
        {"article_id": "return-policy", "passage_id": "return-policy#1",
         "url": "https://help.larkspur.example/articles/return-policy", "score": 0.52, "rank": 2},
    ]
    draft = DraftOutcome("run-7", "a" * 64, "PayPal refunds take 3-5 days.", "sent",
                         latency_ms=900, prompt_tokens=410, new_tokens=12)
    answers_with(monkeypatch, lambda *a: Answer(
        "PayPal refunds take 3-5 days.", "drafted", False, sources=sources, draft=draft))
    entity = {"entity": "email", "value": "ann@example.com", "start": 28, "end": 43,
              "extractor": "DIETClassifier", "processors": []}
    messages, _ = run(action, "refund to PayPal, I'm ann at ann@example.com", "track_refund",
                      [entity])
    (row,) = turns(log_engine)  # already committed: the action has returned
    assert (row["intent"], row["confidence"], row["answered"]) == ("track_refund", 0.9, True)
    assert row["bot_reply"] == messages[0]["text"]
    assert row["user_text"] == "refund to PayPal, I'm ann at [email]"
    assert json.loads(row["entities"]) == [
        {"entity": "email", "value": "[email]", "start": 28, "end": 43}]
    assert row["latency_ms"] >= 0
    assert [(r["article_id"], r["passage_id"], r["rank"]) for r in dump(log_engine, "retrievals")] \
        == [("refund-times", "refund-times#2", 1), ("return-policy", "return-policy#1", 2)]
    (stored,) = dump(log_engine, "drafts")
    assert (stored["generator_run"], stored["status"], stored["draft_text"], stored["new_tokens"]) \
        == ("run-7", "sent", "PayPal refunds take 3-5 days.", 12)
    (conversation,) = dump(log_engine, "conversations")
    assert conversation["channel"] == "rest" and conversation["sender_hash"] != "s1"


def test_a_slow_search_gives_the_fallback_within_the_deadline(action, monkeypatch, log_engine):
    answers_with(monkeypatch, lambda *a: time.sleep(2))
    timing = {}
    messages, events = run(action, "where is my refund", "track_refund", timing=timing)
    assert timing["seconds"] < 1.0
    assert messages[0]["text"] == SEARCH_FAILED
    assert events[0]["value"] is True  # the reply offered a person
    (row,) = turns(log_engine)
    assert row["bot_reply"] == SEARCH_FAILED and not row["answered"]


def test_a_failing_search_gives_the_fallback(action, monkeypatch):
    def broken(*args):
        raise RuntimeError("index unreadable")

    answers_with(monkeypatch, broken)
    messages, events = run(action, "where is my refund", "track_refund")
    assert messages[0]["text"] == SEARCH_FAILED and events[0]["value"] is True


def test_unsure_nlu_and_nothing_in_the_articles_gets_the_rephrase_offer(action, monkeypatch, log_engine):
    answers_with(monkeypatch, lambda *a: Answer(NO_ANSWER, "no_answer", True))
    messages, events = run(action, "blorf quax", "nlu_fallback")
    assert messages[0]["response"] == "utter_ask_rephrase_or_handoff"
    messages, _ = run(action, "do you sell cars on mars", "place_order")
    assert messages[0]["text"] == NO_ANSWER
    rephrase, no_answer = turns(log_engine)
    assert rephrase["bot_reply"] == DOMAIN["responses"]["utter_ask_rephrase_or_handoff"][0]["text"]
    assert no_answer["bot_reply"] == NO_ANSWER
    assert not rephrase["answered"] and not no_answer["answered"]


def test_a_broken_log_does_not_break_the_reply(action, monkeypatch, caplog):
    def no_log():
        raise RuntimeError("log unavailable")

    monkeypatch.setattr(services, "get_conversation_log", no_log)
    answers_with(monkeypatch, lambda *a: Answer("the answer", "extractive", False))
    messages, _ = run(action, "how do refunds work", "check_refund_policy")
    assert messages[0]["text"] == "the answer"
    assert "storage.turn_not_logged" in caplog.text


# --- the fixed replies: said by actions so that they are logged too ---------------------------

RESPONSE_ACTIONS = sorted(
    (cls() for cls in ResponseAction.__subclasses__()), key=lambda action: action.name()
)


@pytest.mark.parametrize("action", RESPONSE_ACTIONS, ids=lambda a: a.name())
def test_every_fixed_reply_is_said_and_logged_with_the_text_the_customer_reads(action, log_engine):
    messages, events = run(action, "some message", "greet")
    assert messages == [{**messages[0], "response": action.response}]
    (row,) = turns(log_engine)
    variations = DOMAIN["responses"][action.response]
    # Rasa picks among a response's variations when it sends one; with one, the log quotes it
    # (masked like all stored text: the handoff's support@ address too).
    assert len(variations) == 1
    assert row["bot_reply"] == mask_pii(variations[0]["text"])
    assert (row["answered"], row["handoff"]) == (action.answered, action.handoff)


def test_the_core_fallback_is_flagged_as_not_answered():
    flags = {a.name(): (a.answered, a.handoff) for a in RESPONSE_ACTIONS}
    assert flags["action_default_fallback"] == (False, False)


def test_the_core_fallback_forgets_the_message_as_rasas_own_does(log_engine):
    (fallback,) = [a for a in RESPONSE_ACTIONS if a.name() == "action_default_fallback"]
    _, events = run(fallback, "yes", "affirm")
    assert [e["event"] for e in events] == ["rewind"]
    assert turns(log_engine)[0]["intent"] == "affirm"


def test_a_second_message_in_a_row_not_understood_goes_to_a_person(log_engine):
    """The bot said it did not understand the previous message: this one is handed over."""
    (fallback,) = [a for a in RESPONSE_ACTIONS if a.name() == "action_default_fallback"]
    earlier = [
        {"event": "user", "timestamp": SENT_AT, "text": "blorp", "parse_data": {}},
        {"event": "bot", "text": "Sorry...", "metadata": {"utter_action": "utter_default"}},
    ]
    state = tracker("zzz", "affirm")
    state.events = earlier + state.events
    dispatcher = CollectingDispatcher()
    events = asyncio.run(fallback.run(dispatcher, state, DOMAIN))
    assert [e["event"] for e in events] == ["slot", "pause", "action"]  # a rewind would un-pause
    assert dispatcher.messages[0]["text"].startswith("Sorry, I still don't understand.")
    (handoff,) = dump(log_engine, "handoffs")
    assert handoff["reason"] == "fallbacks"


def test_the_domain_lists_exactly_the_actions_this_server_has():
    executor = ActionExecutor()
    executor.register_package("actions")
    assert sorted(a.name for a in executor.list_actions()) == sorted(DOMAIN["actions"])
