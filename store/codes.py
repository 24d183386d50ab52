"""The store's vocabularies: every status, region, method and reason code, with its label.

One home for these lists: the models constrain columns with them, the rules and the seed choose
from them, and the HTTP contract documents them. Codes are what clients compare; labels are what
people read.
"""

from __future__ import annotations

# FACTS.md, Orders: "Awaiting payment -> Received (first 60 min) -> Processing -> Dispatched ->
# Out for delivery -> Delivered (or Ready for pick-up / Cancelled)".
ORDER_STATUSES = {
    "awaiting_payment": "Awaiting payment",
    "received": "Received",
    "processing": "Processing",
    "dispatched": "Dispatched",
    "out_for_delivery": "Out for delivery",
    "delivered": "Delivered",
    "ready_for_pickup": "Ready for pick-up",
    "cancelled": "Cancelled",
}
BEFORE_DISPATCH = ("awaiting_payment", "received", "processing")
AFTER_DISPATCH = ("dispatched", "out_for_delivery", "delivered", "ready_for_pickup")

# FACTS.md, Shipping table rows. US is the 48 states + DC; US_REMOTE is Alaska, Hawaii, Puerto
# Rico, territories and APO/FPO/DPO.
REGIONS = {
    "US": "United States (48 states + DC)",
    "US_REMOTE": "Alaska, Hawaii, Puerto Rico, territories, APO/FPO/DPO",
    "CA": "Canada",
    "EU": "European Union",
    "UK": "United Kingdom",
    "ROW": "Rest of world",
}
DOMESTIC_REGIONS = ("US", "US_REMOTE")

# FACTS.md, Payments: "Currencies: USD (US and rest of world), CAD, EUR, GBP."
CURRENCIES = ("USD", "CAD", "EUR", "GBP")
REGION_CURRENCY = {"US": "USD", "US_REMOTE": "USD", "ROW": "USD", "CA": "CAD", "EU": "EUR", "UK": "GBP"}

PAYMENT_METHODS = {
    "card": "Card",
    "apple_pay": "Apple Pay",
    "google_pay": "Google Pay",
    "paypal": "PayPal",
    "klarna": "Klarna",
    "gift_card": "Larkspur gift card",
    "bank_transfer": "Bank transfer",
}
# FACTS.md, Payments: "Cards authorised at checkout, charged at dispatch". Apple Pay and Google
# Pay pay with a card underneath, so they behave the same way.
CARD_METHODS = ("card", "apple_pay", "google_pay")

SHIPPING_METHODS = {
    "standard": "Standard",
    "express": "Express",
    "next_day": "Next-day",
    "pickup_point": "Pick-up point",
}

ITEM_CATEGORIES = (
    "cookware",
    "knives",
    "electronics_accessories",
    "home",
    "kitchenware",
    "candles",
    "coffee_tea",
    "cleaning",
    "gift_card",
)
# FACTS.md, Returns: "opened consumables (candles, coffee, tea, cleaning products)".
CONSUMABLE_CATEGORIES = ("candles", "coffee_tea", "cleaning")
# "used kitchenware": pans and knives are kitchenware to a customer, so all three count.
KITCHENWARE_CATEGORIES = ("kitchenware", "cookware", "knives")

CANCELLED_BY = ("customer", "store")

RETURN_STATUSES = ("registered", "in_transit", "received", "inspected", "refunded", "rejected")
RETURN_REASONS = ("change_of_mind", "faulty", "damaged", "wrong_item")

REFUND_STATUSES = ("pending", "issued", "completed")
# A card payment cancelled before dispatch was only authorised: the hold is released, nothing is
# paid back (FACTS.md, Refund timing: "Released card holds (cancelled before dispatch)").
REFUND_KINDS = ("refund", "hold_release")

# Why an item cannot be returned (FACTS.md, Returns: "Not returnable: ...").
NOT_RETURNABLE_REASONS = {
    "not_delivered": "The order has not been delivered yet.",
    "gift_card": "Gift cards cannot be returned.",
    "personalised": "Personalised or engraved items cannot be returned.",
    "final_sale": "Final Sale items cannot be returned.",
    "opened_consumable": "Opened candles, coffee, tea and cleaning products cannot be returned.",
    "hygiene_seal": "Earbuds with a broken hygiene seal cannot be returned.",
    "used_kitchenware": "Used kitchenware cannot be returned unless it is faulty.",
    "window_closed": "The return window has closed.",
    "already_returned": "This item is already in a return.",
    "not_in_order": "This item is not in the order.",
}

RETURNS_ADDRESS = "Larkspur Returns, 4400 Harbor Logistics Way, Groveport, OH 43125, USA"
SITE = "https://larkspur.example"


def sql_in(column: str, values) -> str:
    """A CHECK constraint's text: ``column`` holds one of ``values``."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"
