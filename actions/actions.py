"""Custom actions served by the action server (`python -m bot.action_server`, rasa-sdk inside).

Actions are thin: read the tracker, ask one service, send the reply, return events.

Every reply the bot sends comes from an action here, the fixed ones too (greeting, thanks, out of
scope, the handoff after "yes", the core fallback): the rules name ``action_greet`` and so on
instead of ``utter_greet``. Each action logs its turn before it returns its reply
(actions/turn_log.py), so every reply a customer reads has its row in the conversation log. When
this server is down Rasa has no reply to send (the channel apologises), rather than a reply that
was never logged.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import hand_over, misses_in_a_row
from actions.orders import order_intents, pending_question
from actions.turn_log import log_turn, response_text
from bot import services
from bot.answer import SEARCH_FAILED, SUPPORT_INTENTS, Answer, strip_entities
from bot.answering.followup import is_followup
from bot.generation.prompt import turns_from_events
from bot.settings import get_settings

logger = logging.getLogger(__name__)

NOT_ANSWERED = ("no_answer", "search_failed")  # Answer.kind of a reply that says it can't help
# After the help centre's answer to an order question that named no order.
# Order intents that are mostly policy questions get no invitation to look up an order:
# "what's your return policy" is answered, not turned into an order lookup.
POLICY_INTENTS = frozenset({"check_refund_policy", "check_cancellation_fee", "delivery_period",
                            "check_invoice"})
# "where is MY order": the customer speaks of an order of their own ("how do I track a parcel"
# is a question about the policy).
OWN_ORDER = re.compile(r"\b(my|mine|our)\b", re.IGNORECASE)
ORDER_INVITE = ("If you'd like me to look at your own order, send me its order number and I'll "
                "check it for you.")


def _rebuilt_in_worker() -> "ActionAnswerSupport":
    services.components()  # the retriever, re-ranker, confidence model and drafter, loaded now
    return ActionAnswerSupport()


async def search_answer(tracker: Tracker) -> Answer:
    """The answer policy's reply to the latest message, with the previous question as context,
    within the action's deadline; an apology offering a person when the search fails."""
    text = tracker.latest_message.get("text") or ""
    # Order numbers and the like say nothing about which article helps.
    question = strip_entities(text, tracker.latest_message.get("entities") or []) or text
    history = turns_from_events(tracker.events)
    previous = history[-1].user if history else None
    deadline = get_settings().action_deadline_s
    try:
        return await asyncio.wait_for(services.answer_async(question, previous, history), deadline)
    except asyncio.TimeoutError:
        logger.error("answer.search_timeout deadline_s=%s", deadline)
    except Exception:
        logger.exception("answer.search_failed")
    return Answer(SEARCH_FAILED, "search_failed", offers_handoff=True)


async def approved_answer(text: Text) -> "Optional[Answer]":
    """The team's approved answer, within the action's deadline; None on any trouble."""
    try:
        return await asyncio.wait_for(services.run_blocking(services.approved, text),
                                      get_settings().action_deadline_s)
    except Exception as e:
        logger.error("answer.approved_failed error=%s", type(e).__name__)
        return None


class ActionAnswerSupport(Action):
    """Answers the support intents from the knowledge base, or says honestly that it can't."""

    def __reduce__(self):
        # rasa-sdk's Sanic server hands its actions to the worker process by pickling them. The
        # worker rebuilds this one through _rebuilt_in_worker, which loads the knowledge base,
        # the re-ranker, the confidence model and the drafter first: /health answers only once
        # customers can be answered, and a missing or mismatched index stops the server at
        # start-up with the command that fixes it. (The main process
        # must not load torch: that fixes the multiprocessing start method and Sanic refuses to
        # start.)
        return (_rebuilt_in_worker, ())

    def name(self) -> Text:
        return "action_answer_support"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "contact_human_agent":
            return await handing_over(dispatcher, tracker, "asked")

        text = tracker.latest_message.get("text") or ""
        answer = await search_answer(tracker)
        logger.info(
            "answer.sent intent=%s kind=%s sources=%s",
            intent, answer.kind, [s["article_id"] for s in answer.sources[:3]],
        )
        response = None
        if answer.kind == "no_answer" and intent not in SUPPORT_INTENTS:
            # NLU was unsure and the articles hold nothing either: say what we can help with,
            # or, when that was already said for the previous message, pass to a person.
            if too_many_misses(tracker):
                return await handing_over(dispatcher, tracker, "fallbacks", STILL_NOT_UNDERSTOOD)
            response = "utter_ask_rephrase_or_handoff"
            reply = response_text(domain, response)
        else:
            reply = answer.text
        question = pending_question(tracker)
        if question:
            # A question in the middle of an order form: answered, then the form's own question
            # again (actions/orders.py), in one reply.
            reply, response = f"{reply}\n\nBack to your order: {question}", None
        elif (answer.kind not in NOT_ANSWERED and intent in order_intents(domain)
              and intent not in POLICY_INTENTS and not tracker.get_slot("order_verified")
              and OWN_ORDER.search(text)):
            reply = f"{reply}\n\n{ORDER_INVITE}"
        if response:
            dispatcher.utter_message(response=response)
        else:
            dispatcher.utter_message(text=reply)
        await log_turn(
            tracker, reply, answered=answer.kind not in NOT_ANSWERED,
            sources=answer.sources, draft=answer.draft,
        )
        return [SlotSet("handoff_offered", answer.offers_handoff)]


class ResponseAction(Action, abc.ABC):
    """Says one of the domain's responses and logs the turn (what a rule's ``utter_...`` step
    would say, logged; see the module docstring)."""

    response: Text
    answered = True  # False for a reply that says the bot did not understand
    handoff = False  # True for a reply that passes the customer to a person

    @abc.abstractmethod
    def name(self) -> Text:
        """The action's name in domain.yml and the rules."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        reply = response_text(domain, self.response)
        question = pending_question(tracker)
        if question:  # said in the middle of an order form: its question follows
            reply = f"{reply}\n\nBack to your order: {question}"
            dispatcher.utter_message(text=reply)
        else:
            dispatcher.utter_message(response=self.response)
        await log_turn(tracker, reply, answered=self.answered, handoff=self.handoff)
        return []


class ActionGreet(ResponseAction):
    response = "utter_greet"

    def name(self) -> Text:
        return "action_greet"


class ActionGoodbye(ResponseAction):
    response = "utter_goodbye"

    def name(self) -> Text:
        return "action_goodbye"


class ActionYouAreWelcome(ResponseAction):
    response = "utter_you_are_welcome"

    def name(self) -> Text:
        return "action_you_are_welcome"


class ActionIAmABot(ResponseAction):
    response = "utter_iamabot"

    def name(self) -> Text:
        return "action_iamabot"


class ActionAnythingElse(ResponseAction):
    response = "utter_anything_else"

    def name(self) -> Text:
        return "action_anything_else"


class ActionOutOfScope(ResponseAction):
    # Answered: saying what the bot is for is the right reply; logs stats count these turns in
    # the fallback rate (intent out_of_scope), not the refusal rate.
    response = "utter_out_of_scope"

    def name(self) -> Text:
        return "action_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        # A short follow-up to a help-centre question ("can I pay with Klarna?" -> "what's the
        # minimum amount") means nothing alone, and NLU may call it out of scope. The help centre
        # gets to answer it in context first; what it can't answer gets the out-of-scope reply.
        history = turns_from_events(tracker.events)
        text = tracker.latest_message.get("text") or ""
        if pending_question(tracker) is None:
            # A question the team approved an answer for is in scope, whatever NLU thought.
            answer = await approved_answer(text)
            if answer is not None:
                dispatcher.utter_message(text=answer.text)
                await log_turn(tracker, answer.text, sources=answer.sources)
                return [SlotSet("handoff_offered", False)]
        if history and pending_question(tracker) is None and is_followup(text, history[-1].user):
            answer = await search_answer(tracker)
            if answer.kind not in NOT_ANSWERED:
                logger.info("answer.sent intent=out_of_scope kind=%s followup=true", answer.kind)
                dispatcher.utter_message(text=answer.text)
                await log_turn(tracker, answer.text, sources=answer.sources, draft=answer.draft)
                return [SlotSet("handoff_offered", False)]
        return await super().run(dispatcher, tracker, domain)


class ActionHandoff(Action):
    """The customer said yes to the offer of a person."""

    def name(self) -> Text:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        return await handing_over(dispatcher, tracker, "offer")


class ActionDefaultFallback(ResponseAction):
    """Rasa's core fallback (no rule or story fits), here so that its reply is logged too. Like
    Rasa's own, it forgets the message it could not place."""

    response = "utter_default"
    answered = False

    def name(self) -> Text:
        return "action_default_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if too_many_misses(tracker):
            # No rewind here: it would undo the pause, and the person should see the message.
            return await handing_over(dispatcher, tracker, "fallbacks", STILL_NOT_UNDERSTOOD)
        await super().run(dispatcher, tracker, domain)
        return [UserUtteranceReverted()]


STILL_NOT_UNDERSTOOD = "Sorry, I still don't understand."


def too_many_misses(tracker: Tracker) -> bool:
    """True when this message would be the Nth in a row the bot does not understand
    (``BOT_FALLBACKS_BEFORE_HANDOFF``)."""
    return misses_in_a_row(tracker.events) + 1 >= get_settings().fallbacks_before_handoff


async def handing_over(dispatcher: CollectingDispatcher, tracker: Tracker, reason: Text,
                       lead: Text = "") -> List[Dict[Text, Any]]:
    """Passes the customer to a person (actions/handoff.py), says so, and logs the turn."""
    reply, events = await hand_over(tracker, reason, lead)
    dispatcher.utter_message(text=reply)
    await log_turn(tracker, reply, handoff=True)
    return events
