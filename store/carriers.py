"""Which carrier takes a parcel, what its tracking number looks like, and where to track it.

Used by the seed when it dispatches an order and by the order view, so a region always shows the
same carrier. Tracking links point at our own page (FACTS.md, Shipping: "larkspur.example/track
(order number + e-mail)"), which works whatever the carrier.
"""

from __future__ import annotations

import random

from store.codes import SITE

CARRIERS = {
    "US": "UPS",
    "US_REMOTE": "USPS",  # UPS hands Alaska, Hawaii, territories and military mail to USPS
    "CA": "Canada Post",
    "UK": "Royal Mail",
    "EU": "DHL",
    "ROW": "DHL Express",
}


def carrier_for(region: str, po_box: bool = False) -> str:
    """The carrier for a parcel to ``region``; US PO boxes go by USPS, the only one that serves them."""
    if region == "US" and po_box:
        return "USPS"
    return CARRIERS[region]


def tracking_url(order_number: str) -> str:
    return f"{SITE}/track?order={order_number}"


def make_tracking_number(carrier: str, rng: random.Random) -> str:
    """A number in the shape the carrier uses, so the demo looks like the real thing."""
    digits = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    if carrier == "UPS":
        return "1Z" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(16))
    if carrier == "USPS":
        return "9400" + digits(18)
    if carrier == "Canada Post":
        return digits(16)
    if carrier == "Royal Mail":
        letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2))
        return f"{letters}{digits(9)}GB"
    return digits(10)  # DHL and DHL Express
