"""What the bot says about an order, in plain words, from the order system's view of it.

Pure functions of the contract's JSON (docs/store-openapi.json): no I/O, easy to test. Each
reply names the order number, so a customer with two orders always knows which one is meant.
The rules (what costs what, what is returnable) are the shop's; these functions only say them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Dict, Iterable, Optional

SYMBOLS = {"USD": "$", "CAD": "CA$", "EUR": "€", "GBP": "£"}

STATUS = {
    "awaiting_payment": "is waiting for your payment",
    "received": "has been received and will be prepared shortly",
    "processing": "is being prepared in our warehouse",
    "dispatched": "is on its way",
    "out_for_delivery": "is out for delivery",
    "delivered": "was delivered",
    "ready_for_pickup": "is waiting for you at your pick-up point",
    "cancelled": "was cancelled",
}

NOT_RETURNABLE = {
    "gift_card": "gift cards can't be returned",
    "personalised": "personalised and engraved items can't be returned",
    "final_sale": "Final Sale items can't be returned",
    "opened_consumable": "opened candles, coffee, tea and cleaning products can't be returned",
    "hygiene_seal": "earbuds with a broken hygiene seal can't be returned",
    "used_kitchenware": "used kitchenware can't be returned unless it is faulty",
    "window_closed": "the 30-day return window has closed",
    "not_delivered": "it hasn't been delivered yet",
    "already_returned": "it is already being returned",
    "not_in_order": "it isn't part of this order",
}

REFUND_STATUS = {
    "pending": "is waiting for our inspection of the return",
    "issued": "has been issued",
    "completed": "has been paid back",
}

METHODS = {
    "card": "card", "apple_pay": "Apple Pay", "google_pay": "Google Pay", "paypal": "PayPal",
    "klarna": "Klarna", "gift_card": "gift card / store credit", "bank_transfer": "bank transfer",
}

NOT_FOUND = (
    "I couldn't find an order with those details. Please check the order number (6 digits, in "
    "your confirmation e-mail) and the e-mail address or postcode on the order."
)
LOCKED_HANDOFF = ("I can't check more order details right now: there have been too many "
                  "unsuccessful tries.")
UNAVAILABLE = (
    "Sorry, I can't reach our order system right now, so I haven't changed anything. Please try "
    "again in a few minutes, or I can connect you with a person from our support team. Would you "
    "like that?"
)
UNKNOWN_OUTCOME = (
    "Sorry, our order system didn't confirm in time, so I can't tell yet whether that went "
    "through. I won't do it twice: ask me again in a minute and I'll check, or I can connect you "
    "with a person. Would you like that?"
)
NOTHING_CHANGED = "Alright, I haven't changed anything on order #{number}."
ASK_ADDRESS = (
    "What's the new delivery address for order #{number}? Please write it on one line: name, "
    "street, city, state or region, ZIP/postcode."
)


def money(amount: Any, currency: str) -> str:
    return f"{SYMBOLS.get(currency, currency + ' ')}{float(amount):.2f}"


def day(value: Optional[str]) -> str:
    """``2026-03-12`` or a timestamp -> ``Thursday, March 12``."""
    if not value:
        return ""
    parsed = datetime.fromisoformat(str(value)) if "T" in str(value) else date.fromisoformat(
        str(value)[:10])
    return f"{parsed:%A, %B} {parsed.day}"


def _list(items: Iterable[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def status_line(order: Dict[str, Any]) -> str:
    number, status = order["number"], order["status"]
    line = f"Order #{number} {STATUS.get(status, 'has the status ' + status.replace('_', ' '))}"
    if status == "delivered" and order.get("delivered_at"):
        line += f" on {day(order['delivered_at'])}"
    if status in ("dispatched", "out_for_delivery") and order.get("carrier"):
        line += f" with {order['carrier']}"
    return line + "."


def tracking(order: Dict[str, Any]) -> str:
    parts = [status_line(order)]
    status = order["status"]
    if status == "awaiting_payment" and order.get("payment_method") == "bank_transfer":
        parts.append("Please pay by bank transfer within 7 days of ordering, with the order number "
                     "as the reference; we match payments within 1-2 business days.")
    if status == "ready_for_pickup":
        parts.append("Parcels are held for 10 calendar days; bring the pick-up code from your "
                     "e-mail (and photo ID at shops).")
    event = order.get("last_event")
    if event and status not in ("awaiting_payment", "received", "cancelled"):
        where = f" ({event['location']})" if event.get("location") else ""
        parts.append(f"Latest update, {day(event['at'])}: {event['description']}{where}.")
    estimate = order.get("estimate") or {}
    if status in ("processing", "dispatched", "out_for_delivery") and estimate.get("to"):
        if estimate.get("from") and estimate["from"] != estimate["to"]:
            parts.append(f"Expected delivery: {day(estimate['from'])} to {day(estimate['to'])}.")
        else:
            parts.append(f"Expected delivery: {day(estimate['to'])}.")
    if order.get("tracking_url") and status in ("dispatched", "out_for_delivery", "delivered",
                                                 "ready_for_pickup"):
        number = order.get("tracking_number")
        parts.append(f"Tracking{' number ' + number if number else ''}: {order['tracking_url']}")
    others = order.get("split_group_orders") or []
    if others:
        parts.append(f"It was sent in more than one parcel; the rest is order "
                     f"{_list('#' + n for n in others)}.")
    late = order.get("lateness")
    if late:
        parts.append(lateness(late))
    return " ".join(parts)


def lateness(late: Dict[str, Any]) -> str:
    if late.get("code") == "processing_too_long":
        return ("It has been processing for more than 2 business days, which is longer than it "
                "should. A person from our team can check it: would you like me to connect you?")
    return ("It's later than it should be. Our team asks the carrier to trace it (up to 5 business "
            "days, 10 for international parcels) and then sends a replacement or refunds you. "
            "Would you like me to connect you with a person to start that?")


def cancel_offer(order: Dict[str, Any]) -> Optional[str]:
    """The question before cancelling, or None when it can't be cancelled (see cancel_refusal)."""
    quote = order.get("cancellation") or {}
    if not quote.get("allowed"):
        return None
    number = order["number"]
    if float(quote.get("fee") or 0) == 0:
        why = ("it's waiting for a bank transfer" if quote.get("reason") == "awaiting_bank_transfer"
               else "it's within 60 minutes of ordering")
        cost = f"Cancelling order #{number} is free, as {why}."
    else:
        cost = (f"Order #{number} was placed more than 60 minutes ago and hasn't been dispatched "
                f"yet, so cancelling it now costs a fee of {money(quote['fee'], quote['currency'])}.")
    return f"{cost} Shall I cancel it? (yes / no)"


def cancel_refusal(order: Dict[str, Any]) -> str:
    number = order["number"]
    reason = (order.get("cancellation") or {}).get("reason")
    if reason == "already_cancelled" or order["status"] == "cancelled":
        return f"Order #{number} is already cancelled."
    if order["status"] in ("delivered", "ready_for_pickup"):
        return (f"Order #{number} can't be cancelled any more: it {STATUS[order['status']]}. You "
                f"can return it within 30 days of delivery instead: just ask me to start a return.")
    return (f"Order #{number} can't be cancelled any more: it has already left our warehouse. "
            f"Once it arrives you can return it within 30 days of delivery: just ask me to start "
            f"a return.")


def cancelled(result: Dict[str, Any], number: str) -> str:
    if result.get("replayed"):
        return f"Order #{number} is already cancelled: I did that earlier, and only once."
    fee = float(result.get("fee") or 0)
    cost = (f" A cancellation fee of {money(result['fee'], result['currency'])} applies."
            if fee else " There was no charge.")
    refund = result.get("refund")
    money_back = ""
    if refund:
        money_back = f" {refund_line(refund)}"
    return f"Done: order #{number} is cancelled.{cost}{money_back}"


def refund_line(refund: Dict[str, Any]) -> str:
    method = METHODS.get(refund.get("method"), refund.get("method", "your payment method"))
    amount = money(refund["amount"], refund["currency"])
    if refund.get("kind") == "hold_release":
        # Cards are charged at dispatch: before it there is only a hold, which is released.
        line = f"The hold of {amount} on your {method} is released"
        if refund.get("expected_to"):
            line += f"; it disappears from your statement by {day(refund['expected_to'])}"
        return line + "."
    state = REFUND_STATUS.get(refund.get("status"), refund.get("status", ""))
    line = f"Your refund of {amount} to your {method} {state}"
    if refund.get("issued_at"):
        line += f" ({day(refund['issued_at'])})"
    if refund.get("status") in ("issued", "pending") and refund.get("expected_to"):
        if refund.get("expected_from") and refund["expected_from"] != refund["expected_to"]:
            line += (f"; expect it between {day(refund['expected_from'])} and "
                     f"{day(refund['expected_to'])}")
        else:
            line += f"; expect it by {day(refund['expected_to'])}"
    return line + "."


def refunds(order: Dict[str, Any]) -> str:
    number = order["number"]
    found = order.get("refunds") or []
    if found:
        return f"About order #{number}: " + " ".join(refund_line(r) for r in found)
    returns = order.get("returns") or []
    if returns:
        latest = returns[0]
        return (f"There's no refund on order #{number} yet. Its return {latest['id']} is "
                f"{latest['status'].replace('_', ' ')}; we inspect returns within 3 business days "
                f"of arrival and refund the same day.")
    return (f"There's no refund or return on order #{number}. If you'd like your money back for "
            f"items from it, I can start a return.")


def invoice(found: Dict[str, Any], number: str) -> str:
    return (f"The invoice for order #{number} is {found['number']} (issued "
            f"{day(found['issued_at'])}). Download it as a PDF: {found['download_url']} (or "
            f"Account > Orders > Invoice). It was also e-mailed from billing@larkspur.example.")


def no_invoice(number: str) -> str:
    return (f"Order #{number} has no invoice yet: we issue it on the day the order is dispatched "
            f"and e-mail it as a PDF from billing@larkspur.example.")


def return_offer(order: Dict[str, Any]) -> Optional[str]:
    number = order["number"]
    items = order.get("items") or []
    ok = [i for i in items if i.get("returnable")]
    if not ok:
        return None
    refused = [i for i in items if not i.get("returnable")]
    text = f"I can start a return on order #{number} for: {_list(i['name'] for i in ok)}."
    if refused:
        text += " Not returnable: " + "; ".join(
            f"{i['name']} ({NOT_RETURNABLE.get(i.get('not_returnable_reason'), 'not returnable')})"
            for i in refused) + "."
    if order.get("return_window_ends"):
        text += f" The return window ends on {day(order['return_window_ends'])}."
    return text + " Shall I start the return? (yes / no)"


def return_refusal(order: Dict[str, Any]) -> str:
    number = order["number"]
    items = order.get("items") or []
    if order["status"] in ("awaiting_payment", "received", "processing", "dispatched",
                           "out_for_delivery"):
        return (f"Order #{number} hasn't been delivered yet, so a return can't start. Once it "
                f"arrives you have 30 days to return it.")
    if order["status"] == "cancelled":
        return f"Order #{number} was cancelled, so there's nothing to return."
    reasons = sorted({NOT_RETURNABLE.get(i.get("not_returnable_reason"), "not returnable")
                      for i in items})
    return (f"Nothing on order #{number} can be returned: {'; '.join(reasons) or 'no items'}. "
            f"If something arrived faulty or damaged, tell me and I'll connect you with a person.")


def return_started(result: Dict[str, Any], number: str) -> str:
    again = " (I had already started it; nothing was doubled)" if result.get("replayed") else ""
    label = result.get("label_cost")
    cost = (f" A return label costs {money(label, result['currency'])}, taken from the refund."
            if label and float(label) else " Return shipping is free.")
    return (f"Return {result['return_id']} is registered for order #{number}{again}: "
            f"{_list(i['name'] for i in result.get('accepted', []))}. Please send the items by "
            f"{day(result['ship_by'])} to {result['address']}.{cost} We inspect returns within 3 "
            f"business days of arrival and refund the same day.")


def address_offer(order: Dict[str, Any]) -> Optional[str]:
    quote = order.get("address_change") or {}
    if not quote.get("allowed"):
        return None
    number = order["number"]
    if float(quote.get("fee") or 0) == 0:
        return f"Order #{number} hasn't been dispatched yet, so changing its address is free."
    days = quote.get("extra_days") or [1, 2]
    return (f"Order #{number} is already on its way, so the carrier has to redirect it: that costs "
            f"{money(quote['fee'], quote['currency'])} and adds {days[0]}-{days[-1]} business "
            f"days.")


def address_refusal(order: Dict[str, Any]) -> str:
    number = order["number"]
    reason = (order.get("address_change") or {}).get("reason")
    why = {
        "delivered": "it has already been delivered",
        "out_for_delivery": "it is already out for delivery",
        "next_day": "next-day parcels can't be redirected",
        "not_us": "parcels outside the US can't be redirected once dispatched",
        "ready_for_pickup": "it is already waiting at the pick-up point",
        "pickup_point": "parcels sent to a pick-up point can't be redirected",
        "cancelled": "it was cancelled",
    }.get(reason, "it has already left our warehouse")
    return f"I can't change the address of order #{number}: {why}."


def address_confirm(address: str, order: Dict[str, Any]) -> str:
    quote = order.get("address_change") or {}
    fee = float(quote.get("fee") or 0)
    cost = f" for {money(quote['fee'], quote['currency'])}" if fee else ""
    return (f"Change the delivery address of order #{order['number']} to \"{address}\"{cost}? "
            f"(yes / no)")


def address_changed(result: Dict[str, Any], number: str) -> str:
    again = " (already done earlier; nothing was doubled)" if result.get("replayed") else ""
    fee = float(result.get("fee") or 0)
    cost = f" The redirect fee of {money(result['fee'], result['currency'])} applies." if fee else ""
    return f"Done: the delivery address of order #{number} is changed{again}.{cost}"


def change_items(order: Dict[str, Any]) -> str:
    number, status = order["number"], order["status"]
    if status in ("awaiting_payment", "received", "processing"):
        return (f"Order #{number} hasn't been dispatched yet, so its items, sizes, colours or "
                f"quantities can still be changed free of charge. In its first 60 minutes use "
                f"\"Edit order\" in Account > Orders; after that a person from our team makes the "
                f"change. Would you like me to connect you with a person?")
    if status == "cancelled":
        return f"Order #{number} was cancelled, so there's nothing to change."
    return (f"Order #{number} has already left our warehouse, so it can't be changed. You can "
            f"return items within 30 days of delivery and place a new order: ask me to start a "
            f"return.")


# --- the order form's questions (asked by actions/orders.py, repeated after a digression) ------

ASK_ORDER_NUMBER = (
    "What's the order number? It has 6 digits and is in your order confirmation e-mail "
    "(for example #482913)."
)


def ask_email(number: Optional[str]) -> str:
    about = f"order #{number}" if number else "the order"
    return (f"To keep your order safe, I need to check it's yours: what's the e-mail address on "
            f"{about}? (The delivery ZIP/postcode works too.)")


def ask_new_address(number: Optional[str]) -> str:
    return ASK_ADDRESS.format(number=number or "")


def question_for(slot: Optional[str], number: Optional[str]) -> Optional[str]:
    """What the bot asks to fill ``slot`` of an order form, or None for another slot."""
    if slot == "order_number":
        return ASK_ORDER_NUMBER
    if slot == "order_email":
        return ask_email(number)
    if slot == "new_address":
        return ask_new_address(number)
    return None
