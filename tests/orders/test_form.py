"""The identity form's validation and the order actions (actions/orders.py), run against the real
store service in-process: what the customer is told, what the slots hold, what the shop did."""

import asyncio
import json
import time

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import orders
from tests.orders.conftest import DEMO_EMAIL


def tracker(text, intent="inform", slots=None, sender="customer-1", active_loop="order_form",
            requested=None, entities=None):
    slots = dict(slots or {})
    slots.setdefault("requested_slot", requested)
    return Tracker(
        sender_id=sender, slots=slots,
        latest_message={"text": text, "intent": {"name": intent, "confidence": 1.0},
                        "entities": entities or []},
        events=[{"event": "user", "text": text}], paused=False, followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def run(action, t):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return [m.get("text") for m in dispatcher.messages], {e["name"]: e["value"] for e in events
                                                         if e.get("event") == "slot"}


@pytest.fixture(autouse=True)
def no_log(monkeypatch):
    async def nothing(*args, **kwargs):
        return None

    monkeypatch.setattr(orders, "log_turn", nothing)


def test_number_and_email_in_one_message_verify_the_order(use_backend):
    _, slots = run(orders.ValidateOrderForm(),
                   tracker("order 100 003, Chloe.Martin@example.com", intent="track_order"))
    assert slots["order_number"] == "100003" and slots["order_verified"] is True
    assert json.loads(slots["order_access"])["order_number"] == "100003"


def test_a_message_without_details_fills_nothing_so_rasa_can_answer_it(use_backend):
    # (the form then rejects, and the question is answered from the help centre)
    _, slots = run(orders.ValidateOrderForm(),
                   tracker("how long do paypal refunds take?", intent="track_refund",
                           slots={"order_number": "100003"}, requested="order_email"))
    assert slots == {}


def test_a_postcode_counts_only_when_the_form_asked_for_the_email(use_backend):
    _, asked = run(orders.ValidateOrderForm(),
                   tracker("94103", slots={"order_number": "100003"}, requested="order_email"))
    assert asked["order_verified"] is True
    _, not_asked = run(orders.ValidateOrderForm(), tracker("94103", requested="order_number"))
    assert not_asked == {}


def test_wrong_details_ask_for_both_again_without_saying_which(use_backend):
    _, slots = run(orders.ValidateOrderForm(),
                   tracker("x@example.com", slots={"order_number": "100003"},
                           requested="order_email"))
    assert slots["order_number"] is None and slots["order_email"] is None
    assert slots["order_notice"] == "not_found" and slots["verify_failures"] == 1
    texts, _ = run(orders.ActionAskOrderNumber(),
                   tracker("", slots={"order_notice": "not_found"}))
    assert texts[0].startswith("I couldn't find an order with those details")
    assert texts[0].endswith(orders.wording.ASK_ORDER_NUMBER)


def test_the_fifth_failure_stops_the_form_and_pauses_further_tries(use_backend):
    _, slots = run(orders.ValidateOrderForm(),
                   tracker("x@example.com", slots={"order_number": "100003", "verify_failures": 4},
                           requested="order_email"))
    assert slots["order_problem"] == "locked" and slots["requested_slot"] is None
    assert slots["verify_paused_until"] > time.time() + 800
    # during the pause, the right details change nothing
    _, paused = run(orders.ValidateOrderForm(),
                    tracker(f"100003 {DEMO_EMAIL['100003']}",
                            slots={"verify_paused_until": slots["verify_paused_until"]}))
    assert paused == {"order_problem": "locked", "requested_slot": None}


def test_a_locked_identity_check_hands_the_conversation_to_a_person(use_backend, monkeypatch,
                                                                   tmp_path):
    from bot import services
    from bot.handoff.inbox import DeskInbox
    from bot.storage import migrate
    from bot.storage.db import make_engine, session_factory

    url = f"sqlite:///{tmp_path / 'log.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    monkeypatch.setattr(services, "_handoff_inbox",
                        DeskInbox(session_factory(engine), "salt", always_open=True))
    dispatcher = CollectingDispatcher()
    events = asyncio.run(orders.ActionOrderOperation().run(
        dispatcher, tracker("", slots={"order_problem": "locked", "order_number": "100003"},
                            active_loop=None), {}))
    text = dispatcher.messages[0]["text"]
    assert text.startswith("I can't check more order details right now")
    assert "You're next in the queue" in text
    assert "pause" in [e["event"] for e in events]
    with engine.connect() as connection:
        reason, summary = connection.exec_driver_sql("SELECT reason, summary FROM handoffs").one()
    assert reason == "lockout" and "order 100003 (not verified)" in summary


def test_the_other_order_of_the_same_customer_is_verified_with_the_email_given(use_backend):
    first = run(orders.ValidateOrderForm(), tracker(f"100002 {DEMO_EMAIL['100002']}"))[1]
    _, slots = run(orders.ValidateOrderForm(),
                   tracker("actually the other one, 100016", slots=first, requested=None))
    assert slots["order_number"] == "100016" and slots["order_verified"] is True


def test_a_yes_sent_three_times_cancels_once_and_says_so_once(use_backend, app):
    verified = run(orders.ValidateOrderForm(), tracker(f"100001 {DEMO_EMAIL['100001']}"))[1]
    slots = {**verified, "order_operation": "cancel"}
    offer, proposed = run(orders.ActionOrderOperation(), tracker("", slots=slots, active_loop=None))
    assert "Cancelling order #100001 is free" in offer[0] and proposed["pending_action"] == "cancel"
    said = []
    for _ in range(3):
        texts, _ = run(orders.ActionOrderConfirm(),
                       tracker("yes", intent="affirm", slots={**slots, **proposed},
                               active_loop=None))
        said += texts
    assert said[0].startswith("Done: order #100001 is cancelled. There was no charge. The hold of")
    assert all("already cancelled: I did that earlier, and only once" in t for t in said[1:])
    with app.state.sessions() as session:
        from sqlalchemy import text

        rows = session.execute(text(
            "SELECT COUNT(*) FROM idempotency_records WHERE order_number = '100001'")).scalar()
    assert rows == 1


def test_no_to_a_proposed_change_changes_nothing(use_backend):
    verified = run(orders.ValidateOrderForm(), tracker(f"100002 {DEMO_EMAIL['100002']}"))[1]
    texts, slots = run(orders.ActionOrderConfirm(),
                       tracker("no", intent="deny", active_loop=None,
                               slots={**verified, "pending_action": "cancel"}))
    assert texts == ["Alright, I haven't changed anything on order #100002."]
    assert slots["awaiting_confirmation"] is False and slots["pending_action"] is None


def test_a_digression_answer_ends_with_the_forms_question():
    t = tracker("how long do refunds take", slots={"order_number": "100003"},
                requested="order_email")
    assert orders.pending_question(t) == orders.wording.ask_email("100003")
    assert orders.pending_question(tracker("hi", active_loop=None)) is None


def test_an_expired_token_is_renewed_with_the_details_already_given(use_backend):
    stale = json.dumps({"order_number": "100003", "token": "100003.1.expired"})
    texts, slots = run(orders.ActionOrderOperation(), tracker(
        "where is it now", intent="track_order", active_loop=None,
        slots={"order_number": "100003", "order_email": DEMO_EMAIL["100003"],
               "order_access": stale, "order_operation": "track"}))
    assert texts[0].startswith("Order #100003 is on its way with UPS")
    assert json.loads(slots["order_access"])["token"] != "100003.1.expired"


def test_proving_ones_own_order_does_not_reset_the_count_of_wrong_guesses(use_backend):
    _, slots = run(orders.ValidateOrderForm(),
                   tracker(f"100003 {DEMO_EMAIL['100003']}", slots={"verify_failures": 4}))
    assert slots["order_verified"] is True and "verify_failures" not in slots
    _, guessed = run(orders.ValidateOrderForm(),
                     tracker("100002 someone@example.com", slots={"verify_failures": 4}))
    assert guessed["order_problem"] == "locked"
