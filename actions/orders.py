"""Acting on the customer's own order: the identity form, its questions, and the operations.

The dialogue (domain.yml, data/rules_orders.yml):
  1. A request about an order that carries its number ("cancel order 482913"), or the number on
     its own, starts ``order_form``. The form asks for what is missing: the order number, then the
     e-mail address (or delivery postcode) on the order. ``validate_order_form`` checks the pair
     with the shop; nothing about the order is read before that.
  2. When the form is done, ``action_order_operation`` does what was asked (slot
     ``order_operation``, set from the intent that started it): tracking, refund status and the
     invoice at once; a cancellation, a return or an address change is explained first (is it free?
     what is returnable?) and asked for a yes.
  3. ``action_order_confirm`` carries out the change on "yes" (once: an idempotency key per
     conversation, order and change), or leaves everything as it was on "no".

The business rules (fees, windows, what is returnable) are the shop's, in its answers; these
actions only ask and say. Every reply is logged with the calls it made (order_actions).
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import json
import logging
import time
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import hand_over
from actions.turn_log import log_turn
from bot import services
from bot.orders import details, wording
from bot.orders.backend import (
    Access, AccessExpired, LockedOut, NotFound, OrderError, Refused, Unavailable,
)
from bot.settings import get_settings
from bot.storage.log import OrderActionRecord

logger = logging.getLogger(__name__)

ORDER_FORMS = ("order_form", "address_form")


# --- helpers -------------------------------------------------------------------------------------


def _text(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("text") or ""


def _new_number(tracker: Tracker) -> Optional[str]:
    """The order number in the latest message, if it carries one (the NLU's entity, else the
    parser on the text: a message typed while a form asks is read the same way)."""
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == "order_number" and entity.get("value"):
            return details.order_number(str(entity["value"])) or str(entity["value"])
    return details.order_number(_text(tracker))


def _access(tracker: Tracker) -> Optional[Access]:
    raw = tracker.get_slot("order_access")
    if not raw:
        return None
    data = json.loads(raw)
    return Access(data["order_number"], data["token"])


def _access_slot(access: Access) -> str:
    return json.dumps({"order_number": access.order_number, "token": access.token})


def _proof(value: str) -> Dict[str, str]:
    return {"email": value} if "@" in value else {"postcode": value}


def _replied_this_turn(tracker: Tracker) -> bool:
    """Did an earlier action of this turn already say something (a digression's answer)?"""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot":
            return True
    return False


def pending_question(tracker: Tracker) -> Optional[str]:
    """The question an active order form waits on, for a reply given in the middle of the form to
    end with (the form does not ask it again in the same turn: ``_replied_this_turn``)."""
    loop = (tracker.active_loop or {}).get("name")
    if loop not in ORDER_FORMS:
        return None
    return wording.question_for(tracker.get_slot("requested_slot"), tracker.get_slot("order_number"))


def order_intents(domain: Dict[Text, Any]) -> Dict[Text, Text]:
    """Intent -> operation, as domain.yml's ``order_operation`` slot maps them (its one home)."""
    slot = (domain.get("slots") or {}).get("order_operation") or {}
    return {m["intent"]: m["value"] for m in slot.get("mappings") or []
            if m.get("type") == "from_intent"}


def idempotency_key(sender_id: str, number: str, change: str, detail: str = "") -> str:
    """The same change asked for again in this conversation gets the same key, so the shop applies
    it once however often "yes" arrives or the call is retried."""
    raw = f"{sender_id}|{number}|{change}|{detail}".encode()
    return hashlib.sha256(raw).hexdigest()[:40]


def _refused(operation: str, order: Dict[str, Any], quote: str) -> tuple:
    """What the log keeps of a change the shop's rules do not allow: the rule's reason."""
    return operation, "refused", (order.get(quote) or {}).get("reason") or order.get("status")


async def _renewed_access(tracker: Tracker, started: float) -> Access:
    """A new token for the conversation's verified order (tokens live an hour), from the details
    the customer already gave; AccessExpired when there are none or they no longer match."""
    access, proof = _access(tracker), tracker.get_slot("order_email")
    if access is None or not proof:
        raise AccessExpired()
    try:
        return await _within_deadline(services.get_order_backend().verify(
            access.order_number, **_proof(proof)), started)
    except (NotFound, LockedOut):
        raise AccessExpired() from None


class Timer:
    def __init__(self) -> None:
        self.start = time.monotonic()

    @property
    def ms(self) -> int:
        return round((time.monotonic() - self.start) * 1000)


async def _within_deadline(call, started: float):
    """Runs a backend call within what is left of the action's deadline."""
    left = get_settings().action_deadline_s - (time.monotonic() - started)
    try:
        return await asyncio.wait_for(call, max(0.5, left))
    except asyncio.TimeoutError:
        raise Unavailable("the action's deadline passed", changed=None) from None


# --- the identity form ---------------------------------------------------------------------------


class ValidateOrderForm(FormValidationAction):
    """Reads the order number and e-mail/postcode from each message and checks them with the shop.

    Returns no event for a message without either, so that Rasa hands that message to the other
    rules (a question in the middle of the form is answered, then the form asks again).
    """

    def name(self) -> Text:
        return "validate_order_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        settings = get_settings()
        requested = tracker.get_slot("requested_slot")
        text = _text(tracker)
        number = _new_number(tracker)
        proof = details.email(text)
        if proof is None and requested == "order_email":
            proof = details.postcode(text)
        if (tracker.get_slot("verify_paused_until") or 0) > time.time():
            return self._stop("locked")
        if number is None and proof is None:
            return []  # nothing for this form in the message

        known = tracker.get_slot("order_number")
        access = _access(tracker)
        number = number or known
        events: List[Dict[Text, Any]] = []
        if number and access is not None and access.order_number == number:
            return [SlotSet("order_number", number)]  # the order verified earlier
        if number and proof is None and tracker.get_slot("order_email"):
            # Another order of the same customer ("actually, the other one"): try the details
            # already given before asking again; a mismatch only means asking.
            outcome = await self._verify(number, tracker.get_slot("order_email"))
            if isinstance(outcome, Access):
                return self._verified(number, tracker.get_slot("order_email"), outcome)
            if outcome in ("locked", "unavailable"):
                return self._stop(outcome)
            return [SlotSet("order_number", number), SlotSet("order_email", None),
                    SlotSet("order_access", None), SlotSet("order_verified", False),
                    SlotSet("order_known", True)]
        if number is None or proof is None:
            # Half of the pair: keep it and let the form ask for the other half.
            if number:
                events += [SlotSet("order_number", number), SlotSet("order_access", None),
                           SlotSet("order_verified", False), SlotSet("order_known", True)]
            if proof:
                events.append(SlotSet("order_email", proof))
            return events

        outcome = await self._verify(number, proof)
        if isinstance(outcome, Access):
            return self._verified(number, proof, outcome)
        if outcome in ("locked", "unavailable"):
            return self._stop(outcome)
        failures = int(tracker.get_slot("verify_failures") or 0) + 1
        logger.info("orders.verify_failed failures=%d", failures)
        events = [SlotSet("verify_failures", float(failures)), SlotSet("order_verified", False),
                  SlotSet("order_access", None), SlotSet("order_known", False)]
        if failures >= settings.verify_max_failures:
            return events + [SlotSet("verify_paused_until", time.time() + settings.verify_pause_s),
                             SlotSet("verify_failures", 0.0)] + self._stop("locked")
        # Ask for both again (the form asks for the number first): which half was wrong is not
        # said.
        return events + [SlotSet("order_number", None), SlotSet("order_email", None),
                         SlotSet("order_notice", "not_found")]

    async def _verify(self, number: str, proof: str):
        """An Access, or "not_found", "locked" or "unavailable"."""
        try:
            return await _within_deadline(
                services.get_order_backend().verify(number, **_proof(proof)), time.monotonic())
        except NotFound:
            return "not_found"
        except LockedOut:
            return "locked"
        except OrderError as e:
            logger.warning("orders.verify_unavailable error=%s", e)
            return "unavailable"

    @staticmethod
    def _verified(number: str, proof: str, access: Access) -> List[Dict[Text, Any]]:
        # verify_failures is not reset: proving one's own order must not buy more guesses at
        # other people's (the count restarts only after a pause).
        return [SlotSet("order_number", number), SlotSet("order_email", proof),
                SlotSet("order_access", _access_slot(access)), SlotSet("order_verified", True),
                SlotSet("order_known", True), SlotSet("order_notice", None)]

    @staticmethod
    def _stop(problem: str) -> List[Dict[Text, Any]]:
        """Ends the form at once; action_order_operation says why and offers a person."""
        return [SlotSet("order_problem", problem), SlotSet("requested_slot", None)]


class AskAction(Action, abc.ABC):
    """Asks for one of the form's slots and logs the turn, unless a digression's answer already
    asked it in this turn."""

    slot: Text

    @abc.abstractmethod
    def name(self) -> Text:
        """action_ask_<slot>: Rasa's form calls it to ask for that slot."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if _replied_this_turn(tracker):
            return []
        question = wording.question_for(self.slot, tracker.get_slot("order_number"))
        if tracker.get_slot("order_notice") == "not_found":
            question = f"{wording.NOT_FOUND} {question}"
        dispatcher.utter_message(text=question)
        actions = []
        if tracker.get_slot("order_notice") == "not_found":
            actions.append(OrderActionRecord(None, "verify", "refused", "not_found"))
        await log_turn(tracker, question, order_actions=actions)
        return [SlotSet("order_notice", None)]


class ActionAskOrderNumber(AskAction):
    slot = "order_number"

    def name(self) -> Text:
        return "action_ask_order_number"


class ActionAskOrderEmail(AskAction):
    slot = "order_email"

    def name(self) -> Text:
        return "action_ask_order_email"


class ActionAskNewAddress(AskAction):
    slot = "new_address"

    def name(self) -> Text:
        return "action_ask_new_address"


class ValidateAddressForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_address_form"

    def validate_new_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> Dict[Text, Any]:
        address = " ".join(str(value or "").split())
        # An address has a number (house, ZIP/postcode) and a few words; anything shorter is
        # asked for again rather than sent to the shop.
        if len(address) < 10 or not any(c.isdigit() for c in address) or len(address) > 300:
            return {"new_address": None}
        return {"new_address": address}


# --- the operations --------------------------------------------------------------------------------


class ActionOrderOperation(Action):
    """Runs when the identity form is done: does what the customer asked about the order, or asks
    for a yes before a change."""

    def name(self) -> Text:
        return "action_order_operation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        started = time.monotonic()
        operation = tracker.get_slot("order_operation") or "track"
        number = tracker.get_slot("order_number")
        problem = tracker.get_slot("order_problem")
        records: List[OrderActionRecord] = []
        events: List[Dict[Text, Any]] = [SlotSet("order_problem", None),
                                         SlotSet("awaiting_confirmation", False),
                                         SlotSet("asking_address", False)]
        offers_handoff = False
        if problem == "locked":
            # Too many wrong details: a person checks who the customer is instead.
            reply, handoff_events = await hand_over(tracker, "lockout", wording.LOCKED_HANDOFF)
            dispatcher.utter_message(text=reply)
            await log_turn(tracker, reply, answered=False, handoff=True, order_actions=[
                OrderActionRecord(number, "verify", "refused", problem)])
            return events + handoff_events
        if problem == "unavailable":
            reply = wording.UNAVAILABLE
            records.append(OrderActionRecord(number, "verify", "failed", problem))
            offers_handoff = True
        else:
            timer = Timer()
            try:
                access = _access(tracker)
                try:
                    if access is None:
                        raise AccessExpired()
                    reply, more, logged = await self._operate(operation, access, tracker, started)
                except AccessExpired:
                    access = await _renewed_access(tracker, started)
                    reply, more, logged = await self._operate(operation, access, tracker, started)
                    more.append(SlotSet("order_access", _access_slot(access)))
                events += more
                offers_handoff = any(e.get("name") == "handoff_offered" and e.get("value")
                                     for e in more)
                records.append(OrderActionRecord(number, *logged, latency_ms=timer.ms))
            except Unavailable as e:
                reply, offers_handoff = wording.UNAVAILABLE, True
                records.append(OrderActionRecord(number, operation, "failed", "unavailable",
                                                 timer.ms))
                logger.warning("orders.operation_failed operation=%s error=%s", operation, e)
            except AccessExpired:
                reply = wording.ASK_ORDER_NUMBER
                events += [SlotSet("order_access", None), SlotSet("order_verified", False),
                           SlotSet("order_number", None), SlotSet("order_known", False)]
                records.append(OrderActionRecord(number, operation, "refused", "access_expired",
                                                 timer.ms))
        events.append(SlotSet("handoff_offered", offers_handoff))
        dispatcher.utter_message(text=reply)
        await log_turn(tracker, reply, answered=problem is None, order_actions=records)
        return events

    async def _operate(self, operation: str, access: Access, tracker: Tracker, started: float):
        backend = services.get_order_backend()
        order = await _within_deadline(backend.order(access), started)
        number = order["number"]
        if operation == "cancel":
            offer = wording.cancel_offer(order)
            if offer is None:
                return wording.cancel_refusal(order), [], _refused("cancel", order, "cancellation")
            return offer, self._ask_yes("cancel"), ("cancel_quote", "done", None)
        if operation == "return":
            offer = wording.return_offer(order)
            if offer is None:
                return wording.return_refusal(order), [], ("return", "refused", "nothing_returnable")
            return offer, self._ask_yes("return"), ("return_quote", "done", None)
        if operation == "change_address":
            address = tracker.get_slot("new_address")
            if address and tracker.get_slot("pending_action") == "change_address":
                return (wording.address_confirm(address, order), self._ask_yes("change_address"),
                        ("change_address_quote", "done", None))
            offer = wording.address_offer(order)
            if offer is None:
                return (wording.address_refusal(order), [],
                        _refused("change_address", order, "address_change"))
            # The address form follows in this turn; its question is asked here, in one reply.
            return f"{offer} {wording.ask_new_address(number)}", [
                SlotSet("asking_address", True), SlotSet("new_address", None),
                SlotSet("pending_action", "change_address")], ("change_address_quote", "done", None)
        if operation == "change_items":
            handoff = order["status"] in ("awaiting_payment", "received", "processing")
            return (wording.change_items(order), [SlotSet("handoff_offered", handoff)],
                    ("change_items", "done" if handoff else "refused",
                     None if handoff else order["status"]))
        if operation == "refund":
            return wording.refunds(order), [], ("refund", "done", None)
        if operation == "invoice":
            try:
                found = await _within_deadline(backend.invoice(access), started)
            except Refused:
                return wording.no_invoice(number), [], ("invoice", "refused", "no_invoice")
            return wording.invoice(found, number), [], ("invoice", "done", None)
        reply = wording.tracking(order)
        return (reply, [SlotSet("handoff_offered", bool(order.get("lateness")))],
                ("track", "done", None))

    @staticmethod
    def _ask_yes(change: str) -> List[Dict[Text, Any]]:
        return [SlotSet("awaiting_confirmation", True), SlotSet("pending_action", change)]


class ActionOrderConfirm(Action):
    """The customer's yes or no to a change the bot proposed."""

    def name(self) -> Text:
        return "action_order_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        started = time.monotonic()
        change = tracker.get_slot("pending_action")
        number = tracker.get_slot("order_number")
        access = _access(tracker)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        events = [SlotSet("awaiting_confirmation", False), SlotSet("pending_action", None),
                  SlotSet("new_address", None), SlotSet("handoff_offered", False)]
        records: List[OrderActionRecord] = []
        if intent != "affirm" or access is None or change is None:
            reply = wording.NOTHING_CHANGED.format(number=number)
        else:
            timer = Timer()
            key = idempotency_key(tracker.sender_id, number, change,
                                  tracker.get_slot("new_address") or "")
            try:
                try:
                    reply = await self._change(change, access, key, tracker, started)
                except AccessExpired:  # the token outlived its hour: renewed, the same key
                    access = await _renewed_access(tracker, started)
                    reply = await self._change(change, access, key, tracker, started)
                records.append(OrderActionRecord(number, change, "done", None, timer.ms))
            except Refused as e:
                # The order moved on between the offer and the yes (dispatched meanwhile).
                reply = (f"Sorry, I couldn't do that: order #{number} has changed since I checked "
                         f"({(e.reason or e.code).replace('_', ' ')}). Nothing was changed.")
                records.append(OrderActionRecord(number, change, "refused", e.reason or e.code,
                                                 timer.ms))
            except Unavailable as e:
                reply = wording.UNKNOWN_OUTCOME if e.changed is None else wording.UNAVAILABLE
                events[-1] = SlotSet("handoff_offered", True)
                records.append(OrderActionRecord(number, change, "failed", "unavailable"
                                                 if e.changed is False else "unknown", timer.ms))
            except AccessExpired:
                reply = wording.UNAVAILABLE
                events[-1] = SlotSet("handoff_offered", True)
                records.append(OrderActionRecord(number, change, "failed", "access_expired",
                                                 timer.ms))
        dispatcher.utter_message(text=reply)
        await log_turn(tracker, reply, order_actions=records)
        return events

    async def _change(self, change: str, access: Access, key: str, tracker: Tracker,
                      started: float) -> str:
        backend = services.get_order_backend()
        number = access.order_number
        if change == "cancel":
            result = await _within_deadline(backend.cancel(access, key), started)
            return wording.cancelled(result, number)
        if change == "return":
            result = await _within_deadline(backend.start_return(access, key), started)
            return wording.return_started(result, number)
        if change == "change_address":
            address = tracker.get_slot("new_address")
            result = await _within_deadline(backend.change_address(access, address, key), started)
            return wording.address_changed(result, number)
        raise ValueError(f"unknown change {change!r}")
