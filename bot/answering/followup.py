"""Follow-ups: "what about for candles", "and for canada?", "what's the minimum amount".

Such a message names no topic of its own; searched alone it finds nothing, or the wrong thing.
It is searched twice, alone and after the customer's previous question (the re-ranker then
weighs the follow-up's own words as much as the whole, so that the previous question's topic
does not win by itself), and the policy keeps whichever search the confidence model trusts more
(bot/answering/policy.py).
"""

from __future__ import annotations

import re
from typing import Optional, Tuple

# Openings that lean on what was said before.
LEADS = re.compile(
    r"^(and|but|also|or|so|then|ok(ay)?|what about|how about|what if|same (for|with)|and if|"
    r"for|in|with|to|from|via|by|on|is (it|that|there)|does (it|that)|do (they|those)|"
    r"can (it|i do that)|how (long|much|many)|what'?s the|which)\b",
    re.I,
)
PRONOUNS = re.compile(r"\b(it|that|this|they|them|those|these|there|one|same)\b", re.I)
WORD = re.compile(r"[a-z0-9$€£]+", re.I)
FILLER = frozenset(
    "a an the i you we my your our is are be do does can could would will it that this what how "
    "about and or for in to of with then so ok okay please there any some much many long".split()
)


def content_words(text: str) -> int:
    return sum(1 for w in WORD.findall(text.lower()) if w not in FILLER)


def is_followup(text: str, previous: Optional[str]) -> bool:
    """Whether `text` may lean on `previous`: short, or opening or pointing back like a follow-up."""
    if not previous or not text.strip():
        return False
    words = len(WORD.findall(text))
    if words > 8:
        return False
    return bool(LEADS.match(text.strip()) or PRONOUNS.search(text)) or content_words(text) <= 2


def in_context(text: str, previous: str) -> str:
    """What a follow-up is searched with: the previous question, then the follow-up."""
    return f"{previous.strip()} {text.strip()}"


def previous_question(example: dict) -> Optional[str]:
    """The customer's previous message in a written example's history (data/generator/), if any."""
    history = example.get("history") or []
    return history[-1].get("user") if history else None


def as_searched(text: str, previous: Optional[str]) -> Tuple[str, Optional[str]]:
    """(query, focus) the way the policy searches a message in context: a follow-up after its
    previous question, with its own words as the focus; any other message alone."""
    if is_followup(text, previous):
        return in_context(text, previous), text
    return text, None
