"""Words that change an answer: a question about PayPal is not one about cards, however close
the sentences are. Approved answers (approved.py) are given only when the customer's question
names the same members of each class below as the approved question does: the same payment
method, region, operation, delivery speed, kind of item, day, and the same numbers.

Measured need (reports/corrections.md): on questions written to differ from an approved one by
one such word ("a refund to a card" beside "a refund to PayPal"), sentence similarity alone
scores the look-alike higher than a true rewording, so no threshold on it separates them.

The classes come from knowledge/FACTS.md: what the help centre answers differently.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Dict, FrozenSet, List, Tuple

# class -> member -> the phrases that name it (lower case, matched as whole words)
CLASSES: Dict[str, Dict[str, List[str]]] = {
    "payment": {
        "paypal": ["paypal"],
        "card": ["card", "cards", "credit card", "debit card", "visa", "mastercard", "amex",
                 "american express", "discover"],
        "apple pay": ["apple pay"],
        "google pay": ["google pay"],
        "klarna": ["klarna", "pay in 4", "pay in 30", "instalments", "installments"],
        "bank transfer": ["bank transfer", "wire transfer", "transfer"],
        "gift card": ["gift card", "gift cards", "e-gift", "egift", "gift voucher"],
        "store credit": ["store credit"],
        "cash": ["cash", "cash on delivery"],
        "crypto": ["crypto", "bitcoin", "cryptocurrency"],
    },
    "region": {
        "us": ["us", "usa", "u.s.", "united states", "america", "states"],
        "canada": ["canada", "canadian"],
        "uk": ["uk", "united kingdom", "britain", "great britain", "england", "scotland",
               "wales", "northern ireland"],
        "eu": ["eu", "europe", "european", "germany", "france", "spain", "italy", "netherlands",
               "ireland", "belgium", "austria", "portugal", "sweden", "denmark", "poland"],
        "world": ["australia", "japan", "iceland", "norway", "switzerland", "new zealand",
                  "mexico", "brazil", "india", "singapore", "rest of the world", "worldwide",
                  "international"],
        "remote us": ["po box", "p.o. box", "alaska", "hawaii", "puerto rico", "apo", "fpo"],
    },
    "operation": {
        "cancel": ["cancel", "cancels", "cancelled", "canceled", "cancelling", "canceling",
                   "cancellation", "cancelation"],
        "return": ["return", "returns", "returned", "returning", "send back", "send it back",
                   "sent back", "send them back"],
        "exchange": ["exchange", "exchanged", "exchanging", "swap", "swapped"],
        "change": ["change", "changed", "changing", "modify", "modified", "edit", "edited",
                   "add an item", "remove an item"],
        "refund": ["refund", "refunds", "refunded", "refunding", "money back"],
        "invoice": ["invoice", "receipt", "vat"],
    },
    "speed": {
        "standard": ["standard"],
        "express": ["express"],
        "next day": ["next-day", "next day", "overnight"],
    },
    "item": {
        "candles": ["candle", "candles"],
        "coffee": ["coffee", "tea", "spices"],
        "furniture": ["furniture", "sofa", "table", "chair", "bulky"],
        "electronics": ["electronics", "earbuds", "headphones", "charger", "speaker"],
        "kitchenware": ["kitchenware", "pan", "pans", "knife", "knives"],
        "personalised": ["personalised", "personalized", "engraved", "engraving", "monogram"],
        "final sale": ["final sale", "clearance"],
    },
    # "under €150" and "over €150" have opposite answers (duties, free shipping)
    "comparison": {
        "below": ["under", "below", "less than", "up to"],
        "above": ["over", "above", "more than", "at least"],
    },
    "state": {
        "opened": ["opened"],
        "unopened": ["unopened", "sealed", "unused", "unworn"],
    },
    # guests and the business team have their own ways and hours
    "who": {
        "guest": ["guest", "without an account"],
        "business": ["business", "company", "bulk"],
    },
    "day": {
        "weekend": ["weekend", "weekends", "saturday", "sunday"],
        "holiday": ["holiday", "holidays", "christmas", "thanksgiving", "new year"],
    },
}
NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


@lru_cache(maxsize=1)
def _patterns() -> List[Tuple[str, str, "re.Pattern[str]"]]:
    found = []
    for klass, members in CLASSES.items():
        for member, phrases in members.items():
            alternatives = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
            found.append((klass, member, re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")))
    return found


def mentions(text: str) -> FrozenSet[Tuple[str, str]]:
    """(class, member) pairs ``text`` names, and ("number", n) for each number in it."""
    lower = text.lower()
    named = {(klass, member) for klass, member, pattern in _patterns() if pattern.search(lower)}
    # "gift card" is a card only as a gift card
    if ("payment", "gift card") in named and not re.search(r"(?<!gift )\bcards?\b", lower):
        named.discard(("payment", "card"))
    named |= {("number", n.replace(",", ".")) for n in NUMBER.findall(lower)}
    return frozenset(named)


def same_terms(question: str, approved_question: str) -> bool:
    """True when both name exactly the same members of every class (and the same numbers)."""
    return mentions(question) == mentions(approved_question)
