"""Makes customer text safe for NLU and storage: no NUL or control characters, bounded length.

A stock Rasa server fed one ~140,000-character message grew past 18 GB and was killed, and NUL
characters cannot be stored in PostgreSQL text columns; both are handled here, before anything else.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# C0 controls except tab/newline/carriage return, DEL, C1 controls, and lone surrogates.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_SPACES = re.compile(r"[ \t\r\n]+")


class CleanText(NamedTuple):
    text: str
    truncated: bool  # the original was longer than the limit


def clean_text(text: object, max_chars: int) -> CleanText:
    """Returns `text` without control characters, whitespace folded, cut to `max_chars`.

    The cut happens at the last space before the limit when there is one, so a word is not split.
    Non-strings give an empty text (channels answer those with a prompt to type something).
    """
    if not isinstance(text, str):
        return CleanText("", False)
    # Cut a generous prefix first so a megabyte message costs no more than a short one.
    head = text[: max_chars * 4 + 64]
    cleaned = _SPACES.sub(" ", _CONTROL.sub("", head)).strip()
    truncated = len(text) > len(head) or len(cleaned) > max_chars
    if len(cleaned) > max_chars:
        cut = cleaned[:max_chars]
        space = cut.rfind(" ")
        cleaned = (cut[:space] if space > max_chars // 2 else cut).rstrip()
    return CleanText(cleaned, truncated)
