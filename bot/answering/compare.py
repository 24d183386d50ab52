"""Comparisons: "which is quicker to refund, PayPal or card?", "EU versus Canada", "the difference
between the welcome offer and the birthday offer". The answer needs one unit per side, and the
re-ranker's two best units are often both about one side (two rows near the card row).

compare_sides() finds the words that name each side; best_per_side() takes the unit that names
each side best. bot/answer.py quotes those two first, in the question's order.
"""

from __future__ import annotations

import re
from typing import List, Optional, Sequence, Set, Tuple

from bot.answering.confidence import key_words

_BETWEEN = re.compile(r"\bbetween (?P<a>.+?) and (?P<b>.+?)(\?|$)", re.I)
_SPLIT = re.compile(r"\s(?:or|vs\.?|versus|than|compared (?:to|with))\s", re.I)
# The side before "or" is the last phrase before it: "which is quicker to refund, paypal or card".
_CLAUSE = re.compile(r"[,:;?]\s|\s[-–]\s|\b(?:is|are|for|of|takes?|does|do|costs?)\s", re.I)
# What a side is called in questions and in the articles.
SAME = {"american": "us", "usa": "us", "america": "us", "states": "us", "canadian": "canada",
        "british": "uk", "england": "uk", "european": "eu", "europe": "eu"}
SHORT = frozenset({"us", "uk", "eu"})
FILLER = frozenset({"one", "ones", "option", "options", "way", "ways"})


def side_words(text: str) -> Set[str]:
    words: Set[str] = set()
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        word = SAME.get(word, word)
        if word in FILLER:
            continue
        if word in SHORT:
            words.add(word)
        else:
            words.update(key_words(word))
    return words


def compare_sides(question: str) -> Optional[Tuple[Set[str], Set[str]]]:
    """The words naming each side of a comparison, less the words both share; None when the
    question compares nothing."""
    match = _BETWEEN.search(question)
    if match:
        a, b = match.group("a"), match.group("b")
    else:
        parts = _SPLIT.split(question, maxsplit=1)
        if len(parts) != 2:
            return None
        a, b = _CLAUSE.split(parts[0])[-1], _CLAUSE.split(parts[1])[0]
    side_a, side_b = side_words(a), side_words(b)
    shared = side_a & side_b
    side_a, side_b = side_a - shared, side_b - shared
    return (side_a, side_b) if side_a and side_b else None


def best_per_side(hits: Sequence, sides: Tuple[Set[str], Set[str]]) -> Optional[List]:
    """For each side, the unit that names it best (the first in the hits' order among equals);
    None unless both sides have one, and two different ones.

    A unit names a side by its heading and text (twice the weight) or its article's title, less
    what it says of the other side: in "Welcome and birthday offers" every unit's title names both
    offers, and only the section tells them apart."""
    own = [side_words(f"{h.heading} {h.text}") for h in hits]
    titles = [side_words(h.title) for h in hits]
    chosen: List = []
    for side, other in (sides, sides[::-1]):
        scores = [2 * len(side & words) + len(side & title) - len(other & words) if h not in chosen else 0
                  for h, words, title in zip(hits, own, titles)]
        if not scores or max(scores) <= 0:
            return None
        chosen.append(hits[scores.index(max(scores))])
    return chosen
