"""Personal data out of the conversation log: senders hashed, e-mails, phones and cards masked.

What is masked, and what is deliberately left alone:

- e-mail addresses -> ``[email]``
- card numbers -> ``[card]``: 13 to 19 digits, optionally in groups separated by single spaces or
  dashes, that pass the Luhn check (so a random long number is not taken for a card);
- phone numbers -> ``[phone]``: 9 to 15 digits (E.164 allows 15) in groups separated by spaces,
  dashes, dots or an area code in brackets, optionally starting with ``+``; every group but the
  last has at most 5 digits, so two order numbers side by side ("482913 482914") are not a phone.
- left alone: the store's order numbers (``#482913``, ``order 482913``: six digits) and invoice
  numbers (``INV-204981``), which the bot needs to answer and which identify no one by themselves;
  dates (``2024-05-01``: eight digits); prices; anything glued to letters (``A1234567890``).

Pure functions of the standard library.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Callable, List, Union

EMAIL_MASK = "[email]"
CARD_MASK = "[card]"
PHONE_MASK = "[phone]"

# Starts only where a word starts, so a long run of letters without "@" is scanned once.
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)

# A number that starts a token: not glued to a word, not "#123...", not "INV-123...", not a path.
_NOT_INSIDE = r"(?<![\w#/=@.+])(?<![A-Za-z]-)"

# Digit groups joined by single spaces or dashes: card candidates. Each separator must be followed
# by a digit, so the pattern cannot backtrack badly.
_DIGIT_RUN = re.compile(_NOT_INSIDE + r"\d+(?:[ -]\d+)*(?!\w)")

# Phone candidates: optional "+", groups joined by one separator: space, dash, dot, "(" or ")".
_PHONE = re.compile(
    _NOT_INSIDE + r"\+?\(?\d+(?:(?:[ .-]|\) ?| ?\()\d+)*\)?(?!\w)"
)


def hash_sender(sender_id: str, salt: Union[str, bytes]) -> str:
    """HMAC-SHA256 of the sender id, keyed with ``salt``, as 64 hex characters.

    Without a secret key anyone could hash a phone number or a user name and find its rows, so an
    empty salt is refused.
    """
    key = salt.encode("utf-8") if isinstance(salt, str) else salt
    if not key:
        raise ValueError("the sender-hashing salt must not be empty")
    return hmac.new(key, sender_id.encode("utf-8"), hashlib.sha256).hexdigest()


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum that every payment card number satisfies."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _is_card(groups: List[str]) -> bool:
    digits = "".join(groups)
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def _is_phone(groups: List[str]) -> bool:
    digits = sum(len(g) for g in groups)
    return 9 <= digits <= 15 and all(len(g) <= 5 for g in groups[:-1])


def _mask_groups(text: str, valid: Callable[[List[str]], bool], mask: str) -> str:
    """Replaces the longest valid stretches of whole digit groups in ``text`` by ``mask``.

    A candidate can hold more than the number: in "482913 4155550132" the order number stays and
    the phone goes; in "4111 1111 1111 1111 2" the card goes and the quantity stays.
    """
    groups = [(m.start(), m.end(), m.group(0)) for m in re.finditer(r"\d+", text)]
    out: List[str] = []
    pos = 0
    i = 0
    while i < len(groups):
        # Longest first; no card or phone has more than 19 digits, hence groups.
        for j in range(min(len(groups), i + 19), i, -1):
            if valid([g[2] for g in groups[i:j]]):
                start = 0 if i == 0 else groups[i][0]  # the whole match keeps its "+" or "("
                if i > 0 and text[start - 1] == "(":
                    start -= 1
                end = groups[j - 1][1]
                if end < len(text) and text[end] == ")" and "(" in text[start:end]:
                    end += 1
                out.append(text[pos:start])
                out.append(mask)
                pos = end
                i = j
                break
        else:
            i += 1
    out.append(text[pos:])
    return "".join(out)


def mask_pii(text: str) -> str:
    """``text`` with e-mail addresses, card numbers and phone numbers replaced by placeholders."""
    if not text:
        return text
    text = _EMAIL.sub(EMAIL_MASK, text)
    text = _DIGIT_RUN.sub(lambda m: _mask_groups(m.group(0), _is_card, CARD_MASK), text)
    return _PHONE.sub(lambda m: _mask_groups(m.group(0), _is_phone, PHONE_MASK), text)

