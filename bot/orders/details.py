"""Order numbers, e-mail addresses and postcodes, in whatever form customers write them.

Pure functions, standard library only: used by the NLU component that marks order numbers
(bot/nlu/order_entities.py, inside the Rasa server) and by the form's validation in actions/.

Our order numbers have six digits (knowledge/FACTS.md). Customers write them as ``#482913``,
``482913``, ``order 482 913``, ``482-913``. Five digits (a ZIP code), seven or more (a phone or
card number) and digits inside a longer token (``INV-204981``, ``$482913``) are not order numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

# Six digits, optionally split 3+3 by one space or dash, not touching other digits, letters, a
# currency sign, a decimal point or a dash before (INV-204981, CN-204981).
# A group of digits before or after it (a space or dash between) makes it part of a phone number.
_ORDER = re.compile(
    r"(?<![\w$€£.\-])(?<!\d[ \-])(?P<hash>#\s?)?(?P<digits>[1-9]\d{2}[ \-]?\d{3})"
    r"(?![\w\-]|[.,]\d|[ \-]\d)"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# Postcodes of the regions we ship to: US ZIP (+4), Canada, UK, and the EU's digit-and-letter forms.
_POSTCODES = [
    re.compile(r"(?<![\w\-])\d{5}(?:-\d{4})?(?![\w\-])"),  # US, DE, FR, IT, ES ...
    re.compile(r"(?<!\w)[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d(?!\w)"),  # Canada: M5V 2T6
    re.compile(r"(?<!\w)[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}(?!\w)"),  # UK: SW1A 1AA
    re.compile(r"(?<!\w)\d{4} ?[A-Za-z]{2}(?!\w)"),  # NL: 1012 AB
    re.compile(r"(?<![\w\-])\d{4}(?![\w\-])"),  # AT, BE, DK ...
]


@dataclass(frozen=True)
class Found:
    value: str  # normalised: the six digits, the lowercased e-mail
    start: int  # where it stands in the text, as written
    end: int


def order_numbers(text: str) -> List[Found]:
    """Every order number in ``text``, in order, as six digits."""
    found = []
    for match in _ORDER.finditer(text or ""):
        digits = re.sub(r"\D", "", match.group("digits"))
        found.append(Found(digits, match.start(), match.end()))
    return found


def order_number(text: str) -> Optional[str]:
    """The last order number in ``text`` ("not 482913, it's 482931" means the second), or None."""
    found = order_numbers(text)
    return found[-1].value if found else None


def emails(text: str) -> List[Found]:
    return [Found(m.group(0).lower(), m.start(), m.end()) for m in _EMAIL.finditer(text or "")]


def email(text: str) -> Optional[str]:
    found = emails(text)
    return found[-1].value if found else None


def postcode(text: str) -> Optional[str]:
    """A postcode in ``text`` (order numbers and e-mails taken out first), uppercased with its
    inner space kept, or None."""
    rest = text or ""
    for found in sorted(order_numbers(rest) + emails(rest), key=lambda f: -f.start):
        rest = rest[: found.start] + " " + rest[found.end:]
    for pattern in _POSTCODES:
        match = pattern.search(rest)
        if match:
            return match.group(0).upper()
    return None


def masked_email(address: str) -> str:
    """``maria.k@example.com`` -> ``m***@example.com``: enough for a customer to recognise it."""
    name, _, domain = address.partition("@")
    return f"{name[:1]}***@{domain}" if domain else "***"


def found_entities(text: str, extractor: str = "bot.orders.details") -> List[Dict[str, Any]]:
    """The order numbers and e-mails in ``text`` as Rasa entities, each with its normalised value
    and its place in the text as written."""
    entities = []
    for name, finder in (("order_number", order_numbers), ("email", emails)):
        for found in finder(text):
            entities.append({
                "entity": name, "value": found.value, "start": found.start, "end": found.end,
                "confidence_entity": 1.0, "extractor": extractor,
            })
    return sorted(entities, key=lambda e: e["start"])
