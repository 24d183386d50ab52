"""The answer action's own behaviour: handoff, deadline and failure fallbacks (the service is faked
here because these tests are about the action, not about search)."""

import asyncio
import dataclasses
import time

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

import actions.actions as module
from actions.actions import ActionAnswerSupport
from bot.answer import NO_ANSWER, SEARCH_FAILED, Answer
from bot.settings import Settings


def tracker(text, intent, entities=()):
    message = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": list(entities)}
    return Tracker("s1", {}, message, [], False, None, {}, "action_listen")


def run(action, text, intent, entities=(), timing=None):
    """Runs the action; `timing` (a dict) gets the seconds until the action returned its reply."""
    dispatcher = CollectingDispatcher()

    async def go():
        started = time.perf_counter()
        events = await action.run(dispatcher, tracker(text, intent, entities), {})
        if timing is not None:
            timing["seconds"] = time.perf_counter() - started
        return events

    events = asyncio.run(go())
    return dispatcher.messages, events


@pytest.fixture()
def action(monkeypatch):
    monkeypatch.setattr(module, "get_settings", lambda: dataclasses.replace(Settings.from_env({}), action_deadline_s=0.3))
    return ActionAnswerSupport()


def test_a_request_for_a_person_gets_the_handoff_without_searching(action, monkeypatch):
    monkeypatch.setattr(module.services, "answer", lambda *a: pytest.fail("searched"))
    messages, events = run(action, "human please", "contact_human_agent")
    assert messages[0]["response"] == "utter_handoff"
    assert events == [{"event": "slot", "timestamp": None, "name": "handoff_offered", "value": False}]


def test_the_search_gets_the_intent_and_the_message_without_entity_values(action, monkeypatch):
    seen = {}

    def fake_answer(question, entities):
        seen.update(question=question, entities=entities)
        return Answer("About order #123456: the answer", "extractive", offers_handoff=False)

    monkeypatch.setattr(module.services, "answer", fake_answer)
    entity = {"entity": "order_number", "value": "#123456", "start": 18, "end": 25}
    messages, events = run(action, "where is my order #123456", "track_order", [entity])
    assert seen == {"question": "track order: where is my order", "entities": {"order_number": "123456"}}
    assert messages[0]["text"] == "About order #123456: the answer"
    assert events[0]["value"] is False


def test_a_slow_search_gives_the_fallback_within_the_deadline(action, monkeypatch):
    monkeypatch.setattr(module.services, "answer", lambda *a: time.sleep(2))
    timing = {}
    messages, events = run(action, "where is my refund", "track_refund", timing=timing)
    assert timing["seconds"] < 1.0
    assert messages[0]["text"] == SEARCH_FAILED
    assert events[0]["value"] is True  # the reply offered a person


def test_a_failing_search_gives_the_fallback(action, monkeypatch):
    def broken(*args):
        raise RuntimeError("index unreadable")

    monkeypatch.setattr(module.services, "answer", broken)
    messages, events = run(action, "where is my refund", "track_refund")
    assert messages[0]["text"] == SEARCH_FAILED and events[0]["value"] is True


def test_unsure_nlu_and_nothing_in_the_articles_gets_the_rephrase_offer(action, monkeypatch):
    monkeypatch.setattr(module.services, "answer", lambda *a: Answer(NO_ANSWER, "no_answer", True))
    messages, events = run(action, "blorf quax", "nlu_fallback")
    assert messages[0]["response"] == "utter_ask_rephrase_or_handoff"
    messages, _ = run(action, "do you sell cars on mars", "place_order")
    assert messages[0]["text"] == NO_ANSWER
